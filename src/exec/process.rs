//! Child processes: the only place rune starts, signals and reaps them.
//!
//! Every child runs in a process group of its own, so a timeout, a Ctrl-C or the end
//! of a one-shot plugin can signal everything it started (a shell script's
//! children, a grandchild holding stdout open) with one `killpg`, and the
//! terminal's SIGINT reaches rune alone, which decides how to wind down. Nothing is
//! run through a shell: argv goes to `execve` as given.
//!
//! [`run_once`] runs a one-shot process (a BPCS plugin) to completion under a
//! deadline with bounded output; [`spawn`] and [`terminate`] serve long-running
//! module processes.

use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long a process gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(1000);

/// At most this much of a one-shot process's stdout is read (1 MiB); more is an
/// error and the process group is killed.
pub const STDOUT_LIMIT: usize = 1 << 20;

/// The last this-many bytes of stderr are kept (64 KiB); the rest is read and
/// dropped, so a flood of diagnostics cannot block the child or fill memory.
pub const STDERR_KEEP: usize = 64 << 10;

/// How often a waiting loop looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

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
}

/// A shared flag that asks waiting code to stop early (set by Ctrl-C handling).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag not yet set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set it.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether it is set.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for signal handlers that set it.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// Start `spec` in a process group of its own with stdin, stdout and stderr piped.
pub fn spawn(spec: &Spec) -> io::Result<Child> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    super::programs::check(spec)?;
    Command::new(program)
        .args(args)
        .current_dir(&spec.working_dir)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

/// Send `signal` to the process group led by `pid`. A group that is already gone
/// is not an error.
pub fn signal_group(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        // ESRCH: nothing left in the group. EPERM cannot happen for our own children.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// Stop a long-running child and everything in its group: SIGTERM, then SIGKILL
/// after `grace`; always reaps the child. Returns its exit status.
pub fn terminate(child: &mut Child, grace: Duration) -> io::Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        signal_group(child.id(), Signal::SIGKILL);
        return Ok(status);
    }
    signal_group(child.id(), Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait()? {
            // The leader is gone; anything it left in the group goes too.
            signal_group(child.id(), Signal::SIGKILL);
            return Ok(status);
        }
        if Instant::now() >= deadline {
            signal_group(child.id(), Signal::SIGKILL);
            return child.wait();
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
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

/// The last bytes a child wrote to stderr, and whether more came before them.
pub(crate) type StderrTail = Arc<Mutex<(Vec<u8>, bool)>>;

/// Drain `stderr` on a thread of its own, keeping its last [`STDERR_KEEP`] bytes,
/// so a chatty child never blocks on a full pipe and never fills rune's memory.
/// The receiver gets a message when stderr reaches end of file.
pub(crate) fn keep_tail(
    mut stderr: impl Read + Send + 'static,
) -> (StderrTail, mpsc::Receiver<()>) {
    let tail: StderrTail = Arc::new(Mutex::new((Vec::new(), false)));
    let kept = Arc::clone(&tail);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let mut buf = [0u8; 16 << 10];
        loop {
            match stderr.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut guard = kept.lock().unwrap_or_else(|p| p.into_inner());
                    let (bytes, truncated) = &mut *guard;
                    bytes.extend_from_slice(&buf[..n]);
                    if bytes.len() > STDERR_KEEP {
                        let cut = bytes.len() - STDERR_KEEP;
                        bytes.drain(..cut);
                        *truncated = true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done_tx.send(());
    });
    (tail, done_rx)
}

/// Run `spec` to completion: write `input` to its stdin, read its stdout (bounded)
/// and stderr (tail kept), kill its process group at `timeout` (SIGTERM, then
/// SIGKILL after `grace`) or when `cancel` is set. When the process exits, whatever
/// it left running in its group is killed, so a grandchild holding stdout open
/// cannot hang rune.
pub fn run_once(
    spec: &Spec,
    input: &[u8],
    timeout: Duration,
    grace: Duration,
    cancel: &Cancel,
) -> io::Result<Finished> {
    let started = Instant::now();
    let mut child = spawn(spec)?;
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");

    // The child may never read its stdin: the write happens aside, and a closed pipe
    // (EPIPE) is the child's choice, not an error.
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });

    let overflow = Arc::new(AtomicBool::new(false));
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>();
    let out_overflow = Arc::clone(&overflow);
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 16 << 10];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if kept.len() + n > STDOUT_LIMIT {
                        kept.extend_from_slice(&buf[..STDOUT_LIMIT - kept.len()]);
                        out_overflow.store(true, Ordering::SeqCst);
                        // Too much: stop the producer now rather than read on.
                        signal_group(pid, Signal::SIGKILL);
                        break;
                    }
                    kept.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = out_tx.send(kept);
    });

    let (tail, err_rx) = keep_tail(stderr);

    let (wait_tx, wait_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = wait_tx.send(child.wait());
    });

    let deadline = started + timeout;
    let mut ending = Ending::Exited;
    let status = loop {
        let now = Instant::now();
        if overflow.load(Ordering::SeqCst) && ending == Ending::Exited {
            ending = Ending::OutputTooLarge;
        }
        if ending == Ending::Exited {
            if now >= deadline {
                ending = Ending::TimedOut;
            } else if cancel.is_set() {
                ending = Ending::Cancelled;
            }
            if matches!(ending, Ending::TimedOut | Ending::Cancelled) {
                signal_group(pid, Signal::SIGTERM);
                // From here the loop waits for the grace period only.
                match wait_rx.recv_timeout(grace) {
                    Ok(status) => break status?,
                    Err(_) => {
                        signal_group(pid, Signal::SIGKILL);
                        break wait_rx
                            .recv()
                            .map_err(|_| io::Error::other("the waiting thread ended"))??;
                    }
                }
            }
        }
        let slice = deadline
            .saturating_duration_since(now)
            .min(CANCEL_POLL)
            .max(Duration::from_millis(1));
        match wait_rx.recv_timeout(slice) {
            Ok(status) => break status?,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the waiting thread ended"))
            }
        }
    };
    // Whatever the process left in its group (a daemonised grandchild holding stdout)
    // goes with it; then the pipes reach end of file.
    signal_group(pid, Signal::SIGKILL);
    let _ = writer.join();
    // A grandchild that left the group (setsid) may still hold the pipes: wait a
    // little, then go on with what was read.
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let _ = err_rx.recv_timeout(Duration::from_millis(100));
    if overflow.load(Ordering::SeqCst) && ending == Ending::Exited {
        ending = Ending::OutputTooLarge;
    }
    let (stderr_tail, stderr_truncated) =
        std::mem::take(&mut *tail.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Finished {
        ending,
        status,
        stdout,
        stderr_tail,
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
        }
    }

    fn run(script: &str, timeout_ms: u64) -> Finished {
        run_once(
            &sh(script),
            b"{\"hello\":1}\n",
            Duration::from_millis(timeout_ms),
            Duration::from_millis(200),
            &Cancel::new(),
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
        };
        assert!(run_once(
            &spec,
            b"",
            Duration::from_secs(1),
            KILL_GRACE,
            &Cancel::new()
        )
        .is_err());
    }
}
