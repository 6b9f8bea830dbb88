//! The lifecycle the seeds describe (issue 18, item 7), with real module
//! processes (tests/fixtures/lifecycle/lifemod.sh): `lifecycle.rollback`
//! honoured, a drain answer that must say draining, a module's own health
//! reports, health checks at the declared interval while a run goes on (active →
//! degraded → unavailable and back, each change reported and journaled, an
//! unavailable module failing what needs it) and required deny paths confirmed
//! before ready.

use serde_json::Value as Json;

use crate::support::{alive, rune};

const CATALOG: &str = "tests/fixtures/lifecycle/catalog.yaml";

/// One `rune apply` on the fixture catalog: its exit code, its JSON report and
/// its journal. Every module process it started is gone when it returns.
struct Applied {
    code: i32,
    report: Json,
    journal: Vec<Json>,
}

fn apply(args: &[&str], health: Option<&str>) -> Applied {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let journal = dir.path().join("journal.jsonl");
    if let Some(seq) = health {
        std::fs::write(dir.path().join("pulse.health"), seq).unwrap();
    }
    let out = rune(["apply", "--catalog", CATALOG, "--format", "json"])
        .args(args.iter().copied())
        .args(["--journal", journal.to_str().unwrap()])
        .env("PIDFILE", pids.to_str().unwrap())
        .env("LIFE_DIR", dir.path().to_str().unwrap())
        .run();
    for pid in std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .split_whitespace()
    {
        assert!(
            !alive(pid.parse().unwrap()),
            "process {pid} is still running"
        );
    }
    let report = serde_json::from_str(out.stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}", out.snapshot()));
    let journal = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Applied {
        code: out.code,
        report,
        journal,
    }
}

impl Applied {
    fn module(&self, name: &str) -> &Json {
        self.report["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["module"] == name)
            .unwrap_or_else(|| panic!("no module {name}: {:#}", self.report))
    }

    /// The module's states in order, from its reported transitions.
    fn states(&self, name: &str) -> Vec<String> {
        let transitions = self.module(name)["transitions"].as_array().unwrap();
        let mut states = vec![transitions[0]["from"].as_str().unwrap().to_string()];
        states.extend(
            transitions
                .iter()
                .map(|t| t["to"].as_str().unwrap().to_string()),
        );
        states
    }

    fn reasons(&self, name: &str) -> Vec<String> {
        self.module(name)["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["reason"].as_str().map(str::to_string))
            .collect()
    }

    /// The journal's state changes of `name`, as (from, to).
    fn journaled(&self, name: &str) -> Vec<(String, String)> {
        self.journal
            .iter()
            .filter(|l| l["event"] == "state_changed" && l["module"] == name)
            .map(|l| {
                (
                    l["from"].as_str().unwrap().into(),
                    l["to"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    fn step(&self, pred: impl Fn(&Json) -> bool) -> &Json {
        self.report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| pred(s))
            .unwrap_or_else(|| panic!("no such step: {:#}", self.report))
    }
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

#[test]
fn a_module_whose_rollback_is_unsupported_stays_in_service_and_the_report_says_so() {
    if jq_missing() {
        return;
    }
    // broken (wave 2) never becomes ready: keeper (rollback supported: false)
    // is not rolled back and its action runs; plain is rolled back.
    let run = apply(&["--target", "broken", "--action", "keeper-act"], None);
    assert_eq!(run.code, 4, "{:#}", run.report);
    assert_eq!(
        run.step(|s| s["action"] == "keeper-act")["status"],
        "succeeded"
    );
    assert!(
        run.reasons("keeper")
            .iter()
            .any(|r| r.contains("not rolled back: lifecycle.rollback.supported is false")),
        "{:?}",
        run.reasons("keeper")
    );
    assert_eq!(
        run.states("keeper"),
        ["discovered", "available", "active", "active", "stopped"]
    );
    assert_eq!(
        run.states("plain"),
        [
            "discovered",
            "available",
            "active",
            "unavailable",
            "stopped"
        ]
    );
    assert!(run
        .reasons("plain")
        .iter()
        .any(|r| r.starts_with("rolled back: broken")));
    // The rolled-back module's action does not run.
    let run = apply(&["--target", "broken", "--action", "plain-act"], None);
    assert_eq!(run.code, 4);
    let step = run.step(|s| s["action"] == "plain-act");
    assert_eq!(step["status"], "skipped", "{step:#}");
    // --no-rollback still runs around the failure, whatever the module says.
    let run = apply(
        &[
            "--target",
            "broken",
            "--action",
            "plain-act",
            "--no-rollback",
        ],
        None,
    );
    assert_eq!(
        run.step(|s| s["action"] == "plain-act")["status"],
        "succeeded"
    );
}

#[test]
fn a_drain_answer_that_does_not_say_draining_is_a_protocol_error() {
    if jq_missing() {
        return;
    }
    let run = apply(&["--action", "busy-act"], None);
    assert_eq!(run.code, 4, "{:#}", run.report);
    let drain = run.step(|s| s["module"] == "busy" && s["phase"] == "drain");
    assert_eq!(drain["status"], "failed");
    let error = &drain["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32002, "{drain:#}");
    assert!(error["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("not \"draining\""));
    // The failed request is named, as a plugin's is: the module and the SPI id.
    let data = &drain["error"]["error_payload"]["error_data"];
    let id = data["id"].as_str().unwrap_or_else(|| panic!("{drain:#}"));
    assert!(id.starts_with("busy:"), "{id}");
    assert_eq!(drain["error"]["message_metadata"]["parent_message_id"], id);
    assert_eq!(
        drain["error"]["error_payload"]["error_context"]["error_classification"],
        "protocol_error"
    );
    // Shutdown still runs, and the module is stopped.
    assert_eq!(run.module("busy")["state"], "stopped");
}

#[test]
fn a_modules_own_health_reports_move_it_to_degraded_and_back() {
    if jq_missing() {
        return;
    }
    let run = apply(&["--workflow", "reports"], None);
    assert_eq!(run.code, 0, "{:#}", run.report);
    assert_eq!(
        run.states("reporter"),
        [
            "discovered",
            "available",
            "active",
            "degraded",
            "active",
            "stopped"
        ]
    );
    let reasons = run.reasons("reporter");
    assert!(
        reasons
            .iter()
            .any(|r| r == "it reported degraded: asked to"),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("recovered: it reported ready")),
        "{reasons:?}"
    );
    assert!(run
        .journaled("reporter")
        .contains(&("active".into(), "degraded".into())));
    assert!(run
        .journaled("reporter")
        .contains(&("degraded".into(), "active".into())));
}

#[test]
fn a_module_checked_at_its_interval_degrades_and_recovers() {
    if jq_missing() {
        return;
    }
    // The first answer is the check after ready; then one a second while the
    // workflow's first step waits 6.5 s.
    let run = apply(&["--workflow", "long"], Some("ready\ndegraded\nready\n"));
    assert_eq!(run.code, 0, "{:#}", run.report);
    assert_eq!(
        run.states("pulse"),
        [
            "discovered",
            "available",
            "active",
            "degraded",
            "active",
            "stopped"
        ]
    );
    assert!(run
        .journaled("pulse")
        .contains(&("degraded".into(), "active".into())));
    // Each check is an SPI `health` call in the journal.
    let checks = run
        .journal
        .iter()
        .filter(|l| {
            l["protocol"] == "spi"
                && l["direction"] == "request"
                && l["message"]["method"] == "health"
        })
        .count();
    assert!(checks >= 4, "{checks} health calls");
}

#[test]
fn a_module_that_becomes_unavailable_fails_what_needs_it() {
    if jq_missing() {
        return;
    }
    let run = apply(&["--workflow", "long"], Some("ready\ndegraded\n"));
    assert_eq!(run.code, 4, "{:#}", run.report);
    assert_eq!(
        run.states("pulse"),
        [
            "discovered",
            "available",
            "active",
            "degraded",
            "unavailable",
            "stopped"
        ]
    );
    assert!(run
        .journaled("pulse")
        .contains(&("degraded".into(), "unavailable".into())));
    let used = run.step(|s| s["action"] == "pulse-act");
    assert_eq!(used["status"], "failed", "{used:#}");
    let error = &used["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32503);
    assert!(error["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("module `pulse` is unavailable"));
    assert_eq!(run.report["workflow"]["ended"], "stopped");
}

#[test]
fn required_deny_paths_must_be_confirmed_before_ready() {
    if jq_missing() {
        return;
    }
    // Confirmed in the initialize answer, or in the ready answer: ready.
    for action in ["guard-act", "guard2-act"] {
        let run = apply(&["--action", action], None);
        assert_eq!(run.code, 0, "{action}: {:#}", run.report);
    }
    // Initialize hands the required paths over.
    let run = apply(&["--action", "guard-act"], None);
    let init = run
        .journal
        .iter()
        .find(|l| l["protocol"] == "spi" && l["message"]["method"] == "initialize")
        .unwrap();
    assert_eq!(
        init["message"]["params"]["deny_paths"],
        serde_json::json!(["/etc/shadow", "/root/.ssh"])
    );
    // Never confirmed: not ready, and nothing is routed to it.
    let run = apply(&["--action", "leaky-act"], None);
    assert_eq!(run.code, 4);
    let ready = run.step(|s| s["module"] == "leaky" && s["phase"] == "ready");
    let error = &ready["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32402, "{ready:#}");
    assert_eq!(
        error["data"]["unconfirmed"],
        serde_json::json!(["/etc/shadow"])
    );
    assert_eq!(
        run.step(|s| s["action"] == "leaky-act")["status"],
        "skipped"
    );
}

#[test]
fn only_a_process_module_may_require_deny_paths() {
    // A builtin or registered-only module has no process that could confirm
    // them: the catalog is refused before anything runs.
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(
        &catalog,
        "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: inproc, module_class: T, module_type: service, module_version: 1.0.0, description: x }\n    lifecycle:\n      runtime: builtin\n      deny_paths: [/etc/shadow]\n",
    )
    .unwrap();
    let out = rune(["validate", "--catalog", catalog.to_str().unwrap()]).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("deny_paths") || out.stdout.contains("deny_paths"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn a_module_whose_process_dies_is_unavailable_and_nothing_more_is_routed_to_it() {
    if jq_missing() {
        return;
    }
    let run = apply(&["--workflow", "fragile"], None);
    assert_eq!(run.code, 4, "{:#}", run.report);
    assert_eq!(
        run.states("fragile"),
        [
            "discovered",
            "available",
            "active",
            "unavailable",
            "stopped"
        ]
    );
    assert!(run
        .journaled("fragile")
        .contains(&("active".into(), "unavailable".into())));
    // The call it died in is a crash; the next step is not routed to it.
    let first = run.step(|s| s["workflow"]["id"] == "first");
    assert_eq!(
        first["error"]["error_payload"]["error_data"]["error"]["code"],
        -32101
    );
    let second = run.step(|s| s["workflow"]["id"] == "second");
    let error = &second["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32503, "{second:#}");
    assert!(error["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("its process is gone"));
    assert_eq!(second["attempts"], 0);
}
