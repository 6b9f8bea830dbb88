//! Ctrl-C, SIGTERM and SIGHUP while `apply` or `run` executes: the first asks to
//! stop, the second to kill.
//!
//! Every child runs in a process group of its own ([`super::process`]), so the
//! terminal's SIGINT reaches rune alone and rune decides how to wind down:
//!
//! 1. the first SIGINT, SIGTERM or SIGHUP (a closed terminal or SSH session) sets
//!    [`Interrupts::stop`]: the executor schedules nothing new, lets what runs
//!    finish or time out, then drains and shuts down the started modules in reverse
//!    order, and exits 130;
//! 2. the second sets [`Interrupts::kill`] as well, and the signal thread itself
//!    SIGKILLs every live child's process group and everything rune adopted
//!    ([`supervisor::kill_all`]), whatever the workers are blocked on; the workers
//!    wake (their children exited, the flag's eventfd is readable) and wind down,
//!    and if rune has not exited [`EXIT_WITHIN`] later (a worker blocked writing to
//!    a terminal or pipe nobody reads), the signal side kills what is left and exits
//!    130 itself.
//!
//! Later signals are counted and change nothing. SIGKILL still ends rune itself;
//! its children then die by the supervisor's guardian and see their stdin close.
//! Signals are taken by a signal-hook iterator on a thread of its own, so the
//! handler does nothing but wake that thread; the flags are [`Cancel`]s, which
//! waiters wait on rather than look at now and then.
//!
//! Nothing here prints. The executor reports the interruption as
//! [`Event::Interrupted`] through [`Interrupts::emit_pending`], which it calls where
//! it looks at the flags (and once more before `RunFinished`), or through a
//! [`Relay`] thread that does so as signals arrive; either way the journal and the
//! progress see each signal exactly once, with the run's clock.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::event::{Event, Sink};
use super::ids::RunIds;
use super::process::Cancel;
use super::supervisor;

/// After the second signal rune is gone within this long, whatever its workers
/// are blocked on.
pub(crate) const EXIT_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);

/// The run's interrupt flags, set by SIGINT, SIGTERM and SIGHUP while installed.
///
/// Dropping it ends execution's handling: from then on (the final report being
/// written) a signal no longer stops or kills a run, but makes sure rune exits
/// 130 within [`EXIT_WITHIN`], so a report blocked on an output nobody reads
/// cannot keep rune alive.
#[derive(Debug)]
pub struct Interrupts {
    stop: Cancel,
    kill: Cancel,
    state: Arc<Counts>,
    /// Set on drop: execution is over.
    after: Arc<std::sync::atomic::AtomicBool>,
    listener: Option<JoinHandle<()>>,
}

/// Signals received and signals already reported as events.
#[derive(Debug, Default)]
struct Counts {
    received: AtomicU64,
    reported: AtomicU64,
}

impl Interrupts {
    /// Start listening for SIGINT, SIGTERM and SIGHUP, and set up the process for
    /// supervising children ([`supervisor::prepare`]).
    pub fn install() -> io::Result<Interrupts> {
        supervisor::prepare();
        let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(signals) => signals,
            Err(e) => {
                supervisor::start_guardian();
                return Err(e);
            }
        };
        let after = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = Cancel::new();
        let kill = Cancel::new();
        let state = Arc::new(Counts::default());
        let listener = {
            let (stop, kill, state) = (stop.clone(), kill.clone(), Arc::clone(&state));
            let after = Arc::clone(&after);
            let spawned = std::thread::Builder::new()
                .name("rune-interrupts".to_string())
                .spawn(move || {
                    // While the executor goes on to its first child: see
                    // supervisor::start_guardian. Signals wait in their pipe.
                    supervisor::start_guardian();
                    // Listens until rune exits.
                    for _signal in signals.forever() {
                        if after.load(Ordering::SeqCst) {
                            exit_soon();
                        } else if record_signal(&state, &stop, &kill) == 2 {
                            supervisor::kill_all();
                            exit_soon();
                        }
                    }
                });
            if spawned.is_err() {
                // No thread: the guardian starts here, before any child.
                supervisor::start_guardian();
            }
            spawned?
        };
        Ok(Interrupts {
            stop,
            kill,
            state,
            after,
            listener: Some(listener),
        })
    }

    /// Set by the first signal: schedule nothing new, wind down in reverse.
    pub fn stop(&self) -> Cancel {
        self.stop.clone()
    }

    /// Set by the second signal: kill every process group that is left, now.
    pub fn kill(&self) -> Cancel {
        self.kill.clone()
    }

    /// Signals received so far.
    pub fn count(&self) -> u64 {
        self.state.received.load(Ordering::SeqCst)
    }

    /// Emit [`Event::Interrupted`] for every signal (first and second; later ones
    /// change nothing and are not reported) not yet reported, timestamped by `ids`.
    /// Safe to call from any thread, as often as wanted: each signal is reported once.
    pub fn emit_pending(&self, sink: &dyn Sink, ids: &RunIds) {
        let received = self.count().min(2);
        loop {
            let reported = self.state.reported.load(Ordering::SeqCst);
            if reported >= received {
                return;
            }
            // Claim the next count before emitting, so two threads never report it twice.
            if self
                .state
                .reported
                .compare_exchange(reported, reported + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                sink.emit(&Event::Interrupted {
                    at: ids.now(),
                    count: reported + 1,
                });
            }
        }
    }
}

/// Reports signals as they arrive while it lives; see [`Interrupts::relay`].
#[derive(Debug)]
pub struct Relay(Cancel);

impl Drop for Relay {
    fn drop(&mut self) {
        self.0.set();
    }
}

impl Interrupts {
    /// Report each signal through `sink` as it arrives, on a
    /// thread of `scope`, until the returned [`Relay`] is dropped (drop it before the
    /// scope ends, which joins the thread). For executors whose main thread can be
    /// blocked when the operator presses Ctrl-C; [`Interrupts::emit_pending`] still
    /// works alongside, and no signal is reported twice.
    pub fn relay<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        sink: &'scope dyn Sink,
        ids: &'scope RunIds,
    ) -> Relay {
        let done = Cancel::new();
        let stop_relaying = done.clone();
        let relay = move || {
            while !stop_relaying.is_set() {
                self.emit_pending(sink, ids);
                let reported = self.state.reported.load(Ordering::SeqCst);
                if reported >= 2 {
                    return;
                }
                // Woken by the next signal's flag (stop for the first, kill for
                // the second) or by the relay's end; never by a timer.
                let next = if reported == 0 {
                    &self.stop
                } else {
                    &self.kill
                };
                Cancel::wait_any(
                    &[next, &stop_relaying],
                    std::time::Duration::from_secs(3600),
                );
            }
            // Whatever arrived while the relay was told to stop.
            self.emit_pending(sink, ids);
        };
        // No thread (a pids limit): the executor's own emit_pending calls report.
        let _ = std::thread::Builder::new().spawn_scoped(scope, relay);
        Relay(done)
    }
}

/// One more signal: the first sets stop, the second kill (and stop, should the
/// first have been missed). Returns how many came so far.
fn record_signal(state: &Counts, stop: &Cancel, kill: &Cancel) -> u64 {
    let n = state.received.fetch_add(1, Ordering::SeqCst) + 1;
    stop.set();
    if n >= 2 {
        kill.set();
    }
    n
}

/// Make sure rune is gone [`EXIT_WITHIN`] from now with 130: the executor
/// normally exits first; a worker blocked on rune's own output does not hold it.
fn exit_soon() {
    let watchdog = std::thread::Builder::new()
        .name("rune-exit".to_string())
        .stack_size(64 << 10)
        .spawn(|| {
            std::thread::sleep(EXIT_WITHIN);
            supervisor::kill_all();
            supervisor::stand_down();
            std::process::exit(130);
        });
    if watchdog.is_err() {
        // No thread to wait on: the children are already killed; go now.
        supervisor::stand_down();
        std::process::exit(130);
    }
}

impl Drop for Interrupts {
    /// Execution is over: stop listening, and kill what any child left behind
    /// that could not be told apart from another's while the run went on.
    fn drop(&mut self) {
        self.after.store(true, Ordering::SeqCst);
        if self.listener.take().is_some() {
            supervisor::sweep();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::event::Collect;
    use jiff::Timestamp;

    fn fresh() -> (Arc<Counts>, Cancel, Cancel) {
        (Arc::new(Counts::default()), Cancel::new(), Cancel::new())
    }

    #[test]
    fn the_first_signal_stops_and_the_second_kills() {
        let (state, stop, kill) = fresh();
        record_signal(&state, &stop, &kill);
        assert!(stop.is_set());
        assert!(!kill.is_set());
        record_signal(&state, &stop, &kill);
        assert!(kill.is_set());
        record_signal(&state, &stop, &kill);
        assert_eq!(state.received.load(Ordering::SeqCst), 3);
    }

    fn hand_built(state: &Arc<Counts>, stop: &Cancel, kill: &Cancel) -> Interrupts {
        // Built by hand rather than installed: unit tests share one process, and a
        // real SIGINT handler would swallow the developer's Ctrl-C. The real signals
        // are tested through a child process in tests/interrupt.rs.
        let mut signals = Signals::new(Vec::<i32>::new()).unwrap();
        let _ = signals.pending();
        Interrupts {
            stop: stop.clone(),
            kill: kill.clone(),
            state: Arc::clone(state),
            after: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            listener: None,
        }
    }

    #[test]
    fn a_relay_reports_signals_while_the_caller_is_busy() {
        let (state, stop, kill) = fresh();
        let interrupts = hand_built(&state, &stop, &kill);
        let ids = RunIds::new(true, Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        std::thread::scope(|scope| {
            let _relay = interrupts.relay(scope, &sink, &ids);
            record_signal(&state, &stop, &kill);
            // The caller never calls emit_pending: the relay does.
            let waited = std::time::Instant::now();
            while state.reported.load(Ordering::SeqCst) < 1 {
                assert!(waited.elapsed() < std::time::Duration::from_secs(5));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            record_signal(&state, &stop, &kill);
        });
        interrupts.emit_pending(&sink, &ids);
        assert_eq!(sink.into_events().len(), 2);
    }

    #[test]
    fn each_signal_is_reported_once_and_a_third_not_at_all() {
        let (state, stop, kill) = fresh();
        let interrupts = hand_built(&state, &stop, &kill);
        let ids = RunIds::new(true, Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        interrupts.emit_pending(&sink, &ids);
        record_signal(&state, &stop, &kill);
        interrupts.emit_pending(&sink, &ids);
        interrupts.emit_pending(&sink, &ids);
        record_signal(&state, &stop, &kill);
        record_signal(&state, &stop, &kill);
        interrupts.emit_pending(&sink, &ids);
        let counts: Vec<u64> = sink
            .into_events()
            .iter()
            .map(|e| match e {
                Event::Interrupted { count, .. } => *count,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(counts, [1, 2]);
    }
}
