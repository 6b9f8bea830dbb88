//! `rune validate`: the corpus of invalid catalogs (a fixture per diagnostic kind,
//! plus files with many errors), exit codes, and which paths are read. The output
//! formats themselves are tested in `formats`.

use std::path::PathBuf;

use crate::support::{root, rune};

/// Validate one fixture under tests/fixtures/invalid (a file or a directory) in
/// human and JSON form: both snapshots, the same exit code, and the diagnostic the
/// fixture is named after.
fn check_fixture(name: &str, file: &str) {
    let path = PathBuf::from("tests/fixtures/invalid").join(file);
    let human = rune(["validate", "--color", "never"]).arg_path(&path).run();
    insta::assert_snapshot!(format!("human_{name}"), human.snapshot());
    let json = rune(["validate", "--format", "json"]).arg_path(&path).run();
    insta::assert_snapshot!(format!("json_{name}"), json.stdout);
    assert_eq!(
        human.code, json.code,
        "{name}: formats disagree on the exit code"
    );
    let report = json.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap().rsplit("::").next().unwrap())
        .collect();
    if name.starts_with("many_errors") {
        assert!(codes.len() >= 8, "{name} reports only {codes:?}");
    } else {
        assert!(codes.contains(&name), "fixture {name} reports {codes:?}");
    }
    let severity_error = diagnostics.iter().any(|d| d["severity"] == "error");
    assert_eq!(human.code, if severity_error { 1 } else { 0 }, "{name}");
}

/// One test per fixture, so a failure names its fixture and the others still run.
macro_rules! fixture_tests {
    ($($name:ident: $file:literal,)*) => {
        /// The fixtures that have a test, by file name.
        const FIXTURES: &[&str] = &[$($file),*];
        mod fixture {
            $(
                #[test]
                fn $name() {
                    super::check_fixture(stringify!($name), $file);
                }
            )*
        }
    };
}

fixture_tests! {
    alias_limit: "alias_limit.yaml",
    binary_file: "binary_file.yaml",
    config_mismatch: "config_mismatch.yaml",
    dependency_cycle: "dependency_cycle.yaml",
    duplicate_action: "duplicate_action.yaml",
    duplicate_key: "duplicate_key.yaml",
    duplicate_module: "duplicate_module",
    duplicate_policy: "duplicate_policy",
    duplicate_step: "duplicate_step.yaml",
    duplicate_workflow: "duplicate_workflow",
    empty_file: "empty_file.yaml",
    event_conflict: "event_conflict.yaml",
    example_data_mismatch: "example_data_mismatch.yaml",
    invalid_embedded_schema: "invalid_embedded_schema.yaml",
    invalid_format: "invalid_format.yaml",
    invalid_name: "invalid_name.yaml",
    invalid_step_reference: "invalid_step_reference.yaml",
    invalid_version: "invalid_version.yaml",
    invalid_version_requirement: "invalid_version_requirement.yaml",
    many_errors_1: "many_errors_1.yaml",
    many_errors_2: "many_errors_2.yaml",
    missing_dependency: "missing_dependency.yaml",
    missing_field: "missing_field.yaml",
    missing_optional_dependency: "missing_optional_dependency.yaml",
    multiple_documents: "multiple_documents.yaml",
    nesting_limit: "nesting_limit.yaml",
    not_utf8: "not_utf8.yaml",
    out_of_range: "out_of_range.yaml",
    unknown_key: "unknown_key.yaml",
    unknown_policy_action: "unknown_policy_action.yaml",
    unknown_time_zone: "unknown_time_zone.yaml",
    unknown_workflow_action: "unknown_workflow_action.yaml",
    unprovided_event: "unprovided_event.yaml",
    unsupported_yaml: "unsupported_yaml.yaml",
    version_conflict: "version_conflict.yaml",
    violation: "violation.yaml",
    workflow_cycle: "workflow_cycle.yaml",
    wrong_type: "wrong_type.yaml",
    yaml_syntax: "yaml_syntax.yaml",
}

#[test]
fn every_fixture_in_the_folder_has_its_own_test() {
    let dir = root().join("tests/fixtures/invalid");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk, FIXTURES,
        "add new fixtures to `fixture_tests!` in tests/validate.rs"
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let path = "tests/fixtures/invalid/missing_optional_dependency.yaml";
    let warned = rune(["validate", "--color", "never", path]).run();
    assert_eq!(warned.code, 0, "{}", warned.snapshot());
    let denied = rune(["validate", "--color", "never", "--deny-warnings", path]).run();
    assert_eq!(denied.code, 1, "{}", denied.snapshot());
    // The warning itself fails the run, and the report says so.
    for out in [&warned, &denied] {
        assert!(
            out.stderr
                .contains("rune::check::missing_optional_dependency"),
            "{}",
            out.snapshot()
        );
    }
    assert!(
        denied
            .stderr
            .contains("(warnings denied by --deny-warnings)"),
        "{}",
        denied.snapshot()
    );
}

#[test]
fn a_missing_path_is_an_io_error_with_exit_code_2() {
    let out = rune(["validate", "--color", "never", "no/such/catalogs"]).run();
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn a_directory_without_catalogs_is_an_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a catalog").unwrap();
    let out = rune(["validate"]).arg_path(dir.path()).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::load::no_catalogs"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_paths_validate_reads_the_catalogs_directory() {
    let out = rune(["validate"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stderr.starts_with("valid: 5 files"), "{}", out.stderr);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = rune(["validate"]).current_dir(elsewhere.path()).run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("there is no `catalogs` directory here")
            && out
                .stderr
                .contains("`rune validate PATH`, or `--catalog PATH`"),
        "{}",
        out.stderr
    );
}

#[test]
fn catalog_flag_and_positional_paths_merge_into_one_registry() {
    let out = rune([
        "validate",
        "--format",
        "json",
        "catalogs/core.yaml",
        "--catalog",
        "catalogs/services.yaml",
    ])
    .run();
    // services.yaml needs the core modules; together they are complete.
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["summary"]["files"], 2);
}

#[test]
fn the_same_file_named_twice_is_loaded_once() {
    let out = rune([
        "validate",
        "--format",
        "json",
        "catalogs",
        "./catalogs/core.yaml",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["summary"]["files"], 5);
}

#[test]
fn a_directory_named_twice_is_read_once_and_still_has_catalogs() {
    // Regression: the second mention found no *new* files and was reported as
    // `no_catalogs`, failing a valid run with exit code 2.
    let out = rune(["validate", "--format", "json", "catalogs", "catalogs/"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let once = rune(["validate", "--format", "json", "catalogs"]).run();
    assert_eq!(out.stdout, once.stdout);
}

#[test]
fn the_example_catalogs_validate_without_any_diagnostic() {
    let out = rune([
        "validate",
        "--format",
        "json",
        "--deny-warnings",
        "catalogs",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let report = out.json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["diagnostics"], serde_json::json!([]));
    let human = rune(["validate", "--color", "never", "catalogs"]).run();
    assert_eq!(human.stdout, "");
    // Only the summary line: no warning, no diagnostic.
    assert!(human.stderr.starts_with("valid: "), "{}", human.stderr);
    assert_eq!(human.stderr.lines().count(), 1, "{}", human.stderr);
}

#[test]
fn exit_codes_distinguish_errors_from_io_problems() {
    let broken = "tests/fixtures/invalid/dependency_cycle.yaml";
    assert_eq!(rune(["validate", broken]).run().code, 1);
    // An I/O problem wins over catalog errors: the run could not see everything.
    assert_eq!(
        rune(["validate", broken, "no/such/file.yaml"]).run().code,
        2
    );
    let usage = rune(["validate", "--no-such-flag"]).run();
    assert_eq!(usage.code, 2, "{}", usage.snapshot());
    assert!(usage.stderr.contains("--no-such-flag"), "{}", usage.stderr);
}
