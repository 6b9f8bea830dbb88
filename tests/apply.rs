//! Fault injection for `rune apply`: real module processes (tests/fixtures/modules/
//! spi-module.sh) that misbehave on purpose, one way each, run through the real
//! binary. Every run is checked for the documented outcome (exit code, the EPS kind
//! and code of the failed step, module states), for the order of phases (startup
//! waves, shutdown in exact reverse, rollback in reverse, dependents skipped), for a
//! journal that holds only well-formed `exec::event::Event` lines with every step
//! closed, for no fixture process left behind, and for bounded wall time.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rune::exec::eps::{Eps, Kind};
use rune::exec::event::{Direction, Event, ModuleState, Outcome, Protocol};
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::{root, Output};

/// No run of these fixtures may take longer than this: the slowest expected path is
/// a module that ignores SIGTERM (shutdown timeout plus the kill grace).
const HANG: Duration = Duration::from_secs(30);

/// The fixture catalogs.
fn catalog(name: &str) -> PathBuf {
    root()
        .join("tests/fixtures/modules/catalogs")
        .join(format!("{name}.yaml"))
}

/// One finished `rune apply`.
struct Run {
    out: Output,
    events: Vec<Event>,
    elapsed: Duration,
    pids: TempDir,
}

/// `rune apply --catalog CATALOG --deterministic --journal J ARGS...` with the pid
/// directory for the fixtures, bounded by [`HANG`].
fn apply(catalog_name: &str, args: &[&str]) -> Run {
    let started = Started::new(catalog_name, args);
    started.wait()
}

/// A `rune apply` still running (for the interrupt tests).
struct Started {
    child: Child,
    journal: PathBuf,
    pids: TempDir,
    began: Instant,
}

impl Started {
    fn new(catalog_name: &str, args: &[&str]) -> Started {
        let pids = TempDir::new().expect("temporary directory");
        let journal = pids.path().join("journal.jsonl");
        let child = Command::new(env!("CARGO_BIN_EXE_rune"))
            .arg("apply")
            .arg("--catalog")
            .arg(catalog(catalog_name))
            // Policy is decided now; the deterministic setting fixes ids and times.
            .args(["--deterministic", "--journal"])
            .arg(&journal)
            .args(args)
            // Not the repository: relative exec paths resolve against the catalog file.
            .current_dir(pids.path())
            .env("RUNE_TEST_PIDS", pids.path())
            .env_remove("NO_COLOR")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("RUNE_DETERMINISTIC")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rune binary starts");
        Started {
            child,
            journal,
            pids,
            began: Instant::now(),
        }
    }

    /// The journal so far (complete lines only).
    fn events_so_far(&self) -> Vec<Event> {
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Wait until `pred` holds for the journal, or fail after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&[Event]) -> bool) {
        let began = Instant::now();
        while !pred(&self.events_so_far()) {
            if began.elapsed() > limit {
                panic!(
                    "waited {limit:?} for {what}; journal so far:\n{}",
                    std::fs::read_to_string(&self.journal).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until a fixture recorded a process whose file name starts with
    /// `prefix` (`slow.sleep.`: slow read the request it hangs in), or fail.
    fn wait_for_fixture(&self, what: &str, prefix: &str) {
        let began = Instant::now();
        while !recorded(self.pids.path())
            .iter()
            .any(|(name, _)| name.starts_with(prefix))
        {
            if began.elapsed() > HANG {
                panic!("waited {HANG:?} for {what}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("rune is signalled");
    }

    fn wait(mut self) -> Run {
        let mut stdout = self.child.stdout.take().expect("piped");
        let mut stderr = self.child.stderr.take().expect("piped");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("rune is waited for") {
                break status;
            }
            if self.began.elapsed() > HANG {
                let _ = self.child.kill();
                let _ = self.child.wait();
                kill_recorded(self.pids.path());
                panic!(
                    "rune apply hung (killed after {HANG:?}); journal:\n{}",
                    std::fs::read_to_string(&self.journal).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.began.elapsed();
        // A leaked fixture could hold rune's pipes only if rune handed them over; bound
        // the readers anyway.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let out = out_reader.join().unwrap_or_default();
            let err = err_reader.join().unwrap_or_default();
            let _ = tx.send((out, err));
        });
        let (out, err) = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("rune's stdout or stderr stayed open after it exited"));
        let out = Output {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        };
        let events = read_journal(&self.journal, &out);
        let run = Run {
            out,
            events,
            elapsed,
            pids: self.pids,
        };
        run.assert_well_formed();
        run.assert_nothing_left_behind();
        run
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Whatever a failed assertion left, the test suite does not leak it.
        kill_recorded(self.pids.path());
    }
}

/// Parse the journal strictly: every line one `Event` (unknown fields refused).
fn read_journal(path: &Path, out: &Output) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "no journal at {} ({e}); rune said:\n{}",
            path.display(),
            out.snapshot()
        )
    });
    assert!(text.ends_with('\n'), "the journal ends with a whole line");
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("journal line {} is not an Event ({e}):\n{line}", n + 1))
        })
        .collect()
}

/// Pids the fixtures recorded: (file name, pid).
fn recorded(dir: &Path) -> Vec<(String, i32)> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(dir).expect("pid directory") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if let Some(pid) = name.rsplit('.').next().and_then(|p| p.parse().ok()) {
            pids.push((name, pid));
        }
    }
    pids.sort();
    pids
}

/// Whether `pid` is a live process (a zombie is not: it holds nothing).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

fn kill_recorded(dir: &Path) {
    if !dir.exists() {
        return;
    }
    for (_, pid) in recorded(dir) {
        if alive(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// What a StepFinished says, flattened.
#[derive(Debug, Clone)]
struct Finished {
    module: String,
    action: Option<String>,
    phase: Option<String>,
    outcome: Outcome,
    reason: Option<String>,
    output: Option<Json>,
    error: Option<Eps>,
}

impl Finished {
    fn kind(&self) -> Option<Kind> {
        self.error.as_ref().map(|e| e.kind())
    }
}

impl Run {
    fn fail(&self, why: &str) -> ! {
        let journal: Vec<String> = self
            .events
            .iter()
            .map(|e| serde_json::to_string(e).expect("event serializes"))
            .collect();
        panic!(
            "{why}\n{}\n----- journal -----\n{}",
            self.out.snapshot(),
            journal.join("\n")
        );
    }

    fn code(&self, expected: i32) -> &Self {
        if self.out.code != expected {
            self.fail(&format!(
                "exit code {} (expected {expected})",
                self.out.code
            ));
        }
        self
    }

    /// Every line parsed already; also: RunStarted first, RunFinished last and
    /// matching the exit code, every started step finished exactly once.
    fn assert_well_formed(&self) {
        match self.events.first() {
            Some(Event::RunStarted { command, .. }) if command == "apply" => {}
            _ => self.fail("the journal does not start with RunStarted for apply"),
        }
        match self.events.last() {
            Some(Event::RunFinished { succeeded, .. }) => {
                if *succeeded != (self.out.code == 0) {
                    self.fail("RunFinished.succeeded disagrees with the exit code");
                }
            }
            _ => self.fail("the journal does not end with RunFinished"),
        }
        let mut open: BTreeMap<u64, u64> = BTreeMap::new();
        for event in &self.events {
            match event {
                Event::StepStarted { step, .. } => *open.entry(*step).or_default() += 1,
                Event::StepFinished { step, outcome, .. } => {
                    let n = open.entry(*step).or_default();
                    if *n == 0 {
                        // A step never started may finish only as skipped.
                        if *outcome != Outcome::Skipped {
                            self.fail(&format!("step {step} finished without starting"));
                        }
                    } else {
                        *n -= 1;
                    }
                }
                _ => {}
            }
        }
        if let Some((step, _)) = open.iter().find(|(_, n)| **n > 0) {
            self.fail(&format!("step {step} started and never finished"));
        }
    }

    /// No process any fixture started is still running.
    fn assert_nothing_left_behind(&self) {
        // SIGKILLed processes take a moment to leave /proc.
        let deadline = Instant::now() + Duration::from_millis(1500);
        loop {
            let left: Vec<(String, i32)> = recorded(self.pids.path())
                .into_iter()
                .filter(|(_, pid)| alive(*pid))
                .collect();
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("fixture processes left behind: {left:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many processes a fixture recorded in `role` (module, sleep, grandchild).
    fn recorded(&self, role: &str) -> usize {
        recorded(self.pids.path())
            .iter()
            .filter(|(name, _)| name.split('.').nth(1) == Some(role))
            .count()
    }

    fn finished(&self) -> Vec<Finished> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StepFinished {
                    step: _,
                    module,
                    action,
                    phase,
                    outcome,
                    reason,
                    output,
                    error,
                    ..
                } => Some(Finished {
                    module: module.clone(),
                    action: action.clone(),
                    phase: phase.clone(),
                    outcome: *outcome,
                    reason: reason.clone(),
                    output: output.clone(),
                    error: error.as_deref().cloned(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The phase step `phase` of `module` (its last attempt).
    fn phase(&self, module: &str, phase: &str) -> Finished {
        self.finished()
            .into_iter()
            .rev()
            .find(|f| f.module == module && f.phase.as_deref() == Some(phase))
            .unwrap_or_else(|| self.fail(&format!("no {phase} step finished for {module}")))
    }

    /// Assert that `module`'s `phase` failed with `kind` and the kind's code.
    fn failed_with(&self, module: &str, phase: &str, kinds: &[Kind]) -> Eps {
        let f = self.phase(module, phase);
        if f.outcome != Outcome::Failed {
            self.fail(&format!(
                "{module} {phase}: {:?} (expected failed)",
                f.outcome
            ));
        }
        let eps = f
            .error
            .unwrap_or_else(|| self.fail(&format!("{module} {phase} failed without an EPS error")));
        if !kinds.contains(&eps.kind()) {
            self.fail(&format!(
                "{module} {phase} failed with {:?} (expected one of {kinds:?})",
                eps.kind()
            ));
        }
        assert_eq!(eps.code(), eps.kind().code(), "the code matches the kind");
        assert_eq!(
            eps.context().error_classification,
            eps.kind().classification()
        );
        assert_eq!(eps.place().0, Some(module), "EPS origin names the module");
        assert!(!eps.reason().is_empty(), "EPS has a message");
        assert_eq!(
            eps.routing.event_type,
            rune::exec::eps::EventType::EpsErrorResponse
        );
        eps
    }

    fn succeeded(&self, module: &str, phase: &str) -> Finished {
        let f = self.phase(module, phase);
        if f.outcome != Outcome::Succeeded {
            self.fail(&format!(
                "{module} {phase}: {:?} (expected succeeded)",
                f.outcome
            ));
        }
        f
    }

    /// Module of each step, from StepStarted and StepFinished.
    fn step_modules(&self) -> BTreeMap<u64, String> {
        let mut map = BTreeMap::new();
        for e in &self.events {
            match e {
                Event::StepStarted { step, module, .. }
                | Event::StepFinished { step, module, .. } => {
                    map.insert(*step, module.clone());
                }
                _ => {}
            }
        }
        map
    }

    /// SPI messages of `module` in journal order: (direction, message).
    fn messages(&self, module: &str) -> Vec<(Direction, Json)> {
        let modules = self.step_modules();
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    step,
                    direction,
                    protocol: Protocol::Spi,
                    message,
                    ..
                } if modules.get(step).map(String::as_str) == Some(module) => {
                    Some((*direction, message.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Methods rune called on `module`, in order.
    fn methods_called(&self, module: &str) -> Vec<String> {
        self.messages(module)
            .into_iter()
            .filter(|(d, m)| *d == Direction::Request && m.get("id").is_some_and(Json::is_u64))
            .filter_map(|(_, m)| m.get("method").and_then(Json::as_str).map(str::to_string))
            .collect()
    }

    /// `module`'s state moves, in order.
    fn states(&self, module: &str) -> Vec<ModuleState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StateChanged { module: m, to, .. } if m == module => Some(*to),
                _ => None,
            })
            .collect()
    }

    fn final_state(&self, module: &str) -> Option<ModuleState> {
        self.states(module).last().copied()
    }

    /// Modules in the order their `phase` step started.
    fn started_order(&self, phase: &str) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StepStarted {
                    module,
                    phase: Some(p),
                    ..
                } if p == phase => Some(module.clone()),
                _ => None,
            })
            .collect()
    }

    /// Journal index of the first event matching.
    fn index(&self, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
        self.events
            .iter()
            .position(pred)
            .unwrap_or_else(|| self.fail(&format!("no event: {what}")))
    }
}

fn is_started(e: &Event, module: &str, phase: &str) -> bool {
    matches!(e, Event::StepStarted { module: m, phase: Some(p), .. } if m == module && p == phase)
}

fn is_finished(e: &Event, module: &str, phase: &str) -> bool {
    matches!(e, Event::StepFinished { module: m, phase: Some(p), .. } if m == module && p == phase)
}

// ---------------------------------------------------------------------------------
// A well-behaved module: the baseline every fault is compared against.

#[test]
fn a_well_behaved_module_goes_through_every_phase_and_stops() {
    let run = apply("faults", &["--target", "ok"]);
    run.code(0);
    for phase in ["register", "initialize", "ready", "drain", "shutdown"] {
        run.succeeded("ok", phase);
    }
    assert_eq!(
        run.methods_called("ok"),
        [
            "describe",
            "initialize",
            "ready",
            "health",
            "drain",
            "shutdown"
        ]
    );
    // initialize carries the SPI version, a 32-hex token, trace and mode.
    let init = run
        .messages("ok")
        .into_iter()
        .find(|(d, m)| *d == Direction::Request && m["method"] == "initialize")
        .expect("initialize was sent")
        .1;
    let params = &init["params"];
    assert_eq!(params["spi_version"], "1");
    assert_eq!(params["config"], serde_json::json!({}));
    // The per-run token is secret: the journal shows it redacted (what the module
    // got is checked by the module itself, which must echo it).
    assert_eq!(params["token"], "[redacted]");
    assert_eq!(params["deployment_mode"], "local");
    assert!(params["trace"]["trace_id"].is_string());
    // Request ids are integers from 1 on the module's connection.
    let ids: Vec<u64> = run
        .messages("ok")
        .into_iter()
        .filter(|(d, _)| *d == Direction::Request)
        .filter_map(|(_, m)| m["id"].as_u64())
        .collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(run.final_state("ok"), Some(ModuleState::Stopped));
    assert!(run.states("ok").contains(&ModuleState::Active));
    assert_eq!(run.recorded("module"), 1);
}

#[test]
fn an_action_without_exec_is_served_by_the_module_execute_method() {
    let run = apply("faults", &["--action", "echo", "-p", "msg=hi"]);
    run.code(0);
    let action = run
        .finished()
        .into_iter()
        .find(|f| f.action.as_deref() == Some("echo"))
        .unwrap_or_else(|| run.fail("no echo step"));
    assert_eq!(action.outcome, Outcome::Succeeded);
    assert_eq!(
        action.output,
        Some(serde_json::json!({"echo": {"msg": "hi"}})),
        "the module's output_data is the step's output"
    );
    let called = run.methods_called("ok");
    let execute = called.iter().position(|m| m == "execute");
    let ready = called.iter().position(|m| m == "ready");
    let drain = called.iter().position(|m| m == "drain");
    assert!(
        ready < execute && execute < drain,
        "execute runs after ready and before drain: {called:?}"
    );
}

// ---------------------------------------------------------------------------------
// Crashes: the process exits without answering.

fn crashes_at(method: &str, phase: &str) {
    let module = format!("crash-at-{method}");
    let run = apply("faults", &["--target", &module]);
    run.code(4);
    run.failed_with(&module, phase, &[Kind::Crashed]);
    assert_ne!(run.final_state(&module), Some(ModuleState::Active));
}

#[test]
fn a_module_that_crashes_at_describe_fails_register() {
    crashes_at("describe", "register");
}

#[test]
fn a_module_that_crashes_at_initialize_fails_initialize() {
    crashes_at("initialize", "initialize");
}

#[test]
fn a_module_that_crashes_at_ready_fails_ready() {
    crashes_at("ready", "ready");
}

#[test]
fn a_module_that_crashes_at_drain_fails_drain() {
    crashes_at("drain", "drain");
}

#[test]
fn a_module_that_crashes_at_shutdown_fails_shutdown() {
    crashes_at("shutdown", "shutdown");
}

#[test]
fn a_module_that_crashes_at_health_is_degraded_and_then_fails_drain() {
    let run = apply("faults", &["--target", "crash-at-health"]);
    run.code(4);
    run.succeeded("crash-at-health", "ready");
    assert!(
        run.states("crash-at-health")
            .contains(&ModuleState::Degraded),
        "a failed health check marks the module degraded: {:?}",
        run.states("crash-at-health")
    );
    run.failed_with("crash-at-health", "drain", &[Kind::Crashed]);
}

#[test]
fn a_module_that_exits_before_reading_anything_crashed_at_register() {
    let run = apply("faults", &["--target", "exit-at-start"]);
    run.code(4);
    run.failed_with("exit-at-start", "register", &[Kind::Crashed]);
}

// ---------------------------------------------------------------------------------
// Hangs: the process reads the request and never answers.

#[test]
fn a_module_that_hangs_at_describe_times_out_at_register() {
    let run = apply("faults", &["--target", "hang-at-describe"]);
    run.code(4);
    run.failed_with("hang-at-describe", "register", &[Kind::Timeout]);
    assert_eq!(run.methods_called("hang-at-describe"), ["describe"]);
}

#[test]
fn a_module_that_hangs_at_initialize_times_out_at_initialize() {
    let run = apply("faults", &["--target", "hang-at-initialize"]);
    run.code(4);
    run.failed_with("hang-at-initialize", "initialize", &[Kind::Timeout]);
    assert!(
        run.elapsed >= Duration::from_millis(400),
        "initialize_ms is waited for"
    );
    assert!(run.recorded("sleep") >= 1, "the fixture did hang");
}

#[test]
fn a_module_that_hangs_at_ready_is_not_ready() {
    let run = apply("faults", &["--target", "hang-at-ready"]);
    run.code(4);
    run.failed_with("hang-at-ready", "ready", &[Kind::NotReady]);
    assert_eq!(
        run.final_state("hang-at-ready"),
        Some(ModuleState::Unavailable)
    );
}

#[test]
fn a_module_that_hangs_at_health_is_degraded_and_its_drain_times_out() {
    let run = apply("faults", &["--target", "hang-at-health"]);
    run.code(4);
    assert!(run
        .states("hang-at-health")
        .contains(&ModuleState::Degraded));
    run.failed_with("hang-at-health", "drain", &[Kind::Timeout]);
}

#[test]
fn a_module_that_hangs_at_drain_times_out_and_is_still_stopped() {
    let run = apply("faults", &["--target", "hang-at-drain"]);
    run.code(4);
    run.failed_with("hang-at-drain", "drain", &[Kind::Timeout]);
    assert_eq!(run.final_state("hang-at-drain"), Some(ModuleState::Stopped));
}

#[test]
fn a_module_that_hangs_at_shutdown_times_out_and_its_group_is_killed() {
    let run = apply("faults", &["--target", "hang-at-shutdown"]);
    run.code(4);
    run.succeeded("hang-at-shutdown", "drain");
    run.failed_with("hang-at-shutdown", "shutdown", &[Kind::Timeout]);
    assert!(run.recorded("sleep") >= 1, "the fixture did hang");
}

#[test]
fn a_module_that_never_reads_stdin_times_out_at_register() {
    let run = apply("faults", &["--target", "deaf"]);
    run.code(4);
    run.failed_with("deaf", "register", &[Kind::Timeout]);
}

#[test]
fn a_module_that_ignores_sigterm_after_shutdown_is_killed() {
    let run = apply("faults", &["--target", "ignore-sigterm"]);
    run.code(4);
    let eps = run.failed_with("ignore-sigterm", "shutdown", &[Kind::Timeout]);
    // It did answer shutdown: the timeout is its not exiting afterwards.
    let messages = run.messages("ignore-sigterm");
    let (direction, last) = messages.last().expect("SPI messages");
    assert_eq!(*direction, Direction::Response);
    assert_eq!(last["result"], serde_json::json!({}), "{}", eps.reason());
    assert_eq!(
        run.methods_called("ignore-sigterm")
            .last()
            .map(String::as_str),
        Some("shutdown")
    );
    // shutdown_ms (300) then the SIGTERM grace before SIGKILL.
    assert!(run.elapsed >= Duration::from_millis(300));
}

#[test]
fn a_module_that_closes_stdout_and_keeps_running_is_stopped() {
    let run = apply("faults", &["--target", "close-stdout"]);
    run.code(4);
    run.failed_with("close-stdout", "initialize", &[Kind::Crashed]);
    assert!(run.recorded("sleep") >= 1, "the fixture kept running");
}

#[test]
fn a_grandchild_holding_stdout_does_not_keep_rune_waiting() {
    let run = apply("faults", &["--target", "grandchild"]);
    run.code(0);
    run.succeeded("grandchild", "shutdown");
    assert_eq!(run.recorded("grandchild"), 1, "the fixture did fork");
}

#[test]
fn a_module_that_dies_leaving_a_grandchild_on_stdout_is_seen_as_crashed_at_once() {
    // No EOF comes (the grandchild holds the pipe): rune must notice the exit itself.
    // Its ready timeout is 10 minutes, so waiting that out instead runs into the
    // test's deadline (HANG) and fails; a timeout is also the wrong kind.
    let run = apply("faults", &["--target", "orphan-at-ready"]);
    run.code(4);
    run.failed_with("orphan-at-ready", "ready", &[Kind::Crashed]);
    assert_eq!(run.recorded("grandchild"), 1, "the fixture did fork");
}

#[test]
fn a_module_flooding_stderr_still_runs_and_its_stderr_is_bounded() {
    let run = apply("faults", &["--target", "flood-stderr"]);
    run.code(0);
    run.succeeded("flood-stderr", "shutdown");
    // What the report and journal keep of 4 MiB of diagnostics is a bounded tail.
    let journal_size: usize = run
        .events
        .iter()
        .map(|e| serde_json::to_string(e).map(|s| s.len()).unwrap_or(0))
        .sum();
    assert!(journal_size < 1 << 20, "journal holds {journal_size} bytes");
    assert!(run.out.stdout.len() + run.out.stderr.len() < 1 << 20);
}

// ---------------------------------------------------------------------------------
// Bad output.

#[test]
fn a_garbage_answer_is_invalid_output() {
    let run = apply("faults", &["--target", "garbage"]);
    run.code(4);
    run.failed_with("garbage", "register", &[Kind::InvalidOutput]);
}

#[test]
fn a_non_utf8_answer_is_invalid_output() {
    let run = apply("faults", &["--target", "non-utf8"]);
    run.code(4);
    run.failed_with("non-utf8", "register", &[Kind::InvalidOutput]);
}

#[test]
fn a_two_mebibyte_line_is_refused_without_reading_it_all() {
    let run = apply("faults", &["--target", "huge-line"]);
    run.code(4);
    run.failed_with(
        "huge-line",
        "register",
        &[Kind::OutputTooLarge, Kind::ProtocolViolation],
    );
    assert!(
        run.out.stdout.len() + run.out.stderr.len() < 1 << 20,
        "the line is not echoed"
    );
}

#[test]
fn two_answers_to_one_request_are_a_protocol_violation() {
    let run = apply("faults", &["--target", "two-answers"]);
    run.code(4);
    // The second answer is seen either at once or as the answer to initialize.
    let failed: Vec<Finished> = run
        .finished()
        .into_iter()
        .filter(|f| f.outcome == Outcome::Failed)
        .collect();
    let first = failed.first().unwrap_or_else(|| run.fail("nothing failed"));
    assert!(
        matches!(first.phase.as_deref(), Some("register" | "initialize")),
        "{first:?}"
    );
    assert!(
        matches!(
            first.kind(),
            Some(Kind::ProtocolViolation | Kind::InvalidOutput)
        ),
        "{first:?}"
    );
    assert!(!run
        .methods_called("two-answers")
        .contains(&"ready".to_string()));
}

#[test]
fn an_answer_with_another_id_is_a_protocol_violation() {
    let run = apply("faults", &["--target", "wrong-id-at-initialize"]);
    run.code(4);
    run.failed_with(
        "wrong-id-at-initialize",
        "initialize",
        &[Kind::ProtocolViolation],
    );
}

// ---------------------------------------------------------------------------------
// JSON-RPC error answers: an EPS carrying the module's error.

fn errors_at(method: &str, phase: &str) -> Eps {
    let module = format!("error-at-{method}");
    let run = apply("faults", &["--target", &module]);
    run.code(4);
    let f = run.phase(&module, phase);
    if f.outcome != Outcome::Failed {
        run.fail(&format!("{module} {phase} did not fail"));
    }
    let eps = f.error.expect("an EPS error");
    let text = serde_json::to_string(&eps).expect("EPS serializes");
    assert!(
        text.contains(&format!("fixture refuses {method}")),
        "the module's error is kept in the EPS: {text}"
    );
    eps
}

#[test]
fn an_error_answer_to_describe_fails_register_with_the_modules_error() {
    errors_at("describe", "register");
}

#[test]
fn an_error_answer_to_initialize_fails_initialize_with_the_modules_error() {
    let eps = errors_at("initialize", "initialize");
    // The module's own error object travels whole in `data` (where in it is the
    // executor's choice): its code, message and data.
    let data = serde_json::to_string(eps.details().expect("data")).expect("json");
    assert!(
        data.contains("-32000") && data.contains("asked to"),
        "{data}"
    );
}

#[test]
fn error_answers_to_ready_are_not_ready_with_the_modules_last_error() {
    let eps = errors_at("ready", "ready");
    assert_eq!(eps.kind(), Kind::NotReady);
}

#[test]
fn an_error_answer_to_drain_fails_drain_and_shutdown_still_runs() {
    let run = apply("faults", &["--target", "error-at-drain"]);
    run.code(4);
    assert_eq!(
        run.phase("error-at-drain", "drain").outcome,
        Outcome::Failed
    );
    run.succeeded("error-at-drain", "shutdown");
}

#[test]
fn an_error_answer_to_shutdown_fails_shutdown() {
    errors_at("shutdown", "shutdown");
}

#[test]
fn an_error_answer_to_health_marks_the_module_degraded_and_the_run_succeeds() {
    let run = apply("faults", &["--target", "error-at-health"]);
    run.code(0);
    assert!(run
        .states("error-at-health")
        .contains(&ModuleState::Degraded));
}

// ---------------------------------------------------------------------------------
// Trust and agreement: fail before any other traffic.

fn fails_before_initialize(module: &str, kind: Kind) -> Run {
    let run = apply("faults", &["--target", module]);
    run.code(4);
    let eps = run.failed_with(module, "register", &[kind]);
    assert_eq!(eps.code(), kind.code());
    assert_eq!(
        run.methods_called(module),
        ["describe"],
        "nothing but describe reaches the module"
    );
    assert_eq!(run.final_state(module), Some(ModuleState::Unavailable));
    run
}

#[test]
fn a_describe_answer_with_another_name_is_a_describe_mismatch() {
    let run = fails_before_initialize("wrong-name", Kind::DescribeMismatch);
    assert_eq!(Kind::DescribeMismatch.code(), -32003);
    let text = serde_json::to_string(&run.phase("wrong-name", "register").error).expect("json");
    assert!(
        text.contains("wrong-name-impostor"),
        "the EPS names what the module said: {text}"
    );
}

#[test]
fn a_describe_answer_with_another_version_is_a_describe_mismatch() {
    let run = fails_before_initialize("wrong-version", Kind::DescribeMismatch);
    let text = serde_json::to_string(&run.phase("wrong-version", "register").error).expect("json");
    assert!(
        text.contains("9.9.9"),
        "the EPS names the version the module gave: {text}"
    );
}

#[test]
fn a_module_offering_no_common_spi_version_fails_before_initialize() {
    fails_before_initialize("no-common-spi", Kind::SpiVersionMismatch);
}

#[test]
fn a_catalog_offering_no_spi_version_rune_speaks_fails_before_initialize() {
    fails_before_initialize("spi-two-only", Kind::SpiVersionMismatch);
}

#[test]
fn a_module_echoing_another_token_is_a_token_mismatch() {
    let run = apply("faults", &["--target", "wrong-token"]);
    run.code(4);
    let eps = run.failed_with("wrong-token", "initialize", &[Kind::TokenMismatch]);
    assert_eq!(eps.code(), -32300);
    assert!(!run
        .methods_called("wrong-token")
        .contains(&"ready".to_string()));
}

#[test]
fn a_missing_exec_path_is_a_spawn_failure() {
    let run = apply("faults", &["--target", "missing-exec"]);
    run.code(4);
    let eps = run.failed_with("missing-exec", "register", &[Kind::SpawnFailed]);
    assert_eq!(eps.code(), -32001);
}

#[test]
fn an_exec_path_without_execute_permission_is_a_spawn_failure() {
    let run = apply("faults", &["--target", "not-executable"]);
    run.code(4);
    run.failed_with("not-executable", "register", &[Kind::SpawnFailed]);
}

// ---------------------------------------------------------------------------------
// Readiness and health.

#[test]
fn a_module_that_never_becomes_ready_fails_closed_after_its_ready_timeout() {
    let run = apply("faults", &["--target", "never-ready"]);
    run.code(4);
    let eps = run.failed_with("never-ready", "ready", &[Kind::NotReady]);
    assert_eq!(eps.code(), -32402);
    let probes = run
        .methods_called("never-ready")
        .iter()
        .filter(|m| *m == "ready")
        .count();
    assert!(
        probes >= 2,
        "ready is probed until the timeout ({probes} probes)"
    );
    assert!(
        run.elapsed >= Duration::from_millis(400),
        "ready_ms is waited for"
    );
    assert_eq!(
        run.final_state("never-ready"),
        Some(ModuleState::Unavailable)
    );
}

#[test]
fn a_module_ready_on_the_third_probe_is_started() {
    let run = apply("faults", &["--target", "ready-on-third-probe"]);
    run.code(0);
    let probes = run
        .methods_called("ready-on-third-probe")
        .iter()
        .filter(|m| *m == "ready")
        .count();
    assert_eq!(probes, 3);
    run.succeeded("ready-on-third-probe", "ready");
}

#[test]
fn a_degraded_health_answer_is_reported_and_not_fatal() {
    let run = apply("faults", &["--target", "degraded"]);
    run.code(0);
    let ready = run.succeeded("degraded", "ready");
    let output = serde_json::to_string(&ready.output).expect("json");
    assert!(
        output.contains("degraded"),
        "the ready step reports health: {output}"
    );
    let states = run.states("degraded");
    assert!(states.contains(&ModuleState::Degraded), "{states:?}");
    run.succeeded("degraded", "shutdown");
    assert_eq!(run.final_state("degraded"), Some(ModuleState::Stopped));
}

// ---------------------------------------------------------------------------------
// Requests from the module to rune.

#[test]
fn requests_from_a_module_are_answered_and_journaled() {
    let run = apply("faults", &["--target", "chatty"]);
    // The fixture exits 7 when rune's answers are wrong, which fails register.
    run.code(0);
    let messages = run.messages("chatty");
    let from_module: Vec<&Json> = messages
        .iter()
        .filter(|(d, _)| *d == Direction::Response)
        .map(|(_, m)| m)
        .collect();
    for method in ["report_health", "frobnicate", "emit_event"] {
        assert!(
            from_module.iter().any(|m| m["method"] == method),
            "the module's {method} is journaled: {messages:?}"
        );
    }
    let answers: Vec<&Json> = messages
        .iter()
        .filter(|(d, m)| *d == Direction::Request && m["id"].is_string())
        .map(|(_, m)| m)
        .collect();
    let m1 = answers
        .iter()
        .find(|m| m["id"] == "m1")
        .expect("report_health answered");
    assert_eq!(m1["result"], serde_json::json!({}));
    let m2 = answers
        .iter()
        .find(|m| m["id"] == "m2")
        .expect("frobnicate answered");
    assert_eq!(m2["error"]["code"], -32601);
    assert!(
        !answers.iter().any(|m| m.get("id").is_none()),
        "a notification gets no answer"
    );
}

// ---------------------------------------------------------------------------------
// Order of phases: startup waves, shutdown in exact reverse.

#[test]
fn startup_follows_the_waves_and_shutdown_is_their_exact_reverse() {
    for parallelism in ["1", "2"] {
        let run = apply("order", &["--parallelism", parallelism]);
        run.code(0);
        let startup: Vec<Vec<String>> = run
            .events
            .iter()
            .filter_map(|e| match e {
                Event::WaveStarted { stage, members, .. } if stage == "startup" => Some(
                    members
                        .iter()
                        .filter(|m| *m != "registered-only")
                        .cloned()
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        assert_eq!(startup, [vec!["a"], vec!["b", "c"], vec!["d"]]);
        let shutdown: Vec<Vec<String>> = run
            .events
            .iter()
            .filter_map(|e| match e {
                Event::WaveStarted { stage, members, .. } if stage == "shutdown" => Some(
                    members
                        .iter()
                        .filter(|m| *m != "registered-only")
                        .cloned()
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        assert_eq!(shutdown, [vec!["d"], vec!["c", "b"], vec!["a"]]);
        // Each wave is done (ready) before the next one registers.
        for (done, next) in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")] {
            let ready = run.index("ready finished", |e| is_finished(e, done, "ready"));
            let register = run.index("register started", |e| is_started(e, next, "register"));
            assert!(ready < register, "{done} is ready before {next} registers");
        }
        // Each module drains after its dependents shut down.
        for (dependent, dependency) in [("d", "b"), ("d", "c"), ("b", "a"), ("c", "a")] {
            let stopped = run.index("shutdown finished", |e| {
                is_finished(e, dependent, "shutdown")
            });
            let drain = run.index("drain started", |e| is_started(e, dependency, "drain"));
            assert!(
                stopped < drain,
                "{dependent} stops before {dependency} drains"
            );
        }
        // The runtime-none module has no steps and no process.
        assert!(run.step_modules().values().all(|m| m != "registered-only"));
        assert_eq!(run.recorded("module"), 4);
        for m in ["a", "b", "c", "d"] {
            assert_eq!(run.final_state(m), Some(ModuleState::Stopped), "{m}");
        }
        if parallelism == "1" {
            // One at a time, the shutdown order is the startup order reversed.
            let mut up = run.started_order("register");
            up.reverse();
            assert_eq!(run.started_order("drain"), up);
            assert_eq!(run.started_order("shutdown"), up);
        }
    }
}

#[test]
fn each_module_drains_then_shuts_down() {
    let run = apply("order", &["--parallelism", "2"]);
    run.code(0);
    for m in ["a", "b", "c", "d"] {
        let drain = run.index("drain finished", |e| is_finished(e, m, "drain"));
        let shutdown = run.index("shutdown started", |e| is_started(e, m, "shutdown"));
        assert!(drain < shutdown, "{m}: drain before shutdown");
        assert_eq!(
            run.methods_called(m),
            [
                "describe",
                "initialize",
                "ready",
                "health",
                "drain",
                "shutdown"
            ],
            "{m}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Rollback: fail closed, dependents skipped, started modules stopped in reverse.

#[test]
fn a_module_that_never_becomes_ready_rolls_back_what_started_in_reverse() {
    let run = apply(
        "rollback",
        &[
            "--parallelism",
            "1",
            "--target",
            "after",
            "--action",
            "echo",
        ],
    );
    run.code(4);
    run.failed_with("sick", "ready", &[Kind::NotReady]);
    // Nothing that requires sick starts; it is skipped with DependencyUnsatisfied.
    assert!(
        !run.events
            .iter()
            .any(|e| matches!(e, Event::StepStarted { module, .. } if module == "after")),
        "after never starts"
    );
    let skipped: Vec<Finished> = run
        .finished()
        .into_iter()
        .filter(|f| {
            f.module == "after"
                && matches!(
                    f.phase.as_deref(),
                    Some("register" | "initialize" | "ready")
                )
        })
        .collect();
    assert!(!skipped.is_empty(), "after's steps are reported as skipped");
    for f in &skipped {
        assert_eq!(f.outcome, Outcome::Skipped, "{f:?}");
        let says = format!("{:?} {:?}", f.reason, f.kind());
        assert!(
            f.kind() == Some(Kind::DependencyUnsatisfied) || says.contains("sick"),
            "skipped for the failed dependency: {says}"
        );
    }
    assert_eq!(run.final_state("after"), Some(ModuleState::Unavailable));
    // The action is not run either: its module is rolled back.
    let echo = run
        .finished()
        .into_iter()
        .find(|f| f.action.as_deref() == Some("echo"))
        .unwrap_or_else(|| run.fail("the echo action is reported"));
    assert_eq!(echo.outcome, Outcome::Skipped);
    assert!(!run.methods_called("side").contains(&"execute".to_string()));
    // Rollback: the started modules drain and shut down in reverse startup order.
    let mut up: Vec<String> = run
        .started_order("register")
        .into_iter()
        .filter(|m| m != "sick")
        .collect();
    up.reverse();
    let down: Vec<String> = run
        .started_order("drain")
        .into_iter()
        .filter(|m| m != "sick")
        .collect();
    assert_eq!(down, up, "rollback order");
    assert_eq!(up, ["side", "mid", "base"]);
    for m in ["base", "mid", "side"] {
        run.succeeded(m, "shutdown");
        assert_eq!(run.final_state(m), Some(ModuleState::Stopped), "{m}");
    }
    // Rollback starts right after the failure, before anything else is scheduled.
    let failed = run.index("sick ready finished", |e| is_finished(e, "sick", "ready"));
    let first_drain = run.index(
        "a drain",
        |e| matches!(e, Event::StepStarted { phase: Some(p), .. } if p == "drain"),
    );
    assert!(failed < first_drain);
}

#[test]
fn without_rollback_the_started_modules_keep_serving_until_the_end() {
    let run = apply(
        "rollback",
        &[
            "--parallelism",
            "1",
            "--no-rollback",
            "--target",
            "after",
            "--action",
            "echo",
        ],
    );
    run.code(4);
    run.failed_with("sick", "ready", &[Kind::NotReady]);
    assert!(!run
        .events
        .iter()
        .any(|e| matches!(e, Event::StepStarted { module, .. } if module == "after")));
    // side is still active, so the action runs.
    let echo = run
        .finished()
        .into_iter()
        .find(|f| f.action.as_deref() == Some("echo"))
        .unwrap_or_else(|| run.fail("the echo action is reported"));
    assert_eq!(echo.outcome, Outcome::Succeeded, "{echo:?}");
    // And at the end everything started is still stopped, in reverse.
    let mut up: Vec<String> = run
        .started_order("register")
        .into_iter()
        .filter(|m| m != "sick")
        .collect();
    up.reverse();
    let down: Vec<String> = run
        .started_order("drain")
        .into_iter()
        .filter(|m| m != "sick")
        .collect();
    assert_eq!(down, up);
}

#[test]
fn the_whole_rollback_catalog_at_parallelism_two_fails_closed_the_same_way() {
    let run = apply("rollback", &["--parallelism", "2"]);
    run.code(4);
    run.failed_with("sick", "ready", &[Kind::NotReady]);
    for m in ["base", "mid", "side"] {
        run.succeeded(m, "ready");
        run.succeeded(m, "shutdown");
    }
}

// ---------------------------------------------------------------------------------
// Ctrl-C.

#[test]
fn an_interrupt_stops_scheduling_winds_down_in_reverse_and_exits_130() {
    let started = Started::new("interrupt", &["--parallelism", "1", "--target", "last"]);
    started.wait_for("slow's ready probing", Duration::from_secs(15), |events| {
        events.iter().any(|e| is_started(e, "slow", "ready"))
    });
    started.wait_for_fixture("slow hanging in ready", "slow.sleep.");
    started.signal(nix::sys::signal::Signal::SIGINT);
    let run = started.wait();
    run.code(130);
    // The interrupt is journaled when it happens, before the wind-down it causes.
    let interrupted = run.index("Interrupted", |e| {
        matches!(e, Event::Interrupted { count: 1, .. })
    });
    let drain = run.index("base drain", |e| is_started(e, "base", "drain"));
    assert!(
        interrupted < drain,
        "Interrupted is journaled before the wind-down"
    );
    // slow was waiting for its 10-minute ready timeout; the interrupt ended that
    // early (waiting it out would have failed the run at HANG).
    let slow = run.phase("slow", "ready");
    assert_ne!(slow.outcome, Outcome::Succeeded);
    // Nothing after the interrupt is scheduled: `last` never starts.
    assert!(!run
        .events
        .iter()
        .any(|e| matches!(e, Event::StepStarted { module, .. } if module == "last")));
    // base is drained and shut down cleanly.
    run.succeeded("base", "drain");
    run.succeeded("base", "shutdown");
    assert_eq!(run.final_state("base"), Some(ModuleState::Stopped));
}

#[test]
fn a_second_interrupt_kills_what_is_left_and_exits_130_at_once() {
    let started = Started::new("interrupt", &["--parallelism", "1", "--target", "stubborn"]);
    started.wait_for("stubborn's ready", Duration::from_secs(15), |events| {
        events.iter().any(|e| is_finished(e, "stubborn", "ready"))
    });
    // stubborn hangs at drain (10 s drain timeout): the first interrupt starts the
    // wind-down, which blocks in drain; the second must not wait for it.
    started.signal(nix::sys::signal::Signal::SIGINT);
    started.wait_for("stubborn's drain", Duration::from_secs(5), |events| {
        events.iter().any(|e| is_started(e, "stubborn", "drain"))
    });
    started.wait_for_fixture("stubborn hanging in drain", "stubborn.sleep.");
    // Two signals sent together may arrive as one: the second only once rune has
    // taken the first.
    started.wait_for("the first interrupt", Duration::from_secs(5), |events| {
        events
            .iter()
            .any(|e| matches!(e, Event::Interrupted { count: 1, .. }))
    });
    let second = Instant::now();
    started.signal(nix::sys::signal::Signal::SIGINT);
    let run = started.wait();
    run.code(130);
    // The drain and shutdown timeouts are 10 minutes: waiting for either fails the
    // run at HANG. The bound is loose (a loaded CI machine), the promise is 1 s.
    assert!(
        second.elapsed() < Duration::from_secs(10),
        "the second interrupt ends the run at once (took {:?})",
        second.elapsed()
    );
    let counts: Vec<u64> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Interrupted { count, .. } => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [1, 2]);
    assert_ne!(run.phase("stubborn", "drain").outcome, Outcome::Succeeded);
}

// ---------------------------------------------------------------------------------
// Reports of representative runs (deterministic setting).

/// With `--format json`, stdout is one event per line, then the final report: check
/// the events are the journal's and return the report, pretty-printed.
fn json_report_of(run: &Run) -> String {
    let lines: Vec<&str> = run.out.stdout.lines().collect();
    let (report, events) = lines.split_last().expect("stdout has lines");
    let events: Vec<Event> = events
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an Event ({e}): {l}")))
        .collect();
    assert_eq!(events, run.events, "stdout streams the journal's events");
    let report: Json = serde_json::from_str(report).expect("the last line is the report");
    assert_eq!(report["report"], "execution");
    serde_json::to_string_pretty(&report).expect("json")
}

fn report_of(run: &Run) -> String {
    // The fixture pid directory never reaches the report; the elapsed time of the
    // test harness is not in it either (durations are 0 in the deterministic setting).
    run.out.snapshot()
}

#[test]
fn report_of_a_successful_run_with_an_action() {
    let human = apply("faults", &["--action", "echo", "-p", "msg=hi"]);
    human.code(0);
    insta::assert_snapshot!("human_success", report_of(&human));
    let json = apply(
        "faults",
        &["--action", "echo", "-p", "msg=hi", "--format", "json"],
    );
    json.code(0);
    insta::assert_snapshot!("json_success", json_report_of(&json));
}

#[test]
fn report_of_a_rollback() {
    let args = [
        "--parallelism",
        "1",
        "--target",
        "after",
        "--action",
        "echo",
    ];
    let human = apply("rollback-crash", &args);
    human.code(4);
    insta::assert_snapshot!("human_rollback", report_of(&human));
    let json = apply(
        "rollback-crash",
        &[&args[..], &["--format", "json"]].concat(),
    );
    json.code(4);
    insta::assert_snapshot!("json_rollback", json_report_of(&json));
}

#[test]
fn report_of_a_describe_mismatch() {
    let human = apply("faults", &["--target", "wrong-name"]);
    human.code(4);
    insta::assert_snapshot!("human_describe_mismatch", report_of(&human));
}

// ---------------------------------------------------------------------------------
// Saved plans and refusals.

#[test]
fn a_saved_plan_runs_and_a_changed_catalog_refuses_it_naming_the_file() {
    let dir = TempDir::new().expect("temporary directory");
    let catalogs = dir.path().join("catalogs");
    std::fs::create_dir(&catalogs).expect("catalogs directory");
    std::fs::copy(
        root().join("tests/fixtures/modules/spi-module.sh"),
        dir.path().join("spi-module.sh"),
    )
    .expect("fixture copied");
    std::fs::copy(catalog("order"), catalogs.join("order.yaml")).expect("catalog copied");
    let plan = dir.path().join("plan.json");
    let rune = |args: &[&str]| {
        crate::support::rune(args.iter().copied())
            .current_dir(dir.path())
            .env(
                "RUNE_TEST_PIDS",
                dir.path().to_str().expect("utf-8 temp path"),
            )
            .run()
    };
    let out = rune(&["plan", "--catalog", "catalogs", "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(plan.exists());
    let out = rune(&["apply", "--deterministic", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let modules = recorded(dir.path())
        .iter()
        .filter(|(n, _)| n.contains(".module."))
        .count();
    assert_eq!(modules, 4, "the saved plan started the four modules");
    // Change the catalog: the plan is refused (exit 1) naming the file, nothing runs.
    let mut text = std::fs::read_to_string(catalogs.join("order.yaml")).expect("catalog");
    text.push_str("# changed\n");
    std::fs::write(catalogs.join("order.yaml"), text).expect("catalog changed");
    let out = rune(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("order.yaml"), "{}", out.snapshot());
    let after = recorded(dir.path())
        .iter()
        .filter(|(n, _)| n.contains(".module."))
        .count();
    assert_eq!(after, 4, "a refused plan starts nothing");
    kill_recorded(dir.path());
}

#[test]
fn dry_run_prints_the_plan_and_starts_nothing() {
    let pids = TempDir::new().expect("temporary directory");
    let out = crate::support::rune(["apply", "--dry-run", "--catalog"])
        .arg_path(catalog("order"))
        .env(
            "RUNE_TEST_PIDS",
            pids.path().to_str().expect("utf-8 temp path"),
        )
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains("spi-module.sh ok d 1.0.0"),
        "{}",
        out.snapshot()
    );
    // Nothing to wait for: this looks for processes that must not appear, giving a
    // module started by mistake a moment to record itself.
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        recorded(pids.path()).is_empty(),
        "a dry run starts no module"
    );
}

// ---------------------------------------------------------------------------------
// Parallelism: modules of one wave really run at the same time, up to --parallelism.

#[test]
fn modules_of_one_wave_start_at_the_same_time_under_parallelism_two() {
    let run = apply("parallel", &["--parallelism", "2"]);
    run.code(0);
    for m in ["left", "right"] {
        run.succeeded(m, "ready");
        run.succeeded(m, "shutdown");
    }
}

#[test]
fn parallelism_one_runs_one_module_at_a_time() {
    // left waits for right, which is not started while left runs: left times out.
    let run = apply("parallel", &["--parallelism", "1"]);
    run.code(4);
    run.failed_with("left", "register", &[Kind::Timeout]);
    assert!(run.recorded("module") >= 1);
    assert!(
        !run.events
            .iter()
            .any(|e| is_started(e, "right", "register"))
            || run.index("left register finished", |e| is_finished(
                e, "left", "register"
            )) < run.index("right register started", |e| is_started(
                e, "right", "register"
            )),
        "right does not start while left is still registering"
    );
}

// ---------------------------------------------------------------------------------
// The journal and the command line.

#[test]
fn the_journal_is_appended_never_truncated() {
    let dir = TempDir::new().expect("temporary directory");
    let journal = dir.path().join("journal.jsonl");
    for _ in 0..2 {
        let out = crate::support::rune(["apply", "--deterministic", "--target", "ok", "--catalog"])
            .arg_path(catalog("faults"))
            .args(["--journal"])
            .arg_path(&journal)
            .env(
                "RUNE_TEST_PIDS",
                dir.path().to_str().expect("utf-8 temp path"),
            )
            .run();
        assert_eq!(out.code, 0, "{}", out.snapshot());
    }
    let text = std::fs::read_to_string(&journal).expect("journal");
    let events: Vec<Event> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("an Event"))
        .collect();
    let runs = events
        .iter()
        .filter(|e| matches!(e, Event::RunStarted { .. }))
        .count();
    let finished = events
        .iter()
        .filter(|e| matches!(e, Event::RunFinished { .. }))
        .count();
    assert_eq!((runs, finished), (2, 2), "both runs are in the journal");
    kill_recorded(dir.path());
}

#[test]
fn a_usage_error_exits_2_and_starts_nothing() {
    let dir = TempDir::new().expect("temporary directory");
    let out = crate::support::rune(["apply", "--parallelism", "0", "--catalog"])
        .arg_path(catalog("faults"))
        .env(
            "RUNE_TEST_PIDS",
            dir.path().to_str().expect("utf-8 temp path"),
        )
        .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(recorded(dir.path()).is_empty());
}

#[test]
fn initialize_hands_each_module_its_own_config_only() {
    let run = apply("order", &["--parallelism", "2"]);
    run.code(0);
    let config_of = |module: &str| {
        run.messages(module)
            .into_iter()
            .find(|(d, m)| *d == Direction::Request && m["method"] == "initialize")
            .map(|(_, m)| m["params"]["config"].clone())
            .unwrap_or_else(|| run.fail(&format!("no initialize for {module}")))
    };
    assert_eq!(
        config_of("a"),
        serde_json::json!({"greeting": "hello", "retries": 2})
    );
    assert_eq!(
        config_of("b"),
        serde_json::json!({"secret_path": "/b/only"})
    );
    assert_eq!(config_of("c"), serde_json::json!({}));
}
