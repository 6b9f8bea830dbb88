//! The supervisor: the one place rune starts, feeds, drains, kills and reaps a child.
//!
//! A child is a command line, a working directory (and, next, an environment):
//! a one-shot plugin ([`super::process::run_once`]), a long-running module process
//! ([`super::spi::Client`]), and later the ssh transport all go through [`Child`].
//!
//! What it guarantees, and how:
//!
//! - **Nothing blocks without a deadline.** rune's ends of the child's pipes are
//!   non-blocking and one `poll(2)` waits on them, on the child's pidfd (its exit)
//!   and on the cancel flag's eventfd, with the call's deadline as its timeout. A
//!   child that stops reading its stdin, or whose escaped descendant holds that
//!   pipe, is killed at the deadline like one that stops writing. The waiting thread
//!   is the caller's own: a running plugin costs no thread of its own.
//! - **One kill sequence.** SIGTERM to the child's process group, a grace period,
//!   SIGKILL; then the descendants that left the group (`setsid`, double fork),
//!   which rune, as their subreaper ([`prepare`]), finds among its own children
//!   (or below the child while it lives) and kills and reaps. The group leader is
//!   reaped only after its group was signalled and under the registry's lock, so no
//!   `killpg` ever reaches a pid that was reaped (and possibly reused).
//! - **Children die with rune**, even a SIGKILLed one: a guardian process started
//!   once per execution ([`start_guardian`], before any child exists) holds a pipe
//!   from rune and the list of live children, and kills their groups when the pipe
//!   closes without rune saying it exited normally. It is rune's own static
//!   program (`guardian/guardian.rs`), run from memory, so it needs nothing from
//!   PATH; `awk` where that program is not built. (A parent-death signal set
//!   between fork and exec would do the same per child, but forces a full fork
//!   of rune for every spawn.) A signal handler can reach every live child
//!   ([`kill_all`]).
//! - **Escaped descendants are attributed** by the variable [`TOKEN_VAR`] each child
//!   gets (inherited by what it starts), by process group, or by having been seen
//!   below the child; what cannot be attributed is killed when the run ends
//!   ([`sweep`]). A catalog action with `leaves_daemon: true` starts a daemon on
//!   purpose: what it leaves is not killed when it exits by itself.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal};

use super::process::{Cancel, Spec, STDERR_KEEP};

/// The variable every child gets: `<rune pid>:<child number>`. What the child
/// starts inherits it, so a descendant that left the process group is still known
/// as the child's.
pub(crate) const TOKEN_VAR: &str = "RUNE_SUPERVISED";

/// How much is read from a pipe in one go.
const CHUNK: usize = 64 << 10;

/// How long the kill sequence waits for a SIGKILLed process to be gone before it
/// gives up waiting (a process stuck in the kernel); it is still reaped later.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Escaped descendants are looked for again after a kill, this many times at
/// most, so a process that forks as fast as rune kills cannot keep it busy forever.
const SWEEP_ROUNDS: usize = 16;

/// A child the signal side can reach: its pid, which is also its process group.
#[derive(Debug, Clone, Copy)]
struct Live {
    pid: i32,
}

/// Every child spawned and not yet reaped. Reaping happens under this lock, so a
/// pid found here is never a reaped one.
static LIVE: Mutex<Vec<Live>> = Mutex::new(Vec::new());

/// Tokens of children whose action starts a daemon on purpose.
static DAEMON_TOKENS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Set up rune's process for supervising children (execution commands call it
/// once): become the subreaper of everything the children start, open the pipe
/// to the guardian that kills the children if rune is SIGKILLed (another thread
/// then starts it: [`start_guardian`]), raise the soft open-files limit to the
/// hard one, and take SIGXFSZ as an error on the write (EFBIG) rather than death,
/// so a file-size limit ends a journal cleanly.
pub(crate) fn prepare() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    open_guardian_pipe();
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if nofile.current < nofile.maximum {
        let _ = rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: nofile.maximum,
                maximum: nofile.maximum,
            },
        );
    }
    // A handler that only sets a flag: the write fails with EFBIG instead. Unlike
    // SIG_IGN it is reset to the default in children at exec.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
}

/// The guardian as `awk` (where rune's own program, `guardian/guardian.rs`, does
/// not run; both speak the same lines): started once per execution, it kills
/// the process groups of rune's live children if rune dies without saying so
/// (SIGKILL). rune writes `+PID` when it spawns a child, `-PID` when it reaps it
/// and `done` when it exits normally (any other line is ignored: one that is not
/// a pid must not spoil the `kill`); end of file without `done` means rune died,
/// and the guardian SIGKILLs every group still on its list, then every process
/// that carries rune's [`TOKEN_VAR`] (a child spawned just before rune died,
/// whose `+PID` was never written, and what it started). It costs one spawn per
/// run, where a parent-death signal set between fork and exec would cost a full
/// fork of rune per child (several times a `posix_spawn` here).
const GUARDIAN: &str = r#"NF == 2 && $2 ~ /^[0-9]+$/ && $1 == "+" { live[$2] = 1 } NF == 2 && $1 == "-" { delete live[$2] } $0 == "done" { done = 1 } END { if (done) exit 0; cmd = ""; for (g in live) cmd = cmd " -" g; if (cmd != "") system("kill -9" cmd " 2>/dev/null"); system("p=$(grep -lsz \"^RUNE_SUPERVISED=" rune ":\" /proc/[0-9]*/environ | cut -d/ -f3); [ -n \"$p\" ] && kill -9 $p 2>/dev/null") }"#;

/// rune's end of the guardian's stdin (non-blocking; lines written before the
/// guardian runs wait in the socket), and the guardian's pid once it runs.
struct Guardian {
    tell: UnixStream,
    pid: Option<i32>,
}

static GUARDIAN_PIPE: Mutex<Option<Guardian>> = Mutex::new(None);

/// The guardian's end, until it is started with it as its stdin.
static GUARDIAN_STDIN: Mutex<Option<UnixStream>> = Mutex::new(None);

/// Where starting the guardian stands: [`NO_GUARDIAN`], [`GUARDIAN_PENDING`], the
/// thread id of the thread spawning it, or [`GUARDIAN_SETTLED`].
static GUARDIAN_STATE: AtomicI32 = AtomicI32::new(NO_GUARDIAN);
/// No execution prepared: children start without waiting for a guardian.
const NO_GUARDIAN: i32 = 0;
/// The pipe is open and no thread has begun to start the guardian.
const GUARDIAN_PENDING: i32 = -2;
/// The guardian runs, or could not be started.
const GUARDIAN_SETTLED: i32 = -1;
/// A thread whose id is unknown is starting it: wait until it is settled.
const GUARDIAN_UNSEEN: i32 = -3;

/// How long a child's spawn waits for a thread to begin starting the guardian
/// before starting it itself. Starting it takes well under a millisecond; this
/// bounds a thread that was never scheduled. Once begun, a spawn waits for the
/// guardian's process to exist, at most [`KILL_WAIT`].
const GUARDIAN_WAIT: Duration = Duration::from_millis(200);

/// Open the guardian's stdin (once): a socket pair, which it reads like a pipe
/// and whose end of file comes when rune's end closes.
fn open_guardian_pipe() {
    let mut slot = lock(&GUARDIAN_PIPE);
    if slot.is_some() || GUARDIAN_STATE.load(Ordering::SeqCst) != NO_GUARDIAN {
        return;
    }
    let Ok((read, write)) = UnixStream::pair() else {
        // No descriptors left: no guardian.
        GUARDIAN_STATE.store(GUARDIAN_SETTLED, Ordering::SeqCst);
        return;
    };
    let _ = write.set_nonblocking(true);
    *slot = Some(Guardian {
        tell: write,
        pid: None,
    });
    *lock(&GUARDIAN_STDIN) = Some(read);
    GUARDIAN_STATE.store(GUARDIAN_PENDING, Ordering::SeqCst);
}

/// Start the guardian (once, after [`prepare`]). The signal listener calls it as
/// it starts, so the spawn (rune waits in it until the guardian's `execve`)
/// overlaps the plugin's instead of delaying it; a child's spawn waits only until
/// the guardian's process exists ([`await_guardian`]). Without a guardian
/// (neither program could start), children still die with rune when they read
/// their stdin or write their stdout, and not otherwise.
pub(crate) fn start_guardian() {
    if GUARDIAN_STATE.load(Ordering::SeqCst) != GUARDIAN_PENDING {
        return;
    }
    // This thread's id (`/proc/thread-self` links to `<pid>/task/<tid>`), where
    // the guardian's process will show; without it, spawns wait for this one.
    let me = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name()?.to_str()?.parse::<i32>().ok())
        .filter(|tid| *tid > 0)
        .unwrap_or(GUARDIAN_UNSEEN);
    if GUARDIAN_STATE
        .compare_exchange(GUARDIAN_PENDING, me, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    let Some(stdin) = lock(&GUARDIAN_STDIN).take() else {
        GUARDIAN_STATE.store(GUARDIAN_SETTLED, Ordering::SeqCst);
        return;
    };
    let rune = rustix::process::getpid().as_raw_nonzero().to_string();
    let started =
        spawn_guardian_program(&stdin, &rune).or_else(|_| spawn_awk_guardian(stdin, &rune));
    let mut slot = lock(&GUARDIAN_PIPE);
    match started {
        Ok(child) => {
            if let Some(guardian) = slot.as_mut() {
                guardian.pid = Some(child.id() as i32);
            }
            // Never waited for: it outlives rune on purpose, and init reaps it.
            std::mem::forget(child);
        }
        // No guardian: nothing to tell.
        Err(_) => *slot = None,
    }
    GUARDIAN_STATE.store(GUARDIAN_SETTLED, Ordering::SeqCst);
}

/// Before a child is spawned: wait until the guardian's process exists (not
/// until it runs its program), so a rune SIGKILLed after this point leaves a
/// guardian to kill the child, by its `+PID` line or by its token. The
/// guardian's process is a child of the thread spawning it as soon as it exists
/// (`/proc`'s `children` of that thread), long before that thread's spawn
/// returns.
fn await_guardian() {
    let since = Instant::now();
    let me = rustix::process::getpid().as_raw_nonzero().get();
    loop {
        match GUARDIAN_STATE.load(Ordering::SeqCst) {
            NO_GUARDIAN | GUARDIAN_SETTLED => return,
            // No thread began: start it here (a no-op if one just did).
            GUARDIAN_PENDING if since.elapsed() >= GUARDIAN_WAIT => start_guardian(),
            GUARDIAN_PENDING | GUARDIAN_UNSEEN => {}
            spawner => {
                // Unreadable (a kernel without `children`): wait for the spawn.
                if thread_children(me, spawner).is_some_and(|c| !c.is_empty()) {
                    return;
                }
            }
        }
        if since.elapsed() >= KILL_WAIT {
            return;
        }
        std::thread::yield_now();
    }
}

/// rune's own guardian program (`guardian/guardian.rs`, built by `build.rs` for
/// x86_64 Linux), run from a memory file: a static executable with no loader and
/// no C library, which starts in a tenth of the CPU time awk needs, and needs no
/// program from PATH. The memory file is closed on exec; its image stays mapped
/// in the guardian.
#[cfg(rune_guardian_program)]
fn spawn_guardian_program(stdin: &UnixStream, rune: &str) -> io::Result<std::process::Child> {
    use std::os::fd::AsRawFd;
    const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guardian"));
    let memfd = rustix::fs::memfd_create("guardian", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut image = std::fs::File::from(memfd);
    image.write_all(PROGRAM)?;
    let mut command = Command::new(format!("/proc/self/fd/{}", image.as_raw_fd()));
    // Not "rune": `pkill rune` or `pkill -f 'rune run'` must leave it to do its work.
    command.arg0("guardian").arg(rune).env_clear();
    spawn_detached(command, OwnedFd::from(stdin.try_clone()?))
}

/// Without the program (another architecture), awk.
#[cfg(not(rune_guardian_program))]
fn spawn_guardian_program(_: &UnixStream, _: &str) -> io::Result<std::process::Child> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The guardian as an awk program ([`GUARDIAN`]), where rune's own cannot run
/// (another architecture; a system that forbids executing memory files).
fn spawn_awk_guardian(stdin: UnixStream, rune: &str) -> io::Result<std::process::Child> {
    let mut command = Command::new(find_awk());
    command
        .arg("-v")
        .arg(format!("rune={rune}"))
        .arg(GUARDIAN)
        // What its `kill`, `grep` and `cut` need, and the C locale, so awk does not
        // load locale files: its start-up competes with rune's for the CPU.
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("LC_ALL", "C");
    spawn_detached(command, OwnedFd::from(stdin))
}

/// Spawn a guardian reading `stdin`, writing nowhere, in a process group of its
/// own: the terminal's Ctrl-C, or a kill of rune's group, must not end it.
fn spawn_detached(mut command: Command, stdin: OwnedFd) -> io::Result<std::process::Child> {
    command
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// awk's path, looked up in PATH here: a failed `execve` per PATH entry before
/// the one holding awk (as `posix_spawnp` does) costs more than a `stat` each.
fn find_awk() -> std::path::PathBuf {
    // Only absolute directories: a relative one would name a different awk in
    // every directory rune is started from.
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::join_paths(std::env::split_paths(&path).filter(|d| d.is_absolute())).ok()
        })
        .and_then(|path| super::environment::find_in_path("awk", &path))
        .unwrap_or_else(|| "awk".into())
}

/// Tell the guardian a line (`+PID`, `-PID`, `done`); a full or closed pipe
/// loses it rather than block rune.
fn tell_guardian(line: &str) {
    if let Some(guardian) = lock(&GUARDIAN_PIPE).as_mut() {
        let _ = guardian.tell.write(line.as_bytes());
    }
}

/// The guardian's pid, which the sweeps leave alone.
fn guardian_pid() -> Option<i32> {
    lock(&GUARDIAN_PIPE).as_ref().and_then(|g| g.pid)
}

/// rune is exiting normally, having reaped its children: the guardian stands down.
pub fn stand_down() {
    tell_guardian("done\n");
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Something happened (data moved, the child exited); look again.
    Progress,
    /// The deadline passed.
    Deadline,
    /// The cancel flag is set.
    Cancelled,
}

/// What waiting for a line from the child's stdout gave.
#[derive(Debug)]
pub(crate) enum LineWait {
    /// One line without its newline.
    Text(Vec<u8>),
    /// A line longer than the limit; stdout is given up on.
    TooLong,
    /// stdout reached end of file.
    Closed,
    /// The child exited and no whole line is left.
    Exited,
    /// The deadline passed.
    Deadline,
    /// The cancel flag is set.
    Cancelled,
}

/// Why a write to the child did not complete.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The deadline passed with bytes still unwritten.
    Deadline,
    /// The cancel flag was set.
    Cancelled,
    /// The pipe is closed (the child and all it started closed their stdin).
    Closed(io::Error),
}

/// A supervised child: its pipes (non-blocking on rune's side), its pidfd, what is
/// still to be written and what was read.
pub(crate) struct Child {
    child: std::process::Child,
    pid: i32,
    pidfd: OwnedFd,
    token: u64,
    leaves_daemon: bool,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    input: Vec<u8>,
    written: usize,
    /// stdout read and not yet taken.
    out: Vec<u8>,
    /// stdout is not read beyond this many buffered bytes.
    out_cap: usize,
    err_tail: Vec<u8>,
    err_truncated: bool,
    exited: bool,
    status: Option<ExitStatus>,
    /// stdin stays open once the input is written (an ssh transport: its end of
    /// file tells the node's wrapper that rune or the connection is gone).
    hold_stdin: bool,
}

/// A pidfd for the child just spawned as `pid`. Without one (out of descriptors)
/// the child cannot be supervised: it is killed, reaped and forgotten.
fn pidfd_or_kill(child: &mut std::process::Child, pid: i32) -> io::Result<OwnedFd> {
    match Pid::from_raw(pid)
        .ok_or_else(|| io::Error::other("pid 0"))
        .and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                .map_err(io::Error::from)
        }) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            signal_group(pid, Signal::KILL);
            let live = lock(&LIVE);
            let _ = child.wait();
            tell_guardian(&format!("- {pid}\n"));
            forget(live, pid);
            Err(e)
        }
    }
}

impl Child {
    /// Start `spec` with piped stdio in a process group of its own. `out_cap`
    /// bounds the stdout held unread (the child then waits on its pipe).
    pub(crate) fn spawn(spec: &Spec, leaves_daemon: bool, out_cap: usize) -> io::Result<Child> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
        // A program changed since the plan pinned it does not start.
        super::programs::check(spec)?;
        await_guardian();
        let token = NEXT_TOKEN.fetch_add(1, Ordering::SeqCst);
        // A limited child starts through rune's launcher, which limits itself and
        // execs the program (same pid): see exec::limits.
        let mut command = match super::limits::launcher_argv(&spec.limits, &spec.argv) {
            Some(launcher) => {
                super::limits::startable(program, &spec.env)?;
                let mut c = Command::new(&launcher[0]);
                c.args(&launcher[1..]);
                c
            }
            None => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
        };
        command
            .current_dir(&spec.working_dir)
            // The child's whole environment (exec::environment), then rune's token.
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .env(
                TOKEN_VAR,
                format!("{}:{token}", rustix::process::getpid().as_raw_nonzero()),
            );
        if leaves_daemon {
            lock(&DAEMON_TOKENS).push(token);
        }
        // Spawned and registered under one lock: a sweep never takes a child that
        // is not yet registered for an orphan.
        let mut child = {
            let mut live = lock(&LIVE);
            let child = command.spawn()?;
            live.push(Live {
                pid: child.id() as i32,
            });
            tell_guardian(&format!("+ {}\n", child.id()));
            child
        };
        let pid = child.id() as i32;
        let pidfd = pidfd_or_kill(&mut child, pid)?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        for fd in [
            stdin.as_ref().map(AsFd::as_fd),
            stdout.as_ref().map(AsFd::as_fd),
            stderr.as_ref().map(AsFd::as_fd),
        ]
        .into_iter()
        .flatten()
        {
            let flags = rustix::fs::fcntl_getfl(fd)?;
            rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)?;
        }
        Ok(Child {
            child,
            pid,
            pidfd,
            token,
            leaves_daemon,
            stdin,
            stdout,
            stderr,
            input: Vec::new(),
            written: 0,
            out: Vec::new(),
            out_cap,
            err_tail: Vec::new(),
            err_truncated: false,
            exited: false,
            status: None,
            hold_stdin: false,
        })
    }

    /// Keep stdin open after the input is written, until the child exits.
    pub(crate) fn hold_stdin(&mut self) {
        self.hold_stdin = true;
    }

    /// Its exit status, once reaped.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Bytes queued for stdin and not yet written.
    fn writing(&self) -> bool {
        self.stdin.is_some() && self.written < self.input.len()
    }

    /// Queue `bytes` for the child's stdin (written while waiting).
    fn queue(&mut self, bytes: &[u8]) {
        if self.written == self.input.len() {
            self.input.clear();
            self.written = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Close the child's stdin (it sees end of file); unwritten bytes are dropped.
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
        self.input.clear();
        self.written = 0;
    }

    /// stdout read so far and not taken.
    pub(crate) fn take_stdout(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The kept tail of stderr and whether more came before it.
    pub(crate) fn stderr_tail(&self) -> (&[u8], bool) {
        (&self.err_tail, self.err_truncated)
    }

    /// Wait once: until a pipe moves, the child exits, `deadline` passes or
    /// `cancel` is set, whichever comes first; moves whatever data is ready.
    pub(crate) fn pump(&mut self, deadline: Option<Instant>, cancel: Option<&Cancel>) -> Wake {
        let cancel_fd = cancel.and_then(Cancel::wake_fd);
        if cancel.is_some_and(Cancel::is_set) {
            return Wake::Cancelled;
        }
        let mut left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Wake::Deadline;
        }
        if cancel.is_some() && cancel_fd.is_none() {
            // No eventfd (out of descriptors): look at the flag now and then.
            left = Some(left.map_or(Duration::from_millis(20), |l| {
                l.min(Duration::from_millis(20))
            }));
        }
        let ready = match self.poll(deadline, cancel, cancel_fd, left) {
            Ok(ready) => ready,
            Err(wake) => return wake,
        };
        let mut wake = Wake::Progress;
        for slot in ready {
            match slot {
                Slot::Stdin => self.write_some(),
                Slot::Stdout => self.read_stdout(),
                Slot::Stderr => self.read_stderr(),
                Slot::Exit => {
                    self.exited = true;
                    // What it wrote before exiting is in the pipes: take it now,
                    // whoever else may still hold them open.
                    self.read_stdout();
                    self.read_stderr();
                }
                Slot::Cancel => wake = Wake::Cancelled,
            }
        }
        wake
    }

    /// Poll what [`pump`](Self::pump) waits on for at most `left`: the slots that
    /// are ready, or how the wait ended when none is.
    fn poll(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&Cancel>,
        cancel_fd: Option<std::os::fd::BorrowedFd<'_>>,
        left: Option<Duration>,
    ) -> Result<Vec<Slot>, Wake> {
        let (want_in, want_out, want_err) = (
            self.writing(),
            self.stdout.is_some() && self.out.len() < self.out_cap,
            self.stderr.is_some(),
        );
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(5);
        let mut slots = Vec::with_capacity(5);
        let both = PollFlags::IN;
        if let (true, Some(fd)) = (want_in, self.stdin.as_ref()) {
            fds.push(PollFd::new(fd, PollFlags::OUT));
            slots.push(Slot::Stdin);
        }
        if let (true, Some(fd)) = (want_out, self.stdout.as_ref()) {
            fds.push(PollFd::new(fd, both));
            slots.push(Slot::Stdout);
        }
        if let (true, Some(fd)) = (want_err, self.stderr.as_ref()) {
            fds.push(PollFd::new(fd, both));
            slots.push(Slot::Stderr);
        }
        if !self.exited {
            fds.push(PollFd::new(&self.pidfd, both));
            slots.push(Slot::Exit);
        }
        if let Some(fd) = cancel_fd {
            fds.push(PollFd::from_borrowed_fd(fd, both));
            slots.push(Slot::Cancel);
        }
        let timeout = left.map(timespec);
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) if left.is_some() => {
                return Err(if cancel.is_some_and(Cancel::is_set) {
                    Wake::Cancelled
                } else if deadline.is_some_and(|d| Instant::now() >= d) {
                    Wake::Deadline
                } else {
                    Wake::Progress
                });
            }
            Ok(_) => {}
            Err(_) => return Err(Wake::Progress),
        }
        Ok(slots
            .into_iter()
            .zip(fds.iter().map(PollFd::revents))
            .filter(|(_, r)| !r.is_empty())
            .map(|(s, _)| s)
            .collect::<Vec<_>>())
    }

    fn write_some(&mut self) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let end = self.input.len().min(self.written + CHUNK);
        match stdin.write(&self.input[self.written..end]) {
            Ok(n) => {
                self.written += n;
                if self.written == self.input.len() {
                    self.input.clear();
                    self.written = 0;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            // EPIPE: nobody reads any more; not reading is the child's choice.
            Err(_) => self.close_stdin(),
        }
    }

    // Both readers append straight into their buffers (`read_to_end` on a bounded
    // `take`): a zeroed 64 KiB buffer on the stack cost 16 page faults per read
    // round, the main cost of a step after the spawn itself.
    fn read_stdout(&mut self) {
        while let Some(stdout) = self.stdout.as_mut() {
            let room = self.out_cap.saturating_sub(self.out.len()).min(CHUNK);
            if room == 0 {
                return;
            }
            match Read::by_ref(stdout)
                .take(room as u64)
                .read_to_end(&mut self.out)
            {
                // Less than asked for without an error: end of file.
                Ok(n) if n < room => self.stdout = None,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => self.stdout = None,
            }
        }
    }

    fn read_stderr(&mut self) {
        while let Some(stderr) = self.stderr.as_mut() {
            let read = Read::by_ref(stderr)
                .take(CHUNK as u64)
                .read_to_end(&mut self.err_tail);
            if self.err_tail.len() > STDERR_KEEP {
                let cut = self.err_tail.len() - STDERR_KEEP;
                self.err_tail.drain(..cut);
                self.err_truncated = true;
            }
            match read {
                Ok(n) if n < CHUNK => self.stderr = None,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => self.stderr = None,
            }
        }
    }

    /// Run to completion as a one-shot process: write `input`, read stdout up to
    /// `limit` bytes; the child must exit and take its whole input by `deadline`.
    pub(crate) fn run_to_end(
        &mut self,
        input: &[u8],
        limit: usize,
        deadline: Instant,
        cancel: &Cancel,
    ) -> OneShot {
        self.queue(input);
        if input.is_empty() && !self.hold_stdin {
            self.close_stdin();
        }
        loop {
            if self.out.len() > limit {
                self.out.truncate(limit);
                return OneShot::TooMuchOutput;
            }
            if !self.writing() && self.stdin.is_some() && !self.hold_stdin {
                // All of it written: the child sees end of file.
                self.close_stdin();
            }
            // Exited, and its input taken by it or by something it left: done.
            // What still holds stdout open is not waited for.
            if self.exited && !self.writing() {
                return OneShot::Exited;
            }
            match self.pump(Some(deadline), Some(cancel)) {
                Wake::Deadline => return OneShot::Deadline,
                Wake::Cancelled => return OneShot::Cancelled,
                Wake::Progress => {}
            }
        }
    }

    /// Write `bytes` to stdin by `deadline` (or until `cancel` is set), reading
    /// stdout and stderr meanwhile so a child that writes while rune writes never
    /// deadlocks with it.
    pub(crate) fn send(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
        cancel: Option<&Cancel>,
    ) -> Result<(), SendError> {
        if self.stdin.is_none() {
            return Err(SendError::Closed(io::ErrorKind::BrokenPipe.into()));
        }
        self.queue(bytes);
        loop {
            if !self.writing() {
                return if self.stdin.is_some() {
                    Ok(())
                } else {
                    Err(SendError::Closed(io::ErrorKind::BrokenPipe.into()))
                };
            }
            match self.pump(Some(deadline), cancel) {
                Wake::Deadline => return Err(SendError::Deadline),
                Wake::Cancelled => return Err(SendError::Cancelled),
                Wake::Progress => {}
            }
        }
    }

    /// The next line of stdout (at most `limit` bytes), waiting until `deadline`.
    pub(crate) fn read_line(
        &mut self,
        limit: usize,
        deadline: Instant,
        cancel: &Cancel,
    ) -> LineWait {
        loop {
            match self.out.iter().position(|&b| b == b'\n') {
                Some(at) if at > limit => return self.too_long(),
                Some(at) => {
                    let mut line: Vec<u8> = self.out.drain(..=at).collect();
                    line.pop();
                    return LineWait::Text(line);
                }
                None if self.out.len() > limit => return self.too_long(),
                None => {}
            }
            if self.stdout.is_none() {
                return LineWait::Closed;
            }
            if self.exited {
                return LineWait::Exited;
            }
            match self.pump(Some(deadline), Some(cancel)) {
                Wake::Deadline => return LineWait::Deadline,
                Wake::Cancelled => return LineWait::Cancelled,
                Wake::Progress => {}
            }
        }
    }

    fn too_long(&mut self) -> LineWait {
        self.out.clear();
        self.stdout = None;
        LineWait::TooLong
    }

    /// Wait until the child exits or `deadline` passes (None: no deadline),
    /// draining its stdout and stderr meanwhile; whether it exited.
    pub(crate) fn wait_exit(&mut self, deadline: Option<Instant>) -> bool {
        while !self.exited {
            if self.pump(deadline, None) == Wake::Deadline {
                return false;
            }
        }
        true
    }

    /// The child exited by itself: kill what it left (its group, its escaped
    /// descendants) unless its action leaves a daemon on purpose, and reap it.
    pub(crate) fn finish_exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() && !self.leaves_daemon {
            signal_group(self.pid, Signal::KILL);
            kill_escaped(self.pid, self.token, &[], self.exited);
        }
        self.reap()
    }

    /// The kill sequence: SIGTERM to the group, `grace`, SIGKILL; then the
    /// descendants that left the group; reaps the child.
    pub(crate) fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        self.close_stdin();
        let seen = subtree(self.pid);
        if !self.exited {
            signal_group(self.pid, Signal::TERM);
            self.wait_exit(Some(Instant::now() + grace));
        }
        signal_group(self.pid, Signal::KILL);
        self.wait_exit(Some(Instant::now() + KILL_WAIT));
        kill_escaped(self.pid, self.token, &seen, self.exited);
        self.reap()
    }

    /// SIGKILL now: the group, then what escaped it; reaps the child.
    pub(crate) fn kill_now(&mut self) -> Option<ExitStatus> {
        self.stop(Duration::ZERO)
    }

    /// Reap the exited child under the registry lock (never while the signal side
    /// may be signalling its group).
    fn reap(&mut self) -> Option<ExitStatus> {
        if self.status.is_some() || !self.exited {
            return self.status;
        }
        let live = lock(&LIVE);
        if let Ok(status) = self.child.wait() {
            self.status = Some(status);
        }
        tell_guardian(&format!("- {}\n", self.pid));
        forget(live, self.pid);
        self.stdout = None;
        self.stderr = None;
        self.stdin = None;
        self.status
    }
}

impl Drop for Child {
    /// A child dropped unfinished takes everything it started with it.
    fn drop(&mut self) {
        if self.status.is_none() {
            self.kill_now();
        }
    }
}

/// How a one-shot run ended, before its clean-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OneShot {
    /// The child exited and took its input.
    Exited,
    /// The deadline passed.
    Deadline,
    /// The cancel flag was set.
    Cancelled,
    /// It wrote more than the limit to stdout.
    TooMuchOutput,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Stdin,
    Stdout,
    Stderr,
    Exit,
    Cancel,
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// Drop `pid` from the registry (the caller holds the lock).
fn forget(mut live: MutexGuard<'_, Vec<Live>>, pid: i32) {
    live.retain(|l| l.pid != pid);
}

/// Signal the process group led by `pid`; a group already gone is not an error.
pub(crate) fn signal_group(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// From the signal side (the second Ctrl-C): SIGKILL every live child's group,
/// then everything else rune adopted. Workers waiting on those children see them
/// exit and reap them.
pub(crate) fn kill_all() {
    {
        let live = lock(&LIVE);
        for child in live.iter() {
            signal_group(child.pid, Signal::KILL);
        }
    }
    sweep();
}

/// Command-line markers of processes rune adopts on purpose and leaves running:
/// the ssh transport's multiplexing masters, which ssh forks from a client rune
/// supervised when its first session ends, and which then retitle themselves
/// (`ssh: DIR/HASH [mux]`) over their environment, so the token cannot name
/// them. Before the new title they still show the client's own command line
/// (`... ControlPath=DIR/%C ...`). Never empty strings.
static SPARED_TITLES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Leave processes whose command line holds `prefix` alone in every sweep.
pub(crate) fn spare_titled(prefix: String) {
    if prefix.is_empty() {
        return;
    }
    let mut spared = lock(&SPARED_TITLES);
    if !spared.contains(&prefix) {
        spared.push(prefix);
    }
}

/// Whether `pid` is a process [`spare_titled`] names.
fn spared(pid: i32) -> bool {
    let spared = lock(&SPARED_TITLES);
    if spared.is_empty() {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    spared
        .iter()
        .any(|p| cmdline.windows(p.len()).any(|w| w == p.as_bytes()))
}

/// Kill and reap every process rune adopted that is not a live child and not a
/// daemon an action left on purpose: what is left when a run ends.
pub(crate) fn sweep() {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let daemons = lock(&DAEMON_TOKENS).clone();
    for _ in 0..SWEEP_ROUNDS {
        let mut live: HashSet<i32> = lock(&LIVE).iter().map(|l| l.pid).collect();
        live.extend(guardian_pid());
        let adopted: Vec<i32> = adopted(me)
            .into_iter()
            .filter(|p| !live.contains(p))
            .filter(|&p| !spared(p))
            .filter(|&p| match token_of(p) {
                Some((rune, token)) if rune == me => !daemons.contains(&token),
                _ => true,
            })
            .collect();
        if adopted.is_empty() {
            return;
        }
        kill_and_reap(&adopted, me);
    }
}

/// Kill and reap the processes that escaped the group of the child `pid` (token
/// `token`): its adopted orphans known by token, group or `seen` (pids that were
/// below it while it lived), and everything below those. Below an `exited` child
/// there is nothing to look for: the kernel gave its children away as it exited.
fn kill_escaped(pid: i32, token: u64, seen: &[i32], exited: bool) {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let mut ours: HashSet<i32> = seen.iter().copied().collect();
    for _ in 0..SWEEP_ROUNDS {
        let mut live: HashSet<i32> = lock(&LIVE)
            .iter()
            .map(|l| l.pid)
            .filter(|&p| p != pid)
            .collect();
        live.extend(guardian_pid());
        let escaped: Vec<i32> = adopted(me)
            .into_iter()
            .filter(|p| *p != pid && !live.contains(p) && !spared(*p))
            .filter(|&p| {
                ours.contains(&p)
                    || stat_of(p).is_some_and(|s| s.pgrp == pid)
                    || token_of(p) == Some((me, token))
            })
            .chain(if exited { Vec::new() } else { subtree(pid) })
            .collect();
        if escaped.is_empty() {
            return;
        }
        ours.extend(escaped.iter().copied());
        kill_and_reap(&escaped, me);
    }
}

/// SIGKILL `pids` and what is below them; reap those that are rune's children.
fn kill_and_reap(pids: &[i32], me: i32) {
    let mut all: Vec<i32> = Vec::new();
    for &p in pids {
        all.push(p);
        all.extend(subtree(p));
    }
    all.retain(|&p| !spared(p));
    for &p in &all {
        if let Some(pid) = Pid::from_raw(p) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
    }
    for &p in &all {
        if stat_of(p).is_some_and(|s| s.ppid == me) {
            if let Some(pid) = Pid::from_raw(p) {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            }
        }
    }
}

/// Reads of an empty /proc/<pid>/environ before it counts as empty.
const ENVIRON_READS: u32 = 5;

/// The few fields of /proc/<pid>/stat the supervisor needs.
struct Stat {
    ppid: i32,
    pgrp: i32,
}

fn stat_of(pid: i32) -> Option<Stat> {
    let text = read_proc(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(1);
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { ppid, pgrp })
}

/// The (rune pid, child number) a process inherited in [`TOKEN_VAR`], if readable.
fn token_of(pid: i32) -> Option<(i32, u64)> {
    // A process in the middle of an exec shows an empty environment, or cannot be
    // read, for a moment (the new image is mapped before its environment is copied
    // in): read again before taking it for a stranger, or a daemon an action
    // leaves on purpose is killed as it execs.
    let mut environ = Vec::new();
    for attempt in 0..ENVIRON_READS {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(read) if !read.is_empty() => {
                environ = read;
                break;
            }
            // Gone: nothing to tell apart.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            _ => {}
        }
        if attempt + 1 < ENVIRON_READS {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let prefix = format!("{TOKEN_VAR}=");
    let entry = environ
        .split(|&b| b == 0)
        .find_map(|e| e.strip_prefix(prefix.as_bytes()))?;
    let (rune, token) = std::str::from_utf8(entry).ok()?.split_once(':')?;
    Some((rune.parse().ok()?, token.parse().ok()?))
}

/// The children of `pid`, from /proc/<pid>/task/*/children.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Some(text) = read_proc(task.path().join("children")) {
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// A small /proc text file. `std::fs::read_to_string` first asks the file's size
/// (`statx`), which /proc answers with 0: one system call per read for nothing,
/// and these reads run after every step.
fn read_proc(path: impl AsRef<std::path::Path>) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// The orphans rune has adopted as subreaper, and the children of its main
/// thread: the main thread's `children` list alone. The kernel hands an orphan
/// to the subreaper's first live thread, the main thread while rune runs,
/// whichever thread started the orphan's ancestor, and the children of a thread
/// that ends to the same one; so one read finds every escaped descendant after
/// each step and at the end of a run, where reading every thread's list cost a
/// `/proc` read per thread. Another live thread's list holds only the children it
/// started and has not reaped yet, which are all registered as live (every
/// child but the guardian is started by [`Child::spawn`]): nothing to sweep.
fn adopted(me: i32) -> Vec<i32> {
    thread_children(me, me).unwrap_or_default()
}

/// The children thread `tid` of process `pid` started (or adopted), from its
/// `children` list; `None` where the list cannot be read.
fn thread_children(pid: i32, tid: i32) -> Option<Vec<i32>> {
    read_proc(format!("/proc/{pid}/task/{tid}/children")).map(|text| {
        text.split_ascii_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .collect()
    })
}

/// Every process below `pid` (not `pid` itself).
fn subtree(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for c in children_of(p) {
            if !out.contains(&c) && out.len() < 100_000 {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

/// Run `job` on a new thread of `scope`, or on this one when no thread can be
/// created (a pids limit): the work is done either way, and nothing panics.
pub(crate) fn spawn_scoped_or_inline<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    job: F,
) where
    F: FnOnce() + Send + 'scope,
{
    let slot = std::sync::Arc::new(Mutex::new(Some(job)));
    let theirs = std::sync::Arc::clone(&slot);
    let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
        let job = lock(&theirs).take();
        if let Some(job) = job {
            job();
        }
    });
    if spawned.is_err() {
        // The closure was never run: it is still in the slot.
        let job = lock(&slot).take();
        if let Some(job) = job {
            job();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// One guardian's promises, whichever program it runs: listed groups and
    /// token carriers die when its stdin ends without `done`, a released group
    /// (its pid may be someone else's by then) and another rune's token carrier
    /// do not, unknown lines are ignored, and after `done` nothing dies.
    /// `rune` is a pid above any Linux hands out, one per test (they run at the
    /// same time): only that test's sleepers carry its token.
    fn guardian_keeps_its_promises(
        rune: &str,
        spawn: impl Fn(UnixStream, &str) -> io::Result<std::process::Child>,
    ) {
        use std::os::unix::process::CommandExt;
        let sleeper = |token: Option<String>| {
            let mut c = Command::new("sleep");
            c.arg("600").process_group(0).env_remove(TOKEN_VAR);
            if let Some(token) = token {
                c.env(TOKEN_VAR, token);
            }
            c.stdin(Stdio::null()).spawn().unwrap()
        };
        let guard = |lines: String| {
            let (theirs, mut ours) = UnixStream::pair().unwrap();
            let mut guardian = spawn(theirs, rune).unwrap();
            ours.write_all(lines.as_bytes()).unwrap();
            drop(ours);
            let started = Instant::now();
            while guardian.try_wait().unwrap().is_none() {
                assert!(started.elapsed() < Duration::from_secs(10), "it hangs");
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let gone = |child: &mut std::process::Child, wait: Duration| {
            let deadline = Instant::now() + wait;
            loop {
                if child.try_wait().unwrap().is_some() {
                    return true;
                }
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let mut listed = sleeper(None);
        let mut released = sleeper(None);
        let mut tokened = sleeper(Some(format!("{rune}:3")));
        let mut other = sleeper(Some(format!("{rune}7:3")));
        guard(format!(
            "+ {}\n+ {}\n- {}\nnonsense\n{}\n+ x\n",
            listed.id(),
            released.id(),
            released.id(),
            "9".repeat(200)
        ));
        assert!(gone(&mut listed, Duration::from_secs(5)), "listed");
        assert!(gone(&mut tokened, Duration::from_secs(5)), "tokened");
        assert!(!gone(&mut released, Duration::from_millis(200)), "released");
        assert!(
            !gone(&mut other, Duration::from_millis(10)),
            "another rune's"
        );
        let mut spared = sleeper(Some(format!("{rune}:4")));
        guard(format!("+ {}\ndone\n", spared.id()));
        assert!(!gone(&mut spared, Duration::from_millis(200)), "after done");
        for mut child in [released, other, spared] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// rune's own guardian program, started as rune starts it (from a memory file).
    #[cfg(rune_guardian_program)]
    #[test]
    fn the_guardian_program_keeps_its_promises() {
        guardian_keeps_its_promises("4194997", |stdin, rune| {
            spawn_guardian_program(&stdin, rune)
        });
    }

    /// The awk guardian, where rune's own program does not run.
    #[test]
    fn the_awk_guardian_keeps_its_promises() {
        guardian_keeps_its_promises("4194998", spawn_awk_guardian);
    }

    fn sh(script: &str) -> Spec {
        Spec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            working_dir: PathBuf::from("."),
            env: crate::exec::environment::compute(&Default::default()),
            limits: Default::default(),
        }
    }

    #[test]
    fn a_write_to_a_child_that_does_not_read_ends_at_its_deadline() {
        let mut child = Child::spawn(&sh("exec sleep 30"), false, 1 << 20).unwrap();
        let started = Instant::now();
        let sent = child.send(
            &vec![b'x'; 1 << 20],
            started + Duration::from_millis(200),
            None,
        );
        assert!(matches!(sent, Err(SendError::Deadline)), "{sent:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let status = child.stop(Duration::from_millis(100)).expect("reaped");
        assert!(!status.success());
    }

    #[test]
    fn lines_come_one_by_one_and_a_long_one_is_refused() {
        let mut child = Child::spawn(
            &sh("printf 'one\\ntwo\\n'; head -c 5000 /dev/zero | tr '\\0' x; echo; sleep 30"),
            false,
            1 << 20,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let cancel = Cancel::new();
        assert!(
            matches!(child.read_line(100, deadline, &cancel), LineWait::Text(l) if l == b"one")
        );
        assert!(
            matches!(child.read_line(100, deadline, &cancel), LineWait::Text(l) if l == b"two")
        );
        assert!(matches!(
            child.read_line(100, deadline, &cancel),
            LineWait::TooLong
        ));
        child.kill_now();
    }

    #[test]
    fn a_cancel_flag_set_from_another_thread_wakes_the_wait() {
        let mut child = Child::spawn(&sh("exec sleep 30"), false, 1 << 20).unwrap();
        let cancel = Cancel::new();
        let setter = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                cancel.set();
            })
        };
        let started = Instant::now();
        let got = child.read_line(100, started + Duration::from_secs(20), &cancel);
        assert!(matches!(got, LineWait::Cancelled), "{got:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        setter.join().unwrap();
        child.kill_now();
    }
}
