//! Workflow steps across nodes, against a real sshd (tests/support/sshd.rs): a
//! step that fans out over a node selector, one result per node read by a later
//! step, a failing node that fails the step and has the others compensated on
//! their own nodes, a remote step's compensation on its node, the plan and the
//! report by node, and the catalog and selector errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::sshd::Sshd;
use crate::support::{rune, Output};

const CATALOG: &str = "tests/fixtures/remote_workflows/catalog.yaml";

/// An inventory of the test sshd's aliases `n1..nK`, each labelled
/// `tier=front`, with a group `webs` of them all.
fn inventory(sshd: &Sshd) -> PathBuf {
    let config = sshd.ssh_config();
    let mut text = String::from("nodes:\n");
    let mut names = Vec::new();
    for k in 1..=sshd.aliases {
        text.push_str(&format!(
            "  n{k}:\n    host: n{k}\n    ssh_config: {}\n    labels: {{ tier: front }}\n",
            config.display()
        ));
        names.push(format!("n{k}"));
    }
    text.push_str(&format!("groups:\n  webs: [{}]\n", names.join(", ")));
    let path = sshd.dir().join("fanout-inventory.yaml");
    std::fs::write(&path, text).expect("write inventory");
    path
}

/// `rune apply --workflow NAME --deterministic` against the fixture catalog and
/// the test sshd, with a journal; `dir` is where the plugins write their marks.
fn apply(sshd: &Sshd, workflow: &str, dir: &Path, extra: &[&str]) -> (Output, Vec<Value>) {
    let journal = sshd.dir().join(format!("{workflow}-journal.jsonl"));
    let _ = std::fs::remove_file(&journal);
    let out = rune(["apply", "--catalog", CATALOG, "--workflow", workflow])
        .args(["--deterministic", "--inventory"])
        .arg_path(inventory(sshd))
        .args(["--input", &format!("dir={}", dir.display())])
        .args(extra)
        .args(["--journal"])
        .arg_path(&journal)
        .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
        .deadline(Duration::from_secs(90))
        .run();
    let events = std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a journal line is JSON"))
        .collect();
    (out, events)
}

/// The node each `node_assigned` event of the journal names, by step id.
fn assigned(events: &[Value]) -> Vec<(u64, String)> {
    let mut found: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e["event"] == "node_assigned")
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["node"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// What the plugins wrote in `dir`: `(file name, content)`, sorted.
fn marks(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("read the marks directory")
        .map(|e| {
            let e = e.unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                text.trim().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The report's step rows with a workflow id: `(id, node, status, outcome, compensation)`.
fn rows(report: &Value) -> Vec<(String, String, String, String, bool)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("workflow").is_some())
        .map(|s| {
            (
                s["workflow"]["id"].as_str().unwrap().to_string(),
                s["node"].as_str().unwrap_or("-").to_string(),
                s["status"].as_str().unwrap().to_string(),
                s["workflow"]["outcome"].as_str().unwrap_or("-").to_string(),
                s["workflow"]["compensation"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[test]
fn a_fan_out_step_runs_once_on_each_node_and_a_later_step_reads_one_nodes_result() {
    let Some(sshd) = Sshd::start(3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (out, events) = apply(&sshd, "spread", dir.path(), &["--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    // Each node ran the plugin, which wrote the node its request named.
    assert_eq!(
        marks(dir.path()),
        pairs(&[("mark-n1", "n1"), ("mark-n2", "n2"), ("mark-n3", "n3")])
    );
    let report = out
        .stdout
        .lines()
        .last()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .unwrap();
    assert_eq!(report["status"], "succeeded", "{report:#}");
    let ok = |node: &str| {
        (
            "mark".to_string(),
            node.to_string(),
            "succeeded".to_string(),
            "succeeded".to_string(),
            false,
        )
    };
    let mut got = rows(&report);
    got.retain(|r| r.0 == "mark" && !r.4);
    assert_eq!(got, vec![ok("n1"), ok("n2"), ok("n3")]);
    // The later step (here, on this machine) read one node's result, and the
    // whole map by node.
    let read = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workflow"]["id"] == "read")
        .unwrap();
    assert_eq!(read["output"]["second"], "n3", "{read:#}");
    assert_eq!(read["output"]["free"], 2);
    let all = read["output"]["all"].as_object().unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["n1", "n2", "n3"]);
    assert_eq!(all["n2"]["node"], "n2");
    assert!(read.get("node").is_none(), "{read:#}");
    // The journal names the node of each run, each its own step.
    assert_eq!(
        assigned(&events),
        [(1, "n1".into()), (2, "n2".into()), (3, "n3".into())]
    );
    for event in events.iter().filter(|e| e["event"] == "workflow_step") {
        let step = event["step"].as_u64().unwrap();
        if step <= 3 {
            assert_eq!(event["node"], format!("n{step}"), "{event}");
        }
    }
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn one_node_failing_fails_the_step_and_compensates_the_others_on_their_nodes() {
    let Some(sshd) = Sshd::start(3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (out, events) = apply(
        &sshd,
        "spread",
        dir.path(),
        &["--input", "fail_on=n2", "--format", "json"],
    );
    assert_eq!(out.code, 4, "{}\n{}", out.snapshot(), sshd.log());
    // n2 refused; n1 and n3 were marked, then undone, each on its own node
    // (the compensation wrote the node its own request named, and read that
    // node's own output as `steps.mark.output`).
    assert_eq!(
        marks(dir.path()),
        pairs(&[
            ("mark-n1", "n1"),
            ("mark-n3", "n3"),
            ("undo-n1", "n1"),
            ("undo-n3", "n3"),
        ])
    );
    let report = out
        .stdout
        .lines()
        .last()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .unwrap();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["workflow"]["stopped_by"], "mark");
    let row = |id: &str, node: &str, status: &str, outcome: &str, comp: bool| {
        (
            id.to_string(),
            node.to_string(),
            status.to_string(),
            outcome.to_string(),
            comp,
        )
    };
    assert_eq!(
        rows(&report),
        vec![
            row("mark", "n1", "succeeded", "compensated", false),
            row("mark", "n2", "failed", "failed", false),
            row("mark", "n3", "succeeded", "compensated", false),
            row("read", "-", "skipped", "skipped", false),
            row("mark", "n1", "succeeded", "-", true),
            row("mark", "n2", "skipped", "-", true),
            row("mark", "n3", "succeeded", "-", true),
        ]
    );
    // Steps 5..7 are the compensation's runs: the journal places each one that
    // ran on its node.
    assert_eq!(
        assigned(&events),
        [
            (1, "n1".into()),
            (2, "n2".into()),
            (3, "n3".into()),
            (5, "n1".into()),
            (7, "n3".into()),
        ]
    );
    let undo_params: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["event"] == "message" && e["protocol"] == "bpcs" && e["direction"] == "request"
        })
        .filter(|e| [5, 7].contains(&e["step"].as_u64().unwrap()))
        .collect();
    assert_eq!(undo_params.len(), 2, "{events:#?}");
    for request in undo_params {
        let marked = &request["message"]["payload"]["input_parameters"]["marked"];
        let node = &request["message"]["payload"]["context"]["node"];
        assert_eq!(marked, node, "{request:#}");
    }
    sshd.assert_node_clean(Duration::from_secs(10));

    // The readable report groups the steps by node.
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = apply(&sshd, "spread", dir.path(), &["--input", "fail_on=n2"]);
    assert_eq!(out.code, 4, "{}", out.snapshot());
    insta::assert_snapshot!("fan_out_failure_report", out.stdout);
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn a_remote_steps_compensation_runs_on_its_node() {
    let Some(sshd) = Sshd::start(2) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (out, events) = apply(&sshd, "single", dir.path(), &["--format", "json"]);
    assert_eq!(out.code, 4, "{}\n{}", out.snapshot(), sshd.log());
    // The step ran on n2 and was undone there; the failing step ran here.
    assert_eq!(
        marks(dir.path()),
        pairs(&[("mark-n2", "n2"), ("undo-n2", "n2")])
    );
    let report = out
        .stdout
        .lines()
        .last()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .unwrap();
    let undo = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workflow"]["compensation"] == true)
        .unwrap();
    assert_eq!(undo["status"], "succeeded", "{undo:#}");
    assert_eq!(undo["node"], "n2");
    let undo_id = undo["step"].as_u64().unwrap();
    assert_eq!(
        assigned(&events),
        [(1, "n2".into()), (undo_id, "n2".into())]
    );
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn the_plan_shows_the_selector_and_the_nodes_it_resolves_to() {
    let Some(sshd) = Sshd::start(3) else { return };
    let inventory = inventory(&sshd);
    let plan = |extra: &[&str]| {
        rune(["plan", "--catalog", CATALOG, "--workflow", "spread"])
            .args([
                "--at",
                "2026-01-05T10:00:00Z",
                "--input",
                "dir=/tmp/marks",
                "--inventory",
            ])
            .arg_path(&inventory)
            .args(extra)
            .run()
    };
    let out = plan(&[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let text = &out.stdout;
    for line in [
        "    #1 mark: mark on fleet@1.0.0 (remediation, low impact)\n",
        "        nodes     tier=front: 3 nodes over ssh, at most 2 at once\n",
        "                  #1 n1, #2 n2, #3 n3\n",
        "          runs on each node that succeeded: #5 n1, #6 n2, #7 n3\n",
        "    #4 read: echo on fleet@1.0.0 (diagnostic, low impact)\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // The document records the selector, the nodes with their step ids, and
    // (saved) the inventory's digest.
    let saved = sshd.dir().join("fanout-plan.json");
    let out = plan(&["--out", saved.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let fanout = &doc["actions"][0]["workflow"]["fanout"];
    assert_eq!(
        fanout,
        &serde_json::json!({
            "selector": "tier=front",
            "forks": 2,
            "nodes": [
                { "node": "n1", "step": 1, "compensate": 5 },
                { "node": "n2", "step": 2, "compensate": 6 },
                { "node": "n3", "step": 3, "compensate": 7 },
            ]
        })
    );
    assert_eq!(doc["summary"]["steps"], 7);
    assert_eq!(
        doc["inputs"]["inventory_sha256"].as_str().unwrap().len(),
        64
    );
    // A selector from a run input, and the step's own forks.
    let out = rune(["plan", "--catalog", CATALOG, "--workflow", "chosen"])
        .args([
            "--input",
            "dir=/tmp/marks",
            "--input",
            "selector=webs",
            "--inventory",
        ])
        .arg_path(&inventory)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains(
            "nodes     webs (from inputs.selector): 3 nodes over ssh, at most 1 at once\n"
        ),
        "{}",
        out.stdout
    );
    // Planning reaches no node.
    sshd.assert_node_clean(Duration::from_secs(5));
}

#[test]
fn an_unknown_selector_is_refused_at_plan_time_with_the_closest_name() {
    let Some(sshd) = Sshd::start(2) else { return };
    let out = rune(["plan", "--catalog", CATALOG, "--workflow", "chosen"])
        .args([
            "--input",
            "dir=/tmp/marks",
            "--input",
            "selector=webz",
            "--inventory",
        ])
        .arg_path(inventory(&sshd))
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::inventory::unknown_node"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "workflow `chosen` step `mark` fans out over nodes `webz` (read from `inputs.selector`): no"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `webs`?"),
        "{}",
        out.stderr
    );
    // Located at the reference the selector is read from.
    assert!(out.stderr.contains("catalog.yaml:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("the selector is read here"),
        "{}",
        out.stderr
    );
    // A label no node has says so.
    let out = rune(["plan", "--catalog", CATALOG, "--workflow", "chosen"])
        .args([
            "--input",
            "dir=/tmp/marks",
            "--input",
            "selector=tier=back",
            "--inventory",
        ])
        .arg_path(inventory(&sshd))
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("no node has the label `tier=back`"),
        "{}",
        out.stderr
    );
    // Nothing ran, so nothing is left.
    sshd.assert_node_clean(Duration::from_secs(5));
}

#[test]
fn a_step_with_node_and_nodes_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = std::fs::read_to_string(CATALOG).unwrap().replace(
        "        nodes: tier=front\n",
        "        nodes: tier=front\n        node: n1\n",
    );
    // Located at the selector (1-based line, column of its value).
    let line = 1 + catalog
        .lines()
        .position(|l| l == "        nodes: tier=front")
        .unwrap();
    let path = dir.path().join("catalog.yaml");
    std::fs::write(&path, catalog).unwrap();
    let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let found = coded(&report, "rune::check::node_and_nodes");
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(
        found[0]["message"],
        "step `mark` in workflow `spread` names both `node` and `nodes`"
    );
    let text = rune(["validate"]).arg_path(&path).run();
    assert_eq!(text.code, 1);
    assert!(
        text.stderr.contains("fans out over these nodes"),
        "{}",
        text.stderr
    );
    assert!(
        text.stderr.contains(&format!("catalog.yaml:{line}:16")),
        "{}",
        text.stderr
    );
    // A selector read from an earlier step is refused too: the nodes of a
    // fan-out are known when the plan is made.
    let catalog = std::fs::read_to_string(CATALOG).unwrap().replace(
        "nodes: { $from: inputs.selector }",
        "nodes: { $from: steps.mark.output.node }",
    );
    std::fs::write(&path, catalog).unwrap();
    let out = rune(["validate"]).arg_path(&path).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("reads its node selector from `steps.mark.output.node`, but a"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_fan_out_of_an_action_without_a_plugin_is_refused() {
    // Served by its module's process, the action could only run here.
    let dir = tempfile::tempdir().unwrap();
    let catalog = std::fs::read_to_string(CATALOG)
        .unwrap()
        .replace("          exec: [\"plugins/mark.sh\", \"undo\"]\n", "");
    let path = dir.path().join("catalog.yaml");
    std::fs::write(&path, catalog).unwrap();
    let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let found = coded(&report, "rune::check::fan_out_without_plugin");
    // The compensation of `spread`'s fan-out; `single` runs it on one node only.
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(
        found[0]["message"],
        "step `mark` in workflow `spread` fans out over nodes and is undone by `unmark`, which has no plugin to run there"
    );
}

/// A saved plan runs each fan-out on the nodes it was planned with; once the
/// inventory changes (a node more in the group) the plan is stale.
#[test]
fn a_saved_fan_out_runs_on_its_planned_nodes_and_is_stale_when_the_inventory_changes() {
    let Some(sshd) = Sshd::start(3) else { return };
    let inventory = inventory(&sshd);
    let marks_dir = tempfile::tempdir().unwrap();
    let saved = sshd.dir().join("chosen-plan.json");
    let out = rune(["plan", "--catalog", CATALOG, "--workflow", "chosen"])
        .args(["--input", &format!("dir={}", marks_dir.path().display())])
        .args(["--input", "selector=webs", "--inventory"])
        .arg_path(&inventory)
        .args(["--out"])
        .arg_path(&saved)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let apply = || {
        rune(["apply"])
            .arg_path(&saved)
            .args(["--inventory"])
            .arg_path(&inventory)
            .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
            .deadline(Duration::from_secs(90))
            .run()
    };
    let out = apply();
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    assert_eq!(
        marks(marks_dir.path()),
        pairs(&[("mark-n1", "n1"), ("mark-n2", "n2"), ("mark-n3", "n3")])
    );
    sshd.assert_node_clean(Duration::from_secs(10));
    // The group now names one node fewer: the plan no longer says where it runs.
    let text = std::fs::read_to_string(&inventory).unwrap();
    std::fs::write(
        &inventory,
        text.replace("webs: [n1, n2, n3]", "webs: [n1, n2]"),
    )
    .unwrap();
    let out = apply();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::stale_plan"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the inventory digest differs"),
        "{}",
        out.stderr
    );
    sshd.assert_node_clean(Duration::from_secs(5));
}

/// Ctrl-C during a fan-out: no further node starts, the second Ctrl-C kills the
/// running one, and nothing is left on any node.
#[test]
fn ctrl_c_during_a_fan_out_starts_no_further_node_and_leaves_nothing() {
    let Some(sshd) = Sshd::start(3) else { return };
    let mut running = rune(["apply", "--catalog", CATALOG, "--workflow", "slow"])
        .args(["--deterministic", "--format", "json", "--inventory"])
        .arg_path(inventory(&sshd))
        .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
        .deadline(Duration::from_secs(60))
        .spawn();
    let on_nodes = || {
        sshd.node_processes()
            .iter()
            .filter(|(_, c)| c.contains("linger.sh"))
            .count()
    };
    running.wait_for("the plugin to start on the first node", || on_nodes() == 1);
    running.signal(nix::sys::signal::Signal::SIGINT);
    running.wait_for_stdout("the first Ctrl-C to be recorded", |s| {
        s.contains("\"event\":\"interrupted\"")
    });
    // The first Ctrl-C lets the running node go on; no other starts.
    assert_eq!(on_nodes(), 1);
    running.signal(nix::sys::signal::Signal::SIGINT);
    let out = running.wait();
    assert_eq!(out.code, 130, "{}", out.snapshot());
    let report: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let got: Vec<(String, String, String)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap_or("-").to_string(),
                s["workflow"]["outcome"].as_str().unwrap_or("-").to_string(),
                s["reason"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let row = |node: &str, outcome: &str, reason: &str| {
        (node.to_string(), outcome.to_string(), reason.to_string())
    };
    assert_eq!(
        got,
        vec![
            row("n1", "interrupted", "-"),
            row("n2", "skipped", "interrupted: not started"),
            row("n3", "skipped", "interrupted: not started"),
        ],
        "{report:#}"
    );
    sshd.assert_node_clean(Duration::from_secs(10));
}

/// `continue_on_error` on a fan-out: a node's failure lets the workflow go on,
/// and a later step that reads that node's result fails saying why.
#[test]
fn reading_the_result_of_a_node_the_fan_out_failed_on_says_so() {
    let Some(sshd) = Sshd::start(3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = apply(&sshd, "tolerant", dir.path(), &["--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    let report: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let read = |report: &Value| {
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["workflow"]["id"] == "read")
            .unwrap()
            .clone()
    };
    assert_eq!(read(&report)["output"]["second"], "n2");

    let dir = tempfile::tempdir().unwrap();
    let (out, _) = apply(
        &sshd,
        "tolerant",
        dir.path(),
        &["--input", "fail_on=n2", "--format", "json"],
    );
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let outcomes: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["workflow"]["id"] == "mark")
        .map(|s| s["workflow"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["succeeded", "failed_continued", "succeeded"]);
    let read = read(&report);
    assert_eq!(read["status"], "failed", "{read:#}");
    let message = read["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("step `mark` did not succeed on node `n2`, so it has no output there"),
        "{read:#}"
    );
    sshd.assert_node_clean(Duration::from_secs(10));
}

/// The diagnostics of a `validate --format json` report with code `code`.
fn coded<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .collect()
}
