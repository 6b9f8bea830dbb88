//! "Did you mean" through the real binary: a case-only slip is found first, for
//! every kind of name; one- and two-letter names get no far-fetched guess; and a
//! misspelt value of any length is answered in bounded time.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{rune, Output};

/// One line per diagnostic: code, message and help.
fn listing(out: &Output) -> String {
    let report = out.json();
    let mut text = format!("exit code: {}\n", out.code);
    for d in report["diagnostics"].as_array().unwrap() {
        text.push_str(&format!(
            "{} {}\n",
            d["code"].as_str().unwrap(),
            d["message"].as_str().unwrap()
        ));
        if let Some(help) = d["help"].as_str() {
            text.push_str(&format!("  help: {help}\n"));
        }
    }
    text
}

/// A module entry with these dependencies (all required) and actions.
fn module(name: &str, dependencies: &[&str], actions: &[&str]) -> Value {
    json!({
        "module_identity": {"module_name": name, "module_class": "C", "module_type": "s",
            "module_version": "1.0.0", "description": "d"},
        "technical_requirements": {"supported_protocols": ["rcs_v2"], "dependencies":
            dependencies.iter().map(|d| json!({"module_name": d, "criticality": "required"}))
                .collect::<Vec<_>>()},
        "capability_declaration": {"actions": actions.iter()
            .map(|a| json!({"action": a, "description": "d", "category": "diagnostic", "impact": "low"}))
            .collect::<Vec<_>>()},
        "lifecycle": {"runtime": "builtin"},
    })
}

fn write(dir: &Path, name: &str, catalog: &Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(catalog).unwrap()).unwrap();
    path
}

fn validate(path: &Path) -> Output {
    rune(["validate", "--format", "json"])
        .arg_path(path)
        .deadline(BUDGET)
        .run()
}

#[test]
fn short_names_get_no_far_fetched_guess_and_case_comes_first() {
    // `x` and `a` are one edit from `b` but no typo of it; `API` is `api` in the
    // wrong case; `apj` is a real one-letter typo of `api`.
    let dir = tempfile::tempdir().unwrap();
    let catalog = json!({"catalog_version": "1", "modules": [
        module("api", &["x"], &[]),
        module("b", &["API", "a"], &[]),
        module("c", &["apj"], &[]),
    ]});
    let out = validate(&write(dir.path(), "short.json", &catalog));
    insta::assert_snapshot!(listing(&out), @r"
    exit code: 1
    rune::check::missing_dependency `api` requires `x`, which is not in the catalog
      help: add the module's catalog to the paths being checked, or mark the dependency `criticality: optional`
    rune::check::missing_dependency `b` requires `API`, which is not in the catalog
      help: did you mean `api`?
    rune::check::missing_dependency `b` requires `a`, which is not in the catalog
      help: add the module's catalog to the paths being checked, or mark the dependency `criticality: optional`
    rune::check::missing_dependency `c` requires `apj`, which is not in the catalog
      help: did you mean `api`?
    ");
}

#[test]
fn case_only_slips_are_found_for_zones_actions_and_steps() {
    // Time zones are looked up ignoring case, so only a zone with a typo as well
    // is reported.
    let dir = tempfile::tempdir().unwrap();
    let catalog = json!({
        "catalog_version": "1",
        "modules": [module("ops", &[], &["restart"])],
        "policy": {"change_windows": [{"name": "w", "timezone": "europe/berlinn",
            "start": "00:00", "end": "01:00"}]},
        "workflows": {"wf": {"steps": [
            {"id": "first", "action": "RESTART"},
            {"id": "second", "action": "restart", "needs": ["First"]},
        ]}},
    });
    let out = validate(&write(dir.path(), "case.json", &catalog));
    insta::assert_snapshot!(listing(&out));
}

#[test]
fn a_plan_selector_in_the_wrong_case_is_suggested() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = json!({"catalog_version": "1", "modules": [module("ops", &[], &["restart"])]});
    let path = write(dir.path(), "plan.json", &catalog);
    let out = rune([
        "plan",
        "--at",
        "2026-03-27T10:00:00Z",
        "--action",
        "Restart",
        "-c",
    ])
    .arg_path(&path)
    .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("did you mean `restart`?"),
        "{}",
        out.snapshot()
    );
}

/// Generous for a debug build; these shapes took minutes in a release build when
/// the cost of a suggestion grew with the square of the word's length.
const BUDGET: Duration = Duration::from_secs(20);

/// 200,000 characters: far past any name the schema allows.
const LONG: usize = 200_000;

/// Validate `path`; a run past [`BUDGET`] is killed and fails the test.
fn assert_quick(path: &Path) -> Output {
    let out = validate(path);
    assert_eq!(out.code, 1, "{}", &out.stderr);
    out
}

#[test]
fn a_long_unknown_time_zone_is_answered_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let zone = format!("Europe/{}", "a".repeat(LONG));
    let catalog = json!({"catalog_version": "1", "policy": {"change_windows": [
        {"name": "w", "timezone": zone, "start": "00:00", "end": "01:00"}]}});
    let out = assert_quick(&write(dir.path(), "zone.json", &catalog));
    assert!(out.stdout.contains("rune::check::unknown_time_zone"));
}

#[test]
fn a_long_near_miss_of_a_long_name_is_answered_quickly() {
    // Two names of nearly the same great length: the edit distance table between
    // them alone would be 40 billion cells.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("m{}", "a".repeat(LONG));
    let near = format!("{name}x");
    let catalog = json!({"catalog_version": "1", "modules": [
        module(&name, &[], &[]), module("b", &[&near], &[])]});
    let out = assert_quick(&write(dir.path(), "near.json", &catalog));
    assert!(out.stdout.contains("rune::check::missing_dependency"));
}

#[test]
fn a_long_misspelling_among_many_names_is_answered_quickly() {
    // Enough modules that the names are indexed by their deletions; the misspelt
    // name is long, and each of its deletions once cost a hash of the whole word.
    let dir = tempfile::tempdir().unwrap();
    let long = format!("z{}", "a".repeat(LONG));
    let mut modules: Vec<Value> = (1..100)
        .map(|i| module(&format!("m{i}"), &[], &[]))
        .collect();
    modules.push(module("m0", &[&long, &long[..LONG / 2]], &[]));
    let catalog = json!({"catalog_version": "1", "modules": modules});
    let out = assert_quick(&write(dir.path(), "index.json", &catalog));
    let report = out.json();
    let missing = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "rune::check::missing_dependency")
        .count();
    assert_eq!(missing, 2);
}

/// Schema errors by the ten thousand: each is located in constant time, so the cost
/// grows with their number, not with its square. (A debug build spends most of this
/// on the output; the release figures are in the commit that made it linear.)
#[test]
fn many_unknown_keys_in_one_mapping_are_located_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let count = 15_000;
    // A long common prefix made every key comparison of the old linear search slow.
    let prefix = "k".repeat(100);
    let mut text = String::from(
        "catalog_version: \"1\"\nmodules:\n  - module_identity:\n      module_name: a\n      module_class: C\n      module_type: s\n      module_version: 1.0.0\n      description: d\n",
    );
    for i in 0..count {
        text.push_str(&format!("      {prefix}{i}: {i}\n"));
    }
    text.push_str("    lifecycle: {runtime: builtin}\n");
    let path = dir.path().join("keys.yaml");
    std::fs::write(&path, text).unwrap();
    let out = assert_quick(&path);
    let report = out.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), count);
    let last = &diagnostics[count - 1];
    assert_eq!(last["location"]["line"], 8 + count);
    assert_eq!(last["location"]["column"], 7);
}

#[test]
fn a_long_list_repeating_its_last_item_is_checked_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let count = 30_000;
    let mut needs: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
    needs.push("n0".into());
    let mut steps = vec![json!({"id": "s", "action": "restart", "needs": needs})];
    steps.extend((0..count).map(|i| json!({"id": format!("n{i}"), "action": "restart"})));
    let catalog = json!({
        "catalog_version": "1",
        "modules": [module("ops", &[], &["restart"])],
        "workflows": {"wf": {"steps": steps}},
    });
    let out = assert_quick(&write(dir.path(), "needs.json", &catalog));
    let report = out.json();
    let messages: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["`workflows.wf.steps[0].needs` lists the string `n0` twice"]
    );
}

/// A megabyte in each kind of field that messages quote: every message, label and
/// help stays short, in JSON and on a terminal.
#[test]
fn megabyte_values_are_quoted_short_in_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let big = |c: char| format!("{c}{}{c}", "x".repeat(1_000_000));
    let mut m = module(&big('n'), &[&big('d')], &["restart"]);
    m["module_identity"]["module_version"] = json!(big('v'));
    m["technical_requirements"]["dependencies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"module_name": "ops", "version_requirement": big('r')}));
    m["capability_declaration"]["consumes_events"] = json!([big('e')]);
    m["module_identity"][big('k')] = json!(1);
    let catalog = json!({
        "catalog_version": "1",
        "modules": [m, module("ops", &[], &["act"])],
        "policy": {
            "change_windows": [{"name": "w", "timezone": big('z'), "start": "00:00", "end": "01:00"}],
            "overrides": {big('o'): {"timeout_ms": 1}},
        },
        "workflows": {"wf": {"steps": [
            {"id": "s", "action": big('a'), "needs": [big('s')],
             "params": {"x": {"$from": big('f')}}},
        ]}},
    });
    let path = write(dir.path(), "big.json", &catalog);
    let out = assert_quick(&path);
    let report = out.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert!(diagnostics.len() >= 8, "{diagnostics:#?}");
    for d in diagnostics {
        for text in [&d["message"], &d["help"]].into_iter().chain(
            d["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| &l["message"]),
        ) {
            let len = text.as_str().map_or(0, |t| t.chars().count());
            assert!(len < 400, "{} has a text of {len} characters", d["code"]);
        }
    }
    let human = rune(["validate", "--color", "never"]).arg_path(&path).run();
    assert_eq!(human.code, 1);
    let widest = human
        .stderr
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(widest < 400, "a line of {widest} characters");
}
