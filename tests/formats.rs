//! `rune validate --format json|github|sarif` and the human format's colour: the
//! stable shape of each format, escaping, determinism.

use crate::support::rune;

/// A fixture with errors and warnings of many kinds in one file.
const MANY: &str = "tests/fixtures/invalid/many_errors_2.yaml";

#[test]
fn json_has_the_documented_stable_fields() {
    let out = rune(["validate", "--format", "json", MANY]).run();
    assert_eq!(out.code, 1);
    let report = out.json();
    // The order is read from the text: a parsed `serde_json::Value` sorts its keys.
    let keys_at = |indent: &str| -> Vec<String> {
        out.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(indent))
            .filter(|l| l.starts_with('"'))
            .map(|l| l[1..].split('"').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys_at("  "),
        ["format_version", "valid", "summary", "diagnostics"],
        "top-level fields and their order"
    );
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["valid"], false);
    let summary: Vec<String> = keys_at("    ")
        .into_iter()
        .take_while(|k| k != "code")
        .collect();
    assert_eq!(
        summary,
        [
            "files",
            "modules",
            "actions",
            "workflows",
            "errors",
            "warnings"
        ]
    );
    let diagnostics = report["diagnostics"].as_array().unwrap();
    let errors = diagnostics
        .iter()
        .filter(|d| d["severity"] == "error")
        .count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d["severity"] == "warning")
        .count();
    assert_eq!(report["summary"]["errors"], errors);
    assert_eq!(report["summary"]["warnings"], warnings);
    assert!(
        errors > 5 && warnings > 0,
        "{errors} errors, {warnings} warnings"
    );
    let fields = keys_at("      ");
    assert_eq!(fields.len(), 7 * diagnostics.len(), "{fields:?}");
    for fields in fields.chunks(7) {
        assert_eq!(
            fields,
            [
                "code",
                "protocol_code",
                "severity",
                "message",
                "location",
                "labels",
                "help"
            ]
        );
    }
    for d in diagnostics {
        assert!(d["code"].as_str().unwrap().starts_with("rune::"));
        assert!(d["protocol_code"].is_null() || d["protocol_code"].as_i64().unwrap() < -32000);
        let location = &d["location"];
        for field in ["line", "column", "end_line", "end_column"] {
            assert!(location[field].as_u64().unwrap() >= 1, "{field} in {d}");
        }
        assert!(location["file"].as_str().unwrap().ends_with(".yaml"));
        // The primary label is the location.
        let first = &d["labels"][0];
        for field in ["file", "line", "column", "end_line", "end_column"] {
            assert_eq!(first[field], location[field]);
        }
        assert!(d["help"].is_null() || d["help"].is_string());
    }
}

#[test]
fn json_of_a_valid_catalog_is_valid_with_no_diagnostics() {
    let out = rune(["validate", "--format", "json", "catalogs"]).run();
    assert_eq!(out.code, 0);
    let report = out.json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["summary"]["errors"], 0);
    assert_eq!(report["diagnostics"], serde_json::json!([]));
}

#[test]
fn json_of_a_path_problem_has_no_location() {
    let out = rune(["validate", "--format", "json", "no/such/dir"]).run();
    assert_eq!(out.code, 2);
    let report = out.json();
    assert_eq!(report["diagnostics"][0]["code"], "rune::load::unreadable");
    assert!(report["diagnostics"][0]["location"].is_null());
    assert_eq!(report["diagnostics"][0]["labels"], serde_json::json!([]));
}

#[test]
fn github_annotations_for_many_errors() {
    let out = rune(["validate", "--format", "github", MANY]).run();
    assert_eq!(out.code, 1);
    for line in out.stdout.lines() {
        assert!(
            line.starts_with("::error file=") || line.starts_with("::warning file="),
            "{line}"
        );
        assert!(line.contains(",line=") && line.contains(",col=") && line.contains(",endLine="));
        assert!(line.contains(",title=rune%3A%3A"), "{line}");
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn github_annotations_escape_properties_and_messages() {
    // A file name with `,` `:` and `%`, and a module name that puts `%` into the
    // message: each would otherwise end a property or corrupt the annotation.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a,b:c%d.yaml");
    std::fs::write(
        &path,
        "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: \"50%off\", module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }\n",
    )
    .unwrap();
    let out = rune(["validate", "--format", "github"])
        .arg_path(&path)
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let line = out.stdout.lines().next().unwrap();
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(line.contains("a%2Cb%3Ac%25d.yaml,line=3,"), "{line}");
    assert!(
        line.contains("title=rune%3A%3Acheck%3A%3Ainvalid_name::"),
        "{line}"
    );
    let message = line.split_once("::invalid_name::").map_or("", |(_, m)| m);
    let message = line
        .rsplit_once("invalid_name::")
        .map_or(message, |(_, m)| m);
    assert!(message.contains("`50%25off`"), "{message}");
    // Help follows the message on an escaped new line, never a raw one.
    assert!(message.contains("%0Ahelp: "), "{message}");
    assert!(!message.contains('\r'));
}

#[test]
fn sarif_for_many_errors() {
    let out = rune(["validate", "--format", "sarif", MANY]).run();
    assert_eq!(out.code, 1);
    let sarif = out.json();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let runs = sarif["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["tool"]["driver"]["name"], "rune");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut unique = rules.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(rules.len(), unique.len(), "one rule per code: {rules:?}");
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        rune(["validate", "--format", "json", MANY]).run().json()["diagnostics"]
            .as_array()
            .unwrap()
            .len()
    );
    for result in results {
        let id = result["ruleId"].as_str().unwrap();
        assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize], id);
        assert!(matches!(
            result["level"].as_str(),
            Some("error" | "warning")
        ));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let physical = &result["locations"][0]["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uri"], MANY);
        let region = &physical["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(region["startColumn"].as_u64().unwrap() >= 1);
        assert!(region["endLine"].as_u64().unwrap() >= region["startLine"].as_u64().unwrap());
    }
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn every_format_is_identical_across_runs_and_argument_order() {
    let one = "tests/fixtures/invalid/many_errors_1.yaml";
    for format in ["human", "json", "github", "sarif"] {
        let run = |paths: [&str; 3]| {
            let out = rune(["validate", "--color", "never", "--format", format])
                .args(paths)
                .run();
            out.stdout + &out.stderr
        };
        let a = run([one, MANY, "tests/fixtures/invalid/duplicate_policy"]);
        let b = run([MANY, "tests/fixtures/invalid/duplicate_policy", one]);
        let c = run([one, MANY, "tests/fixtures/invalid/duplicate_policy"]);
        assert_eq!(a, c, "{format}: two runs differ");
        assert_eq!(a, b, "{format}: argument order changes the output");
    }
    let h1 = rune(["validate", "--color", "never", "tests/fixtures/invalid"]).run();
    let h2 = rune(["validate", "--color", "never", "tests/fixtures/invalid"]).run();
    assert_eq!(h1.stderr, h2.stderr);
}

#[test]
fn colour_only_when_asked() {
    let path = "tests/fixtures/invalid/dependency_cycle.yaml";
    let plain = rune(["validate", path]).run();
    assert!(
        !plain.stderr.contains('\u{1b}'),
        "not a terminal: no colour"
    );
    let never = rune(["validate", "--color", "never", path]).run();
    assert!(!never.stderr.contains('\u{1b}'));
    let forced = rune(["validate", "--color", "always", path]).run();
    assert!(forced.stderr.contains('\u{1b}'), "--color always colours");
    // Machine formats never carry colour, whatever is asked.
    for format in ["json", "github", "sarif"] {
        let out = rune(["validate", "--color", "always", "--format", format, path]).run();
        assert!(!out.stdout.contains('\u{1b}'), "{format}");
    }
}

/// `rune ARGS` on a pseudo-terminal (util-linux `script`), with `NO_COLOR` set or not;
/// `None` when `script` is not available.
fn on_a_terminal(args: &str, no_color: bool) -> Option<String> {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_rune"));
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(crate::support::root())
        .env_remove("NO_COLOR");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = crate::support::output_within(script, crate::support::DEADLINE)
        .ok()
        .filter(|o| o.code == 1)?;
    Some(out.stdout)
}

// On a terminal `--color auto` colours, and NO_COLOR turns that off: checked on a
// pseudo-terminal, because with stderr piped colour is off either way.
#[test]
fn no_color_turns_off_colour_on_a_terminal() {
    let args = "validate tests/fixtures/invalid/unknown_key.yaml";
    let (Some(auto), Some(no_color)) = (on_a_terminal(args, false), on_a_terminal(args, true))
    else {
        eprintln!("skipped: util-linux `script` is needed for a pseudo-terminal");
        return;
    };
    assert!(
        auto.contains("unknown key") && auto.contains('\u{1b}'),
        "{auto}"
    );
    assert!(
        no_color.contains("unknown key") && !no_color.contains('\u{1b}'),
        "{no_color}"
    );
}
