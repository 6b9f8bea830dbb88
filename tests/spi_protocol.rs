//! The module SPI as rune speaks it, through the real binary and the module
//! tests/fixtures/spi_protocol/module.sh: actions of different modules run at once
//! and a hung `execute` holds up only its own module; notifications are bounded by
//! a rate, not by the per-call answer cap; a message with a key twice is refused;
//! `describe` waits as long as the catalog says; every message rune writes or
//! reads matches `rune schema spi-request` / `spi-response`. Every run has a
//! deadline, and every test checks that no process it started is left.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::root;

/// How long one run of rune may take before the test fails (a hang must fail,
/// not stall CI).
const DEADLINE: Duration = Duration::from_secs(60);

fn module_script() -> PathBuf {
    root().join("tests/fixtures/spi_protocol/module.sh")
}

/// One process module `name` whose `execute` does `behaviour`, providing the
/// action `act-NAME`; `timeouts` goes into its lifecycle as written.
fn module(name: &str, behaviour: &str, timeouts: &str) -> String {
    format!(
        r#"  - module_identity: {{ module_name: {name}, module_class: SpiTest, module_type: service, module_version: 1.0.0, description: SPI test module }}
    capability_declaration:
      actions:
        - action: act-{name}
          description: Runs inside the module
          category: diagnostic
          impact: low
          retries: {{ max_attempts: 1 }}
          output_schema: {{ type: object, required: [x] }}
    lifecycle:
      runtime: process
      exec: ["{script}", "{name}", "{behaviour}"]
      env: {{ pass: [SPI_LOG, SPI_PIDS, SPI_PEER] }}
      spi_versions: ["1"]
      timeouts: {{ {timeouts} }}
"#,
        script = module_script().display(),
    )
}

/// A catalog with `modules` and one workflow `w` whose steps run the modules'
/// actions with no needs between them (`timeout_ms` each).
fn catalog(dir: &Path, modules: &[String], steps: &[(&str, u64)]) -> PathBuf {
    let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
    for m in modules {
        text.push_str(m);
    }
    text.push_str("workflows:\n  w:\n    description: test\n    steps:\n");
    for (name, timeout) in steps {
        text.push_str(&format!(
            "      - {{ id: s-{name}, action: act-{name}, timeout_ms: {timeout} }}\n"
        ));
    }
    let path = dir.join("catalog.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What one run left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    journal: Vec<Json>,
    log: String,
}

impl Run {
    /// The final JSON report's step for workflow step `id`.
    fn step(&self, id: &str) -> Json {
        let report: Json = self
            .stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("no report:\n{}\n{}", self.stdout, self.stderr));
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["workflow"]["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no step {id} in {report}"))
    }

    /// Where in the journal the action step of module `name` finished.
    fn finished_at(&self, name: &str) -> usize {
        let action = format!("act-{name}");
        self.journal
            .iter()
            .position(|e| e["event"] == "step_finished" && e["action"] == action.as_str())
            .unwrap_or_else(|| panic!("{action} never finished: {:?}", self.journal))
    }

    /// The SPI messages of the journal: (direction, message).
    fn spi_messages(&self) -> Vec<(String, Json)> {
        self.journal
            .iter()
            .filter(|e| e["event"] == "message" && e["protocol"] == "spi")
            .map(|e| {
                (
                    e["direction"].as_str().unwrap().to_string(),
                    e["message"].clone(),
                )
            })
            .collect()
    }

    /// The nanosecond stamp of `what` (`start`, `end`) of module `name`'s execute.
    fn stamp(&self, what: &str, name: &str) -> u128 {
        let prefix = format!("{what} {name} ");
        self.log
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` in the log:\n{}", self.log))
    }
}

/// `rune apply --workflow w` on `catalog` under [`DEADLINE`]; then checks that
/// every process the modules recorded is gone.
fn apply(dir: &Path, catalog: &Path, env: &[(&str, &str)]) -> Run {
    let journal = dir.join("journal.jsonl");
    let log = dir.join("exec.log");
    let pids = dir.join("pids");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rune"));
    command
        .current_dir(root())
        .args([
            "apply",
            "--workflow",
            "w",
            "--parallelism",
            "2",
            "--catalog",
        ])
        .arg(catalog)
        .arg("--journal")
        .arg(&journal)
        .args(["--format", "json"])
        .env("RUNE_PROGRESS", "off")
        .env("SPI_LOG", &log)
        .env("SPI_PIDS", &pids)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("rune starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            kill_recorded(&pids);
            panic!("rune did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        journal: std::fs::read_to_string(&journal)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("whole journal lines"))
            .collect(),
        log: std::fs::read_to_string(&log).unwrap_or_default(),
    };
    assert_none_left(&pids);
    run
}

fn recorded(pids: &Path) -> Vec<i32> {
    std::fs::read_to_string(pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Alive and not a zombie waiting for its reaper.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn kill_recorded(pids: &Path) {
    for pid in recorded(pids) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Every process the modules recorded is gone once rune has exited (a killed
/// orphan may take a moment to be reaped by init).
fn assert_none_left(pids: &Path) {
    let all = recorded(pids);
    assert!(!all.is_empty(), "the modules recorded no pid");
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let left: Vec<i32> = all.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() > until {
            kill_recorded(pids);
            panic!("processes left after rune exited: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const TIMEOUTS: &str =
    "describe_ms: 5000, initialize_ms: 5000, ready_ms: 5000, drain_ms: 1000, shutdown_ms: 1000";

#[test]
fn actions_of_two_modules_run_at_once() {
    let dir = TempDir::new().unwrap();
    let catalog = catalog(
        dir.path(),
        &[
            module("alpha", "sleep1", TIMEOUTS),
            module("beta", "sleep1", TIMEOUTS),
        ],
        &[("alpha", 10_000), ("beta", 10_000)],
    );
    let run = apply(dir.path(), &catalog, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Each execute began before the other ended: they overlapped. One lock
    // across every module would run them one after the other.
    let (a0, a1) = (run.stamp("start", "alpha"), run.stamp("end", "alpha"));
    let (b0, b1) = (run.stamp("start", "beta"), run.stamp("end", "beta"));
    assert!(a0 < b1 && b0 < a1, "no overlap:\n{}", run.log);
}

#[test]
fn a_hung_execute_holds_up_only_its_own_module() {
    let dir = TempDir::new().unwrap();
    let catalog = catalog(
        dir.path(),
        &[
            module("alpha", "hang", TIMEOUTS),
            module("beta", "after-peer", TIMEOUTS),
        ],
        &[("alpha", 3_000), ("beta", 10_000)],
    );
    let run = apply(dir.path(), &catalog, &[("SPI_PEER", "alpha")]);
    // beta's execute ran while alpha's hung, and finished first.
    assert!(!run.log.contains("gave-up"), "{}", run.log);
    assert_eq!(run.step("s-beta")["status"], "succeeded");
    let alpha = run.step("s-alpha");
    assert_eq!(alpha["error"]["rune"]["kind"], "timeout", "{alpha}");
    assert!(run.finished_at("beta") < run.finished_at("alpha"));
    assert_eq!(run.code, 4, "{}", run.stderr);
}

#[test]
fn notifications_are_not_held_to_the_answer_cap() {
    // 300 notifications are more than the 256 requests a call may answer.
    let dir = TempDir::new().unwrap();
    let catalog = catalog(
        dir.path(),
        &[module("alpha", "notify", TIMEOUTS)],
        &[("alpha", 10_000)],
    );
    let run = apply(dir.path(), &catalog, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.step("s-alpha")["output"], serde_json::json!({"x": 1}));
    let events = run
        .spi_messages()
        .iter()
        .filter(|(d, m)| d == "response" && m["method"] == "emit_event")
        .count();
    assert_eq!(events, 300, "every notification is journaled");
    let answers = run
        .spi_messages()
        .iter()
        .filter(|(d, m)| d == "request" && m.get("method").is_none())
        .count();
    assert_eq!(answers, 0, "a notification gets no answer");
}

#[test]
fn a_flood_of_notifications_is_a_protocol_violation() {
    let dir = TempDir::new().unwrap();
    let catalog = catalog(
        dir.path(),
        &[module("alpha", "flood", TIMEOUTS)],
        &[("alpha", 20_000)],
    );
    let run = apply(dir.path(), &catalog, &[]);
    let step = run.step("s-alpha");
    assert_eq!(
        step["error"]["rune"]["kind"], "protocol_violation",
        "{step}"
    );
    let message = step["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("notifications faster than 100 a second"),
        "{message}"
    );
    // The module is not called again: its drain fails at once, naming why.
    let drain = run
        .journal
        .iter()
        .find(|e| e["event"] == "step_finished" && e["phase"] == "drain")
        .unwrap_or_else(|| panic!("no drain step: {:?}", run.journal));
    assert_eq!(drain["error"]["rune"]["kind"], "protocol_violation");
    let said = drain["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        said.contains("it flooded rune with notifications"),
        "{said}"
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
}

#[test]
fn a_key_twice_in_a_module_answer_is_refused() {
    let dir = TempDir::new().unwrap();
    let catalog = catalog(
        dir.path(),
        &[module("alpha", "dupkey", TIMEOUTS)],
        &[("alpha", 10_000)],
    );
    let run = apply(dir.path(), &catalog, &[]);
    let step = run.step("s-alpha");
    assert_eq!(step["error"]["rune"]["kind"], "invalid_message", "{step}");
    let message = step["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(message.contains("duplicate key `x`"), "{message}");
    assert!(step.get("output").is_none_or(Json::is_null), "{step}");
    assert_eq!(run.code, 4, "{}", run.stderr);
}

#[test]
fn describe_waits_as_long_as_the_catalog_says() {
    let dir = TempDir::new().unwrap();
    let short = "describe_ms: 300, initialize_ms: 5000, ready_ms: 5000";
    let catalog = catalog(
        dir.path(),
        &[module("alpha", "slow-describe", short)],
        &[("alpha", 10_000)],
    );
    let run = apply(dir.path(), &catalog, &[]);
    let register = run
        .journal
        .iter()
        .find(|e| e["event"] == "step_finished" && e["phase"] == "register")
        .unwrap_or_else(|| panic!("no register step: {:?}", run.journal))
        .clone();
    assert_eq!(register["outcome"], "failed", "{register}");
    let message = register["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("did not answer `describe` within 300 ms"),
        "{message}"
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
}

#[test]
fn every_spi_message_matches_the_spi_schemas() {
    let dir = TempDir::new().unwrap();
    let catalog = catalog(
        dir.path(),
        &[module("alpha", "notify", TIMEOUTS)],
        &[("alpha", 10_000)],
    );
    let run = apply(dir.path(), &catalog, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let schema = |name: &str| {
        let out = crate::support::rune(["schema", name]).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        jsonschema::validator_for(&out.json()).unwrap()
    };
    let (requests, responses) = (schema("spi-request"), schema("spi-response"));
    let messages = run.spi_messages();
    let methods: Vec<&str> = messages
        .iter()
        .filter_map(|(_, m)| m["method"].as_str())
        .collect();
    for method in [
        "describe",
        "initialize",
        "ready",
        "health",
        "execute",
        "drain",
        "shutdown",
    ] {
        assert!(methods.contains(&method), "no {method} in {methods:?}");
    }
    for (direction, message) in &messages {
        let valid = if direction == "request" {
            requests.is_valid(message)
        } else {
            responses.is_valid(message)
        };
        assert!(valid, "{direction} does not match its schema: {message}");
    }
    // A wrong message is refused by the schemas, so the check above can fail.
    assert!(!requests
        .is_valid(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "nope", "params": {}})));
    assert!(!responses.is_valid(&serde_json::json!({"jsonrpc": "1.0", "id": 1, "result": {}})));
}

#[test]
fn the_spi_schemas_are_printed() {
    for name in ["spi-request", "spi-response"] {
        let out = crate::support::rune(["schema", name]).run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        insta::assert_snapshot!(format!("schema_{name}"), out.stdout);
    }
}
