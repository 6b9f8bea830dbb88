//! Plans and graphs of the bundled example catalogs (`catalogs/`), as golden files.
//! Every plan is made at a fixed `--at`, so the snapshots are deterministic; the
//! catalog digest is filtered so editing a comment in the examples does not churn
//! every snapshot (the digest itself is tested in `plan.rs`).

use crate::support::{rune, Output};

/// Thursday 2026-03-26 10:00 in Berlin: inside `weekday-business`.
const BUSINESS_HOURS: &str = "2026-03-26T09:00:00Z";
/// Saturday 2026-03-28 12:00 UTC: outside every window.
const WEEKEND: &str = "2026-03-28T12:00:00Z";

fn plan(args: &[&str]) -> Output {
    rune(["plan", "--color", "never"]).args(args).run()
}

/// Hide digests (the hex characters after `sha256:`).
fn filtered(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i + 7]);
        rest = &rest[i + 7..];
        let hex = rest.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        out.push_str("[digest]");
        rest = &rest[hex..];
    }
    out.push_str(rest);
    out
}

#[test]
fn example_full_startup_and_shutdown() {
    let out = plan(&["--at", BUSINESS_HOURS]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(filtered(&out.snapshot()));
}

#[test]
fn example_target_subset() {
    let out = plan(&["--at", BUSINESS_HOURS, "--target", "service-registry"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        !out.stdout.contains("api-gateway"),
        "api-gateway is not required by the target"
    );
    insta::assert_snapshot!(filtered(&out.snapshot()));
}

#[test]
fn example_diagnostic_action_at_the_weekend_is_allowed() {
    let out = plan(&[
        "--at",
        WEEKEND,
        "--action",
        "collect-logs",
        "-p",
        "source=../work/logs",
        "-p",
        "max_files=50",
    ]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(filtered(&out.snapshot()));
}

#[test]
fn example_high_impact_action_needs_break_glass_and_its_window() {
    let denied = plan(&[
        "--at",
        WEEKEND,
        "--action",
        "purge-archives",
        "-p",
        "older_than_minutes=60",
    ]);
    assert_eq!(denied.code, 1, "{}", denied.snapshot());
    insta::assert_snapshot!("purge_denied_at_the_weekend", filtered(&denied.snapshot()));
    let allowed = plan(&[
        "--at",
        BUSINESS_HOURS,
        "--action",
        "purge-archives",
        "-p",
        "older_than_minutes=60",
        "--ack",
        "purge-archives",
        "--reason",
        "disk full, archives copied off",
    ]);
    assert_eq!(allowed.code, 0, "{}", allowed.snapshot());
    insta::assert_snapshot!(
        "purge_acknowledged_in_business_hours",
        filtered(&allowed.snapshot())
    );
}

#[test]
fn example_plan_json_is_deterministic() {
    let args = [
        "--at",
        BUSINESS_HOURS,
        "--format",
        "json",
        "--action",
        "rotate-logs",
        "-p",
        "keep=2",
    ];
    let a = plan(&args);
    let b = plan(&args);
    assert_eq!(a.code, 0, "{}", a.snapshot());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.json()["format_version"], 1);
}

#[test]
fn example_graph_as_mermaid_and_dot() {
    let mermaid = rune(["graph", "--format", "mermaid"]).run();
    assert_eq!(mermaid.code, 0, "{}", mermaid.snapshot());
    insta::assert_snapshot!("mermaid", mermaid.stdout);
    let dot = rune(["graph", "--format", "dot"]).run();
    assert_eq!(dot.code, 0);
    assert!(dot.stdout.starts_with("digraph"), "{}", dot.stdout);
}

#[test]
fn example_list_actions() {
    let out = rune(["list-actions"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.stdout);
}
