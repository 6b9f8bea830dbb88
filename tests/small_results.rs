//! Smaller wrong results (issue 17 part 5), each through the real binary: an
//! integer beyond 64 bits in plugin output is refused, never rounded; a step the
//! second Ctrl-C kills is reported as interrupted, not as the failure that stopped
//! its workflow; a retry interrupted in its backoff keeps the error of the attempt
//! that failed; docs/catalog.md says what the schema says of supported_protocols.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::root;

/// Every run of the binary here ends within this, or the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

fn catalog() -> PathBuf {
    root().join("tests/fixtures/small_results/catalog.yaml")
}

/// `rune ARGS` started with PIDFILE at `pids`, progress off.
fn start(args: &[&str], pids: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rune"))
        .args(args)
        .current_dir(root())
        .env("PIDFILE", pids)
        .env("RUNE_PROGRESS", "off")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rune starts")
}

/// Wait for `child` within [`DEADLINE`] (killed and failed past it); exit code,
/// stdout, stderr.
fn finish(mut child: Child) -> (i32, String, String) {
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
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rune did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        out.join().unwrap(),
        err.join().unwrap(),
    )
}

/// Wait (within [`DEADLINE`]) until `file` holds `text`.
fn wait_for(file: &Path, text: &str) {
    let started = Instant::now();
    while !std::fs::read_to_string(file).is_ok_and(|s| s.contains(text)) {
        assert!(
            started.elapsed() < DEADLINE,
            "{} never held {text:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigint(child: &Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
}

/// No process whose pid `file` lists is still running (a zombie not yet reaped
/// by init counts as gone).
fn assert_gone(file: &Path) {
    let pids = std::fs::read_to_string(file).unwrap_or_default();
    assert!(!pids.trim().is_empty(), "no pid in {}", file.display());
    for pid in pids.split_whitespace() {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "));
        assert!(!alive, "process {pid} is still running");
    }
}

/// The final report: the last line of `apply --format json`.
fn report(stdout: &str) -> Json {
    stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report in {stdout}"))
}

fn step<'a>(report: &'a Json, id: &str) -> &'a Json {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workflow"]["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {report}"))
}

#[test]
fn an_integer_beyond_64_bits_in_plugin_output_is_refused_not_rounded() {
    let dir = TempDir::new().unwrap();
    let child = start(
        &[
            "run",
            "--catalog",
            catalog().to_str().unwrap(),
            "wide",
            "--output",
            "json",
        ],
        &dir.path().join("pids"),
    );
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    let doc: Json = serde_json::from_str(&stdout).unwrap();
    let error = &doc["eps"];
    assert_eq!(error["rune"]["kind"], "invalid_message", "{doc:#}");
    let message = error["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("18446744073709551617") && message.contains("beyond 64 bits"),
        "{message}"
    );
    // Rounded, 2^64 + 1 would have read as 18446744073709552000.
    assert!(!stdout.contains("18446744073709552000"), "{stdout}");
    assert!(doc["output"].is_null(), "{doc:#}");
}

#[test]
fn a_step_killed_by_the_second_ctrl_c_is_interrupted_and_does_not_stop_the_workflow() {
    let dir = TempDir::new().unwrap();
    let pids = dir.path().join("pids");
    let journal = dir.path().join("journal.jsonl");
    let child = start(
        &[
            "apply",
            "--catalog",
            catalog().to_str().unwrap(),
            "--workflow",
            "hangs",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ],
        &pids,
    );
    // hang.sh records itself, then its sleep: both are running once two pids are in.
    let started = Instant::now();
    while std::fs::read_to_string(&pids).map_or(0, |s| s.lines().count()) < 2 {
        assert!(started.elapsed() < DEADLINE, "the plugin never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Signals are not queued: the second goes once rune has taken the first.
    sigint(&child);
    wait_for(&journal, r#""event":"interrupted""#);
    sigint(&child);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 130, "{stdout}\n{stderr}");
    let report = report(&stdout);
    let stuck = step(&report, "stuck");
    assert_eq!(stuck["workflow"]["outcome"], "interrupted", "{stuck:#}");
    assert_eq!(stuck["error"]["rune"]["kind"], "interrupted", "{stuck:#}");
    assert_eq!(step(&report, "after")["status"], "skipped");
    assert!(
        report["workflow"]["stopped_by"].is_null(),
        "the killed step is not the failure that stopped the workflow: {:#}",
        report["workflow"]
    );
    assert_eq!(report["workflow"]["ended"], "interrupted");
    assert_gone(&pids);
}

#[test]
fn a_retry_interrupted_in_its_backoff_keeps_the_failed_attempts_error() {
    let dir = TempDir::new().unwrap();
    let pids = dir.path().join("pids");
    let journal = dir.path().join("journal.jsonl");
    let child = start(
        &[
            "apply",
            "--catalog",
            catalog().to_str().unwrap(),
            "--workflow",
            "retries",
            "--format",
            "json",
            "--journal",
            journal.to_str().unwrap(),
        ],
        &pids,
    );
    // The first attempt failed and rune waits 30 s before the next one.
    wait_for(&journal, r#""event":"retrying""#);
    sigint(&child);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 130, "{stdout}\n{stderr}");
    let report = report(&stdout);
    let flaky = step(&report, "flaky");
    let error = &flaky["error"];
    assert_eq!(error["rune"]["kind"], "interrupted", "{flaky:#}");
    let message = error["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("attempt 1 had failed") && message.contains("the disk is on fire"),
        "{message}"
    );
    let previous = &error["error_payload"]["error_data"]["error"]["data"]["previous_error"];
    assert_eq!(previous["rune"]["kind"], "business_failure", "{error:#}");
    assert_eq!(flaky["attempts"], 1, "{flaky:#}");
    // Only the one attempt ran.
    assert_eq!(std::fs::read_to_string(&pids).unwrap().lines().count(), 1);
    assert_gone(&pids);
}

#[test]
fn the_catalog_docs_give_supported_protocols_no_default_as_the_schema_does() {
    let schema: Json = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/catalog.schema.json")).unwrap(),
    )
    .unwrap();
    let requirements = &schema["$defs"]["technical_requirements"];
    assert!(requirements["properties"]["supported_protocols"]["default"].is_null());
    assert!(requirements["required"]
        .as_array()
        .unwrap()
        .contains(&Json::from("supported_protocols")));
    let docs = std::fs::read_to_string(root().join("docs/catalog.md")).unwrap();
    let row = docs
        .lines()
        .find(|l| l.starts_with("| `technical_requirements` |"))
        .unwrap();
    assert!(row.contains("**supported_protocols**"), "{row}");
    assert!(!row.contains("default `["), "{row}");
    // And the binary agrees: technical_requirements without it is refused.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: m, module_class: C, module_type: t, module_version: 1.0.0, description: d }\n    technical_requirements: { dependencies: [] }\n",
    )
    .unwrap();
    let child = start(
        &["validate", "--catalog", file.to_str().unwrap()],
        &dir.path().join("pids"),
    );
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("supported_protocols"), "{stderr}");
}
