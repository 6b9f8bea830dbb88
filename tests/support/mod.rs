//! A small fluent builder for running the real `rune` binary in tests, and the
//! helpers every test uses to start a program: each run has a deadline and its own
//! process group, so a hang fails the test (the group killed, what the program
//! wrote shown) instead of stalling CI.

#![allow(dead_code)]

pub(crate) mod sshd;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use nix::unistd::Pid;

/// The repository root (tests run with it as the working directory).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Say that the calling test skipped its check, and why. Written to the real
/// stderr, past the test harness's capture, so a skipped case shows in every run
/// (`note: skipped robustness::an_unreadable_file_...: running as root`).
#[allow(clippy::disallowed_methods)] // past the harness's capture, on purpose
pub(crate) fn skip(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "note: skipped {test}: {reason}");
}

/// How long one run of a program in a test may take unless the test says
/// otherwise: a hang fails the test (its process group killed) instead of stalling
/// CI. Far above any run's normal time, even in a debug build on a loaded machine.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// How long a program's stdout and stderr may stay open after it exited before the
/// test fails: only a process it started and left running can hold them.
const PIPES_AFTER_EXIT: Duration = Duration::from_secs(10);

/// A `rune` invocation under construction.
pub(crate) struct Rune {
    command: Command,
    stdin: Option<Vec<u8>>,
    /// Where stdout goes instead of being captured (a file, `/dev/full`).
    stdout: Option<Stdio>,
    deadline: Duration,
}

/// What a finished invocation produced.
#[derive(Debug)]
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr in one string, for snapshots.
    pub(crate) fn snapshot(&self) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Parse stdout as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The `rune` binary, run from the repository root with an environment that does
/// not depend on the caller's (no `NO_COLOR`, no `SOURCE_DATE_EPOCH`).
pub(crate) fn rune_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rune"));
    command
        .current_dir(root())
        .env_remove("NO_COLOR")
        // A CI that exports it would fix every plan's clock; tests that want it set it.
        .env_remove("SOURCE_DATE_EPOCH")
        // Schema verdicts (src/schema/verdicts.rs) go to the build tree, not the
        // user's cache; the suite then takes both paths, a verdict found and not.
        .env(
            "RUNE_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/schema-verdicts-store"),
        )
        .env("RUST_BACKTRACE", "0");
    command
}

/// Start building `rune ARGS...`, run from the repository root.
pub(crate) fn rune<I, S>(args: I) -> Rune
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = rune_command();
    command.args(args);
    Rune {
        command,
        stdin: None,
        stdout: None,
        deadline: DEADLINE,
    }
}

impl Rune {
    /// Add arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Add one path argument.
    pub(crate) fn arg_path(mut self, path: impl AsRef<Path>) -> Self {
        self.command.arg(path.as_ref());
        self
    }

    /// Run in this directory instead of the repository root.
    pub(crate) fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Set an environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Remove an environment variable.
    pub(crate) fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Feed this to stdin.
    pub(crate) fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Send stdout here instead of capturing it (the output's stdout is then empty).
    pub(crate) fn stdout(mut self, stdout: impl Into<Stdio>) -> Self {
        self.stdout = Some(stdout.into());
        self
    }

    /// Run as the unprivileged user `nobody` when the tests run as root (as CI
    /// does), through util-linux `setpriv`, so checks that only hold for an
    /// ordinary user (permissions) run everywhere. `None` when running as root and
    /// there is no `setpriv`. The files it reads must be readable by others.
    pub(crate) fn unprivileged(self) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the process's effective user.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root {
            return Some(self);
        }
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let mut command = Command::new(setpriv);
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(self.command.get_program())
            .args(self.command.get_args());
        if let Some(dir) = self.command.get_current_dir() {
            command.current_dir(dir);
        }
        for (key, value) in self.command.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        Some(Rune { command, ..self })
    }

    /// Fail the test if the run takes longer than this (default [`DEADLINE`]).
    pub(crate) fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Start it and return at once, for a test that acts while it runs.
    pub(crate) fn spawn(self) -> Running {
        let mut command = self.command;
        let captured = self.stdout.is_none();
        if let Some(stdout) = self.stdout {
            command.stdout(stdout);
        }
        Running::try_start(command, self.stdin, captured, self.deadline)
            .unwrap_or_else(|e| panic!("the rune binary starts: {e}"))
    }

    /// Run to completion (or fail the test at the deadline).
    pub(crate) fn run(self) -> Output {
        self.spawn().wait()
    }
}

/// Run any program to completion within `deadline`, in its own process group, with
/// stdout and stderr captured; a hang kills the group and fails the test. For the
/// helpers tests run besides rune (`bash`, `script`, `tar`...). An error only when
/// the program cannot start (not installed: the caller skips).
pub(crate) fn output_within(mut command: Command, deadline: Duration) -> std::io::Result<Output> {
    command.stdin(Stdio::null());
    Ok(Running::try_start(command, None, true, deadline)?.wait())
}

/// Whether a helper program (`mkfifo`, `mount`, `cp`...) ran and exited 0, within
/// [`DEADLINE`]; false when it is not installed.
pub(crate) fn succeeds(command: Command) -> bool {
    output_within(command, DEADLINE).is_ok_and(|out| out.code == 0)
}

/// Like [`output_within`], with `input` on stdin.
pub(crate) fn output_with_input(command: Command, input: &[u8], deadline: Duration) -> Output {
    Running::start(command, Some(input.to_vec()), deadline).wait()
}

/// Start any program in its own process group with stdout and stderr captured and
/// a deadline, for a test that acts while it runs (see [`Running`]).
pub(crate) fn spawn_within(command: Command, deadline: Duration) -> Running {
    Running::start(command, None, deadline)
}

/// Wait until `ready` holds, checking every 10 ms, or fail the test after `limit`
/// saying what did not happen. For events a test can only see in the file system
/// (a pid file a script wrote, a line in a log).
pub(crate) fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let began = Instant::now();
    while !ready() {
        assert!(began.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` still exists (a zombie counts as gone: it runs nothing).
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// One program a test started, in its own process group, with a deadline: dropping
/// it before it finished kills the group, so a failed assertion leaks nothing.
pub(crate) struct Running {
    child: Option<Child>,
    pid: i32,
    name: String,
    began: Instant,
    deadline: Duration,
    /// Sent once the process has exited (not yet reaped: its pid, and so its group
    /// id, cannot be reused while the test may still signal it).
    exited: mpsc::Receiver<()>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// One message per output stream, sent when that stream reaches its end.
    closed: mpsc::Receiver<()>,
}

impl Running {
    fn start(command: Command, stdin: Option<Vec<u8>>, deadline: Duration) -> Running {
        let name = command.get_program().to_string_lossy().into_owned();
        Running::try_start(command, stdin, true, deadline)
            .unwrap_or_else(|e| panic!("{name} starts: {e}"))
    }

    fn try_start(
        mut command: Command,
        stdin: Option<Vec<u8>>,
        capture_stdout: bool,
        deadline: Duration,
    ) -> std::io::Result<Running> {
        use std::io::Write;
        let name = command.get_program().to_string_lossy().into_owned();
        command.process_group(0).stderr(Stdio::piped());
        if capture_stdout {
            command.stdout(Stdio::piped());
        }
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        } else if command.get_program() == env!("CARGO_BIN_EXE_rune") {
            command.stdin(Stdio::null());
        }
        let mut child = command.spawn()?;
        let pid = child.id() as i32;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            });
        }
        let (closed_tx, closed) = mpsc::channel();
        let stdout = match child.stdout.take() {
            Some(pipe) => collect(pipe, closed_tx.clone()),
            None => {
                let _ = closed_tx.send(());
                Arc::default()
            }
        };
        let stderr = collect(child.stderr.take().expect("piped"), closed_tx);
        let (exited_tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            // WNOWAIT: learn of the exit without reaping, so the pid stays ours.
            while let Err(nix::errno::Errno::EINTR) = waitid(
                Id::Pid(Pid::from_raw(pid)),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
            ) {}
            let _ = exited_tx.send(());
        });
        Ok(Running {
            child: Some(child),
            pid,
            name,
            began: Instant::now(),
            deadline,
            exited,
            stdout,
            stderr,
            closed,
        })
    }

    /// The process id (also its process group id).
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Send `signal` to the process (not its group). Safe until [`Running::wait`]:
    /// the process is not reaped before, so the pid is still its own.
    pub(crate) fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid), signal).expect("the process is signalled");
    }

    /// What it wrote to stderr so far.
    pub(crate) fn stderr_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }

    /// What it wrote to stdout so far.
    pub(crate) fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("stdout buffer")).into_owned()
    }

    /// Wait until its stderr so far satisfies `ready`, or fail the test (killing the
    /// group) at its deadline.
    pub(crate) fn wait_for_stderr(&mut self, what: &str, ready: impl Fn(&str) -> bool) {
        let stderr = Arc::clone(&self.stderr);
        self.wait_for(what, || {
            ready(&String::from_utf8_lossy(
                &stderr.lock().expect("stderr buffer"),
            ))
        });
    }

    /// Wait until its stdout so far satisfies `ready`, or fail the test (killing the
    /// group) at its deadline.
    pub(crate) fn wait_for_stdout(&mut self, what: &str, ready: impl Fn(&str) -> bool) {
        let stdout = Arc::clone(&self.stdout);
        self.wait_for(what, || {
            ready(&String::from_utf8_lossy(
                &stdout.lock().expect("stdout buffer"),
            ))
        });
    }

    /// Wait until `ready` holds, or fail the test (killing the group) at its deadline
    /// or once the process exited without it.
    pub(crate) fn wait_for(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        loop {
            if ready() {
                return;
            }
            if self.began.elapsed() > self.deadline {
                self.fail(&format!("waited for {what} until the deadline"));
            }
            // Exited: one last look, since the event may have come with the exit.
            if self.exited.try_recv().is_ok() {
                if ready() {
                    return;
                }
                self.fail(&format!("exited before {what}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the exit and for stdout and stderr to close, or fail the test at
    /// the deadline (killing the group).
    pub(crate) fn wait(mut self) -> Output {
        let (status, stdout, stderr) = self.wait_raw();
        Output {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }

    /// Like [`Running::wait`], with the whole exit status (a signal death has no code).
    pub(crate) fn wait_raw(&mut self) -> (ExitStatus, String, String) {
        let left = self.deadline.saturating_sub(self.began.elapsed());
        if self.exited.recv_timeout(left).is_err() {
            self.fail(&format!("ran past its deadline of {:?}", self.deadline));
        }
        let status = self
            .child
            .take()
            .expect("waited for once")
            .wait()
            .expect("the process is reaped");
        for _ in 0..2 {
            if self.closed.recv_timeout(PIPES_AFTER_EXIT).is_err() {
                // Group members still hold the pipe; kill them (the group outlives
                // its reaped leader while they live) before failing.
                let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
                panic!(
                    "{} exited ({status}) but its stdout or stderr stayed open {PIPES_AFTER_EXIT:?}: \
                     a process it started is still running\nstderr so far:\n{}",
                    self.name,
                    self.stderr_so_far()
                );
            }
        }
        (status, self.stdout_so_far(), self.stderr_so_far())
    }

    /// Kill the process group and fail the test, showing what the program wrote.
    fn fail(&mut self, why: &str) -> ! {
        self.kill_group();
        panic!(
            "{} {why} (its process group was killed after {:?})\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.name,
            self.began.elapsed(),
            self.stdout_so_far(),
            self.stderr_so_far()
        );
    }

    /// SIGKILL the whole group, then reap the leader.
    fn kill_group(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Not reaped yet, so the group id is still this process's own.
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Read `pipe` to its end on a thread into a shared buffer; say so on `closed`.
fn collect(mut pipe: impl Read + Send + 'static, closed: mpsc::Sender<()>) -> Arc<Mutex<Vec<u8>>> {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&buffer);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => shared
                    .lock()
                    .expect("buffer")
                    .extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = closed.send(());
    });
    buffer
}

/// A plan request for these targets (none: the whole catalog) at a fixed instant,
/// for tests that plan through the library.
pub(crate) fn plan_request(targets: &[&str]) -> rune::plan::Request {
    rune::plan::Request {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        action: None,
        params: serde_json::Map::new(),
        at: "2026-01-01T00:00:00Z".parse().expect("valid instant"),
        clock: rune::plan::Clock::Fixed,
        acks: Vec::new(),
        reason: None,
    }
}
