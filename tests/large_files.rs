//! Large catalog files: a file of several MiB whose bulk is `modules:` is parsed in
//! stretches in parallel, and must report exactly what a one-piece parse would, at
//! the same lines and columns, whether the problem is found by the schema and the
//! checks (the stretches are used) or by the parser (the file is parsed again in
//! one piece).

use crate::support::rune;

/// Modules in the generated file: about 2.6 MB, past the 2 MiB split threshold.
const MODULES: usize = 10_000;

/// A catalog of `MODULES` modules; `bad(i, &mut lines)` may add lines to module
/// `i`. Returns the text and the 1-based line of module 7,000's `module_version`.
fn catalog(bad: impl Fn(usize) -> Option<&'static str>) -> (String, usize) {
    let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
    let mut version_line = 0;
    for i in 0..MODULES {
        text.push_str(&format!(
            "  - module_identity:\n      module_name: svc-{i:05}\n      module_class: Service\n      module_type: service\n"
        ));
        if i == 7_000 {
            version_line = text.lines().count() + 1;
        }
        let version = if i == 7_000 { "1.x.0" } else { "1.0.0" };
        text.push_str(&format!(
            "      module_version: {version}\n      description: Generated service {i}\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n    lifecycle:\n      runtime: builtin\n"
        ));
        if let Some(extra) = bad(i) {
            text.push_str(extra);
        }
    }
    assert!(text.len() > 2 << 20, "{} bytes", text.len());
    (text, version_line)
}

fn validate_json(text: &str) -> crate::support::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.yaml");
    std::fs::write(&path, text).unwrap();
    rune(["validate", "--format", "json"]).arg_path(&path).run()
}

#[test]
fn a_problem_deep_in_a_large_file_is_located_at_its_line() {
    let (text, line) = catalog(|_| None);
    let out = validate_json(&text);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let location = &diagnostics[0]["location"];
    assert_eq!(location["line"], line, "{location}");
    assert_eq!(location["column"], 23, "{location}");
    assert_eq!(report["summary"]["modules"], MODULES);
}

#[test]
fn a_parser_problem_in_a_large_file_is_reported_as_in_a_small_one() {
    // A duplicate key in module 9,000: the stretches are not used, and the one-piece
    // parse reports both keys at their lines.
    let (text, _) = catalog(|i| (i == 9_000).then_some("    lifecycle:\n      runtime: builtin\n"));
    let out = validate_json(&text);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let duplicate = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "rune::load::duplicate_key")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    let lines: Vec<u64> = duplicate["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    // Module i starts at line 3 + 10 i; its lifecycle is its 9th line, the added
    // one its 11th.
    let start = 3 + 10 * 9_000;
    assert_eq!(lines, [start + 10, start + 8]);
}
