//! MRS as written: formats asserted (UUID ids, UTC registration timestamps),
//! `supported_protocols` against the versions rune speaks, expired registrations,
//! and `update_mode` replace/merge/append across catalog files.

use std::path::Path;

use crate::support::{rune, Output};

const BASE_ID: &str = "550e8400-e29b-41d4-a716-446655440000";
const UPDATE_ID: &str = "550e8400-e29b-41d4-a716-446655440001";
const THIRD_ID: &str = "550e8400-e29b-41d4-a716-446655440002";

/// A catalog file of one `billing` registration, complete as MRS requires: `identity`
/// extra fields (after the required ones), the rest of the entry (lines under
/// `capability_declaration` get the required event lists added), and its
/// registration metadata.
fn registration(version: &str, identity: &str, rest: &str, metadata: &str) -> String {
    let metadata = metadata.replace(", ", "\n      ");
    let identity = if identity.contains("registration_timestamp") {
        identity.to_string()
    } else {
        format!("{identity}, registration_timestamp: \"2025-07-31T17:47:53Z\"")
    };
    let mut rest = rest.to_string();
    if !rest.contains("technical_requirements") {
        rest.push_str("    technical_requirements: { supported_protocols: [rcs_v2] }\n");
    }
    if rest.contains("    capability_declaration:\n") {
        rest = rest.replacen(
            "    capability_declaration:\n",
            "    capability_declaration:\n      provides_events: []\n      consumes_events: []\n",
            1,
        );
    } else {
        rest.push_str("    capability_declaration: { provides_events: [], consumes_events: [] }\n");
    }
    format!(
        "catalog_version: \"1\"\nmodules:\n  - module_identity: {{ module_name: billing, module_class: Svc, module_type: service, module_version: {version}, description: Billing{identity} }}\n{rest}    registration_metadata:\n      registration_version: \"1.0\"\n      {metadata}\n"
    )
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// `rune validate` on the directory, run from inside it so paths are short.
fn validate(dir: &Path, extra: &[&str]) -> Output {
    rune(["validate", "--color", "never"])
        .args(extra.iter().copied())
        .arg_path(".")
        .current_dir(dir)
        .run()
}

fn codes(dir: &Path, extra: &[&str]) -> Vec<(String, String)> {
    let out = rune(["validate", "--format", "json"])
        .args(extra.iter().copied())
        .arg_path(".")
        .current_dir(dir)
        .run();
    out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn code(name: &str, severity: &str) -> (String, String) {
    (format!("rune::{name}"), severity.to_string())
}

#[test]
fn a_registration_id_that_is_not_a_uuid_is_a_located_format_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = registration(
        "1.0.0",
        "",
        "",
        "registration_id: abc, update_mode: replace",
    );
    write(dir.path(), &[("catalog.yaml", &text)]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    let json = rune(["validate", "--format", "json", "catalog.yaml"])
        .current_dir(dir.path())
        .run()
        .json();
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "rune::schema::invalid_format");
    assert_eq!(d["protocol_code"], -32204);
    assert_eq!(d["location"]["line"], 8);
    // The same field with a UUID passes.
    let text = registration(
        "1.0.0",
        "",
        "",
        &format!("registration_id: {BASE_ID}, update_mode: replace"),
    );
    write(dir.path(), &[("catalog.yaml", &text)]);
    assert_eq!(validate(dir.path(), &[]).code, 0);
}

#[test]
fn a_non_utc_registration_timestamp_is_refused_and_utc_ones_pass() {
    let dir = tempfile::tempdir().unwrap();
    let stamp = |s: &str| {
        registration(
            "1.0.0",
            &format!(", registration_timestamp: \"{s}\""),
            "",
            &format!("registration_id: {BASE_ID}, update_mode: replace"),
        )
    };
    write(
        dir.path(),
        &[("catalog.yaml", &stamp("2025-07-31T19:47:53.123+02:00"))],
    );
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    for utc in [
        "2025-07-31T17:47:53.123Z",
        "2025-07-31T17:47:53+00:00",
        "2025-07-31t17:47:53z",
    ] {
        write(dir.path(), &[("catalog.yaml", &stamp(utc))]);
        let out = validate(dir.path(), &[]);
        assert_eq!(out.code, 0, "{utc}: {}", out.snapshot());
    }
    // Not RFC 3339 at all: the schema's format error, not a second report.
    write(dir.path(), &[("catalog.yaml", &stamp("2025-07-31 17:47"))]);
    assert_eq!(
        codes(dir.path(), &[]),
        [code("schema::invalid_format", "error")]
    );
}

#[test]
fn an_unknown_protocol_version_is_32105_with_what_rune_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let protocols = |list: &str| {
        registration(
            "1.0.0",
            "",
            &format!("    technical_requirements: {{ supported_protocols: [{list}] }}\n"),
            &format!("registration_id: {BASE_ID}, update_mode: replace"),
        )
    };
    write(dir.path(), &[("catalog.yaml", &protocols("rcs_v9"))]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune speaks `rcs_v2`"),
        "{}",
        out.stderr
    );
    insta::assert_snapshot!(out.snapshot());
    let json = rune(["validate", "--format", "json", "."])
        .current_dir(dir.path())
        .run()
        .json();
    assert_eq!(json["diagnostics"][0]["protocol_code"], -32105);
    // With a version in common, the unknown one is only noted.
    write(
        dir.path(),
        &[("catalog.yaml", &protocols("rcs_v2, rcs_v9"))],
    );
    assert_eq!(
        codes(dir.path(), &[]),
        [code("check::protocol_mismatch", "warning")]
    );
    write(dir.path(), &[("catalog.yaml", &protocols("rcs_v2"))]);
    assert_eq!(codes(dir.path(), &[]), []);
}

#[test]
fn an_expired_registration_warns_at_the_validation_instant() {
    let dir = tempfile::tempdir().unwrap();
    let text = registration(
        "1.0.0",
        "",
        "",
        &format!("registration_id: {BASE_ID}, update_mode: replace, expires_at: \"2026-01-01T00:00:00+01:00\""),
    );
    write(dir.path(), &[("catalog.yaml", &text)]);
    let out = validate(dir.path(), &["--at", "2026-06-01T00:00:00Z"]);
    assert_eq!(out.code, 0, "a warning, not an error: {}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    let warned = [code("check::expired_registration", "warning")];
    assert_eq!(codes(dir.path(), &["--at", "2026-06-01T00:00:00Z"]), warned);
    assert_eq!(
        validate(
            dir.path(),
            &["--at", "2026-06-01T00:00:00Z", "--deny-warnings"]
        )
        .code,
        1
    );
    // The expiry is the instant written, offset and all: 2025-12-31T23:00:00Z.
    assert_eq!(codes(dir.path(), &["--at", "2025-12-31T22:59:59Z"]), []);
    assert_eq!(codes(dir.path(), &["--at", "2025-12-31T23:00:01Z"]), warned);
    // Without --at: SOURCE_DATE_EPOCH, then now (this test runs after 2026).
    let at = |epoch: &str| {
        rune(["validate", "--format", "json", "."])
            .current_dir(dir.path())
            .env("SOURCE_DATE_EPOCH", epoch)
            .run()
            .json()["summary"]["warnings"]
            .clone()
    };
    assert_eq!(at("1700000000"), 0);
    assert_eq!(at("1800000000"), 1);
    let out = rune(["validate", "."])
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "soon")
        .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("invalid SOURCE_DATE_EPOCH"),
        "{}",
        out.stderr
    );
    assert_eq!(codes(dir.path(), &[]), warned);
    // An --at rune cannot read is reported, not ignored.
    let out = validate(dir.path(), &["--at", "yesterday"]);
    assert_eq!(
        out.code,
        2,
        "a usage error, as for plans: {}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("rune::cli::invalid_instant"),
        "{}",
        out.stderr
    );
}

/// A base registration with one action and service metadata, and an update of it.
fn base() -> String {
    registration(
        "1.0.0",
        "",
        "    capability_declaration:\n      service_metadata: { tier: gold, limits: { rps: 10, burst: 20 } }\n      actions:\n        - { action: billing-status, description: Status, category: diagnostic, impact: low }\n",
        &format!("registration_id: {BASE_ID}, update_mode: replace"),
    )
}

fn update(mode: &str, id: &str, previous: &str, version: &str, action: &str) -> String {
    registration(
        version,
        "",
        &format!("    capability_declaration:\n      actions:\n        - {{ action: {action}, description: More, category: diagnostic, impact: low }}\n"),
        &format!("registration_id: {id}, update_mode: {mode}, previous_registration_id: {previous}"),
    )
}

/// The module's version in the plan and its actions, as `rune` reports them.
fn merged(dir: &Path) -> (serde_json::Value, Vec<String>) {
    let plan = rune([
        "plan",
        "--format",
        "json",
        "--at",
        "2026-06-01T00:00:00Z",
        ".",
    ])
    .current_dir(dir)
    .run();
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let plan = plan.json();
    let modules = &plan["startup"][0]["modules"];
    assert_eq!(modules.as_array().unwrap().len(), 1, "{plan}");
    let actions = rune(["list-actions", "--format", "json", "."])
        .current_dir(dir)
        .run();
    assert_eq!(actions.code, 0, "{}", actions.snapshot());
    let names = actions.json()["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    (modules[0].clone(), names)
}

#[test]
fn append_across_files_appends_lists_and_merges_the_rest_in_any_file_order() {
    for (base_file, update_file) in [("a.yaml", "b.yaml"), ("b.yaml", "a.yaml")] {
        let dir = tempfile::tempdir().unwrap();
        let later = update("append", UPDATE_ID, BASE_ID, "1.1.0", "billing-refund");
        write(dir.path(), &[(base_file, &base()), (update_file, &later)]);
        let out = validate(dir.path(), &[]);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        assert!(out.stderr.contains("1 module"), "{}", out.stderr);
        let (module, actions) = merged(dir.path());
        assert_eq!(module["version"], "1.1.0", "the later scalar wins");
        // The merged registration stays where the earlier one was declared.
        assert_eq!(module["declared_in"], base_file);
        assert_eq!(
            actions,
            ["billing-refund", "billing-status"],
            "appended (listed by name)"
        );
    }
}

#[test]
fn merge_across_files_replaces_lists_and_deep_merges_mappings() {
    let dir = tempfile::tempdir().unwrap();
    let later = update("merge", UPDATE_ID, BASE_ID, "1.2.0", "billing-refund");
    write(dir.path(), &[("a.yaml", &base()), ("b.yaml", &later)]);
    let (module, actions) = merged(dir.path());
    assert_eq!(module["version"], "1.2.0");
    assert_eq!(actions, ["billing-refund"], "merge replaces a list");
}

#[test]
fn updates_chain_across_three_files_whatever_their_names() {
    for names in [
        ["a.yaml", "b.yaml", "c.yaml"],
        ["c.yaml", "b.yaml", "a.yaml"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let second = update("append", UPDATE_ID, BASE_ID, "1.1.0", "billing-refund");
        let third = update("append", THIRD_ID, UPDATE_ID, "1.2.0", "billing-void");
        write(
            dir.path(),
            &[(names[0], &base()), (names[1], &second), (names[2], &third)],
        );
        let (module, actions) = merged(dir.path());
        assert_eq!(module["version"], "1.2.0");
        assert_eq!(
            actions,
            ["billing-refund", "billing-status", "billing-void"]
        );
    }
}

#[test]
fn replace_naming_a_known_registration_takes_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let later = update("replace", UPDATE_ID, BASE_ID, "2.0.0", "billing-refund");
    write(dir.path(), &[("a.yaml", &base()), ("b.yaml", &later)]);
    let (module, actions) = merged(dir.path());
    assert_eq!(module["version"], "2.0.0");
    assert_eq!(actions, ["billing-refund"]);
    // A replace naming a registration of an earlier run stands alone.
    let dir = tempfile::tempdir().unwrap();
    let alone = update("replace", UPDATE_ID, THIRD_ID, "2.0.0", "billing-refund");
    write(dir.path(), &[("a.yaml", &alone)]);
    assert_eq!(codes(dir.path(), &[]), []);
}

#[test]
fn an_update_without_previous_registration_id_stays_a_duplicate_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let later = registration(
        "1.1.0",
        "",
        "",
        &format!("registration_id: {UPDATE_ID}, update_mode: merge"),
    );
    write(dir.path(), &[("a.yaml", &base()), ("b.yaml", &later)]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let json = rune(["validate", "--format", "json", "."])
        .current_dir(dir.path())
        .run()
        .json();
    let help = json["diagnostics"][0]["help"].as_str().unwrap();
    assert!(
        help.contains(&format!("set previous_registration_id to `{BASE_ID}`")),
        "{help}"
    );
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn an_update_naming_an_unknown_registration_is_an_error_with_the_known_ids() {
    let dir = tempfile::tempdir().unwrap();
    let later = update("merge", UPDATE_ID, THIRD_ID, "1.1.0", "billing-refund");
    write(dir.path(), &[("a.yaml", &base()), ("b.yaml", &later)]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    // One report: the update is left out, so it is not also a duplicate.
    assert_eq!(
        codes(dir.path(), &[]),
        [code("check::invalid_update", "error")]
    );
}

#[test]
fn two_updates_of_one_registration_are_both_refused() {
    let dir = tempfile::tempdir().unwrap();
    let one = update("merge", UPDATE_ID, BASE_ID, "1.1.0", "billing-refund");
    let two = update("append", THIRD_ID, BASE_ID, "1.2.0", "billing-void");
    write(
        dir.path(),
        &[("a.yaml", &base()), ("b.yaml", &one), ("c.yaml", &two)],
    );
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(
        codes(dir.path(), &[]),
        [
            code("check::invalid_update", "error"),
            code("check::invalid_update", "error")
        ]
    );
}

#[test]
fn updates_that_name_each_other_in_a_cycle_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let one = update("merge", UPDATE_ID, THIRD_ID, "1.1.0", "billing-refund");
    let two = update("append", THIRD_ID, UPDATE_ID, "1.2.0", "billing-void");
    write(dir.path(), &[("a.yaml", &one), ("b.yaml", &two)]);
    let found = codes(dir.path(), &[]);
    assert_eq!(
        found,
        [
            code("check::invalid_update", "error"),
            code("check::invalid_update", "error")
        ]
    );
}

#[test]
fn an_update_of_another_modules_registration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = base()
        .replace("module_name: billing", "module_name: invoicing")
        .replace("billing-status", "invoicing-status");
    let later = update("merge", UPDATE_ID, BASE_ID, "1.1.0", "billing-refund");
    write(dir.path(), &[("a.yaml", &other), ("b.yaml", &later)]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let json = rune(["validate", "--format", "json", "."])
        .current_dir(dir.path())
        .run()
        .json();
    let message = json["diagnostics"][0]["message"].as_str().unwrap();
    assert!(
        message.ends_with("which is module `invoicing`'s"),
        "{message}"
    );
}

#[test]
fn a_full_registration_missing_what_mrs_requires_warns_and_the_shorthand_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |metadata: &str| {
        format!("catalog_version: \"1\"\nmodules:\n  - module_identity: {{ module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Billing }}\n    capability_declaration: {{ consumes_events: [] }}\n{metadata}")
    };
    let metadata = format!("    registration_metadata: {{ registration_id: {BASE_ID}, registration_version: \"1.0\", update_mode: replace }}\n");
    write(dir.path(), &[("catalog.yaml", &entry(&metadata))]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 0, "accepted with a warning: {}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    let json = rune(["validate", "--format", "json", "."])
        .current_dir(dir.path())
        .run()
        .json();
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "rune::check::incomplete_registration");
    let message = d["message"].as_str().unwrap();
    for field in [
        "module_identity.registration_timestamp",
        "capability_declaration.provides_events",
        "technical_requirements.supported_protocols",
    ] {
        assert!(message.contains(field), "{message}");
    }
    assert!(!message.contains("consumes_events"), "{message}");
    assert!(d["help"]
        .as_str()
        .unwrap()
        .contains("MRS (Field Specifications)"));
    // Without registration_metadata it is the catalog's shorthand: no warning.
    write(dir.path(), &[("catalog.yaml", &entry(""))]);
    assert_eq!(codes(dir.path(), &[]), []);
}

#[test]
fn two_registrations_with_one_registration_id_are_refused_unless_one_updates_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let other = base()
        .replace("module_name: billing", "module_name: invoicing")
        .replace("billing-status", "invoicing-status");
    write(dir.path(), &[("a.yaml", &base()), ("b.yaml", &other)]);
    let out = validate(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    assert_eq!(
        codes(dir.path(), &[]),
        [code("check::duplicate_registration_id", "error")]
    );
    // An applied update is folded into the registration it names: its id, and the
    // earlier one's, belong to one registration.
    let later = update("merge", UPDATE_ID, BASE_ID, "1.1.0", "billing-refund");
    write(dir.path(), &[("b.yaml", &later)]);
    assert_eq!(codes(dir.path(), &[]), []);
}
