//! Child processes: the only place rune starts, signals and reaps them.
//!
//! Every child runs in a process group of its own, so a timeout, a Ctrl-C or the end
//! of a one-shot plugin can signal everything it started (a shell script's
//! children, a grandchild holding stdout open) with one `killpg`, and the
//! terminal's SIGINT reaches rune alone, which decides how to wind down. Nothing is
//! run through a shell: argv goes to `execve` as given.
//!
//! [`run_once`] runs a one-shot process (a BPCS plugin) to completion under a
//! deadline with bounded output, through the supervisor ([`super::supervisor`]),
//! which also serves long-running module processes.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::supervisor::{Child, OneShot};

/// How long a process gets between SIGTERM and SIGKILL.
pub(crate) const KILL_GRACE: Duration = Duration::from_millis(1000);

/// At most this much of a one-shot process's stdout is read (1 MiB); more is an
/// error and the process group is killed.
pub(crate) const STDOUT_LIMIT: usize = 1 << 20;

/// The last this-many bytes of stderr are kept (64 KiB); the rest is read and
/// dropped, so a flood of diagnostics cannot block the child or fill memory.
pub(crate) const STDERR_KEEP: usize = 64 << 10;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Program and arguments (never through a shell).
    pub argv: Vec<String>,
    /// The directory it runs in.
    pub working_dir: PathBuf,
    /// Its complete environment (see [`super::environment`]); nothing else is
    /// inherited from rune.
    pub env: super::environment::Environment,
    /// The limits it runs under (its module's `resource_requirements`).
    pub limits: crate::registry::ResourceLimits,
}

/// A shared flag that asks waiting code to stop early (set by Ctrl-C handling).
///
/// Waiters do not look at it now and then: setting it also makes an eventfd
/// readable, which `poll(2)` waits on beside the child's pipes and pidfd.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelInner>);

#[derive(Default)]
struct CancelInner {
    set: AtomicBool,
    /// Created by the first waiter; None when no descriptor was available.
    wake: OnceLock<Option<OwnedFd>>,
    /// Called when it is set, for waiters that wait on a channel.
    callbacks: std::sync::Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for CancelInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelInner")
            .field("set", &self.set)
            .finish_non_exhaustive()
    }
}

impl Cancel {
    /// A flag not yet set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set it, waking every waiter.
    pub fn set(&self) {
        self.0.set.store(true, Ordering::SeqCst);
        if let Some(Some(fd)) = self.0.wake.get() {
            let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
        }
        let callbacks = self.0.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        for callback in callbacks.iter() {
            callback();
        }
    }

    /// Call `callback` when it is set (at once if it is already).
    pub(crate) fn on_set(&self, callback: impl Fn() + Send + Sync + 'static) {
        let mut callbacks = self.0.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_set() {
            callback();
        }
        callbacks.push(Box::new(callback));
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    /// A descriptor that is readable once the flag is set. A waiter takes it
    /// before looking at the flag, so a `set` in between is never missed.
    pub(crate) fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        let fd = self.0.wake.get_or_init(|| {
            let flags =
                rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK;
            let fd = rustix::event::eventfd(0, flags).ok()?;
            if self.0.set.load(Ordering::SeqCst) {
                let _ = rustix::io::write(&fd, &1u64.to_ne_bytes());
            }
            Some(fd)
        });
        fd.as_ref().map(AsFd::as_fd)
    }

    /// Wait up to `wait` for any of `flags` to be set; whether one is.
    pub fn wait_any(flags: &[&Cancel], wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let fds: Vec<Option<BorrowedFd<'_>>> = flags.iter().map(|c| c.wake_fd()).collect();
            if flags.iter().any(|c| c.is_set()) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Without a descriptor the flag is looked at every 20 ms instead.
            let slice = if fds.iter().all(Option::is_some) {
                left
            } else {
                left.min(Duration::from_millis(20))
            };
            let mut polled: Vec<rustix::event::PollFd<'_>> = fds
                .iter()
                .flatten()
                .map(|fd| {
                    rustix::event::PollFd::from_borrowed_fd(*fd, rustix::event::PollFlags::IN)
                })
                .collect();
            let timeout = rustix::event::Timespec {
                tv_sec: i64::try_from(slice.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(slice.subsec_nanos()),
            };
            let _ = rustix::event::poll(&mut polled, Some(&timeout));
        }
    }
}

/// Why a one-shot process ended the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself.
    Exited,
    /// It ran past its deadline and rune killed its group.
    TimedOut,
    /// It wrote more than [`STDOUT_LIMIT`] to stdout and rune killed its group.
    OutputTooLarge,
    /// The run was cancelled and rune killed its group.
    Cancelled,
}

/// What a one-shot process left.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub ending: Ending,
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout, at most [`STDOUT_LIMIT`] bytes.
    pub stdout: Vec<u8>,
    /// The last [`STDERR_KEEP`] bytes of its stderr.
    pub stderr_tail: Vec<u8>,
    /// Whether stderr had more than what is kept.
    pub stderr_truncated: bool,
    /// Wall time from spawn to reaping.
    pub elapsed: Duration,
}

impl Finished {
    /// The exit code, or None when a signal ended it.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that ended it, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }
}

/// Run `spec` to completion: write `input` to its stdin, read its stdout (bounded)
/// and stderr (tail kept), kill it at `timeout` (the supervisor's kill sequence:
/// SIGTERM to its group, SIGKILL after `grace`, then what escaped the group) or at
/// once when `cancel` is set. It is done when it has exited and its input was
/// taken (by it or by something it left holding its stdin); what it wrote before
/// exiting is kept even when something it left holds stdout open. Unless
/// `leaves_daemon`, whatever it left running is killed.
pub fn run_once(
    spec: &Spec,
    input: &[u8],
    timeout: Duration,
    grace: Duration,
    cancel: &Cancel,
    leaves_daemon: bool,
) -> io::Result<Finished> {
    run_with(spec, input, timeout, grace, cancel, leaves_daemon, false)
}

/// [`run_once`], keeping the child's stdin open after `input` until it exits
/// (what the ssh transport needs: end of file there means rune is gone).
pub(crate) fn run_once_held(
    spec: &Spec,
    input: &[u8],
    timeout: Duration,
    grace: Duration,
    cancel: &Cancel,
) -> io::Result<Finished> {
    run_with(spec, input, timeout, grace, cancel, true, true)
}

fn run_with(
    spec: &Spec,
    input: &[u8],
    timeout: Duration,
    grace: Duration,
    cancel: &Cancel,
    leaves_daemon: bool,
    hold_stdin: bool,
) -> io::Result<Finished> {
    let started = Instant::now();
    let mut child = Child::spawn(spec, leaves_daemon, STDOUT_LIMIT + 1)?;
    if hold_stdin {
        child.hold_stdin();
    }
    let ending = match child.run_to_end(input, STDOUT_LIMIT, started + timeout, cancel) {
        OneShot::Exited => Ending::Exited,
        OneShot::Deadline => Ending::TimedOut,
        OneShot::Cancelled => Ending::Cancelled,
        OneShot::TooMuchOutput => Ending::OutputTooLarge,
    };
    let status = match ending {
        Ending::Exited => child.finish_exited(),
        // Cancelled: the second Ctrl-C has already SIGKILLed the group from the
        // signal side; `rune run`'s first one asks for the graceful sequence.
        Ending::TimedOut | Ending::Cancelled => child.stop(grace),
        // Too much output: there is nothing to wait for.
        Ending::OutputTooLarge => child.kill_now(),
    }
    // Stuck in the kernel past SIGKILL: reported as killed.
    .unwrap_or_else(|| ExitStatus::from_raw(9));
    let mut stdout = child.take_stdout();
    stdout.truncate(STDOUT_LIMIT);
    let (tail, stderr_truncated) = child.stderr_tail();
    Ok(Finished {
        ending,
        status,
        stdout,
        stderr_tail: tail.to_vec(),
        stderr_truncated,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spec {
        Spec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            working_dir: PathBuf::from("."),
            env: crate::exec::environment::compute(&Default::default()),
            limits: Default::default(),
        }
    }

    fn run(script: &str, timeout_ms: u64) -> Finished {
        run_once(
            &sh(script),
            b"{\"hello\":1}\n",
            Duration::from_millis(timeout_ms),
            Duration::from_millis(200),
            &Cancel::new(),
            false,
        )
        .unwrap()
    }

    #[test]
    fn reads_stdout_and_stderr_and_the_exit_code() {
        let f = run("cat; echo oops >&2; exit 3", 5000);
        assert_eq!(f.ending, Ending::Exited);
        assert_eq!(f.code(), Some(3));
        assert_eq!(f.stdout, b"{\"hello\":1}\n");
        assert_eq!(f.stderr_tail, b"oops\n");
    }

    #[test]
    fn a_timeout_kills_a_process_that_ignores_sigterm() {
        let f = run("trap '' TERM; while :; do sleep 0.05; done", 100);
        assert_eq!(f.ending, Ending::TimedOut);
        assert!(f.elapsed < Duration::from_secs(3), "{:?}", f.elapsed);
    }

    #[test]
    fn a_grandchild_holding_stdout_does_not_hang_rune() {
        let f = run("(sleep 30 &) ; echo '{}'", 10_000);
        assert_eq!(f.ending, Ending::Exited);
        assert_eq!(f.stdout, b"{}\n");
        assert!(f.elapsed < Duration::from_secs(3), "{:?}", f.elapsed);
    }

    #[test]
    fn a_flood_of_stdout_is_cut_at_the_limit() {
        let f = run("yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 10_000);
        assert_eq!(f.ending, Ending::OutputTooLarge);
        assert_eq!(f.stdout.len(), STDOUT_LIMIT);
    }

    #[test]
    fn a_flood_of_stderr_keeps_only_the_tail() {
        let f = run(
            "head -c 3000000 /dev/zero | tr '\\0' e >&2; echo done >&2",
            10_000,
        );
        assert_eq!(f.ending, Ending::Exited);
        assert!(f.stderr_truncated);
        assert!(f.stderr_tail.len() <= STDERR_KEEP);
        assert!(f.stderr_tail.ends_with(b"done\n"));
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let spec = Spec {
            argv: vec!["/nonexistent/plugin".into()],
            working_dir: PathBuf::from("."),
            env: crate::exec::environment::compute(&Default::default()),
            limits: Default::default(),
        };
        assert!(run_once(
            &spec,
            b"",
            Duration::from_secs(1),
            KILL_GRACE,
            &Cancel::new(),
            false,
        )
        .is_err());
    }
}
