//! `rune validate`: the corpus of invalid catalogs (a fixture per diagnostic kind,
//! plus files with many errors), exit codes, and which paths are read. The output
//! formats themselves are tested in `formats`.

use std::path::PathBuf;

use crate::support::{root, rune};

/// Every fixture under tests/fixtures/invalid, sorted: files and directories.
fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = root().join("tests/fixtures/invalid");
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let relative = p.strip_prefix(root()).unwrap().to_path_buf();
            (name, relative)
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn every_fixture_reports_its_diagnostic_in_human_and_json_form() {
    let mut seen = 0;
    for (name, path) in fixtures() {
        let human = rune(["validate", "--color", "never"]).arg_path(&path).run();
        insta::assert_snapshot!(format!("human_{name}"), human.snapshot());
        let json = rune(["validate", "--format", "json"]).arg_path(&path).run();
        insta::assert_snapshot!(format!("json_{name}"), json.stdout);
        assert_eq!(
            human.code, json.code,
            "{name}: formats disagree on the exit code"
        );
        let report = json.json();
        let codes: Vec<String> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                d["code"]
                    .as_str()
                    .unwrap()
                    .rsplit("::")
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if !name.starts_with("many_errors") {
            assert!(codes.contains(&name), "fixture {name} reports {codes:?}");
        } else {
            assert!(codes.len() >= 8, "{name} reports only {codes:?}");
        }
        let severity_error = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["severity"] == "error");
        assert_eq!(human.code, if severity_error { 1 } else { 0 }, "{name}");
        seen += 1;
    }
    assert!(seen >= 35, "only {seen} fixtures");
}

#[test]
fn warnings_pass_unless_denied() {
    let path = "tests/fixtures/invalid/missing_optional_dependency.yaml";
    assert_eq!(rune(["validate", path]).run().code, 0);
    assert_eq!(rune(["validate", "--deny-warnings", path]).run().code, 1);
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
    assert_eq!(rune(["validate", "--no-such-flag"]).run().code, 2);
}
