//! Command-line basics: help, version, usage errors, schema printing.

use crate::support::rune;

#[test]
fn unknown_flag_is_a_usage_error_with_exit_code_2() {
    let out = rune(["validate", "--no-such-flag"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("--no-such-flag"));
}

#[test]
fn version_prints_the_crate_version() {
    let out = rune(["--version"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.trim(),
        format!("rune {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn schema_prints_the_embedded_catalog_schema_as_json() {
    let out = rune(["schema"]).run();
    assert_eq!(out.code, 0);
    let schema = out.json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/catalog.schema.json").unwrap())
            .unwrap();
    assert_eq!(schema, file);
}

#[test]
fn unknown_schema_name_is_a_usage_error() {
    let out = rune(["schema", "nope"]).run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("available: catalog, plan"),
        "{}",
        out.stderr
    );
}
