//! Values passed between workflow steps at run time (found by review): the
//! parameters of a step that never started cannot be read, and a `when` compares
//! numbers as JSON Schema does (80 equals 80.0).

use crate::support::rune;

const CATALOG: &str = "tests/fixtures/workflow_values/catalog.yaml";

/// `(step id, status, reason or error message)` of every step of the JSON report.
fn steps(workflow: &str) -> (i32, Vec<(String, String, String)>) {
    let out = rune([
        "apply",
        "--deterministic",
        "--format",
        "json",
        "--workflow",
        workflow,
    ])
    .args(["--catalog", CATALOG])
    .env("RUNE_PROGRESS", "off")
    .run();
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("the last line is the report ({e}): {}", out.snapshot()));
    let rows = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let why = match s["reason"].as_str() {
                Some(r) => r.to_string(),
                None => text(&s["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]),
            };
            (text(&s["workflow"]["id"]), text(&s["status"]), why)
        })
        .collect();
    (out.code, rows)
}

/// `(step id, status)` of each row.
fn statuses(rows: &[(String, String, String)]) -> Vec<(&str, &str)> {
    rows.iter()
        .map(|(id, status, _)| (id.as_str(), status.as_str()))
        .collect()
}

#[test]
fn the_parameters_of_a_step_that_never_started_cannot_be_read() {
    let (code, rows) = steps("ghost");
    assert_eq!(code, 4);
    let status = statuses(&rows);
    assert_eq!(
        status,
        [
            ("probe", "succeeded"),
            ("deploy", "skipped"),
            ("cleanup", "failed"),
            ("gate", "skipped")
        ]
    );
    // Not the plan's placeholder (null) for the reference: the step did not start.
    for (id, _, why) in &rows[2..] {
        assert!(
            why.contains("step `deploy` did not start, so it has no parameters"),
            "{id}: {why}"
        );
    }
}

#[test]
fn a_when_compares_numbers_by_value() {
    let (code, rows) = steps("floats");
    assert_eq!(code, 0);
    let status = statuses(&rows);
    assert_eq!(
        status,
        [
            ("usage", "succeeded"),
            ("full", "succeeded"),
            ("notfull", "skipped")
        ]
    );
}

#[test]
fn apply_decides_policy_now_and_takes_at_only_for_a_dry_run() {
    let apply = |extra: &[&str]| {
        rune(["apply", "--workflow", "floats", "--catalog", CATALOG])
            .args(extra.iter().copied())
            .env("RUNE_PROGRESS", "off")
            .run()
    };
    // The actions run now, so `--at` cannot decide for them: a usage error, and
    // nothing runs.
    let moved = apply(&["--at", "2026-01-01T00:00:00Z"]);
    assert_eq!(moved.code, 2, "{}", moved.snapshot());
    assert!(
        moved.stderr.contains("rune::cli::invalid_flags")
            && moved.stderr.contains("cannot move `rune apply`"),
        "{}",
        moved.stderr
    );
    assert!(moved.stdout.is_empty(), "{}", moved.stdout);
    // The deterministic setting changes nothing about that.
    let deterministic = apply(&["--at", "2026-01-01T00:00:00Z", "--deterministic"]);
    assert_eq!(deterministic.code, 2, "{}", deterministic.snapshot());
    // A dry run may look at another instant.
    let dry = apply(&["--at", "2026-01-01T00:00:00Z", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.snapshot());
    assert!(
        dry.stdout
            .contains("evaluated at 2026-01-01T00:00:00Z (--at)"),
        "{}",
        dry.stdout
    );
}
