//! `rune plan --workflow` and `rune graph --workflow`: workflow plans in waves,
//! their inputs, references, conditions, compensations and policy decisions, and
//! every way a workflow request can be wrong.
//!
//! Plans are made of `catalogs/workflows.yaml` (the bundled examples) and of the
//! fixture `tests/fixtures/workflow_plan/catalogs`: a `rollout` workflow with a
//! `when`, `if: failure`, `if: always`, `continue_on_error`, two compensations,
//! step overrides, references into step outputs, an optional input and control
//! characters in catalog text. Every plan passes `--at` so output is
//! deterministic; digests are filtered where the bundled catalogs are planned, so
//! an edit elsewhere in them does not churn these snapshots.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{rune, Output};

const FIXTURE: &str = "tests/fixtures/workflow_plan/catalogs";
/// Friday 2026-03-27 11:00 in Berlin: inside `weekday-business`.
const BUSINESS_HOURS: &str = "2026-03-27T10:00:00Z";
/// Saturday 2026-03-28 12:00 UTC: outside every window.
const WEEKEND: &str = "2026-03-28T12:00:00Z";

fn plan(args: &[&str]) -> Output {
    rune(["plan", "--color", "never"]).args(args).run()
}

/// A plan of the fixture's `rollout` at business hours with the break-glass
/// acknowledgment its restart needs, plus `extra`.
fn rollout(extra: &[&str]) -> Output {
    let mut args = vec![
        FIXTURE,
        "--workflow",
        "rollout",
        "--at",
        BUSINESS_HOURS,
        "--ack",
        "restart-agent",
        "--reason",
        "agent upgrade",
    ];
    args.extend_from_slice(extra);
    plan(&args)
}

/// Hide digests: the hex after `sha256:` (human) or `sha256": "` (JSON, also
/// `catalog_sha256` and `policy_inputs_sha256`).
fn filtered(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("sha256") {
        let (head, tail) = rest.split_at(i + "sha256".len());
        out.push_str(head);
        let lead = [":", "\": \""]
            .into_iter()
            .find(|l| tail.starts_with(l))
            .unwrap_or("");
        let after = &tail[lead.len()..];
        let hex = after.chars().take_while(char::is_ascii_hexdigit).count();
        out.push_str(lead);
        if hex >= 12 {
            out.push_str("[digest]");
        }
        rest = &after[hex..];
    }
    out.push_str(rest);
    out
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert_eq!(out.code, 0, "{}", out.snapshot());
    out.json()
}

// --- the bundled example workflows ----------------------------------------------

#[test]
fn health_check_human() {
    let out = plan(&["--workflow", "health-check", "--at", BUSINESS_HOURS]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(filtered(&out.snapshot()));
}

#[test]
fn health_check_json() {
    let out = plan(&[
        "--workflow",
        "health-check",
        "--at",
        BUSINESS_HOURS,
        "--format",
        "json",
    ]);
    let doc = stdout_json(&out);
    assert_eq!(doc["request"]["workflow"], "health-check");
    assert_eq!(doc["workflow"]["waves"].as_array().unwrap().len(), 2);
    insta::assert_snapshot!(filtered(&out.stdout));
}

#[test]
fn free_disk_space_human_and_json() {
    let args = [
        "--workflow",
        "free-disk-space",
        "--input",
        "path=..",
        "--input",
        "max_used_percent=90",
        "--ack",
        "purge-archives",
        "--reason",
        "disk full",
        "--at",
        BUSINESS_HOURS,
    ];
    let human = plan(&args);
    assert_eq!(human.code, 0, "{}", human.snapshot());
    insta::assert_snapshot!("free_disk_space_human", filtered(&human.snapshot()));
    let json = plan(&[&args[..], &["--format", "json"]].concat());
    let doc = stdout_json(&json);
    // Inputs are typed by the schema: the percentage is a number, the path text.
    assert_eq!(doc["workflow"]["inputs"]["max_used_percent"], 90);
    assert_eq!(doc["workflow"]["inputs"]["path"], "..");
    insta::assert_snapshot!("free_disk_space_json", filtered(&json.stdout));
}

#[test]
fn free_disk_space_purge_is_denied_without_break_glass() {
    let out = plan(&[
        "--workflow",
        "free-disk-space",
        "--input",
        "path=..",
        "--input",
        "max_used_percent=90",
        "--at",
        BUSINESS_HOURS,
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(
            "workflow `free-disk-space` step `purge`: `purge-archives` denied by break_glass"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("1 step denied by policy"),
        "{}",
        out.stdout
    );
}

// --- the fixture workflow ---------------------------------------------------------

#[test]
fn rollout_human() {
    let out = rollout(&["--input", "node=worker-1", "--input", "deadline_s=30"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn rollout_json() {
    let out = rollout(&["--input", "node=worker-1", "--format", "json"]);
    let doc = stdout_json(&out);
    insta::assert_snapshot!(out.stdout);

    // Step numbers: startup, then the steps in wave order, then compensations in
    // the steps' order, then shutdown.
    let actions = doc["actions"].as_array().unwrap();
    let ids: Vec<u64> = actions.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (7..=12).collect::<Vec<_>>());
    let steps: Vec<&str> = actions
        .iter()
        .map(|a| a["workflow"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["status", "drain", "restart", "verify", "alert", "report"]
    );
    let drain = &actions[1];
    assert_eq!(drain["workflow"]["compensate"]["id"], 13);
    assert_eq!(drain["workflow"]["compensate"]["after_step"], 8);
    assert_eq!(actions[2]["workflow"]["compensate"]["id"], 14);
    assert_eq!(doc["shutdown"][1]["modules"][0]["steps"][0]["id"], 15);
    // The optional input not given leaves its parameter out.
    assert_eq!(drain["params"], serde_json::json!({"node": "worker-1"}));
    // References stay, sorted by pointer, with null in their place.
    assert_eq!(
        actions[2]["references"],
        serde_json::json!([{"pointer": "/meta/previous", "from": "steps.status.output.version"}])
    );
    assert_eq!(
        actions[2]["params"]["meta"]["previous"],
        serde_json::Value::Null
    );
    // Only the modules the steps need start: `billing` does not.
    let modules: Vec<&str> = doc["startup"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["modules"].as_array().unwrap())
        .map(|m| m["module"].as_str().unwrap())
        .collect();
    assert_eq!(modules, ["lom", "agent-host", "node-ops"]);
    assert_eq!(doc["summary"]["actions"], 8);
    assert_eq!(doc["summary"]["steps"], 18);
    // Nothing a non-workflow plan has changes shape: the request names no action.
    assert_eq!(doc["request"]["action"], serde_json::Value::Null);
    assert_eq!(doc["request"]["targets"], serde_json::json!([]));
}

#[test]
fn a_workflow_plan_is_byte_identical_across_runs() {
    let args = ["--input", "node=worker-1", "--format", "json"];
    let first = rollout(&args);
    let second = rollout(&args);
    assert_eq!(first.code, 0, "{}", first.snapshot());
    assert_eq!(first.stdout, second.stdout);
    let human = rollout(&["--input", "node=worker-1"]);
    assert_eq!(human.stdout, rollout(&["--input", "node=worker-1"]).stdout);
}

#[test]
fn the_policy_inputs_digest_covers_the_inputs() {
    let digest = |node: &str| {
        let out = rollout(&["--input", &format!("node={node}"), "--format", "json"]);
        stdout_json(&out)["inputs"]["policy_inputs_sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(digest("worker-1"), digest("worker-1"));
    assert_ne!(digest("worker-1"), digest("worker-2"));
}

#[test]
fn the_same_inputs_from_a_file_and_the_command_line_plan_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.yaml");
    std::fs::write(&file, "node: worker-1\ndeadline_s: 30\n").unwrap();
    let from_file = rollout(&["--inputs-file", file.to_str().unwrap(), "--format", "json"]);
    let from_flags = rollout(&[
        "--input",
        "node=worker-1",
        "--input",
        "deadline_s=30",
        "--format",
        "json",
    ]);
    assert_eq!(from_file.code, 0, "{}", from_file.snapshot());
    assert_eq!(from_file.stdout, from_flags.stdout);
    // `--input` wins over the file.
    let both = rollout(&[
        "--inputs-file",
        file.to_str().unwrap(),
        "--input",
        "node=worker-2",
        "--format",
        "json",
    ]);
    assert_eq!(stdout_json(&both)["workflow"]["inputs"]["node"], "worker-2");
}

#[test]
fn saved_with_out_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("rollout.json");
    let saved = rollout(&[
        "--input",
        "node=worker-1",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(saved.code, 0, "{}", saved.snapshot());
    assert!(saved.stderr.contains("plan written to"), "{}", saved.stderr);
    let printed = stdout_json(&rollout(&["--input", "node=worker-1", "--format", "json"]));
    let text = std::fs::read_to_string(&out_file).unwrap();
    let mut written: serde_json::Value = serde_json::from_str(&text).unwrap();
    // The saved plan finds its catalogs from where it lies; everything else is
    // the plan printed.
    assert_ne!(
        written["inputs"]["catalog_root"],
        printed["inputs"]["catalog_root"]
    );
    written["inputs"]["catalog_root"] = printed["inputs"]["catalog_root"].clone();
    assert_eq!(written, printed);
    // It is a plan document rune reads: the plan schema accepts it.
    let schema = rune(["schema", "plan"]).run().stdout;
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&written)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn out_dash_puts_the_document_on_stdout_and_the_view_on_stderr() {
    let out = rollout(&["--input", "node=worker-1", "--out", "-"]);
    let doc = stdout_json(&out);
    assert_eq!(doc["workflow"]["name"], "rollout");
    assert!(
        out.stderr.contains("workflow steps: 6 in 5 waves"),
        "{}",
        out.stderr
    );
}

#[test]
fn out_refuses_to_overwrite_the_inputs_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.json");
    std::fs::write(&file, r#"{"node": "worker-1"}"#).unwrap();
    let path = file.to_str().unwrap();
    let out = rollout(&["--inputs-file", path, "--out", path]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("it is the --inputs-file this plan"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        r#"{"node": "worker-1"}"#
    );
}

// --- policy ------------------------------------------------------------------------

#[test]
fn break_glass_without_ack_denies_the_step_and_its_compensation() {
    let out = plan(&[
        FIXTURE,
        "--workflow",
        "rollout",
        "--input",
        "node=worker-1",
        "--at",
        BUSINESS_HOURS,
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.stderr);
    assert!(
        out.stdout.contains("2 steps denied by policy"),
        "{}",
        out.stdout
    );
}

#[test]
fn break_glass_with_ack_but_no_reason_is_still_denied() {
    let out = plan(&[
        FIXTURE,
        "--workflow",
        "rollout",
        "--input",
        "node=worker-1",
        "--at",
        BUSINESS_HOURS,
        "--ack",
        "restart-agent",
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("workflow `rollout` step `restart`: `restart-agent` denied by break_glass"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_change_window_denies_the_remediation_steps() {
    let out = rollout(&["--input", "node=worker-1"]);
    assert_eq!(out.code, 0);
    let out = plan(&[
        FIXTURE,
        "--workflow",
        "rollout",
        "--input",
        "node=worker-1",
        "--at",
        WEEKEND,
        "--ack",
        "restart-agent",
        "--reason",
        "agent upgrade",
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    for step in [
        "step `drain`",
        "step `restart`",
        "compensation of step `restart`",
    ] {
        assert!(
            out.stderr.contains(&format!("workflow `rollout` {step}:")),
            "{step}: {}",
            out.stderr
        );
    }
    // The undrain (low impact) is not governed by the window.
    assert!(
        !out.stderr.contains("compensation of step `drain`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("3 steps denied by policy"),
        "{}",
        out.stdout
    );
}

#[test]
fn maintenance_mode_denies_remediation_steps_and_lets_diagnostics_run() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["modules.yaml", "workflows.yaml", "policy.yaml"] {
        let text = std::fs::read_to_string(Path::new(FIXTURE).join(file)).unwrap();
        let text = text.replace(
            "maintenance_mode: { enabled: false",
            "maintenance_mode: { enabled: true",
        );
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let args = |workflow: &str| {
        vec![
            dir.path().to_str().unwrap().to_string(),
            "--workflow".to_string(),
            workflow.to_string(),
            "--at".to_string(),
            BUSINESS_HOURS.to_string(),
        ]
    };
    let mut denied = args("rollout");
    denied.extend(["--input".to_string(), "node=worker-1".to_string()]);
    let out = rune(["plan", "--color", "never"]).args(&denied).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("workflow `rollout` step `drain`: `drain-node` denied by maintenance_mode"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "workflow `rollout` compensation of step `drain`: `undrain-node` denied by maintenance_mode"
        ),
        "{}",
        out.stderr
    );
    // A workflow of diagnostics only still plans.
    let out = rune(["plan", "--color", "never"]).args(args("check")).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains("ALLOWED by maintenance_mode"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_denied_plan_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("plan.json");
    let out = plan(&[
        FIXTURE,
        "--workflow",
        "rollout",
        "--input",
        "node=worker-1",
        "--at",
        BUSINESS_HOURS,
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(!out_file.exists());
    assert!(out.stderr.contains("not written to"), "{}", out.stderr);
}

#[test]
fn an_ack_must_name_an_action_of_the_workflow() {
    let out = rollout(&["--input", "node=worker-1", "--ack", "restart-agnt"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.stderr);
}

// --- bad requests ----------------------------------------------------------------

#[test]
fn an_unknown_workflow_is_a_usage_error_with_a_suggestion() {
    let out = plan(&[FIXTURE, "--workflow", "rolout", "--at", BUSINESS_HOURS]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    let out = rune(["graph", "--color", "never", FIXTURE, "--workflow", "rolout"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("did you mean `rollout`?"),
        "{}",
        out.stderr
    );
    let json = plan(&[FIXTURE, "--workflow", "zzz", "--format", "json"]);
    assert_eq!(json.code, 2);
    assert_eq!(
        json.json()["diagnostics"][0]["code"],
        "rune::plan::unknown_workflow"
    );
}

#[test]
fn workflow_flags_that_conflict_are_usage_errors() {
    let out = plan(&[
        FIXTURE,
        "--workflow",
        "rollout",
        "--action",
        "notify",
        "--param",
        "message=x",
        "--params-file",
        "p.yaml",
        "--target",
        "lom",
    ]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn inputs_without_a_workflow_are_usage_errors() {
    let out = plan(&[FIXTURE, "--input", "node=x", "--inputs-file", "i.yaml"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn a_malformed_input_is_a_usage_error() {
    let out = rollout(&["--input", "node"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("invalid --input `node`: expected KEY=VALUE"),
        "{}",
        out.stderr
    );
    let out = rollout(&["--input", "node=a", "--input", "node=b"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("--input `node` is given more than once"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_required_input_is_located_at_the_schema() {
    let out = rollout(&[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn bad_inputs_are_each_located() {
    let out = rollout(&[
        "--input",
        "node=",
        "--input",
        "deadline_s=-1",
        "--input",
        "versoin=2",
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn a_bad_input_from_a_file_is_labelled_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.yaml");
    std::fs::write(&file, "node: worker-1\ndeadline_s: soon\n").unwrap();
    let out = rollout(&["--inputs-file", file.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let stderr = out.stderr.replace(dir.path().to_str().unwrap(), "[dir]");
    insta::assert_snapshot!(stderr);
}

#[test]
fn an_unreadable_inputs_file_is_a_usage_error() {
    let out = rollout(&["--inputs-file", "no/such/inputs.yaml"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("cannot read --inputs-file `no/such/inputs.yaml`: no such file"),
        "{}",
        out.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.yaml");
    std::fs::write(&file, "- a list\n").unwrap();
    let out = rollout(&["--inputs-file", file.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("does not hold a mapping"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("an inputs file holds a mapping of input names"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_workflow_without_an_inputs_schema_takes_no_inputs() {
    let out = plan(&[
        FIXTURE,
        "--workflow",
        "check",
        "--input",
        "node=worker-1",
        "--at",
        BUSINESS_HOURS,
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn a_literal_step_parameter_the_schema_rejects_fails_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["modules.yaml", "policy.yaml"] {
        std::fs::copy(Path::new(FIXTURE).join(file), dir.path().join(file)).unwrap();
    }
    // `validate` checks literals, and the types of references where both schemas
    // say them; an input whose schema says nothing can only be judged per run,
    // here: a word going where an integer goes.
    std::fs::write(
        dir.path().join("workflows.yaml"),
        r#"catalog_version: "1"
workflows:
  drain:
    inputs: { type: object, properties: { deadline: { description: seconds, or a word } } }
    steps:
      - id: drain
        action: drain-node
        params: { node: w1, deadline_s: { $from: inputs.deadline } }
"#,
    )
    .unwrap();
    let out = rune(["plan", "--color", "never"])
        .arg_path(dir.path())
        .args([
            "--workflow",
            "drain",
            "--input",
            "deadline=soon",
            "--at",
            BUSINESS_HOURS,
        ])
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let stderr = out.stderr.replace(dir.path().to_str().unwrap(), "[dir]");
    insta::assert_snapshot!(stderr);
}

// --- graphs ------------------------------------------------------------------------

#[test]
fn rollout_graph_in_every_format() {
    for format in ["text", "dot", "mermaid", "json"] {
        let out = rune([
            "graph",
            "--color",
            "never",
            FIXTURE,
            "--workflow",
            "rollout",
            "--format",
            format,
        ])
        .run();
        assert_eq!(out.code, 0, "{format}: {}", out.snapshot());
        insta::assert_snapshot!(format!("rollout_graph_{format}"), out.stdout);
    }
    // The default format is dot, as for the module graph.
    let default = rune(["graph", FIXTURE, "--workflow", "rollout"]).run();
    assert!(
        default.stdout.starts_with("digraph \"rollout\" {"),
        "{}",
        default.stdout
    );
}

#[test]
fn example_workflow_graphs() {
    for workflow in ["health-check", "free-disk-space"] {
        let out = rune(["graph", "--workflow", workflow, "--format", "mermaid"]).run();
        assert_eq!(out.code, 0, "{}", out.snapshot());
        insta::assert_snapshot!(format!("example_graph_{workflow}"), out.stdout);
    }
}

#[test]
fn hostile_step_ids_cannot_break_out_of_dot_or_mermaid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(FIXTURE).join("modules.yaml"),
        dir.path().join("modules.yaml"),
    )
    .unwrap();
    // Names allow letters, digits, `-`, `_` and `.`; the description and `when`
    // value are free text.
    std::fs::write(
        dir.path().join("workflows.yaml"),
        "catalog_version: \"1\"\nworkflows:\n  w:\n    steps:\n      - id: a\n        action: agent-status\n        params: { node: x }\n      - id: b\n        action: notify\n        needs: [a]\n        when: { from: steps.a.output.version, equals: \"x\\\"]; evil -> y; <b>\\e\" }\n        params: { message: m }\n",
    )
    .unwrap();
    let graph = |format: &str| {
        rune(["graph", "--workflow", "w", "--format", format])
            .arg_path(dir.path())
            .run()
    };
    let dot = graph("dot");
    assert_eq!(dot.code, 0, "{}", dot.snapshot());
    assert!(!dot.stdout.contains('\u{1b}'), "{}", dot.stdout);
    // The value's quote, bracket and arrow stay inside the label string.
    assert!(
        dot.stdout.contains(
            r#"  "b" [label="b\nnotify\n[when steps.a.output.version equals \"x\\\"]; evil -> y; <b>\\u001b\"]"];"#
        ),
        "{}",
        dot.stdout
    );
    let mermaid = graph("mermaid");
    assert!(!mermaid.stdout.contains("<b>"), "{}", mermaid.stdout);
    assert!(!mermaid.stdout.contains('\u{1b}'), "{}", mermaid.stdout);
    let text = graph("text");
    assert!(!text.stdout.contains('\u{1b}'), "{}", text.stdout);
}

#[test]
fn module_graph_as_text() {
    let out = rune(["graph", "--color", "never", FIXTURE, "--format", "text"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.stdout);
}

// --- scale -------------------------------------------------------------------------

/// A workflow of `layers` layers of `width` steps, each step after the first
/// layer needing 1-3 steps of the layer before (a fixed pseudo-random choice).
fn layered_workflow(layers: usize, width: usize) -> String {
    let mut text = String::from(
        "catalog_version: \"1\"\nworkflows:\n  big:\n    description: layered\n    steps:\n",
    );
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for layer in 0..layers {
        for i in 0..width {
            let _ = write!(
                text,
                "      - id: s{layer}-{i}\n        action: notify\n        params: {{ message: \"{layer}/{i}\" }}\n"
            );
            if layer > 0 {
                let count = 1 + next(3);
                let mut needs: Vec<usize> = (0..count).map(|_| next(width)).collect();
                needs.sort_unstable();
                needs.dedup();
                let names: Vec<String> = needs
                    .iter()
                    .map(|j| format!("s{}-{j}", layer - 1))
                    .collect();
                let _ = writeln!(text, "        needs: [{}]", names.join(", "));
            }
        }
    }
    text
}

#[test]
fn a_thousand_step_workflow_plans_in_ten_waves() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["modules.yaml", "policy.yaml"] {
        std::fs::copy(Path::new(FIXTURE).join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(dir.path().join("workflows.yaml"), layered_workflow(10, 100)).unwrap();
    let out = rune([
        "plan",
        "--workflow",
        "big",
        "--format",
        "json",
        "--at",
        BUSINESS_HOURS,
    ])
    .arg_path(dir.path())
    .run();
    let doc = stdout_json(&out);
    let waves = doc["workflow"]["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 10);
    assert!(waves
        .iter()
        .all(|w| w["steps"].as_array().unwrap().len() == 100));
    let actions = doc["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1000);
    let id_of: std::collections::HashMap<&str, (u64, u64)> = actions
        .iter()
        .map(|a| {
            (
                a["workflow"]["step"].as_str().unwrap(),
                (
                    a["id"].as_u64().unwrap(),
                    a["workflow"]["wave"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    for a in actions {
        let (id, wave) = id_of[a["workflow"]["step"].as_str().unwrap()];
        for need in a["workflow"]["needs"].as_array().unwrap() {
            let (need_id, need_wave) = id_of[need.as_str().unwrap()];
            assert!(need_id < id && need_wave < wave);
        }
    }
}

// --- properties --------------------------------------------------------------------

mod properties {
    //! Random step DAGs planned through the library: step `i` may need only
    //! steps with a lower index, and steps are declared in a shuffled order, so
    //! needs point forwards and backwards in the file.

    use proptest::prelude::*;
    use rune::graph::DependencyGraph;
    use rune::plan::workflow::{plan_workflow, WorkflowRequest};
    use rune::registry::{Action, Category, Impact, Registry, Step, StepIf, Workflow};
    use rune::source::{FileId, Span, Spanned};

    use crate::support::plan_request;

    fn dag() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>)> {
        (1usize..60).prop_flat_map(|n| {
            let order = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
            let needs =
                prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), n)
                    .prop_map(|raw| {
                        raw.into_iter()
                            .enumerate()
                            .map(|(i, picks)| {
                                let mut needs: Vec<usize> = match i {
                                    0 => Vec::new(),
                                    _ => picks.iter().map(|p| p.index(i)).collect(),
                                };
                                needs.sort_unstable();
                                needs.dedup();
                                needs
                            })
                            .collect()
                    });
            (order, needs)
        })
    }

    fn registry(order: &[usize], needs: &[Vec<usize>]) -> Registry {
        let span = Span::new(FileId(0), 0, 0);
        let spanned = |s: String| Spanned::new(s, span);
        let mut registry = Registry::from_dependency_lists([("host", Vec::<(String, _)>::new())]);
        registry.modules[0].actions.push(Action {
            name: spanned("noop".to_string()),
            description: String::new(),
            category: Category::Diagnostic,
            impact: Impact::Low,
            input_schema: None,
            output_schema: None,
            exec: vec!["true".to_string()],
            env: Default::default(),
            leaves_daemon: false,
            ship: Vec::new(),
            remote_exec: Vec::new(),
            settings: Default::default(),
        });
        registry.workflows.push(Workflow {
            name: spanned("w".to_string()),
            description: String::new(),
            inputs: None,
            steps: order
                .iter()
                .map(|&i| Step {
                    id: spanned(format!("s{i}")),
                    action: spanned("noop".to_string()),
                    params: None,
                    needs: needs[i].iter().map(|j| spanned(format!("s{j}"))).collect(),
                    when: None,
                    settings: Default::default(),
                    node: None,
                    node_from: None,
                    nodes: None,
                    nodes_from: None,
                    forks: None,
                    condition: StepIf::Success,
                    continue_on_error: false,
                    compensate: None,
                })
                .collect(),
            forks: None,
        });
        registry
    }

    proptest! {
        #[test]
        fn a_step_comes_after_every_step_it_needs((order, needs) in dag()) {
            let registry = registry(&order, &needs);
            let graph = DependencyGraph::build(&registry);
            let ask = WorkflowRequest { name: "w".to_string(), inputs: Default::default() };
            let plan = plan_workflow(&registry, &graph, plan_request(&[]), ask)
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let workflow = &registry.workflows[0];
            prop_assert_eq!(plan.actions.len(), order.len());
            // Position in `actions` is the step number, less the startup steps.
            let mut at = std::collections::HashMap::new();
            for (position, step) in plan.actions.iter().enumerate() {
                let place = step.place.as_ref().expect("a workflow step");
                at.insert(workflow.steps[place.step].id.value.as_str(), (position, place.wave));
            }
            for (position, step) in plan.actions.iter().enumerate() {
                let place = step.place.as_ref().expect("a workflow step");
                let declared = &workflow.steps[place.step];
                let expected = declared
                    .needs
                    .iter()
                    .map(|n| at[n.value.as_str()].1)
                    .max()
                    .map_or(1, |w| w + 1);
                prop_assert_eq!(place.wave, expected);
                for need in &declared.needs {
                    let (need_position, need_wave) = at[need.value.as_str()];
                    prop_assert!(need_wave < place.wave);
                    prop_assert!(need_position < position);
                }
            }
            // Within a wave, declaration order.
            let waves = &plan.workflow.as_ref().expect("a workflow plan").waves;
            for wave in waves {
                prop_assert!(wave.windows(2).all(|p| p[0] < p[1]));
            }
        }
    }
}

#[test]
fn a_step_on_a_node_no_inventory_names_is_refused() {
    let out = plan(&[FIXTURE, "--workflow", "remote", "--at", BUSINESS_HOURS]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(
            "workflow `remote` step `there` runs on node `worker-3`: no node `worker-3` in the inventory"
        ),
        "{}",
        out.stderr
    );
    // `localhost` is this machine: the step `here` is not reported.
    assert!(!out.stderr.contains("step `here`"), "{}", out.stderr);
}
