//! `rune apply` end to end on a small catalog with a real SPI module process (bash
//! and jq), a builtin module, a module with nothing to run and a BPCS plugin.

use std::path::Path;

use crate::support::{root, rune};

const CATALOG: &str = "tests/fixtures/apply_smoke";

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn apply_runs_every_phase_and_the_action_and_shuts_down_in_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let out = rune([
        "apply",
        "--catalog",
        CATALOG,
        "--deterministic",
        "--action",
        "echo",
        "-p",
        "word=hi",
    ])
    .arg_path("--journal")
    .arg_path(&journal)
    .env("RUNE_PROGRESS", "lines")
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!("apply_smoke_report", out.stdout);
    let events = events(&journal);
    assert_eq!(events.first().unwrap()["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    assert_eq!(events.last().unwrap()["succeeded"], true);
    // Phases in order: startup wave by wave, the action, shutdown in exact reverse.
    let finished: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "step_finished")
        .map(|e| {
            format!(
                "{} {}",
                e["module"].as_str().unwrap(),
                e["phase"].as_str().or(e["action"].as_str()).unwrap()
            )
        })
        .collect();
    assert_eq!(
        finished,
        [
            "core register",
            "core initialize",
            "core ready",
            "store register",
            "store initialize",
            "store ready",
            "tools echo",
            "store drain",
            "store shutdown",
            "core drain",
            "core shutdown",
        ]
    );
    // The SPI conversation really happened, with the trust token echoed.
    let spi: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "message" && e["protocol"] == "spi")
        .collect();
    let methods: Vec<&str> = spi
        .iter()
        .filter(|e| e["direction"] == "request")
        .filter_map(|e| e["message"]["method"].as_str())
        .collect();
    assert_eq!(
        methods,
        [
            "describe",
            "initialize",
            "ready",
            "health",
            "drain",
            "shutdown"
        ]
    );
    let init = spi
        .iter()
        .find(|e| e["message"]["method"] == "initialize")
        .unwrap();
    assert_eq!(
        init["message"]["params"]["config"],
        serde_json::json!({"path": "data"})
    );
    assert_eq!(init["message"]["params"]["spi_version"], "1");
}

#[test]
fn apply_output_is_byte_identical_in_the_deterministic_setting() {
    let run = || {
        rune([
            "apply",
            "--catalog",
            CATALOG,
            "--deterministic",
            "--format",
            "json",
        ])
        .run()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.code, 0, "{}", a.snapshot());
    assert_eq!(a.stdout, b.stdout);
    let last: serde_json::Value = serde_json::from_str(a.stdout.lines().last().unwrap()).unwrap();
    assert!(last.is_object());
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let out = rune([
        "apply",
        "--catalog",
        CATALOG,
        "--dry-run",
        "--at",
        "2026-01-05T10:00:00Z",
    ])
    .arg_path("--journal")
    .arg_path(&journal)
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("startup: 3 modules"), "{}", out.stdout);
    assert!(
        !journal.exists(),
        "a dry run must not even open the journal"
    );
}

#[test]
fn a_saved_plan_applies_from_any_directory_and_is_refused_once_its_catalog_changed() {
    let dir = tempfile::tempdir().unwrap();
    let catalogs = dir.path().join("catalogs");
    std::fs::create_dir(&catalogs).unwrap();
    for f in ["catalog.yaml", "module.sh", "echo.sh"] {
        std::fs::copy(root().join(CATALOG).join(f), catalogs.join(f)).unwrap();
    }
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).unwrap();
    let out = rune([
        "plan",
        "--at",
        "2026-01-05T10:00:00Z",
        "--out",
        "plans/plan.json",
        "catalogs",
    ])
    .current_dir(dir.path())
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // From elsewhere: the plan finds its catalogs from where it lies.
    let applied = rune(["apply", "--deterministic"])
        .arg_path(plans.join("plan.json"))
        .current_dir(std::env::temp_dir())
        .run();
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    // Through a symlink in another directory ("current.json -> plans/..."): the
    // root counts from where the plan really is, as `--out` wrote it.
    let current = dir.path().join("current/prod");
    std::fs::create_dir_all(&current).unwrap();
    std::os::unix::fs::symlink("../../plans/plan.json", current.join("plan.json")).unwrap();
    let linked = rune(["apply", "--deterministic"])
        .arg_path(current.join("plan.json"))
        .run();
    assert_eq!(linked.code, 0, "{}", linked.snapshot());
    // Re-saved by an editor with a byte-order mark: still the same plan.
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend(std::fs::read(plans.join("plan.json")).unwrap());
    std::fs::write(plans.join("bom.json"), bom).unwrap();
    let with_bom = rune(["apply", "--deterministic"])
        .arg_path(plans.join("bom.json"))
        .run();
    assert_eq!(with_bom.code, 0, "{}", with_bom.snapshot());
    // Selectors cannot change a saved plan.
    let mixed = rune(["apply", "--target", "core"])
        .arg_path(plans.join("plan.json"))
        .run();
    assert_eq!(mixed.code, 2, "{}", mixed.snapshot());
    // An edited catalog file is named and nothing runs.
    let yaml = catalogs.join("catalog.yaml");
    let text = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace("in-process", "in process");
    std::fs::write(&yaml, text).unwrap();
    let stale = rune(["apply"]).arg_path(plans.join("plan.json")).run();
    assert_eq!(stale.code, 1, "{}", stale.snapshot());
    assert!(
        stale.stderr.contains("rune::apply::stale_plan"),
        "{}",
        stale.stderr
    );
    assert!(
        stale.stderr.contains("`catalog.yaml` changed"),
        "{}",
        stale.stderr
    );
    // A missing file too.
    std::fs::remove_file(&yaml).unwrap();
    let missing = rune(["apply"]).arg_path(plans.join("plan.json")).run();
    assert_eq!(missing.code, 1, "{}", missing.snapshot());
    assert!(
        missing.stderr.contains("`catalog.yaml` is missing"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_plan_file_that_is_not_a_plan_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("plan.json");
    std::fs::write(&bogus, "{\"format_version\": 1}").unwrap();
    let out = rune(["apply"]).arg_path(&bogus).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::plan_file"),
        "{}",
        out.stderr
    );
    let out = rune(["apply"]).arg_path(dir.path()).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
}

#[test]
fn an_edited_saved_plan_cannot_run_a_program_its_catalog_does_not_name() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["catalog.yaml", "module.sh", "echo.sh"] {
        std::fs::copy(root().join(CATALOG).join(f), dir.path().join(f)).unwrap();
    }
    let out = rune([
        "plan",
        "-c",
        "catalog.yaml",
        "--action",
        "echo",
        "-p",
        "word=x",
        "--out",
        "plan.json",
    ])
    .current_dir(dir.path())
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // The digests of the catalog still match; only the command lines were edited.
    let plan = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    let evil = plan
        .replace("\"./echo.sh\"", "\"/usr/bin/touch\"")
        .replacen("\"./module.sh\"", "\"/usr/bin/touch\"", 1);
    assert_ne!(evil, plan);
    std::fs::write(dir.path().join("evil.json"), evil).unwrap();
    let out = rune(["apply", "evil.json"]).current_dir(dir.path()).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::stale_plan"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the plan file was edited"),
        "{}",
        out.stderr
    );
    // And where: the first edited field, by its path in the document.
    let flat = out
        .stderr
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("first at `actions[0].command.argv[0]`"),
        "{flat}"
    );
    // Nothing ran: `touch store 2.0.0` would have made these.
    assert!(!dir.path().join("store").exists());
    assert!(!dir.path().join("2.0.0").exists());
}

#[test]
fn a_module_that_floods_rune_with_requests_and_never_reads_fails_fast_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["module.sh", "echo.sh"] {
        std::fs::copy(root().join(CATALOG).join(f), dir.path().join(f)).unwrap();
    }
    let flood = dir.path().join("flood.sh");
    std::fs::write(
        &flood,
        "#!/bin/sh\nread -r line\nprintf '{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"module_name\":\"%s\",\"module_version\":\"%s\",\"spi_versions\":[\"1\"]}}\\n' \"$1\" \"$2\"\nwhile :; do echo '{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"emit_event\",\"params\":{}}'; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&flood, std::fs::Permissions::from_mode(0o755)).unwrap();
    let catalog = std::fs::read_to_string(root().join(CATALOG).join("catalog.yaml"))
        .unwrap()
        .replace("\"./module.sh\", store", "\"./flood.sh\", store");
    std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
    // Flooded with notifications, rune must still end the run: killed (and failed)
    // past 20 s.
    let out = rune([
        "apply",
        "-c",
        "catalog.yaml",
        "--deterministic",
        "--format",
        "json",
    ])
    .current_dir(dir.path())
    .deadline(std::time::Duration::from_secs(20))
    .run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    assert!(out.stdout.contains("protocol_violation"), "{}", out.stdout);
    assert!(out.stdout.contains("requests of its own"), "{}", out.stdout);
}
