//! One error channel (issue 8, item 3): usage errors, parameter errors, params-file
//! errors and policy denials are diagnostics with stable codes, rendered like
//! `validate`'s; with `--format json` stdout is always one JSON document (the plan,
//! or the diagnostics report on failure); an input that could not be read is never
//! called "invalid".

use std::path::Path;

use crate::support::{rune, Output};

/// A catalog with a deploy action taking a text `version`, a restart action of
/// high impact, and a policy in maintenance mode.
const CATALOG: &str = r#"catalog_version: "1"
modules:
  - module_identity: { module_name: deployer, module_class: Deployer, module_type: plugin, module_version: 1.0.0, description: Deploys releases }
    capability_declaration:
      actions:
        - action: deploy
          description: Deploy a release
          category: diagnostic
          impact: low
          exec: ["deploy.sh"]
          input_schema:
            type: object
            required: [version]
            properties:
              version: { type: string }
              replicas: { type: integer, minimum: 1 }
            additionalProperties: false
        - action: restart
          description: Restart the service
          category: remediation
          impact: medium
          exec: ["restart.sh"]
policy:
  maintenance_mode:
    enabled: true
    reason: datacenter move
  change_windows:
    - name: weekend
      timezone: UTC
      days: [sat, sun]
      start: "00:00"
      end: "00:00"
      applies_to: { categories: [remediation], impacts: [high] }
"#;

/// A directory holding `catalog.yaml` (and whatever else a test writes there).
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("catalog.yaml"), CATALOG).expect("write catalog");
    dir
}

/// `rune plan` in `dir` against its catalog, at a fixed instant (a Wednesday)
/// unless `args` give one.
fn plan_in(dir: &Path, args: &[&str]) -> Output {
    let at = match args.contains(&"--at") {
        true => None,
        false => Some(["--at", "2026-01-07T12:00:00Z"]),
    };
    rune(["plan", "--color", "never"])
        .args(at.into_iter().flatten())
        .args(args)
        .arg_path("catalog.yaml")
        .current_dir(dir)
        .run()
}

/// The codes of a JSON diagnostics report, in order.
fn codes(report: &serde_json::Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .expect("a diagnostics report")
        .iter()
        .map(|d| d["code"].as_str().expect("a code").to_string())
        .collect()
}

/// Diagnostics of a JSON report in validate's order: by file, line, column, code.
fn assert_sorted(report: &serde_json::Value) {
    let keys: Vec<(String, u64, u64, String)> = report["diagnostics"]
        .as_array()
        .expect("a diagnostics report")
        .iter()
        .map(|d| {
            let at = &d["location"];
            (
                at["file"].as_str().unwrap_or_default().to_string(),
                at["line"].as_u64().unwrap_or(0),
                at["column"].as_u64().unwrap_or(0),
                d["code"].as_str().expect("a code").to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "{report:#}");
}

#[test]
fn usage_errors_are_every_flag_problem_at_once_as_coded_diagnostics() {
    let dir = workspace();
    let args = ["--param", "version", "--reason", "why", "--at", "noon"];
    let human = plan_in(dir.path(), &args);
    assert_eq!(human.code, 2, "{}", human.snapshot());
    assert!(human.stdout.is_empty(), "{}", human.snapshot());
    insta::assert_snapshot!(human.snapshot());

    let json = plan_in(dir.path(), &[&args[..], &["--format", "json"]].concat());
    assert_eq!(json.code, 2, "{}", json.snapshot());
    assert!(json.stderr.is_empty(), "{}", json.snapshot());
    let report = json.json();
    assert_eq!(report["valid"], false);
    assert_eq!(
        codes(&report),
        [
            "rune::cli::invalid_flags",
            "rune::cli::invalid_flags",
            "rune::cli::invalid_instant",
            "rune::cli::invalid_param",
        ],
        "{report:#}"
    );
    assert_sorted(&report);
    insta::assert_snapshot!(json.stdout);
}

#[test]
fn a_params_file_type_mismatch_is_labelled_at_the_value_in_the_params_file() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("params.yaml"),
        "version: 1.10\nreplicas: 0\n",
    )
    .unwrap();
    let args = ["--action", "deploy", "--params-file", "params.yaml"];
    let human = plan_in(dir.path(), &args);
    assert_eq!(human.code, 1, "{}", human.snapshot());
    assert!(
        human.stderr.contains("╭─[params.yaml:1:10]"),
        "{}",
        human.stderr
    );
    insta::assert_snapshot!(human.snapshot());

    let json = plan_in(dir.path(), &[&args[..], &["--format", "json"]].concat());
    assert_eq!(json.code, 1, "{}", json.snapshot());
    let report = json.json();
    assert_eq!(
        codes(&report),
        [
            "rune::plan::invalid_parameter",
            "rune::plan::invalid_parameter"
        ]
    );
    for d in report["diagnostics"].as_array().unwrap() {
        assert_eq!(d["location"]["file"], "params.yaml", "{d:#}");
        // The schema rule that the value breaks is the second label.
        assert_eq!(d["labels"][1]["file"], "catalog.yaml", "{d:#}");
    }
    assert_sorted(&report);
    insta::assert_snapshot!(json.stdout);

    // A value given with --param is the command line's, not the file's.
    let overridden = plan_in(
        dir.path(),
        &[&args[..], &["-p", "version=1.10", "--format", "json"]].concat(),
    );
    let report = overridden.json();
    assert_eq!(codes(&report), ["rune::plan::invalid_parameter"]);
    assert_eq!(
        report["diagnostics"][0]["location"]["line"], 2,
        "{report:#}"
    );
}

#[test]
fn an_unusable_params_file_is_a_usage_error_with_its_own_code() {
    let dir = workspace();
    std::fs::write(dir.path().join("list.yaml"), "- version\n").unwrap();
    for (file, message) in [
        (
            "missing.yaml",
            "cannot read --params-file `missing.yaml`: no such file",
        ),
        (
            "list.yaml",
            "--params-file `list.yaml` does not hold a mapping",
        ),
    ] {
        let args = [
            "--action",
            "deploy",
            "--params-file",
            file,
            "--format",
            "json",
        ];
        let out = plan_in(dir.path(), &args);
        assert_eq!(out.code, 2, "{}", out.snapshot());
        let report = out.json();
        assert_eq!(codes(&report), ["rune::cli::params_file"], "{report:#}");
        assert_eq!(report["diagnostics"][0]["message"], message);
    }
}

#[test]
fn a_policy_denial_is_labelled_at_the_rule_that_decided_it() {
    let dir = workspace();
    let human = plan_in(dir.path(), &["--action", "restart"]);
    assert_eq!(human.code, 1, "{}", human.snapshot());
    let stderr = &human.stderr;
    assert!(
        stderr.contains("× `restart` denied by maintenance_mode: maintenance mode is on"),
        "{stderr}"
    );
    // The label is on the catalog line of maintenance_mode.
    assert!(stderr.contains("╭─[catalog.yaml:25:5]"), "{stderr}");
    insta::assert_snapshot!(stderr);

    // In JSON the plan stays the document on stdout: the denial is its decision.
    let json = plan_in(dir.path(), &["--action", "restart", "--format", "json"]);
    assert_eq!(json.code, 1, "{}", json.snapshot());
    let plan = json.json();
    let decision = &plan["actions"][0]["decision"];
    assert_eq!(decision["allowed"], false, "{plan:#}");
    assert_eq!(decision["rule"], "maintenance_mode", "{plan:#}");
    assert!(
        json.stderr.contains("rune::plan::policy_denied"),
        "{}",
        json.stderr
    );
}

#[test]
fn a_change_window_denial_is_labelled_at_the_window_and_break_glass_at_its_section() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = CATALOG
        .replace("enabled: true", "enabled: false")
        .replace("impact: medium", "impact: high")
        + "  break_glass:\n    impacts: [high]\n    require_reason: false\n";
    std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
    let out = plan_in(dir.path(), &["--action", "restart", "--ack", "restart"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("denied by change_windows.weekend"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("catalog.yaml:28:13"), "{}", out.stderr);

    let out = plan_in(
        dir.path(),
        &["--action", "restart", "--at", "2026-01-10T12:00:00Z"],
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("denied by break_glass"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("catalog.yaml:35:5"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("help: acknowledge it explicitly: `--ack restart`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_path_is_an_io_error_in_every_command_and_never_invalid() {
    let dir = workspace();
    for command in [&["validate"][..], &["plan"], &["graph"], &["list-actions"]] {
        let out = rune(command)
            .args(["--color", "never", "no-such-dir"])
            .current_dir(dir.path())
            .run();
        assert_eq!(out.code, 2, "{command:?}: {}", out.snapshot());
        assert!(
            !out.stderr.contains("invalid"),
            "{command:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .ends_with("unreadable: could not read 1 catalog path\n"),
            "{command:?}: {}",
            out.stderr
        );
    }
    let out = rune([
        "validate",
        "--color",
        "never",
        "no-such-dir",
        "catalog.yaml",
    ])
    .current_dir(dir.path())
    .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());

    for command in [&["validate"][..], &["plan"], &["graph"], &["list-actions"]] {
        let out = rune(command)
            .args(["--format", "json", "no-such-dir"])
            .current_dir(dir.path())
            .run();
        assert_eq!(out.code, 2, "{command:?}: {}", out.snapshot());
        let report = out.json();
        assert_eq!(codes(&report), ["rune::load::unreadable"], "{command:?}");
    }
}

#[test]
fn an_unwritable_out_is_refused_before_planning_with_its_code() {
    let dir = workspace();
    let out = plan_in(dir.path(), &["--out", "catalog.yaml", "--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(codes(&out.json()), ["rune::cli::unwritable_out"]);
}

#[test]
fn an_unknown_schema_name_is_a_coded_usage_error() {
    let out = rune(["schema", "catalogs"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::cli::unknown_schema"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `catalog`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_new_code_is_explained() {
    for code in [
        "invalid_flags",
        "invalid_instant",
        "invalid_param",
        "params_file",
        "unwritable_out",
        "unknown_schema",
        "unknown_code",
        "ambiguous_code",
        "unwritable_stdout",
    ] {
        let out = rune(["explain", code]).run();
        assert_eq!(out.code, 0, "{code}: {}", out.snapshot());
        assert!(
            out.stdout.starts_with(&format!("rune::cli::{code}")),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn stdout_of_a_json_command_always_parses_whatever_went_wrong() {
    let dir = workspace();
    std::fs::write(dir.path().join("broken.yaml"), "catalog_version: [\n").unwrap();
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["plan", "--target", "nope", "catalog.yaml"],
            2,
            "rune::plan::unknown_module",
        ),
        (
            &["list-actions", "--module", "nope", "catalog.yaml"],
            2,
            "rune::plan::unknown_module",
        ),
        (&["graph", "broken.yaml"], 1, "rune::load::yaml_syntax"),
        (
            &[
                "plan",
                "--action",
                "deploy",
                "-p",
                "replicas=0",
                "catalog.yaml",
            ],
            1,
            "rune::plan::invalid_parameter",
        ),
    ];
    for (args, code, expected) in cases {
        let out = rune(args)
            .args(["--format", "json"])
            .current_dir(dir.path())
            .run();
        assert_eq!(out.code, code, "{args:?}: {}", out.snapshot());
        let report = out.json();
        assert!(codes(&report).iter().any(|c| c == expected), "{report:#}");
        assert_sorted(&report);
    }
}
