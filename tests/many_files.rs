//! A catalog of many files: each file is parsed, schema-checked and built on its
//! own, in parallel, and freed before the next stages. Whichever file finishes
//! first, the registry, the diagnostics and the output follow the file order:
//! the first of two declarations is the one in the earlier file, and the same
//! catalog always gives the same bytes.

use std::path::Path;

use crate::support::rune;

/// Modules in the first file: enough that it finishes well after the small ones.
const BIG: usize = 3_000;
/// Small files after the big one.
const SMALL: usize = 20;

fn module(name: &str, version: &str, depends_on: Option<&str>) -> String {
    let mut text = format!(
        "  - module_identity:\n      module_name: {name}\n      module_class: Service\n      module_type: service\n      module_version: {version}\n      description: Module {name}\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n"
    );
    if let Some(dep) = depends_on {
        text.push_str(&format!(
            "      dependencies:\n        - module_name: {dep}\n          version_requirement: \">=1.0.0\"\n          criticality: required\n"
        ));
    }
    text.push_str("    lifecycle:\n      runtime: builtin\n");
    text
}

/// Write the catalog into `dir/catalog`: a big first file, then small files that
/// each declare one module depending on the next file's. `extra(i)` adds text to
/// small file `i` (before its modules when it starts with a top-level key).
fn write_catalog(dir: &Path, extra: impl Fn(usize) -> Option<String>) {
    let catalog = dir.join("catalog");
    std::fs::create_dir(&catalog).unwrap();
    let mut big = String::from("catalog_version: \"1\"\nmodules:\n");
    for i in 0..BIG {
        big.push_str(&module(&format!("zz-big-{i:04}"), "1.0.0", None));
    }
    std::fs::write(catalog.join("00-big.yaml"), big).unwrap();
    for i in 1..=SMALL {
        let mut text = String::from("catalog_version: \"1\"\n");
        if let Some(extra) = extra(i) {
            text.push_str(&extra);
        }
        text.push_str("modules:\n");
        let next = (i < SMALL).then(|| format!("svc-{:02}", i + 1));
        text.push_str(&module(&format!("svc-{i:02}"), "1.0.0", next.as_deref()));
        std::fs::write(catalog.join(format!("{i:02}-small.yaml")), text).unwrap();
    }
}

#[test]
fn a_module_of_the_slow_first_file_is_the_first_declaration() {
    let dir = tempfile::tempdir().unwrap();
    write_catalog(dir.path(), |_| None);
    // The big first file's last module, declared again in the small second file,
    // which is parsed long before the big one is done.
    let path = dir.path().join("catalog/01-small.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&module(&format!("zz-big-{:04}", BIG - 1), "2.0.0", None));
    std::fs::write(&path, text).unwrap();
    let out = rune(["validate", "catalog", "--format", "json"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let duplicate = &diagnostics[0];
    assert_eq!(duplicate["code"], "rune::check::duplicate_module");
    assert_eq!(duplicate["location"]["file"], "catalog/01-small.yaml");
    let first = duplicate["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["message"] == "first registered here")
        .unwrap_or_else(|| panic!("a label on the first declaration: {duplicate}"));
    assert_eq!(first["file"], "catalog/00-big.yaml");
}

#[test]
fn problems_across_many_files_are_reported_in_file_order_every_time() {
    let dir = tempfile::tempdir().unwrap();
    write_catalog(dir.path(), |i| match i {
        // Two policies (an error) and an unknown key in each of two files.
        4 => Some("policy:\n  maintenance_mode: { enabled: false }\nextra_4: 1\n".to_string()),
        16 => Some("policy:\n  maintenance_mode: { enabled: true }\nextra_16: 1\n".to_string()),
        // A file that does not parse.
        7 => Some("modules_extra: [unclosed\n".to_string()),
        _ => None,
    });
    // The same module declared in two small files: the earlier file's is the
    // first declaration, whichever file was parsed first.
    for i in [5, 15] {
        let path = dir.path().join(format!("catalog/{i:02}-small.yaml"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&module("shared", &format!("{i}.0.0"), None));
        std::fs::write(&path, text).unwrap();
    }
    let first = rune(["validate", "catalog"]).current_dir(dir.path()).run();
    assert_eq!(first.code, 1, "{}", first.snapshot());
    for _ in 0..3 {
        let again = rune(["validate", "catalog"]).current_dir(dir.path()).run();
        assert_eq!(again.snapshot(), first.snapshot());
    }
    insta::assert_snapshot!(first.snapshot());
}
