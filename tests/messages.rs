//! Messages that say what is wrong: a data mismatch names the value found and the
//! full path to it (JSON and SARIF readers see no snippet), YAML typing traps get a
//! hint, parameters typed wrongly say how they were read, and `--at` says which
//! part of the instant is out of range.

use crate::support::{rune, Output};

const DIR: &str = "tests/fixtures/messages";

/// `validate` a fixture in JSON form: each diagnostic as `code: message` and its help.
fn messages(file: &str) -> (Output, String) {
    let out = rune(["validate", "--format", "json"])
        .arg_path(format!("{DIR}/{file}"))
        .run();
    let report = out.json();
    let text = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut line = format!(
                "{}: {}\n",
                d["code"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            );
            if let Some(help) = d["help"].as_str() {
                line.push_str(&format!("  help: {help}\n"));
            }
            line
        })
        .collect();
    (out, text)
}

fn human(file: &str) -> Output {
    rune(["validate", "--color", "never"])
        .arg_path(format!("{DIR}/{file}"))
        .run()
}

#[test]
fn a_wrong_value_is_named_with_its_full_path_in_json() {
    let (out, text) = messages("wrong_values.yaml");
    assert_eq!(out.code, 1, "{}", out.snapshot());
    // Array items by path, not a bare index; the value itself in the message.
    assert!(
        text.contains("`modules[0].technical_requirements.supported_protocols[1]` must be a string, found the integer `5`"),
        "{text}"
    );
    assert!(
        text.contains("must be one of `required`, `optional`, found `sometimes`"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_value_with_control_characters_is_escaped_and_shortened_in_every_format() {
    let path = format!("{DIR}/wrong_values.yaml");
    let expected = r"found `remediation\e[2K\rFAKE…d in the message`";
    for format in ["human", "json", "github", "sarif"] {
        let out = rune(["validate", "--color", "never", "--format", format])
            .arg_path(&path)
            .run();
        assert_eq!(out.code, 1, "{format}: {}", out.snapshot());
        // The messages as a reader gets them: decoded from JSON where it is JSON.
        let messages: Vec<String> = match format {
            "json" => out.json()["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["message"].as_str().unwrap().to_string())
                .collect(),
            "sarif" => out.json()["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["message"]["text"].as_str().unwrap().to_string())
                .collect(),
            _ => (out.stdout + &out.stderr)
                .lines()
                .map(str::to_string)
                .collect(),
        };
        let all = messages.join("\n");
        // Human output wraps long messages; compare without the wrapping.
        let unwrapped = all.replace("\n  │ ", " ");
        assert!(unwrapped.contains(expected), "{format}: {all}");
        for message in messages
            .iter()
            .filter(|m| m.contains("must be one of `remediation`"))
        {
            assert!(
                !message.contains('\u{1b}') && !message.contains('\r'),
                "{format}: {message:?}"
            );
        }
    }
}

#[test]
fn wrong_values_in_human_form() {
    let out = human("wrong_values.yaml");
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn yaml_typing_traps_get_a_hint_that_says_what_to_write() {
    let (out, text) = messages("yaml_traps.yaml");
    assert_eq!(out.code, 1, "{}", out.snapshot());
    for expected in [
        // catalog_version: 1
        "`1` is unquoted, so it was read as a number; quote it: `\"1\"`",
        // module_version: 1.10, with the text as written
        "`1.10` is unquoted, so it was read as the number 1.1, not as text; quote it: `\"1.10\"`",
        "`yes` is read as a string: write `true`",
        "`off` is read as a string: write `false`",
        "`true` is quoted, so it is a string; remove the quotes",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    insta::assert_snapshot!(text);
    insta::assert_snapshot!("yaml_traps_human", human("yaml_traps.yaml").snapshot());
}

#[test]
fn data_checked_against_a_modules_own_schema_names_the_value_and_its_path() {
    let (out, text) = messages("data_mismatch.yaml");
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        text.contains(
            "`lifecycle.config.log_level` must be one of `info`, `warn`, `error`, found `verbose`"
        ),
        "{text}"
    );
    assert!(text.contains("`lifecycle.config.hosts[1]`"), "{text}");
    assert!(
        text.contains("`example_data.port` must be at most 65535, found the integer `70000`"),
        "{text}"
    );
    insta::assert_snapshot!(text);
    insta::assert_snapshot!(
        "data_mismatch_human",
        human("data_mismatch.yaml").snapshot()
    );
}

fn plan_deploy(args: &[&str]) -> Output {
    rune(["plan", "--color", "never", "--at", "2026-01-01T00:00:00Z"])
        .arg_path(format!("{DIR}/deploy.yaml"))
        .args(["--action", "deploy"])
        .args(args)
        .run()
}

#[test]
fn a_param_for_a_text_property_keeps_its_text_even_through_any_of() {
    let out = plan_deploy(&[
        "--format",
        "json",
        "-p",
        "version=1.10",
        "-p",
        "channel=2.50",
    ]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let plan = out.json();
    let params = &plan["actions"][0]["params"];
    assert_eq!(params["version"], "1.10", "{plan:#}");
    assert_eq!(params["channel"], "2.50", "{plan:#}");
}

#[test]
fn a_number_in_a_params_file_where_text_is_wanted_says_how_it_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("params.yaml");
    std::fs::write(&file, "version: 1.10\nchannel: 2.50\n").unwrap();
    let out = plan_deploy(&["--params-file", file.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let stderr = out.stderr.replace(dir.path().to_str().unwrap(), "[TMP]");
    assert!(
        stderr.contains(
            "parameter `version` of action `deploy` must be a string, found the number `1.1`"
        ),
        "{stderr}"
    );
    insta::assert_snapshot!(stderr);
}

#[test]
fn a_yaml_1_1_boolean_param_and_a_wrong_choice_name_the_value() {
    let out = plan_deploy(&[
        "-p",
        "version=2",
        "-p",
        "dry_run=yes",
        "-p",
        "level=verbose",
        "-p",
        "replicas=0",
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn out_of_range_at_instants_are_usage_errors_that_say_what_is_out_of_range() {
    let mut text = String::new();
    for at in [
        "2026-03-27T10:00:00+25:00",
        "2026-03-27T10:00:00-24:00",
        "99999-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9998-12-31T23:00:00-05:00",
        "1960-01-01T00:00:00Z",
        "1970-01-01T00:30:00+01:00",
    ] {
        let out = rune(["plan", "--at", at]).run();
        assert_eq!(out.code, 2, "{at}: {}", out.snapshot());
        assert_eq!(out.stdout, "", "{at}");
        text.push_str(&out.stderr);
    }
    insta::assert_snapshot!(text);
}

#[test]
fn at_instants_at_the_edges_of_the_range_are_planned() {
    for at in [
        "1970-01-01T00:00:00Z",
        "9998-12-31T23:59:59Z",
        "2026-03-27T10:00:00+23:59",
        "2026-03-27T10:00:00-23:59",
    ] {
        let out = rune(["plan", "--format", "json", "--at", at]).run();
        assert_eq!(out.code, 0, "{at}: {}", out.snapshot());
        assert!(out.json()["evaluated_at"].is_string(), "{at}");
    }
}

/// The `cargo run [--release] -- ARGS` command lines of a markdown file.
fn cargo_run_lines(markdown: &str) -> Vec<Vec<String>> {
    markdown
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cargo run"))
        .filter_map(|l| l.split_once(" -- "))
        .map(|(_, args)| args.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn the_commands_in_the_readmes_run_as_described() {
    let mut ran = Vec::new();
    for file in ["README.md", "examples/README.md"] {
        let text = std::fs::read_to_string(crate::support::root().join(file)).unwrap();
        for args in cargo_run_lines(&text) {
            let out = rune(&args).run();
            // The broken examples fail with diagnostics; everything else succeeds.
            let broken = args.iter().any(|a| a.starts_with("examples/"));
            let expected = if broken { 1 } else { 0 };
            assert_eq!(out.code, expected, "{file}: {args:?}\n{}", out.snapshot());
            if broken {
                assert!(out.stderr.contains("rune::"), "{args:?}: {}", out.stderr);
            }
            ran.push(args.join(" "));
        }
    }
    assert!(
        ran.contains(&"validate examples/cycle.yaml".to_string()),
        "the Quick start example is gone: {ran:?}"
    );
}

#[test]
fn every_broken_example_reports_the_codes_its_readme_row_names() {
    let root = crate::support::root();
    let readme = std::fs::read_to_string(root.join("examples/README.md")).unwrap();
    let mut listed = Vec::new();
    for row in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (name, shows) = (cells[1].trim_matches('`'), cells[2]);
        let expected: Vec<&str> = shows
            .split('`')
            .skip(1)
            .step_by(2)
            .filter_map(rune::diagnostic::Code::from_name)
            .map(|c| c.as_str())
            .collect();
        // A row names its codes, or promises several problems at once.
        let several = expected.is_empty();
        assert!(
            !several || shows.contains("several"),
            "the row of {name} names no code: {row}"
        );
        let path = format!("examples/{}", name.trim_end_matches('/'));
        let out = rune(["validate", "--format", "json", &path]).run();
        assert_eq!(out.code, 1, "{path}: {}", out.snapshot());
        let report = out.json();
        let reported: Vec<&str> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        for code in &expected {
            assert!(
                reported.contains(code),
                "{path} shows {code}? it reports {reported:?}"
            );
        }
        if several {
            assert!(reported.len() >= 3, "{path} reports only {reported:?}");
        }
        let stem = name
            .trim_end_matches('/')
            .trim_end_matches(".yaml")
            .replace('-', "_");
        let human = rune(["validate", "--color", "never", &path]).run();
        insta::assert_snapshot!(format!("example_{stem}"), human.snapshot());
        listed.push(name.trim_end_matches('/').to_string());
    }
    // Every example has its row, so none goes untested.
    let mut on_disk: Vec<String> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // nomad/ is the plan-only example, valid on purpose (tested in examples.rs);
        // stale-plan.json is a plan file, not a catalog (its code's explain example).
        // inventories/ holds inventories (docs/remote.md), not catalogs.
        .filter(|n| {
            n != "README.md" && n != "nomad" && n != "stale-plan.json" && n != "inventories"
        })
        .collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(on_disk, listed, "examples/README.md lists every example");
}

#[test]
fn a_quoting_hint_is_given_only_where_quoting_fixes_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = |text: &str| {
        let path = dir.path().join("catalog.yaml");
        std::fs::write(&path, text).unwrap();
        let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
        assert_eq!(out.code, 1, "{}", out.snapshot());
        let report = out.json();
        let d = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"].as_str().unwrap().starts_with("rune::schema::"))
            .unwrap_or_else(|| panic!("no schema diagnostic: {report:#}"))
            .clone();
        (
            d["message"].as_str().unwrap().to_string(),
            d["help"].clone(),
        )
    };
    // `"1.0"` would still not be `"1"`: say what to write.
    let (message, help) = catalog("catalog_version: 1.0\n");
    assert_eq!(
        message,
        "`catalog_version` must be `\"1\"`, found the number `1.0`"
    );
    assert_eq!(help, "write `\"1\"`, in quotes");
    // `"1"` is right: quoting is the fix.
    let (_, help) = catalog("catalog_version: 1\n");
    assert_eq!(
        help,
        "`1` is unquoted, so it was read as a number; quote it: `\"1\"`"
    );
    // No choice is `"3"`: no quoting hint, the choices are in the message.
    let (message, help) = catalog(
        "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: a, module_class: A, module_type: service, module_version: 1.0.0, description: A }\n    technical_requirements: { supported_protocols: [rcs_v2], dependencies: [{ module_name: a2, criticality: 3 }] }\n",
    );
    assert_eq!(
        message,
        "`modules[0].technical_requirements.dependencies[0].criticality` must be one of `\"required\"`, `\"optional\"`, found the integer `3`"
    );
    assert!(help.is_null(), "{help}");
}

#[test]
fn a_malformed_param_is_shown_escaped() {
    let out = rune([
        "plan",
        "--action",
        "nomad-status",
        "-p",
        "node\u{1b}[2K\rFAKE",
    ])
    .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(
        out.stderr,
        "rune::cli::invalid_param\n\n  × invalid --param `node\\e[2K\\rFAKE`: expected KEY=VALUE\n  help: write KEY=VALUE, e.g. `--param node=worker-1`\n"
    );
}
