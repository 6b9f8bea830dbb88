//! `rune list-actions`: every action with its module, impact and parameters.

use crate::plan::fixture;
use crate::support::rune;

#[test]
fn list_actions_as_a_table_with_parameters() {
    let dir = fixture();
    let out = rune(["list-actions"]).current_dir(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn list_actions_as_json() {
    let dir = fixture();
    let out = rune(["list-actions", "--format", "json"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn list_actions_of_one_module() {
    let dir = fixture();
    let out = rune(["list-actions", "--module", "scheduler"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.stdout, "no actions\n");
    let out = rune(["list-actions", "--module", "nomad-ops", "--format", "json"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.json()["actions"].as_array().map(Vec::len), Some(4));
}

#[test]
fn list_actions_reads_catalog_option() {
    // Not the default `./catalogs`: a test equal to the default proves nothing.
    let dir = fixture();
    std::fs::rename(dir.path().join("catalogs"), dir.path().join("elsewhere")).unwrap();
    let without = rune(["list-actions"]).current_dir(dir.path()).run();
    assert_eq!(without.code, 2, "{}", without.snapshot());
    let out = rune(["list-actions", "--catalog", "elsewhere"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("restart-nomad"));
}

#[test]
fn unknown_module_is_a_usage_error_with_a_suggestion() {
    let dir = fixture();
    let out = rune(["list-actions", "--module", "nomad-opps"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}
