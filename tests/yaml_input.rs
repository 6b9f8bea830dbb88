//! Reading catalog text: YAML shapes that used to cost unbounded time or memory
//! (anchors, aliases, wide mappings), strict JSON for `.json` files, mapping keys
//! kept as written, YAML hints (merge keys, tabs), columns after a BOM, the
//! directory walk, and `--params-file` through the loader's guards.
//!
//! Hostile files are generated into a temporary directory by each test. Tests of
//! time bounds run the binary with a deadline: before the fixes these shapes took
//! minutes, so a regression fails instead of hanging the suite.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::{rune, Output, Rune};

/// A module line that makes a catalog valid; `service_metadata` is a free object,
/// so generated shapes can sit under it without schema errors.
const MODULE_HEAD: &str = r#"catalog_version: "1"
modules:
  - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
    capability_declaration:
      service_metadata:
"#;

/// Run `rune`, failing the test (and killing it) if it takes longer than `seconds`.
fn run_within(command: Rune, seconds: u64) -> Output {
    command.deadline(Duration::from_secs(seconds)).run()
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// `rune validate --format json FILE`.
fn validate_json(path: &Path, seconds: u64) -> (Output, serde_json::Value) {
    let out = run_within(
        rune(["validate", "--format", "json"]).arg_path(path),
        seconds,
    );
    let report = out.json();
    (out, report)
}

/// The codes of a JSON validation report.
fn codes(report: &serde_json::Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

/// `rune validate` (human) on a directory, with the directory's path removed.
fn validate_human(dir: &TempDir) -> String {
    let out = rune(["validate"])
        .current_dir(dir.path())
        .arg_path(".")
        .run();
    out.snapshot()
}

// --- Anchors and aliases (issue 7, item 2) ---

#[test]
fn a_million_anchors_with_many_aliases_load_in_linear_time() {
    // Before: every alias scanned every anchor (1,000,000 × 99,000 took 151 s).
    let dir = TempDir::new().unwrap();
    let mut text = String::from(MODULE_HEAD);
    text.push_str("        defined:\n");
    let anchors = 200_000;
    for i in 0..anchors {
        writeln!(text, "          - &a{i} {i}").unwrap();
    }
    text.push_str("        used:\n");
    for i in 0..99_000 {
        writeln!(text, "          - *a{}", (i * 7919) % anchors).unwrap();
    }
    let path = dir.path().join("anchors.yaml");
    write(&path, &text);
    let (out, report) = validate_json(&path, 30);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(report["valid"], true);
}

#[test]
fn nested_anchors_are_not_copied_when_defined() {
    // Before: each anchored collection was copied when defined, so every level was
    // copied again into each enclosing one (a 1.2 MB file took 3.5 GB).
    let dir = TempDir::new().unwrap();
    let mut text = String::from(MODULE_HEAD);
    text.push_str("        nested: ");
    let depth = 100;
    let items = vec!["x"; 2_000].join(", ");
    for level in 0..depth {
        write!(text, "&n{level} [{items}, ").unwrap();
    }
    text.push_str(&"]".repeat(depth));
    // Aliases to the innermost levels, within the expansion cap.
    text.push_str("\n        copies: [*n99, *n98, *n97]\n");
    let path = dir.path().join("nested.yaml");
    write(&path, &text);
    let (out, report) = validate_json(&path, 30);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(report["valid"], true);
}

#[test]
fn alias_expansion_is_capped_for_every_shape() {
    let dir = TempDir::new().unwrap();
    let laughs = {
        let mut t = String::from(MODULE_HEAD);
        t.push_str("        a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            writeln!(
                t,
                "        a{i}: &a{i} [{}]",
                vec![format!("*a{p}"); 10].join(", ")
            )
            .unwrap();
        }
        t
    };
    // Many aliases of one scalar: each copy is a node.
    let scalars = {
        let mut t = String::from(MODULE_HEAD);
        t.push_str("        s: &s x\n        copies:\n");
        for _ in 0..100_001 {
            t.push_str("          - *s\n");
        }
        t
    };
    // Few aliases of a long string: the copies are megabytes.
    let strings = {
        let mut t = String::from(MODULE_HEAD);
        writeln!(t, "        s: &s {}", "x".repeat(200_000)).unwrap();
        writeln!(t, "        copies: [{}]", vec!["*s"; 40].join(", ")).unwrap();
        t
    };
    // Aliases of aliases: an anchor's size counts the copies inside it.
    let chained = {
        let mut t = String::from(MODULE_HEAD);
        writeln!(t, "        b: &b [{}]", vec!["y"; 30_000].join(", ")).unwrap();
        t.push_str("        c: &c [*b, *b]\n        d: [*c, *c]\n");
        t
    };
    for (name, text) in [
        ("laughs", laughs),
        ("scalars", scalars),
        ("strings", strings),
        ("chained", chained),
    ] {
        let path = dir.path().join(format!("{name}.yaml"));
        write(&path, &text);
        let (out, report) = validate_json(&path, 20);
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        assert_eq!(codes(&report), ["rune::load::alias_limit"], "{name}");
    }
}

#[test]
fn aliases_cannot_nest_the_document_deeper_than_the_limit() {
    // Each anchor aliases the one before inside 100 levels: the copies would nest
    // thousands of levels deep, which later stages walk recursively.
    let dir = TempDir::new().unwrap();
    let mut text = String::from(MODULE_HEAD);
    text.push_str("        l0: &l0 x\n");
    for i in 1..40 {
        let (open, close) = ("[".repeat(100), "]".repeat(100));
        writeln!(text, "        l{i}: &l{i} {open}*l{}{close}", i - 1).unwrap();
    }
    let path = dir.path().join("deep.yaml");
    write(&path, &text);
    let (out, report) = validate_json(&path, 20);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(codes(&report), ["rune::load::nesting_limit"]);
    // At the first alias whose copy would cross the limit: `*l1` on the line of `l2`.
    assert_eq!(report["diagnostics"][0]["labels"][0]["line"], 8, "{report}");
}

#[test]
fn nested_flow_collections_are_refused_before_they_exhaust_memory() {
    // saphyr-parser buffers every token of a flow collection nested in another
    // until it closes (it could be a key): 9 MB of this used to take 1 GB.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("flow.yaml");
    write(
        &path,
        &format!("{MODULE_HEAD}        x: [[{}]]\n", "a, ".repeat(3_000_000)),
    );
    let (out, report) = validate_json(&path, 20);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(codes(&report), ["rune::load::unsupported_yaml"]);
    let message = report["diagnostics"][0]["message"].as_str().unwrap();
    assert!(message.contains("too large to parse"), "{message}");
    // A large JSON document in a .yaml file is read (by the JSON parser).
    let items = vec!["[\"a\"]"; 300_000].join(", ");
    let json = format!(
        r#"{{"catalog_version": "1", "modules": [{{"module_identity": {{"module_name": "billing", "module_class": "Svc", "module_type": "service", "module_version": "1.0.0", "description": "Example"}}, "capability_declaration": {{"service_metadata": {{"x": [{items}]}}}}}}]}}"#
    );
    write(&path, &json);
    let (out, report) = validate_json(&path, 20);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(report["valid"], true);
}

#[test]
fn an_alias_inside_its_own_anchor_is_refused() {
    let dir = TempDir::new().unwrap();
    write(
        &dir.path().join("catalog.yaml"),
        &format!("{MODULE_HEAD}        loop: &l [1, *l]\n"),
    );
    insta::assert_snapshot!(validate_human(&dir));
}

#[test]
fn duplicate_keys_in_a_wide_mapping_are_found_in_linear_time() {
    // Before: each key was compared with every earlier one.
    let dir = TempDir::new().unwrap();
    let mut text = String::from(MODULE_HEAD);
    for i in 0..60_000 {
        writeln!(text, "        k{i}: {i}").unwrap();
    }
    text.push_str("        k123: again\n");
    let path = dir.path().join("wide.yaml");
    write(&path, &text);
    let (out, report) = validate_json(&path, 30);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(codes(&report), ["rune::load::duplicate_key"]);
    let labels = &report["diagnostics"][0]["labels"];
    assert_eq!(labels[0]["line"], 60_006, "{report}");
    assert_eq!(labels[1]["line"], 129, "{report}");
}

#[test]
fn a_duplicate_key_reached_through_an_alias_points_at_the_alias() {
    let dir = TempDir::new().unwrap();
    write(
        &dir.path().join("catalog.yaml"),
        &format!("{MODULE_HEAD}        names: [&key owner]\n        owner: ops\n        *key : billing\n"),
    );
    insta::assert_snapshot!(validate_human(&dir));
}

// --- YAML hints (issue 7, item 8) ---

#[test]
fn merge_keys_are_refused_with_what_to_write_instead() {
    let dir = TempDir::new().unwrap();
    write(
        &dir.path().join("catalog.yaml"),
        r#"catalog_version: "1"
modules:
  - module_identity: &id { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
  - module_identity:
      <<: *id
      module_name: billing-2
"#,
    );
    insta::assert_snapshot!(validate_human(&dir));
}

#[test]
fn a_tab_that_breaks_the_syntax_is_pointed_at() {
    let dir = TempDir::new().unwrap();
    write(
        &dir.path().join("indented.yaml"),
        "catalog_version: \"1\"\nmodules:\n\t- module_identity: {}\n",
    );
    write(
        &dir.path().join("nested.yaml"),
        "catalog_version: \"1\"\nmodules:\n  - module_identity:\n      module_name: a\n\t    module_class: b\n",
    );
    insta::assert_snapshot!(validate_human(&dir));
}

#[test]
fn columns_count_characters_after_a_bom_and_on_non_ascii_lines() {
    let dir = TempDir::new().unwrap();
    let line = r#"  - module_identity: { description: "Grüße, 世界", module_name: "bad name!", module_class: Svc, module_type: service, module_version: 1.0.0 }"#;
    let path = dir.path().join("bom.yaml");
    write(
        &path,
        &format!("\u{feff}catalog_version: 1\nmodules:\n{line}\n"),
    );
    let (out, report) = validate_json(&path, 20);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let columns: Vec<(u64, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let label = &d["labels"][0];
            (
                label["line"].as_u64().unwrap(),
                label["column"].as_u64().unwrap(),
            )
        })
        .collect();
    let name_column = line[..line.find("\"bad name!\"").unwrap()].chars().count() as u64 + 1;
    // `1` after `catalog_version: `, not counting the BOM an editor does not show.
    assert_eq!(columns, [(1, 18), (3, name_column)], "{report}");
    // The human header agrees after the BOM. (On the non-ASCII line, miette's
    // header counts bytes; that is the renderer's to fix, not the spans'.)
    let human = rune(["validate"]).arg_path(&path).run();
    assert!(human.stderr.contains("bom.yaml:1:18]"), "{}", human.stderr);
}

// --- Mapping keys keep their text (issue 7, item 6) ---

#[test]
fn numeric_keys_keep_their_source_text() {
    // Before: `1.10:` became the key "1.1", so the override named no action.
    let dir = TempDir::new().unwrap();
    write(
        &dir.path().join("catalog.yaml"),
        r#"catalog_version: "1"
modules:
  - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
    capability_declaration:
      actions:
        - { action: "1.10", description: Versioned action, category: diagnostic, impact: low }
        - { action: "0x10", description: Hex-looking action, category: diagnostic, impact: low }
        - { action: "1e3", description: Float-looking action, category: diagnostic, impact: low }
        - { action: "true", description: Bool-looking action, category: diagnostic, impact: low }
        - { action: "null", description: Null-looking action, category: diagnostic, impact: low }
policy:
  overrides:
    1.10: { timeout_ms: 4321 }
    0x10: { timeout_ms: 1000 }
    1e3: { timeout_ms: 1000 }
    true: { timeout_ms: 1000 }
    null: { timeout_ms: 1000 }
"#,
    );
    let out = rune(["validate", "--deny-warnings", "."])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let out = rune([
        "plan",
        ".",
        "--at",
        "2026-03-27T10:00:00Z",
        "--action",
        "1.10",
        "--format",
        "json",
    ])
    .current_dir(dir.path())
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("4321"), "{}", out.stdout);
}

// --- Strict JSON (issue 7, item 6) ---

#[test]
fn json_files_are_read_as_strict_json() {
    let dir = TempDir::new().unwrap();
    let files = [
        (
            "comment.json",
            "{\n  \"catalog_version\": \"1\", // the version\n  \"modules\": []\n}\n",
        ),
        (
            "trailing.json",
            "{\n  \"catalog_version\": \"1\",\n  \"modules\": [],\n}\n",
        ),
        ("unquoted.json", "{\n  catalog_version: \"1\"\n}\n"),
        ("single.json", "{\n  \"catalog_version\": '1'\n}\n"),
        (
            "surrogate.json",
            "{\n  \"catalog_version\": \"1\", \"x\": \"\\ud83d!\"\n}\n",
        ),
        (
            "missing_comma.json",
            "{\n  \"catalog_version\": \"1\"\n  \"modules\": []\n}\n",
        ),
    ];
    for (name, text) in files {
        write(&dir.path().join(name), text);
    }
    insta::assert_snapshot!(validate_human(&dir));
}

#[test]
fn surrogate_pairs_in_json_decode_to_one_character() {
    // What Python's json.dumps writes for an emoji.
    let dir = TempDir::new().unwrap();
    let catalog = r#"{"catalog_version": "1", "modules": [{"module_identity": {"module_name": "ops", "module_class": "Svc", "module_type": "service", "module_version": "1.0.0", "description": "Example"}, "capability_declaration": {"actions": [{"action": "smile", "description": "Say \ud83d\ude00 to \u00e9t\u00e9", "category": "diagnostic", "impact": "low"}]}}]}"#;
    let path = dir.path().join("catalog.json");
    write(&path, catalog);
    let out = rune(["list-actions", "--format", "json", "--catalog"])
        .arg_path(&path)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("Say 😀 to été"), "{}", out.stdout);
}

#[test]
fn json_keeps_the_catalog_limits() {
    let dir = TempDir::new().unwrap();
    let deep = format!(
        "{{\"catalog_version\": \"1\", \"x\": {}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    write(&dir.path().join("deep.json"), &deep);
    write(
        &dir.path().join("dup.json"),
        "{\"catalog_version\": \"1\", \"modules\": [], \"catalog_version\": \"1\"}",
    );
    let (out, report) = validate_json(dir.path(), 20);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        codes(&report),
        ["rune::load::nesting_limit", "rune::load::duplicate_key"]
    );
}

#[test]
fn upper_case_extensions_are_read_like_lower_case() {
    let dir = TempDir::new().unwrap();
    let module = |name: &str| {
        format!("catalog_version: \"1\"\nmodules:\n  - module_identity: {{ module_name: {name}, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }}\n")
    };
    write(&dir.path().join("A.YAML"), &module("a"));
    write(&dir.path().join("b.Yml"), &module("b"));
    write(
        &dir.path().join("C.JSON"),
        r#"{"catalog_version": "1", "modules": [{"module_identity": {"module_name": "c", "module_class": "Svc", "module_type": "service", "module_version": "1.0.0", "description": "Example"}}]}"#,
    );
    let out = rune(["validate", "."]).current_dir(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stderr.contains("3 files, 3 modules"), "{}", out.stderr);
    // `.JSON` is JSON: a YAML comment there is a JSON syntax error.
    write(&dir.path().join("D.JSON"), "# not JSON\n{}\n");
    let (_, report) = validate_json(dir.path(), 20);
    assert_eq!(codes(&report), ["rune::load::json_syntax"]);
}

// --- The directory walk and the default catalogs (issue 7, items 6 and 8) ---

#[test]
fn a_directory_tree_deeper_than_the_walk_limit_is_reported() {
    let dir = TempDir::new().unwrap();
    let mut deep = dir.path().join("catalogs");
    for level in 0..40 {
        deep.push(format!("d{level}"));
    }
    write(
        &deep.join("lost.yaml"),
        "catalog_version: \"1\"\nmodules: []\n",
    );
    write(
        &dir.path().join("catalogs/top.yaml"),
        "catalog_version: \"1\"\nmodules: []\n",
    );
    let out = rune(["validate", "catalogs"]).current_dir(dir.path()).run();
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn a_missing_default_catalogs_directory_says_how_to_point_rune_at_catalogs() {
    let dir = TempDir::new().unwrap();
    for command in [&["validate"][..], &["plan"], &["graph"], &["list-actions"]] {
        let out = rune(command).current_dir(dir.path()).run();
        assert_eq!(out.code, 2, "{command:?}: {}", out.snapshot());
        assert!(
            out.stderr.contains("there is no `catalogs` directory here")
                && out.stderr.contains("`--catalog PATH`"),
            "{command:?}: {}",
            out.stderr
        );
    }
    let out = rune(["validate"]).current_dir(dir.path()).run();
    insta::assert_snapshot!(out.snapshot());
}

// --- `--params-file` (issue 7, item 8) ---

/// `rune plan --action collect-logs --params-file FILE` on the plan fixture.
fn plan_with_params_file(dir: &TempDir, file: &Path) -> Output {
    run_within(plan_with_params_file_command(dir, file), 20)
}

fn plan_with_params_file_command(dir: &TempDir, file: &Path) -> Rune {
    rune([
        "plan",
        "--at",
        "2026-03-27T10:00:00Z",
        "--action",
        "collect-logs",
        "--params-file",
    ])
    .arg_path(file)
    .current_dir(dir.path())
}

#[test]
fn a_params_file_that_is_a_device_or_fifo_is_refused_not_read_forever() {
    let dir = crate::plan::fixture();
    let out = plan_with_params_file(&dir, Path::new("/dev/zero"));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("`/dev/zero` is not a regular file (a device, FIFO or socket is not read)"),
        "{}",
        out.stderr
    );
    let fifo = dir.path().join("params.fifo");
    let mut mkfifo = std::process::Command::new("mkfifo");
    mkfifo.arg(&fifo);
    assert!(crate::support::succeeds(mkfifo), "mkfifo");
    // Nobody writes to the FIFO: opening it for reading would block forever.
    let out = plan_with_params_file(&dir, &fifo);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("is not a regular file"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_oversized_params_file_is_refused() {
    let dir = crate::plan::fixture();
    let path = dir.path().join("params.yaml");
    write(
        &path,
        &format!("node: \"{}\"\n", "x".repeat(2 * 1024 * 1024)),
    );
    let out = plan_with_params_file(&dir, &path);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("is larger than 1024 KiB"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreadable_params_file_is_refused() {
    let dir = crate::plan::fixture();
    let path = dir.path().join("params.yaml");
    write(&path, "node: worker-1\n");
    let missing = plan_with_params_file(&dir, &dir.path().join("absent.yaml"));
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read --params-file `")
            && missing.stderr.contains("no such file"),
        "{}",
        missing.stderr
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    // As root, which reads any file, rune runs as `nobody`: others may enter the
    // fixture, only the file's own mode refuses.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(command) = plan_with_params_file_command(&dir, &path).unprivileged() else {
        crate::support::skip("running as root without `setpriv` to drop privileges");
        return;
    };
    let out = run_within(command, 20);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("permission denied"), "{}", out.stderr);
}

#[test]
fn an_empty_or_bad_params_file_gets_a_params_message() {
    let dir = crate::plan::fixture();
    let mut report = String::new();
    for (name, text) in [
        ("empty.yaml", ""),
        ("comment.yaml", "# nothing yet\n"),
        ("list.yaml", "- node\n"),
        ("broken.yaml", "node: [worker-1\n"),
        ("broken.json", "{\"node\": \"worker-1\",}\n"),
    ] {
        let path = dir.path().join(name);
        write(&path, text);
        let out = plan_with_params_file(&dir, Path::new(name));
        assert_eq!(out.code, 2, "{name}: {}", out.snapshot());
        assert!(!out.stderr.contains("catalog"), "{name}: {}", out.stderr);
        writeln!(report, "=== {name}\n{}", out.stderr).unwrap();
    }
    insta::assert_snapshot!(report);
}

#[test]
fn a_params_file_with_a_bom_is_read() {
    let dir = crate::plan::fixture();
    write(&dir.path().join("params.yaml"), "\u{feff}node: worker-1\n");
    let out = plan_with_params_file(&dir, Path::new("params.yaml"));
    assert_eq!(out.code, 0, "{}", out.snapshot());
}
