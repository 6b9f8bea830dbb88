//! `rune validate` on workflows (issue 10): references in all three forms, in
//! steps, `when` and compensations; declared types of references against the
//! parameters they fill; literal and required parameters of steps and
//! compensations; inputs schemas; compensation actions; `if: failure` without
//! `needs`; required parameters given by optional inputs. One fixture per diagnostic class under tests/fixtures/workflows, each
//! validated together with `ops.yaml` (the actions, with typed schemas), plus a
//! catalog that uses every feature and validates clean, and a generated workflow of
//! thousands of steps.

use crate::support::{rune, Output};

const DIR: &str = "tests/fixtures/workflows";

/// `rune validate ops.yaml CASE.yaml` with `extra` arguments.
fn validate(case: &str, extra: &[&str]) -> Output {
    rune(["validate"])
        .args(extra)
        .arg_path(format!("{DIR}/ops.yaml"))
        .arg_path(format!("{DIR}/{case}.yaml"))
        .run()
}

/// The codes of the diagnostics reported for `case`, in report order, short names.
fn codes(case: &str) -> Vec<String> {
    validate(case, &["--format", "json"]).json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let code = d["code"].as_str().unwrap();
            code.rsplit("::").next().unwrap().to_string()
        })
        .collect()
}

/// The human report of `case` (snapshotted, exit code included) and its exit code.
fn human(case: &str) -> Output {
    validate(case, &["--color", "never"])
}

#[test]
fn a_workflow_using_every_feature_validates_clean() {
    let out = validate("valid", &["--deny-warnings", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["diagnostics"], serde_json::json!([]));
}

#[test]
fn the_bundled_catalogs_validate_clean() {
    let out = rune(["validate", "--deny-warnings", "--catalog", "catalogs"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn references_to_steps_that_are_not_upstream() {
    let out = human("not_upstream");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(codes("not_upstream"), ["invalid_step_reference"; 5]);
}

#[test]
fn malformed_and_unresolvable_references() {
    let out = human("malformed");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(codes("malformed"), ["invalid_step_reference"; 9]);
}

#[test]
fn declared_types_of_references_and_parameters_disagree() {
    let out = human("type_mismatch");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(codes("type_mismatch"), ["reference_type_mismatch"; 8]);
}

#[test]
fn literal_and_required_parameters_of_steps_and_compensations() {
    let out = human("params");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
    let codes = codes("params");
    let count = |c: &str| codes.iter().filter(|x| *x == c).count();
    assert_eq!(count("missing_step_parameter"), 4, "{codes:?}");
    assert_eq!(count("step_params_mismatch"), 4, "{codes:?}");
    assert_eq!(codes.len(), 8, "{codes:?}");
}

#[test]
fn invalid_inputs_schemas() {
    let out = human("inputs");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(codes("inputs"), ["invalid_workflow_inputs"; 3]);
}

#[test]
fn compensation_actions_that_do_not_exist() {
    let out = human("compensation");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(codes("compensation"), ["unknown_compensation_action"; 2]);
}

#[test]
fn if_failure_without_needs_is_a_warning() {
    let out = human("never_runs");
    assert_eq!(out.code, 0, "a warning passes");
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(codes("never_runs"), ["step_never_runs"]);
    let denied = validate("never_runs", &["--deny-warnings", "--format", "json"]);
    assert_eq!(denied.code, 1, "{}", denied.snapshot());
    assert_eq!(denied.json()["valid"], false);
    assert!(
        denied.stdout.contains("step_never_runs"),
        "{}",
        denied.stdout
    );
}

/// A workflow of `n` steps in one `needs` chain, each reading the step before it,
/// a step far upstream (half-way back) and its own step from its compensation,
/// plus `stray`, which reads the last step without needing it, and a last step
/// that passes a number where a string is taken.
fn big_workflow(n: usize) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("catalog_version: \"1\"\nworkflows:\n  big:\n    inputs: { type: object, required: [node], properties: { node: { type: string } } }\n    steps:\n");
    text.push_str(
        "      - { id: s0, action: node-status, params: { node: { $from: inputs.node } } }\n",
    );
    for i in 1..n {
        let far = i / 2;
        let node = if i == n - 1 { "load" } else { "node" };
        writeln!(
            text,
            "      - {{ id: s{i}, action: node-status, needs: [s{}], when: {{ from: steps.s{far}.output.healthy, equals: true }}, params: {{ node: {{ $from: steps.s{}.output.{node} }}, verbose: {{ $from: steps.s{far}.output.healthy }} }}, compensate: {{ action: undrain-node, params: {{ node: {{ $from: steps.s{i}.params.node }} }} }} }}",
            i - 1,
            i - 1
        )
        .unwrap();
    }
    writeln!(
        text,
        "      - {{ id: stray, action: node-status, params: {{ node: {{ $from: steps.s{}.output.node }} }} }}",
        n - 1
    )
    .unwrap();
    text
}

/// Thousands of steps with three references each (plus a `when` and a
/// compensation) validate without the checks going quadratic: each schema is
/// walked per reference, and "is the step read upstream?" is answered for all
/// reads together. Not timed: it only has to finish, and find the two planted
/// problems.
#[test]
fn a_5000_step_workflow_with_references_validates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::write(&path, big_workflow(5_000)).unwrap();
    let out = rune(["validate", "--format", "json"])
        .arg_path(format!("{DIR}/ops.yaml"))
        .arg_path(&path)
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let found: Vec<(&str, &str)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap(), d["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "rune::check::reference_type_mismatch",
                "step `s4999` in workflow `big` fills `params.node` with `steps.s4998.output.load`, a number, but `node-status` takes a string there"
            ),
            (
                "rune::check::invalid_step_reference",
                "step `stray` reads the output of `s4999` but does not need it"
            ),
        ]
    );
}

#[test]
fn a_required_parameter_from_an_optional_input_is_a_warning() {
    let out = human("optional_input");
    assert_eq!(out.code, 0, "a warning passes");
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(
        codes("optional_input"),
        ["required_parameter_from_optional_input"; 2]
    );
    let denied = validate("optional_input", &["--deny-warnings", "--format", "json"]);
    assert_eq!(denied.code, 1, "{}", denied.snapshot());
    assert_eq!(denied.json()["valid"], false);
    assert!(
        denied
            .stdout
            .contains("required_parameter_from_optional_input"),
        "{}",
        denied.stdout
    );
}

/// Every diagnostic of every fixture points at a line and column of a file, and
/// the human and JSON reports agree on the exit code.
#[test]
fn every_diagnostic_is_located_and_the_formats_agree() {
    for case in [
        "valid",
        "not_upstream",
        "malformed",
        "type_mismatch",
        "params",
        "inputs",
        "compensation",
        "never_runs",
        "optional_input",
    ] {
        let json = validate(case, &["--format", "json"]);
        assert_eq!(json.code, human(case).code, "{case}");
        for d in json.json()["diagnostics"].as_array().unwrap() {
            let at = &d["location"];
            assert!(
                at["file"].as_str().is_some_and(|f| f.starts_with(DIR))
                    && at["line"].as_u64().is_some()
                    && at["column"].as_u64().is_some(),
                "{case}: {d}"
            );
        }
    }
}

#[test]
fn a_reference_to_a_step_whose_id_has_a_dot_says_to_rename_the_step() {
    let out = human("dotted_id");
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(codes("dotted_id"), ["invalid_step_reference"]);
    let help = &validate("dotted_id", &["--format", "json"]).json()["diagnostics"][0]["help"];
    let help = help.as_str().unwrap();
    assert!(
        help.contains("step `collect.logs` has a `.` in its id") && help.contains("collect-logs"),
        "{help}"
    );
}
