//! `rune validate`: the corpus of invalid catalogs (a fixture per diagnostic kind,
//! plus files with many errors), exit codes, formats and determinism.

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
        out.stderr.contains("cannot read `catalogs`"),
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
fn output_is_identical_across_runs_and_argument_order() {
    let a = rune([
        "validate",
        "--format",
        "json",
        "tests/fixtures/invalid/many_errors_1.yaml",
        "tests/fixtures/invalid/many_errors_2.yaml",
    ])
    .run();
    let b = rune([
        "validate",
        "--format",
        "json",
        "tests/fixtures/invalid/many_errors_2.yaml",
        "tests/fixtures/invalid/many_errors_1.yaml",
    ])
    .run();
    let c = rune([
        "validate",
        "--format",
        "json",
        "tests/fixtures/invalid/many_errors_1.yaml",
        "tests/fixtures/invalid/many_errors_2.yaml",
    ])
    .run();
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stdout, c.stdout);
    let h1 = rune(["validate", "--color", "never", "tests/fixtures/invalid"]).run();
    let h2 = rune(["validate", "--color", "never", "tests/fixtures/invalid"]).run();
    assert_eq!(h1.stderr, h2.stderr);
}

#[test]
fn github_annotations_for_many_errors() {
    let out = rune([
        "validate",
        "--format",
        "github",
        "tests/fixtures/invalid/many_errors_2.yaml",
    ])
    .run();
    assert_eq!(out.code, 1);
    for line in out.stdout.lines() {
        assert!(
            line.starts_with("::error file=") || line.starts_with("::warning file="),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn sarif_for_many_errors() {
    let out = rune([
        "validate",
        "--format",
        "sarif",
        "tests/fixtures/invalid/many_errors_2.yaml",
    ])
    .run();
    assert_eq!(out.code, 1);
    let sarif = out.json();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rune");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in run["results"].as_array().unwrap() {
        let id = result["ruleId"].as_str().unwrap();
        assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize], id);
        assert!(matches!(
            result["level"].as_str(),
            Some("error" | "warning")
        ));
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let path = "tests/fixtures/invalid/dependency_cycle.yaml";
    let plain = rune(["validate", path]).run();
    assert!(
        !plain.stderr.contains('\u{1b}'),
        "not a terminal: no colour"
    );
    let forced = rune(["validate", "--color", "always", path]).run();
    assert!(forced.stderr.contains('\u{1b}'), "--color always colours");
    let no_color = rune(["validate", path]).env("NO_COLOR", "1").run();
    assert!(!no_color.stderr.contains('\u{1b}'));
}
