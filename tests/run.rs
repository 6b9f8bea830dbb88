//! `rune run ACTION`: one action request through validation, policy and mediation,
//! against plugins that misbehave on purpose (tests/fixtures/plugins/). Every case
//! ends with its documented exit code and EPS error, leaves no process behind and
//! does not hang.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::support::{root, rune, Output, Rune};

const CATALOG: &str = "tests/fixtures/plugins/catalog.yaml";

/// `rune run ACTION` on the fixture catalog, deterministic, with a fixed user.
fn run_action(action: &str) -> Rune {
    rune(["run", action, "--catalog", CATALOG, "--deterministic"]).env("USER", "tester")
}

/// A file the fixture plugins append their pids (and their children's) to.
struct Pids {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl Pids {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pids");
        Pids { _dir: dir, file }
    }

    fn path(&self) -> &str {
        self.file.to_str().unwrap()
    }

    fn recorded(&self) -> Vec<u32> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    }

    /// Every recorded process is gone (or a zombie waiting for a reaper that is not
    /// rune): nothing keeps running after rune exits.
    fn assert_all_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        for pid in self.recorded() {
            loop {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
                let alive = match &stat {
                    Ok(stat) => {
                        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                        !state.starts_with('Z') && !state.starts_with('X')
                    }
                    Err(_) => false,
                };
                if !alive {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "process {pid} is still running after rune exited: {stat:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The EPS error of a failed `--output json` run.
fn eps(out: &Output) -> Json {
    let doc = out.json();
    assert_eq!(doc["outcome"], "failed", "{doc:#}");
    doc["eps"].clone()
}

/// Run a failing fixture as JSON and check the kind, the code, the time and that
/// nothing is left behind.
fn fails_with(action: &str, kind: &str, code: i64, within: Duration) -> Json {
    let pids = Pids::new();
    // A run past `within` is killed and fails the test: the fixture's timeout did
    // not fire (the kind below says which way it ended).
    let out = run_action(action)
        .args(["--output", "json"])
        .env("PIDFILE", pids.path())
        .deadline(within)
        .run();
    assert_eq!(out.code, 4, "{action}: {}", out.snapshot());
    let error = eps(&out);
    assert_eq!(error["rune"]["kind"], kind, "{action}: {error:#}");
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["code"], code,
        "{action}: {error:#}"
    );
    assert_eq!(error["rune"]["action"], action);
    assert_eq!(
        error["message_metadata"]["correlation_id"],
        out.json()["correlation_id"]
    );
    pids.assert_all_gone();
    error
}

#[test]
fn a_well_behaved_plugin_gets_its_parameters_context_and_ids_on_stdin() {
    let out = run_action("ok")
        .args([
            "--param",
            "name=demo",
            "--param",
            "count=2",
            "--output",
            "json",
        ])
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["outcome"], "succeeded");
    let output = &doc["output"];
    assert_eq!(
        output["echo"],
        serde_json::json!({"name": "demo", "count": 2})
    );
    assert_eq!(output["context"]["action"], "ok");
    assert_eq!(output["context"]["module"], "faulty");
    assert_eq!(output["context"]["node"], "localhost");
    assert_eq!(output["context"]["attempt"], 1);
    assert_eq!(output["context"]["requested_by"], "tester");
    assert_eq!(output["context"]["dry_run"], false);
    assert_eq!(output["trace_id"], doc["trace_id"]);
}

#[test]
fn a_crash_is_a_crashed_error_with_the_stderr_tail() {
    let error = fails_with("crash", "crashed", -32101, Duration::from_secs(5));
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["signal"],
        11
    );
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["stderr_tail"],
        "about to crash\n"
    );
}

#[test]
fn a_hang_is_a_timeout_and_its_process_group_is_killed() {
    let error = fails_with("hang", "timeout", -32401, Duration::from_secs(5));
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["timeout_ms"],
        300
    );
}

#[test]
fn a_plugin_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let error = fails_with("ignore-term", "timeout", -32401, Duration::from_secs(5));
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["signal"],
        9
    );
}

#[test]
fn garbage_two_objects_and_non_utf8_are_invalid_output() {
    let garbage = fails_with("garbage", "invalid_output", -32700, Duration::from_secs(5));
    assert!(
        garbage["error_payload"]["error_data"]["error"]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    let two = fails_with(
        "two-objects",
        "invalid_output",
        -32700,
        Duration::from_secs(5),
    );
    assert!(
        two["error_payload"]["error_data"]["error"]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("more than one JSON value")
    );
    let bytes = fails_with("non-utf8", "invalid_output", -32700, Duration::from_secs(5));
    assert!(
        bytes["error_payload"]["error_data"]["error"]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid UTF-8")
    );
}

#[test]
fn megabytes_of_stdout_are_cut_at_the_limit() {
    let error = fails_with(
        "megabytes",
        "output_too_large",
        -32103,
        Duration::from_secs(5),
    );
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["limit_bytes"],
        1 << 20
    );
}

#[test]
fn exit_0_with_an_error_object_is_a_failure_and_not_retried_as_business() {
    let error = fails_with(
        "error-exit0",
        "business_failure",
        -32500,
        Duration::from_secs(5),
    );
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["reason"],
        "`error-exit0` failed: disk quota exceeded"
    );
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["plugin_error"]["details"]
            ["used_pct"],
        99
    );
    // retries.on names `retryable`; a business failure is not.
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["attempt"],
        1
    );
}

#[test]
fn a_non_zero_exit_without_output_is_a_crash() {
    let error = fails_with("silent-fail", "crashed", -32101, Duration::from_secs(5));
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["exit_code"],
        7
    );
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["stderr_tail"],
        "something went wrong\n"
    );
}

#[test]
fn closing_stdout_and_running_on_ends_at_the_timeout() {
    fails_with("close-stdout", "timeout", -32401, Duration::from_secs(5));
}

#[test]
fn output_data_that_breaks_the_output_schema_is_an_invalid_result() {
    let error = fails_with(
        "bad-result",
        "invalid_result",
        -32200,
        Duration::from_secs(5),
    );
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["violations"][0],
        "at /free_pct: value is not of type \"number\""
    );
}

#[test]
fn a_missing_plugin_is_a_spawn_failure() {
    let error = fails_with("missing", "spawn_failed", -32001, Duration::from_secs(5));
    let program = error["error_payload"]["error_data"]["error"]["data"]["program"]
        .as_str()
        .unwrap();
    assert!(
        program.ends_with("tests/fixtures/plugins/missing-plugin.sh"),
        "{program}"
    );
}

#[test]
fn a_plugin_that_never_reads_stdin_still_answers_even_with_a_large_request() {
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.json");
    // Far more than a pipe buffer: the write must not block rune.
    let blob = "x".repeat(512 * 1024);
    std::fs::write(&params, serde_json::json!({ "blob": blob }).to_string()).unwrap();
    let out = run_action("no-stdin")
        .args([
            "--output",
            "json",
            "--params-file",
            params.to_str().unwrap(),
        ])
        .deadline(Duration::from_secs(5))
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["output"]["read_stdin"], false);
}

#[test]
fn a_flood_of_stderr_keeps_the_tail_and_the_answer() {
    let out = run_action("stderr-flood").args(["--output", "json"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["output"]["flooded"], true);
    let stderr = doc["stderr"].as_str().unwrap();
    assert!(stderr.starts_with("[earlier stderr dropped] "));
    assert!(stderr.ends_with("last diagnostic line\n"));
    assert!(stderr.len() < 70 * 1024, "{}", stderr.len());
    // The readable view shows the last lines only.
    let human = run_action("stderr-flood").run();
    assert_eq!(human.code, 0);
    assert!(human.stderr.lines().count() < 30, "{}", human.stderr);
    assert!(human.stderr.contains("last diagnostic line"));
}

#[test]
fn a_grandchild_holding_stdout_neither_hangs_rune_nor_survives_it() {
    let pids = Pids::new();
    let out = run_action("grandchild")
        .args(["--output", "json"])
        .env("PIDFILE", pids.path())
        .deadline(Duration::from_secs(5))
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(pids.recorded().len(), 1);
    pids.assert_all_gone();
}

#[test]
fn retryable_failures_are_retried_with_backoff_and_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    std::fs::write(&journal, "{\"earlier\":\"run\"}\n").unwrap();
    let out = run_action("flaky")
        .args(["--output", "json", "--journal", journal.to_str().unwrap()])
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["attempts"], 3);
    assert_eq!(out.json()["output"]["attempt"], 3);
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["earlier"], "run", "the journal is appended to");
    let events: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "run_started",
            // The RCS request (tests/rcs.rs), then each attempt's BPCS messages.
            "message",
            "step_started",
            "message",
            "message",
            "retrying",
            "step_started",
            "message",
            "message",
            "retrying",
            "step_started",
            "message",
            "message",
            "step_finished",
            "run_finished"
        ]
    );
    let retries: Vec<(u64, u64)> = lines
        .iter()
        .filter(|l| l["event"] == "retrying")
        .map(|l| {
            (
                l["attempt"].as_u64().unwrap(),
                l["backoff_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(retries, [(1, 20), (2, 40)], "the backoff doubles");
    assert_eq!(lines[2]["protocol"], "rcs");
    let request = &lines[4]["message"];
    assert_eq!(lines[4]["direction"], "request");
    assert_eq!(request["message_metadata"]["version"], "1.0");
    assert_eq!(
        request["message_metadata"]["correlation_id"],
        "00000000-0000-4000-8000-000000000000"
    );
    assert_eq!(request["payload"]["context"]["attempt"], 1);
    // Each line matches the journal schema.
    let schema: Json = serde_json::from_str(&rune::exec::bpcs::journal_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for line in &lines[1..] {
        assert!(validator.is_valid(line), "{line:#}");
    }
}

#[test]
fn invalid_parameters_are_refused_before_anything_starts() {
    let pids = Pids::new();
    let out = run_action("ok")
        .args(["--param", "count=0", "--param", "nmae=x"])
        .env("PIDFILE", pids.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::plan::invalid_parameter"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `name`?"),
        "{}",
        out.stderr
    );
    assert!(out
        .stderr
        .contains("\nnot run: the parameters are invalid\n"));
    assert!(pids.recorded().is_empty(), "a plugin was started");
}

#[test]
fn a_policy_denial_is_exit_1_and_an_acknowledgment_lets_it_run() {
    let out = run_action("wipe").run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::plan::policy_denied"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("catalog.yaml:"),
        "located: {}",
        out.stderr
    );
    let acked = run_action("wipe")
        .args([
            "--ack",
            "wipe",
            "--reason",
            "disk full, paged",
            "--output",
            "json",
        ])
        .run();
    assert_eq!(acked.code, 0, "{}", acked.snapshot());
    assert_eq!(acked.json()["decision"]["rule"], "break_glass");
}

#[test]
fn a_node_no_inventory_names_is_a_usage_error() {
    let out = run_action("ok").args(["--node", "web-1"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("rune::inventory::unknown_node"));
    assert!(out.stderr.contains("no node `web-1` in the inventory"));
    assert!(out.stderr.contains("--inventory FILE"));
    for local in ["local", "localhost"] {
        assert_eq!(run_action("ok").args(["--node", local]).run().code, 0);
    }
}

#[test]
fn an_action_without_a_plugin_is_refused() {
    let out = run_action("internal").run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("has no plugin"));
    assert!(out.stderr.contains("rune apply --action internal"));
}

#[test]
fn an_unknown_action_is_a_usage_error_with_a_suggestion() {
    let out = run_action("crahs").run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune run names `crahs`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `crash`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_validates_and_decides_but_starts_nothing() {
    let pids = Pids::new();
    let out = run_action("ok")
        .args(["--dry-run", "--param", "name=x"])
        .env("PIDFILE", pids.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out
        .stdout
        .starts_with("dry run: `ok` (module faulty) would run on localhost"));
    assert!(pids.recorded().is_empty());
    let json = run_action("ok")
        .args(["--dry-run", "--output", "json"])
        .run();
    assert_eq!(json.json()["outcome"], "dry_run");
}

#[test]
fn ctrl_c_kills_the_plugin_group_and_exits_130() {
    let pids = Pids::new();
    let mut child = crate::support::rune(["run", "slow", "--catalog", CATALOG, "--output", "json"])
        .env("PIDFILE", pids.path())
        .spawn();
    // Wait until the plugin runs (it records its pid and its sleep's).
    child.wait_for("the plugin to start", || pids.recorded().len() >= 2);
    let started = Instant::now();
    child.signal(nix::sys::signal::Signal::SIGINT);
    let out = child.wait();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.code, 130, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["outcome"], "interrupted");
    assert_eq!(doc["eps"]["rune"]["kind"], "interrupted");
    pids.assert_all_gone();
}

#[test]
fn plugin_text_is_escaped_for_people() {
    let out = run_action("escape").run();
    assert_eq!(out.code, 4);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(!out.stderr.contains('\r'), "{:?}", out.stderr);
    assert!(out.stderr.contains("bad \\e[31mred\\e[0m"));
    assert!(out.stderr.contains("progress\\r\\e[2KFAKE: all good"));
}

/// Absolute paths of this checkout, as snapshots show them.
fn filtered(out: &Output) -> String {
    out.snapshot()
        .replace(&root().display().to_string(), "[ROOT]")
}

#[test]
fn snapshots_of_success_and_failure_human_and_json() {
    let cases: [(&str, &[&str]); 4] = [
        ("success_human", &["ok", "--param", "name=demo"]),
        // Indented (RUNE's `--output pretty`) so the snapshots read well.
        (
            "success_json",
            &["ok", "--param", "name=demo", "--output", "pretty"],
        ),
        ("failure_human", &["error-exit0"]),
        ("failure_json", &["hang", "--output", "pretty"]),
    ];
    for (name, args) in cases {
        let out = rune(["run", "--catalog", CATALOG, "--deterministic"])
            .args(args.iter().copied())
            .env("USER", "tester")
            .run();
        insta::assert_snapshot!(format!("run_{name}"), filtered(&out));
    }
}

#[test]
fn the_original_rune_bash_plugins_shape_is_read() {
    // The original library's failure: payload null, the exit code repeated in
    // error.code, non-zero exit (escape.sh writes exactly that shape).
    let error = fails_with("escape", "business_failure", -32500, Duration::from_secs(5));
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["data"]["plugin_error"]["code"],
        3
    );
}

#[test]
fn the_protocol_schema_files_are_generated_from_the_types() {
    let generated = [
        ("bpcs-request", rune::exec::bpcs::request_schema()),
        ("bpcs-response", rune::exec::bpcs::response_schema()),
        ("spi-request", rune::exec::bpcs::spi_request_schema()),
        ("spi-response", rune::exec::bpcs::spi_response_schema()),
        ("eps", rune::exec::bpcs::eps_schema()),
        ("journal", rune::exec::bpcs::journal_schema()),
    ];
    if std::env::var_os("RUNE_UPDATE_SCHEMAS").is_some() {
        for (name, text) in &generated {
            let path = root().join(format!("schemas/{name}.schema.json"));
            std::fs::write(&path, text).unwrap();
        }
    }
    for (name, text) in generated {
        let path = root().join(format!("schemas/{name}.schema.json"));
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert!(
            on_disk == text,
            "schemas/{name}.schema.json differs from its type; regenerate with \
             `RUNE_UPDATE_SCHEMAS=1 cargo test --test tests run::` and review the diff"
        );
        let out = rune(["schema", name]).run();
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout, text);
    }
}

#[test]
fn a_request_rune_writes_matches_the_request_schema() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let out = run_action("ok")
        .args(["--journal", journal.to_str().unwrap()])
        .run();
    assert_eq!(out.code, 0);
    let schema: Json = serde_json::from_str(&rune::exec::bpcs::request_schema()).unwrap();
    let response: Json = serde_json::from_str(&rune::exec::bpcs::response_schema()).unwrap();
    let requests = jsonschema::validator_for(&schema).unwrap();
    let responses = jsonschema::validator_for(&response).unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    let messages: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .filter(|l| l["event"] == "message" && l["protocol"] == "bpcs")
        .collect();
    assert_eq!(messages.len(), 2);
    assert!(requests.is_valid(&messages[0]["message"]));
    assert!(responses.is_valid(&messages[1]["message"]));
}
