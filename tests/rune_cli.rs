//! RUNE's documented command line, unchanged (`rune run ACTION --node localhost
//! --json`, `--output json|pretty`, `list-actions --output`), against a plugin
//! written the way RUNE's own are (tests/fixtures/rune_cli/: a sourced BPCS bash
//! library, easy and advanced modes, parameters read as text). The JSON result
//! keeps the plugin's BPCS answer where RUNE's quick start shows it (`payload`,
//! `error`), rune's own fields beside it.

use serde_json::{json, Value as Json};

use crate::support::{alive, rune, Output, Rune};

const CATALOG: &str = "tests/fixtures/rune_cli/catalog.yaml";

/// `rune run ARGS...` on the fixture catalog, deterministic, with a fixed user and
/// a file the plugin records its pid in.
struct Run {
    _dir: tempfile::TempDir,
    pids: std::path::PathBuf,
}

impl Run {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        Run { _dir: dir, pids }
    }

    fn rune(&self, args: &[&str]) -> Rune {
        rune(["run"].iter().chain(args).copied())
            .args(["--catalog", CATALOG, "--deterministic"])
            .env("USER", "tester")
            .env("PIDFILE", self.pids.to_str().unwrap())
    }

    /// Run it; every process the plugin started is gone once rune exits.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.rune(args).run();
        let recorded = std::fs::read_to_string(&self.pids).unwrap_or_default();
        for pid in recorded.split_whitespace() {
            assert!(
                !alive(pid.parse().unwrap()),
                "plugin {pid} is still running"
            );
        }
        out
    }
}

fn jq_missing() -> bool {
    if std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return false;
    }
    crate::support::skip("jq is not installed (the fixture plugin's library uses it)");
    true
}

#[test]
fn the_quick_start_command_runs_and_shows_the_bpcs_payload() {
    if jq_missing() {
        return;
    }
    let out = Run::new().run(&["noop", "--node", "localhost", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["payload"]["result"], "success", "{doc:#}");
    assert_eq!(doc["payload"]["output_data"]["action"], "noop");
    assert_eq!(
        doc["payload"]["output_data"]["context"]["node"],
        "localhost"
    );
    assert!(doc["error"].is_null(), "{doc:#}");
    // rune's own fields beside RUNE's.
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(doc["output"], doc["payload"]["output_data"]);
    assert!(doc["eps"].is_null());
    // `--output json` is the same document.
    let same = Run::new().run(&["noop", "--node", "localhost", "--output", "json"]);
    assert_eq!(same.json(), doc);
}

#[test]
fn a_failure_keeps_the_plugins_error_whole_and_the_eps_beside_it() {
    if jq_missing() {
        return;
    }
    let out = Run::new().run(&[
        "noop",
        "--node",
        "localhost",
        "--json",
        "--param",
        "fail=true",
    ]);
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert!(doc["payload"].is_null(), "{doc:#}");
    let error = &doc["error"];
    assert_eq!(error["code"], 3, "{doc:#}");
    assert_eq!(error["message"], "Forced failure");
    assert_eq!(error["details"]["reason"], "forced failure for testing");
    assert_eq!(
        error["details"]["input_parameters"],
        json!({"fail": "true"})
    );
    assert_eq!(
        error.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["code", "details", "message"],
        "the plugin's error, nothing added"
    );
    assert_eq!(doc["outcome"], "failed");
    assert!(doc["eps"].is_object(), "{doc:#}");
    assert_eq!(doc["plugin_response"]["error"], *error);
}

#[test]
fn a_failure_rune_judged_gets_an_eps_shaped_error() {
    if jq_missing() {
        return;
    }
    // An integer where the schema says boolean is refused before the plugin runs:
    // that is a parameter error (exit 1), not a run. A plugin that is missing is a
    // failure rune judged itself: `error` carries the EPS code and message.
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(
        &catalog,
        "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: m, module_class: T, module_type: plugin_host, module_version: 1.0.0, description: d }\n    capability_declaration:\n      actions:\n        - { action: gone, description: d, category: diagnostic, impact: low, exec: [\"./missing.sh\"] }\n",
    )
    .unwrap();
    let out = rune(["run", "gone", "--json", "--deterministic"])
        .arg_path("--catalog")
        .arg_path(&catalog)
        .run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert!(doc["payload"].is_null());
    assert!(doc["error"]["code"].is_i64(), "{doc:#}");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot start the plugin"));
    assert!(doc["error"]["details"].is_object());
    assert!(doc["plugin_response"].is_null());
}

#[test]
fn param_values_stay_text_unless_the_input_schema_types_them() {
    if jq_missing() {
        return;
    }
    let out = Run::new().run(&["noop", "--json", "--param", "fail=false", "--param", "n=3"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        out.json()["payload"]["output_data"]["input_parameters"],
        json!({"fail": "false", "n": "3"})
    );
    let typed = Run::new().run(&[
        "typed",
        "--json",
        "-p",
        "fail=false",
        "-p",
        "retries=3",
        "-p",
        "mode=1",
        "-p",
        "label=7",
    ]);
    assert_eq!(typed.code, 0, "{}", typed.snapshot());
    assert_eq!(
        typed.json()["payload"]["output_data"]["input_parameters"],
        json!({"fail": false, "retries": 3, "mode": "1", "label": "7"})
    );
}

#[test]
fn a_dry_run_answers_as_rune_does() {
    let out = Run::new().run(&[
        "noop",
        "--node",
        "localhost",
        "--json",
        "--dry-run",
        "-p",
        "mode=easy",
    ]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(
        doc["payload"],
        json!({
            "result": "dry_run",
            "output_data": {"action": "noop", "node": "localhost", "input_parameters": {"mode": "easy"}}
        })
    );
    assert!(doc["error"].is_null());
    assert_eq!(doc["outcome"], "dry_run");
    assert_eq!(doc["attempts"], 0);
}

#[test]
fn an_unknown_action_or_node_is_an_eps_error_in_json() {
    // RUNE's codes: module not found (-32100), routing failure (-32102).
    for (args, code, kind) in [
        (
            &["nosuch", "--node", "localhost", "--json"][..],
            -32100,
            "not_found",
        ),
        (
            &["noop", "--node", "n1", "--json"][..],
            -32102,
            "routing_failure",
        ),
    ] {
        let out = Run::new().run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.snapshot());
        let doc = out.json();
        assert!(doc["payload"].is_null(), "{doc:#}");
        assert_eq!(doc["error"]["code"], code, "{doc:#}");
        assert_eq!(doc["eps"]["rune"]["kind"], kind, "{doc:#}");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("nosuch") || message.contains("n1"),
            "{message}"
        );
        assert_eq!(doc["outcome"], "failed");
        assert_eq!(doc["action"], args[0]);
        assert_eq!(doc["node"], args[2]);
        assert!(doc["eps"].is_object(), "{doc:#}");
    }
    // Without --json they stay usage errors, for people, on stderr.
    let out = Run::new().run(&["noop", "--node", "n1"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("n1"), "{}", out.stderr);
}

#[test]
fn the_minimal_bpcs_message_is_a_success_even_on_several_lines() {
    if jq_missing() {
        return;
    }
    let out = Run::new().run(&["noop", "--json", "-p", "mode=minimal"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["payload"], json!({"result": "success"}), "{doc:#}");
    assert!(doc["error"].is_null());
    assert_eq!(doc["outcome"], "succeeded");
}

#[test]
fn the_plugins_metadata_and_observability_are_kept_in_report_and_journal() {
    if jq_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let out = Run::new()
        .rune(&["noop", "--json", "-p", "mode=advanced"])
        .arg_path("--journal")
        .arg_path(&journal)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let said = &doc["plugin_response"];
    assert_eq!(said["message_metadata"]["plugin"], "noop", "{doc:#}");
    assert_eq!(said["observability"]["spans"], 1);
    assert_eq!(said["observability"]["trace_id"], "plugin-trace");
    let lines = std::fs::read_to_string(&journal).unwrap();
    let response = lines
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .find(|e| e["event"] == "message" && e["direction"] == "response")
        .unwrap_or_else(|| panic!("no response in the journal:\n{lines}"));
    assert_eq!(response["message"], *said);
}

#[test]
fn output_json_is_one_line_pretty_is_indented_and_the_readable_view_is_runes_own() {
    if jq_missing() {
        return;
    }
    let json = Run::new().run(&["noop", "--output", "json"]);
    assert_eq!(json.code, 0, "{}", json.snapshot());
    assert_eq!(json.stdout.lines().count(), 1, "{}", json.stdout);
    let pretty = Run::new().run(&["noop", "--output", "pretty"]);
    assert_eq!(pretty.code, 0, "{}", pretty.snapshot());
    assert!(
        pretty
            .stdout
            .starts_with("{\n  \"format_version\": 2,\n  \"payload\""),
        "{}",
        pretty.stdout
    );
    assert_eq!(pretty.json(), json.json());
    for args in [&["noop"][..], &["noop", "--format", "human"][..]] {
        let human = Run::new().run(args);
        assert_eq!(human.code, 0, "{}", human.snapshot());
        assert!(
            human.stdout.starts_with("`noop` succeeded"),
            "{}",
            human.stdout
        );
    }
}

#[test]
fn list_actions_takes_runes_output_flag() {
    let json = rune(["list-actions", "--catalog", CATALOG, "--output", "json"]).run();
    assert_eq!(json.code, 0, "{}", json.snapshot());
    let doc = json.json();
    let names: Vec<&str> = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().or(a["name"].as_str()).unwrap())
        .collect();
    assert_eq!(names, ["noop", "typed"], "{doc:#}");
    assert_eq!(json.stdout.lines().count(), 1, "{}", json.stdout);
    let pretty = rune(["list-actions", "--catalog", CATALOG, "--output", "pretty"]).run();
    assert_eq!(pretty.code, 0, "{}", pretty.snapshot());
    assert!(pretty.stdout.lines().count() > 1);
    assert_eq!(pretty.json(), doc);
    // rune's readable list stays the default; `--format` and `--output` are one choice.
    let human = rune(["list-actions", "--catalog", CATALOG]).run();
    assert!(human.stdout.contains("noop") && !human.stdout.starts_with('{'));
    let both = rune([
        "list-actions",
        "--catalog",
        CATALOG,
        "--output",
        "json",
        "--format",
        "json",
    ])
    .run();
    assert_eq!(both.code, 2, "{}", both.snapshot());
}
