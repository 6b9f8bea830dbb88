//! Actions a module process runs itself (SPI `execute`), through the real binary
//! and the module tests/fixtures/module_exec/exec-mod.sh: they go through the same
//! mediation as plugin actions (input_schema, output_schema, retries), a late
//! answer to an `execute` rune gave up on is discarded rather than taken for the
//! answer of the next call, and the first Ctrl-C lets an `execute` in flight
//! finish as it lets a plugin.

use std::path::PathBuf;

use nix::sys::signal::Signal;
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::{root, rune, Output};

fn catalog() -> PathBuf {
    root().join("tests/fixtures/module_exec/catalog.yaml")
}

/// `apply --format json` with `args`; the final report and the module's log.
fn apply(args: &[&str]) -> (Output, Json, String) {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("mod.log");
    let out = rune(["apply", "--catalog"])
        .arg_path(catalog())
        .args(args)
        .args(["--format", "json"])
        .env("MOD_LOG", log.to_str().unwrap())
        .env("RUNE_PROGRESS", "off")
        .run();
    let report = out
        .stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no report:\n{}\n{}", out.stdout, out.stderr));
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (out, report, log)
}

/// The report's step with workflow id `id`, or the action step when `id` is "".
fn step<'a>(report: &'a Json, id: &str) -> &'a Json {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"].is_string() && (id.is_empty() || s["workflow"]["id"] == id))
        .unwrap_or_else(|| panic!("no step `{id}` in {report}"))
}

fn phase<'a>(report: &'a Json, phase: &str) -> &'a Json {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["phase"] == phase)
        .unwrap_or_else(|| panic!("no {phase} step in {report}"))
}

#[test]
fn a_late_answer_to_a_timed_out_execute_is_discarded() {
    // p times out at 500 ms; the module answers it at 1.5 s, before it reads q.
    let (out, report, log) = apply(&["--workflow", "late-answer"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(step(&report, "p")["error"]["rune"]["kind"], "timeout");
    assert_eq!(step(&report, "q")["status"], "succeeded");
    assert_eq!(step(&report, "q")["output"], serde_json::json!({"x": 2}));
    assert_eq!(step(&report, "r")["output"], serde_json::json!({"x": 3}));
    assert_eq!(phase(&report, "drain")["status"], "succeeded");
    assert_eq!(phase(&report, "shutdown")["status"], "succeeded");
    assert!(!out.stdout.contains("protocol_violation"), "{}", out.stdout);
    assert_eq!(log, "exec 1 1\nexec 2 1\nexec 3 1\n");
}

#[test]
fn the_first_ctrl_c_lets_a_module_execute_finish() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("mod.log");
    let started = dir.path().join("mod.log.started");
    let mut child = rune(["apply", "--catalog"])
        .arg_path(catalog())
        .args(["--workflow", "slow", "--format", "json"])
        .env("MOD_LOG", log.to_str().unwrap())
        .env("RUNE_PROGRESS", "off")
        .spawn();
    // p's execute logs that it began, then sleeps 2 s: the signal lands while it runs.
    child.wait_for("p's execute to begin in the module", || {
        std::fs::read_to_string(&started).is_ok_and(|l| l.contains("exec 1 1"))
    });
    child.signal(Signal::SIGINT);
    let out = child.wait();
    let stdout = &out.stdout;
    assert_eq!(out.code, 130, "{stdout}");
    let report: Json = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["status"], "interrupted", "{report}");
    assert_eq!(step(&report, "p")["status"], "succeeded", "{report}");
    assert_eq!(step(&report, "p")["output"], serde_json::json!({"x": 1}));
    assert_eq!(step(&report, "q")["status"], "skipped");
    assert_eq!(phase(&report, "drain")["status"], "succeeded");
    assert_eq!(phase(&report, "shutdown")["status"], "succeeded");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "exec 1 1\n");
}

#[test]
fn filled_parameters_of_a_module_action_are_checked_against_its_input_schema() {
    let (out, report, log) = apply(&["--workflow", "unvalidated"]);
    assert_eq!(out.code, 4);
    let b = step(&report, "b");
    assert_eq!(b["error"]["rune"]["kind"], "invalid_params", "{b}");
    assert_eq!(b["attempts"], 0);
    assert_eq!(log, "", "the module must not be asked");
}

#[test]
fn the_output_of_a_module_action_is_checked_against_its_output_schema() {
    let (out, report, _) = apply(&["--workflow", "bad-output"]);
    assert_eq!(out.code, 4);
    let a = step(&report, "a");
    assert_eq!(a["error"]["rune"]["kind"], "invalid_result", "{a}");
    assert!(a["output"].is_null());
}

#[test]
fn a_module_action_is_retried_as_its_retries_say() {
    let (out, report, log) = apply(&[
        "--action",
        "mexec",
        "--param",
        "n=5",
        "--param",
        "fail=true",
    ]);
    assert_eq!(out.code, 4);
    let a = step(&report, "");
    assert_eq!(a["attempts"], 3, "{a}");
    assert_eq!(a["error"]["rune"]["kind"], "business_failure");
    assert_eq!(log, "exec 5 1\nexec 5 2\nexec 5 3\n");
    assert_eq!(a["retries"].as_array().map(Vec::len), Some(2), "{a}");
}
