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

/// Run `rune ARGS` with stdout and stderr on a pseudo-terminal (util-linux
/// `script`), so colour decisions that depend on a terminal can be seen. `None`
/// (with a note) where no `script` can provide one.
fn on_a_terminal(args: &[&str], no_color: Option<&str>) -> Option<String> {
    let mut command_line = format!("'{}'", env!("CARGO_BIN_EXE_rune"));
    for arg in args {
        command_line.push_str(&format!(" '{arg}'"));
    }
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &command_line, "/dev/null"])
        .current_dir(crate::support::root())
        .stdin(std::process::Stdio::null())
        .env_remove("NO_COLOR");
    if let Some(value) = no_color {
        script.env("NO_COLOR", value);
    }
    match crate::support::output_within(script, crate::support::DEADLINE) {
        Ok(out) if !out.stdout.is_empty() => Some(out.stdout),
        _ => {
            crate::support::skip("no `script` to give rune a terminal");
            None
        }
    }
}

#[test]
fn no_color_turns_colour_off_on_a_terminal_and_color_always_overrides_it() {
    let path = "tests/fixtures/invalid/dependency_cycle.yaml";
    let Some(plain) = on_a_terminal(&["validate", path], None) else {
        return;
    };
    // The check that makes the others mean something: a terminal gets colour.
    assert!(
        plain.contains('\u{1b}'),
        "a terminal gets colour: {plain:?}"
    );
    let no_color = on_a_terminal(&["validate", path], Some("1")).unwrap();
    assert!(!no_color.contains('\u{1b}'), "NO_COLOR=1: {no_color:?}");
    assert!(no_color.contains("dependency cycle"), "{no_color:?}");
    // An empty NO_COLOR is unset (no-color.org).
    let empty = on_a_terminal(&["validate", path], Some("")).unwrap();
    assert!(empty.contains('\u{1b}'), "NO_COLOR empty: {empty:?}");
    // A command-line choice wins over the environment, both ways.
    let forced = on_a_terminal(&["validate", "--color", "always", path], Some("1")).unwrap();
    assert!(
        forced.contains('\u{1b}'),
        "--color always with NO_COLOR: {forced:?}"
    );
    let never = on_a_terminal(&["validate", "--color", "never", path], None).unwrap();
    assert!(
        !never.contains('\u{1b}'),
        "--color never on a terminal: {never:?}"
    );
}

/// The bundled catalogs copied to a directory that is not `./catalogs`.
fn catalogs_elsewhere() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("elsewhere");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(crate::support::root().join("catalogs")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn catalog_option_reads_a_directory_other_than_the_default_in_every_command() {
    let dir = catalogs_elsewhere();
    let run = |args: &[&str]| rune(args).current_dir(dir.path()).run();
    // Without the option there is nothing to read here: the default is not used.
    let out = run(&["validate"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let out = run(&["validate", "--catalog", "elsewhere", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["summary"]["files"], 5);
    let out = run(&["list-actions", "--catalog", "elsewhere"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("purge-archives"), "{}", out.stdout);
    let out = run(&["graph", "--catalog", "elsewhere", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!out.json()["nodes"].as_array().unwrap().is_empty());
    let out = run(&[
        "plan",
        "--catalog",
        "elsewhere",
        "--at",
        "2026-03-27T10:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.json()["startup"].is_array(), "{}", out.stdout);
}
