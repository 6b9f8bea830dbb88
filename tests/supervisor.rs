//! The supervisor through the real binary, against plugins and a module that
//! defeat naive process handling (tests/fixtures/supervisor/): a write that would
//! block forever, descendants that leave the process group, daemons holding
//! stdout, signals to rune itself, and resource limits. Every case has a deadline
//! and checks that no process it started is left running.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::support::{root, skip};

fn catalog() -> PathBuf {
    root().join("tests/fixtures/supervisor/catalog.yaml")
}

/// A file the fixtures append the pids they start to, in a directory of its own.
struct Pids {
    dir: tempfile::TempDir,
}

impl Pids {
    fn new() -> Self {
        Pids {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("pids")
    }

    fn recorded(&self) -> Vec<i32> {
        std::fs::read_to_string(self.file())
            .unwrap_or_default()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    }

    /// Wait (up to 5 s) until `n` pids are on record.
    fn wait_for(&self, n: usize) -> Vec<i32> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.recorded();
            if pids.len() >= n {
                return pids;
            }
            assert!(Instant::now() < deadline, "only {pids:?} recorded");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every recorded process is gone (a zombie left to init counts as gone).
    fn assert_all_gone(&self) {
        let pids = self.recorded();
        assert!(!pids.is_empty(), "the fixture recorded no pid");
        for pid in pids {
            assert!(
                gone_within(pid, Duration::from_secs(2)),
                "process {pid} is still running"
            );
        }
    }
}

/// Whether `pid` is running (not a zombie, not gone).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

fn gone_within(pid: i32, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while running(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// What a finished rune left.
struct Ran {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Ran {
    /// The final report: all of stdout (`run`) or its last line (`apply`).
    fn report(&self) -> Json {
        let line = self.stdout.lines().last().unwrap_or("");
        serde_json::from_str(&self.stdout)
            .or_else(|_| serde_json::from_str(line))
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    /// The report's step for `action` (apply's report).
    fn step(&self, id_or_action: &str) -> Json {
        let report = self.report();
        report["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("no steps in {report}"))
            .iter()
            .find(|s| s["workflow"]["id"] == id_or_action || s["action"] == id_or_action)
            .cloned()
            .unwrap_or_else(|| panic!("no step `{id_or_action}` in {report}"))
    }
}

/// `rune ARGS` with PIDFILE set, not yet waited for.
fn start(args: &[&str], pids: &Pids) -> Child {
    start_with_path(args, pids, None)
}

/// [`start`] with PATH set to `path` (rune's own, and the plugins' through the
/// environment allowlist).
fn start_with_path(args: &[&str], pids: &Pids, path: Option<&std::path::Path>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rune"));
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command
        .args(args)
        .arg("--catalog")
        .arg(catalog())
        .current_dir(root())
        .env("PIDFILE", pids.file())
        .env("RUNE_PROGRESS", "off")
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rune starts")
}

/// Wait for `child` at most `limit`; a hang kills it and fails the test.
fn finish(mut child: Child, started: Instant, limit: Duration) -> Ran {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rune did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    use std::os::unix::process::ExitStatusExt;
    Ran {
        code: status.code(),
        signal: status.signal(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
    }
}

/// `rune ARGS` to its end, within `limit`.
fn rune_run(args: &[&str], pids: &Pids, limit: Duration) -> Ran {
    let started = Instant::now();
    finish(start(args, pids), started, limit)
}

/// A JSON file holding `{"blob": "aaa…"}` of `bytes` bytes.
fn blob_file(dir: &tempfile::TempDir, bytes: usize) -> String {
    let path = dir.path().join(format!("blob{bytes}.json"));
    let doc = serde_json::json!({ "blob": "a".repeat(bytes) });
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

fn kind(eps: &Json) -> &str {
    eps["rune"]["kind"].as_str().unwrap_or("")
}

#[test]
fn a_plugin_handing_stdin_to_a_setsid_grandchild_times_out_under_run() {
    let pids = Pids::new();
    let params = blob_file(&pids.dir, 100_000);
    let ran = rune_run(
        &[
            "run",
            "stdin-to-setsid",
            "--params-file",
            &params,
            "--output",
            "json",
        ],
        &pids,
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(4), "{}\n{}", ran.stdout, ran.stderr);
    let report = ran.report();
    assert_eq!(kind(&report["eps"]), "timeout", "{report}");
    // The timeout is 1 s, the grace 1 s: not a hang.
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    assert_eq!(pids.recorded().len(), 2, "the plugin and its grandchild");
    pids.assert_all_gone();
}

#[test]
fn a_plugin_handing_stdin_to_a_setsid_grandchild_times_out_under_apply() {
    let pids = Pids::new();
    let params = blob_file(&pids.dir, 100_000);
    let ran = rune_run(
        &[
            "apply",
            "--action",
            "stdin-to-setsid",
            "--params-file",
            &params,
            "--format",
            "json",
        ],
        &pids,
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(4), "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(kind(&ran.step("stdin-to-setsid")["error"]), "timeout");
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    pids.assert_all_gone();
}

#[test]
fn a_module_that_stops_reading_times_out_and_the_run_goes_on() {
    let pids = Pids::new();
    let inputs = blob_file(&pids.dir, 400_000);
    let ran = rune_run(
        &[
            "apply",
            "--workflow",
            "deaf-module",
            "--inputs-file",
            &inputs,
            "--format",
            "json",
        ],
        &pids,
        Duration::from_secs(30),
    );
    assert_eq!(ran.code, Some(4), "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(ran.step("first")["status"], "succeeded");
    let big = ran.step("big");
    assert_eq!(big["status"], "failed");
    assert_eq!(kind(&big["error"]), "timeout", "{big}");
    // The run went on past the failed write.
    assert_eq!(ran.step("next")["status"], "succeeded");
    // execute's timeout is 1.5 s; drain and shutdown then fail at once.
    assert!(ran.elapsed < Duration::from_secs(8), "{:?}", ran.elapsed);
    assert_eq!(pids.recorded().len(), 2, "the module and its sleep");
    pids.assert_all_gone();
}

#[test]
fn a_plugin_leaving_a_daemon_on_stdout_is_answered_and_the_daemon_killed() {
    let pids = Pids::new();
    let ran = rune_run(
        &["run", "daemon", "--output", "json"],
        &pids,
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let report = ran.report();
    let recorded = pids.recorded();
    assert_eq!(report["output"]["daemon"], recorded[1], "{report}");
    // Not the daemon's lifetime (600 s), nor a wait for its end of file.
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    pids.assert_all_gone();
}

#[test]
fn fifty_plugins_leaving_daemons_leak_no_descriptor_or_thread() {
    let counts = |workflow: &str| {
        let pids = Pids::new();
        let ran = rune_run(
            &["apply", "--workflow", workflow, "--format", "json"],
            &pids,
            Duration::from_secs(60),
        );
        assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
        pids.assert_all_gone();
        let output = ran.step("counted")["output"].clone();
        (
            output["fds"].as_u64().unwrap(),
            output["threads"].as_u64().unwrap(),
        )
    };
    let one = counts("one-daemon");
    let fifty = counts("daemons");
    assert_eq!(
        one, fifty,
        "(descriptors, threads) after 1 and after 50 daemons"
    );
}

#[test]
fn a_daemon_the_catalog_declares_is_left_running() {
    let pids = Pids::new();
    let ran = rune_run(
        &["run", "daemon-on-purpose", "--output", "json"],
        &pids,
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let recorded = pids.recorded();
    let (plugin, daemon) = (recorded[0], recorded[1]);
    assert!(gone_within(plugin, Duration::from_secs(2)));
    let alive = running(daemon);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert!(alive, "leaves_daemon: true, yet the daemon was killed");
}

#[test]
fn a_hung_plugin_and_what_escaped_its_group_die_at_the_timeout() {
    let pids = Pids::new();
    let ran = rune_run(
        &["run", "hang-escaped", "--output", "json"],
        &pids,
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(4), "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(kind(&ran.report()["eps"]), "timeout");
    // 800 ms, then 1 s of grace (it ignores SIGTERM).
    assert!(ran.elapsed < Duration::from_secs(5), "{:?}", ran.elapsed);
    assert_eq!(
        pids.recorded().len(),
        3,
        "plugin, setsid child, double-forked grandchild"
    );
    pids.assert_all_gone();
}

fn signal(child: &Child, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
}

#[test]
fn a_second_sigterm_kills_every_child_and_rune_exits_130_within_a_second() {
    use nix::sys::signal::Signal;
    let pids = Pids::new();
    let started = Instant::now();
    let child = start(
        &["apply", "--action", "hang-long", "--format", "json"],
        &pids,
    );
    pids.wait_for(3);
    signal(&child, Signal::SIGTERM);
    // The first lets the plugin run on (its timeout is 10 minutes).
    std::thread::sleep(Duration::from_millis(300));
    assert!(pids.recorded().iter().all(|&p| running(p)));
    let second = Instant::now();
    signal(&child, Signal::SIGTERM);
    let ran = finish(child, started, Duration::from_secs(20));
    assert!(
        second.elapsed() < Duration::from_secs(1),
        "{:?}",
        second.elapsed()
    );
    assert_eq!(ran.code, Some(130), "{}\n{}", ran.stdout, ran.stderr);
    pids.assert_all_gone();
}

#[test]
fn sighup_is_handled_like_sigterm() {
    use nix::sys::signal::Signal;
    let pids = Pids::new();
    let started = Instant::now();
    let child = start(&["run", "hang-long", "--output", "json"], &pids);
    pids.wait_for(3);
    // `rune run`: the first signal stops the plugin (SIGTERM, grace, SIGKILL).
    signal(&child, Signal::SIGHUP);
    let ran = finish(child, started, Duration::from_secs(20));
    assert_eq!(ran.signal, None, "rune died of a signal");
    assert_eq!(ran.code, Some(130), "{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(ran.report()["outcome"], "interrupted");
    pids.assert_all_gone();
}

#[test]
fn children_die_with_a_sigkilled_rune() {
    use nix::sys::signal::Signal;
    let pids = Pids::new();
    let started = Instant::now();
    let child = start(&["run", "sleeper", "--output", "json"], &pids);
    let plugin = pids.wait_for(1)[0];
    signal(&child, Signal::SIGKILL);
    let ran = finish(child, started, Duration::from_secs(20));
    assert_eq!(ran.signal, Some(9));
    assert!(
        gone_within(plugin, Duration::from_secs(2)),
        "the plugin outlived rune"
    );
}

/// A SIGKILLed rune leaves nothing: the guardian kills the plugin's group, its
/// setsid child and that child's double-forked grandchild (found by rune's token).
/// The guardian is rune's own program, named so that neither `pkill rune` nor
/// `pkill -f 'rune run'` nor `pidof rune` reaches it.
#[test]
fn escaped_descendants_die_with_a_sigkilled_rune() {
    let pids = Pids::new();
    let mut guardian = None;
    sigkill_mid_hang(&pids, None, |rune, plugins| {
        guardian = guardian_of(rune, plugins)
    });
    if let Some((comm, cmdline)) = guardian {
        assert_eq!(comm, "guardian", "{cmdline}");
        assert!(!cmdline.contains("rune"), "{cmdline}");
    }
}

/// The guardian of rune `pid` (its child that is not one of `plugins`), as its
/// name and command line once it runs its program; None where rune's guardian is
/// awk (not x86_64 Linux).
fn guardian_of(pid: i32, plugins: &[i32]) -> Option<(String, String)> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return None;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        let children: Vec<i32> = tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
            .flat_map(|c| {
                c.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .filter(|p| !plugins.contains(p))
            .collect();
        for child in children {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if comm.trim() == "guardian" || Instant::now() >= deadline {
                return Some((comm.trim().to_string(), cmdline));
            }
        }
        assert!(Instant::now() < deadline, "rune {pid} has no guardian");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// rune's own guardian needs no program from PATH (where `awk`, `grep` and
/// `kill` were what it ran): with a PATH holding only what the plugin needs, a
/// SIGKILLed rune still leaves nothing.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_guardian_needs_no_program_from_path() {
    let pids = Pids::new();
    let bin = pids.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for tool in ["bash", "setsid", "sleep"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {tool}"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    sigkill_mid_hang(&pids, Some(&bin), |_, _| {});
}

/// `rune run hang-long` (a plugin, its setsid child and their double-forked
/// grandchild), SIGKILLed once all three run, after `inspect(rune, their pids)`:
/// rune dies of the signal and nothing it started is left.
fn sigkill_mid_hang(
    pids: &Pids,
    path: Option<&std::path::Path>,
    inspect: impl FnOnce(i32, &[i32]),
) {
    let started = Instant::now();
    let child = start_with_path(&["run", "hang-long", "--output", "json"], pids, path);
    let recorded = pids.wait_for(3);
    inspect(child.id() as i32, &recorded);
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let ran = finish(child, started, Duration::from_secs(20));
    assert_eq!(ran.signal, Some(9), "{}", ran.stderr);
    pids.assert_all_gone();
}

/// The guardian's process exists before the first child is spawned (it is
/// started by another thread, and the spawn waits for it), so there is no
/// instant in which a SIGKILLed rune leaves a child unguarded: the plugin finds
/// an older child of rune than itself as it starts.
#[test]
fn the_guardian_exists_before_the_first_child() {
    let pids = Pids::new();
    let ran = rune_run(
        &["run", "rune-children", "--output", "json"],
        &pids,
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    let report = ran.report();
    let output = &report["output"];
    let me = output["self"]
        .as_i64()
        .unwrap_or_else(|| panic!("{report}"));
    let children: Vec<i64> = output["children"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .filter_map(Json::as_i64)
        .collect();
    assert!(children.contains(&me), "{report}");
    assert!(
        children.iter().any(|&p| p != me && p < me),
        "no child of rune older than the plugin: {report}"
    );
}

#[test]
fn rune_uses_no_cpu_while_it_waits_on_a_hung_child() {
    let pids = Pids::new();
    let started = Instant::now();
    let child = start(&["run", "sleeper", "--output", "json"], &pids);
    pids.wait_for(1);
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        // utime and stime, fields 14 and 15 of stat (12 and 13 after the name).
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    std::thread::sleep(Duration::from_millis(200));
    let before = ticks(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let after = ticks(child.id());
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    let _ = finish(child, started, Duration::from_secs(20));
    pids.assert_all_gone();
    // Clock ticks are 10 ms: one tick of slack for a tick boundary.
    assert!(
        after - before <= 1,
        "rune used {} ticks in 2 s of waiting",
        after - before
    );
}

#[test]
fn a_file_size_limit_keeps_every_journal_line_whole_and_the_report() {
    let pids = Pids::new();
    let journal = pids.dir.path().join("journal.jsonl");
    let script = format!(
        "ulimit -f 2; exec \"$0\" apply --workflow daemons --catalog '{}' --format json --journal '{}'",
        catalog().display(),
        journal.display()
    );
    let started = Instant::now();
    let child = Command::new("bash")
        .args(["-c", &script, env!("CARGO_BIN_EXE_rune")])
        .current_dir(root())
        .env("PIDFILE", pids.file())
        .env("RUNE_PROGRESS", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ran = finish(child, started, Duration::from_secs(60));
    assert_eq!(ran.signal, None);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(ran.stderr.contains("is incomplete"), "{}", ran.stderr);
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.len() <= 2048 && !text.is_empty());
    for line in text.lines() {
        serde_json::from_str::<Json>(line).unwrap_or_else(|e| panic!("torn line {line:?}: {e}"));
    }
    assert_eq!(ran.report()["steps"].as_array().unwrap().len(), 51);
    pids.assert_all_gone();
}

#[test]
fn a_pids_limit_is_a_spawn_failed_error_not_a_panic() {
    // The limit binds an unprivileged user only: as root, run as nobody.
    let as_root = rustix::process::geteuid().is_root();
    for nproc in 1..=4 {
        let mut args: Vec<String> = Vec::new();
        if as_root {
            args.extend(
                [
                    "setpriv",
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                ]
                .map(String::from),
            );
        }
        args.extend(["prlimit".to_string(), format!("--nproc={nproc}")]);
        args.push(env!("CARGO_BIN_EXE_rune").to_string());
        args.extend(["run", "noop", "--output", "json", "--catalog"].map(String::from));
        args.push(catalog().to_str().unwrap().to_string());
        let started = Instant::now();
        let child = match Command::new(&args[0])
            .args(&args[1..])
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => return skip(&format!("cannot run {}: {e}", args[0])),
        };
        let ran = finish(child, started, Duration::from_secs(20));
        if ran.stderr.contains("setpriv:") || ran.stderr.contains("prlimit:") {
            return skip(&format!("the limit could not be set: {}", ran.stderr));
        }
        assert!(
            !ran.stderr.contains("panicked"),
            "nproc {nproc}: {}",
            ran.stderr
        );
        assert_eq!(
            ran.code,
            Some(4),
            "nproc {nproc}: {}\n{}",
            ran.stdout,
            ran.stderr
        );
        assert_eq!(kind(&ran.report()["eps"]), "spawn_failed", "nproc {nproc}");
    }
}

#[test]
fn a_stdout_nobody_reads_delays_neither_a_timeout_nor_the_second_ctrl_c() {
    use nix::sys::signal::Signal;
    let pids = Pids::new();
    let inputs = blob_file(&pids.dir, 400_000);
    let started = Instant::now();
    // Its JSON progress (the 400 KB request among it) is far more than a pipe holds,
    // and this test reads none of it until the end.
    let mut child = start(
        &[
            "apply",
            "--workflow",
            "deaf-module",
            "--inputs-file",
            &inputs,
            "--format",
            "json",
        ],
        &pids,
    );
    let recorded = pids.wait_for(2);
    // The module and its sleep die at the execute's timeout (1.5 s) all the same.
    for pid in recorded {
        assert!(
            gone_within(pid, Duration::from_secs(6)),
            "{pid} outlived its timeout"
        );
    }
    // rune now waits to write its progress; two signals end it within a second.
    assert!(
        child.try_wait().unwrap().is_none(),
        "rune finished without writing"
    );
    signal(&child, Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    let second = Instant::now();
    signal(&child, Signal::SIGTERM);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            second.elapsed() < Duration::from_secs(5),
            "rune is still running"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        second.elapsed() < Duration::from_secs(1),
        "{:?}",
        second.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(20));
}
