//! Resource limits (issue 18, item 9): a module's `resource_requirements`
//! (`max_memory_mb`, and rune's `max_cpu_seconds` and `max_open_files`) are applied
//! to its plugins and its module process, and a process a limit stopped fails
//! with RUNE's resource error (-32400) naming the limit. Every plugin here really
//! reaches its limit (tests/fixtures/limits/).

use serde_json::Value as Json;

use crate::support::{alive, rune, Output};

const CATALOG: &str = "tests/fixtures/limits/catalog.yaml";

/// Run `args` on the fixture catalog; every process the fixtures started is gone
/// once rune exits.
fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let out = rune(args.iter().copied())
        .args(["--catalog", CATALOG])
        .env("PIDFILE", pids.to_str().unwrap())
        .run();
    let recorded = std::fs::read_to_string(&pids).unwrap_or_default();
    assert!(!recorded.is_empty(), "no fixture ran:\n{}", out.snapshot());
    for pid in recorded.split_whitespace() {
        assert!(
            !alive(pid.parse().unwrap()),
            "process {pid} is still running"
        );
    }
    out
}

fn jq_missing() -> bool {
    let present = std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        crate::support::skip("jq is not installed (the fixtures use it)");
    }
    !present
}

/// The JSON document of `rune run ACTION --json`, checked to be a -32400 failure
/// naming `limit`.
fn stopped_by(action: &str, limit: &str, words: &str) -> Json {
    let out = run(&["run", action, "--json"]);
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["error"]["code"], -32400, "{doc:#}");
    assert_eq!(doc["error"]["details"]["limit"], limit, "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains(words), "{message}");
    assert_eq!(doc["eps"]["rune"]["kind"], "resource_exhausted");
    assert_eq!(
        doc["eps"]["error_payload"]["error_context"]["error_classification"],
        "system_error"
    );
    doc
}

#[test]
fn a_plugin_that_allocates_past_its_memory_limit_gets_the_resource_error() {
    if jq_missing() {
        return;
    }
    stopped_by("hog-memory", "max_memory_mb", "memory limit of 64 MiB");
    // The same plugin without a limit allocates its 100 MiB and succeeds: the
    // limit, not the plugin, stopped it.
    let out = run(&["run", "free-memory", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn a_plugin_that_burns_cpu_past_its_limit_is_stopped_by_it() {
    if jq_missing() {
        return;
    }
    let started = std::time::Instant::now();
    let doc = stopped_by("burn-cpu", "max_cpu_seconds", "CPU time limit of 1 s");
    // SIGXCPU at one second of CPU time, long before the 20 s timeout.
    assert_eq!(doc["error"]["details"]["signal"], 24, "{doc:#}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[test]
fn a_plugin_that_opens_too_many_files_names_the_open_files_limit() {
    if jq_missing() {
        return;
    }
    stopped_by("open-files", "max_open_files", "open files limit of 16");
}

#[test]
fn a_plugin_within_its_limits_runs_normally() {
    if jq_missing() {
        return;
    }
    let out = run(&["run", "fits", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["output"]["done"], true);
}

#[test]
fn a_module_process_is_stopped_by_its_cpu_limit() {
    if jq_missing() {
        return;
    }
    let out = run(&["apply", "--action", "spin", "--format", "json"]);
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report: Json = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let spin = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "spin")
        .unwrap_or_else(|| panic!("{report:#}"));
    let error = &spin["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32400, "{spin:#}");
    assert_eq!(error["data"]["limit"], "max_cpu_seconds", "{spin:#}");
}

#[test]
fn apply_runs_a_plugin_under_its_modules_limits_too() {
    if jq_missing() {
        return;
    }
    let out = run(&["apply", "--action", "hog-memory", "--format", "json"]);
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report: Json = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "hog-memory")
        .unwrap();
    let error = &step["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32400, "{step:#}");
    assert_eq!(error["data"]["limit"], "max_memory_mb");
}
