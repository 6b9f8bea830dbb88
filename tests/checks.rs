//! The check stage's rules through the real binary: references and parameters of
//! workflow steps, duplicates, event spelling, "did you mean" suggestions, version
//! requirements, numbers written as floats, MRS nulls, selection and cost in plans,
//! and the cost of the checks at scale. Fixtures live in tests/fixtures/checks.

use std::time::{Duration, Instant};

use crate::support::{rune, Output};

const AT: &str = "2026-03-27T10:00:00Z";

fn fixture(name: &str) -> String {
    format!("tests/fixtures/checks/{name}")
}

/// `rune validate --format json FILE`.
fn validate(path: &str) -> Output {
    rune(["validate", "--format", "json", path]).run()
}

/// One line per diagnostic (code, position, message) and its help: what a reviewer
/// needs to see in a snapshot, without the JSON around it.
fn listing(out: &Output) -> String {
    let report = out.json();
    let mut text = format!("exit code: {}\n", out.code);
    for d in report["diagnostics"].as_array().unwrap() {
        let at = &d["location"];
        text.push_str(&format!(
            "{} {}:{} {}\n",
            d["code"].as_str().unwrap(),
            at["line"],
            at["column"],
            d["message"].as_str().unwrap()
        ));
        if let Some(help) = d["help"].as_str() {
            text.push_str(&format!("  help: {help}\n"));
        }
    }
    text
}

fn codes(out: &Output) -> Vec<String> {
    out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn step_references_and_literal_params_are_checked() {
    // Missing required, unknown key and wrong type or range of literal params; a
    // reference that provides a required parameter counts; `steps.ID.FIELD` without
    // `output`, inputs of a workflow without inputs, `$from` with other keys or a
    // non-string, and reads of steps that are not needed are all refused.
    let out = validate(&fixture("workflow-references.yaml"));
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(listing(&out));
}

#[test]
fn a_reference_with_extra_keys_is_located_at_the_extra_key() {
    let out = rune([
        "validate",
        "--color",
        "never",
        &fixture("workflow-references.yaml"),
    ])
    .run();
    let text = format!("{}{}", out.stdout, out.stderr);
    let at = text
        .find("other keys besides `$from`")
        .expect("the diagnostic is rendered");
    let next = text[at..].find("rune::").map_or(text.len(), |n| at + n);
    let rendered = &text[at..next];
    assert!(rendered.contains("extra: 1"), "{rendered}");
    assert!(rendered.contains("not part of a reference"), "{rendered}");
}

#[test]
fn duplicates_event_case_and_suggestions() {
    // The same dependency twice, an event consumed twice and in the wrong case; a
    // module depending on a misspelling of its own name is never offered itself,
    // and `db` is not offered `api`.
    let out = validate(&fixture("events-and-dependencies.yaml"));
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(listing(&out));
    let human = rune([
        "validate",
        "--color",
        "never",
        &fixture("events-and-dependencies.yaml"),
    ])
    .run();
    insta::assert_snapshot!(human.snapshot());
}

#[test]
fn warnings_for_event_spelling_fail_only_with_deny_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("events-and-dependencies.yaml")).unwrap();
    // Keep only the event problems: drop billing's and api's dependencies.
    let events_only: String = text
        .lines()
        .filter(|l| !l.contains("module_name: ledger,") || l.contains("module_identity"))
        .filter(|l| !l.contains("billingg") && !l.contains("ledgr"))
        .filter(|l| !l.contains("module_name: db,") && !l.contains("apii"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace("      dependencies:\n", "      dependencies: []\n");
    let path = dir.path().join("events.yaml");
    std::fs::write(&path, events_only).unwrap();
    let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        codes(&out),
        [
            "rune::check::event_case_mismatch",
            "rune::check::duplicate_consumed_event"
        ]
    );
    let strict = rune(["validate", "--format", "json", "--deny-warnings"])
        .arg_path(&path)
        .run();
    // The same two warnings, now failing the run: not some other error.
    assert_eq!(strict.code, 1, "{}", strict.snapshot());
    assert_eq!(strict.json()["valid"], false);
    assert_eq!(codes(&strict), codes(&out));
}

#[test]
fn version_conflicts_explain_bare_and_prerelease_requirements() {
    let out = validate(&fixture("versions.yaml"));
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(listing(&out));
    let explain = rune(["explain", "version_conflict"]).run();
    assert!(
        explain
            .stdout
            .contains("`1.2.0` means `^1.2.0`, that is >=1.2.0,\n  <2.0.0"),
        "{}",
        explain.stdout
    );
    assert!(
        explain
            .stdout
            .contains("only if\n  it names a pre-release of the same MAJOR.MINOR.PATCH"),
        "{}",
        explain.stdout
    );
}

#[test]
fn whole_numbers_written_as_floats_are_honoured() {
    let out = rune([
        "plan",
        "--format",
        "json",
        "--at",
        AT,
        "--action",
        "probe",
        &fixture("numbers.yaml"),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let plan = out.json();
    let text = plan.to_string();
    let step = &plan["actions"][0];
    assert_eq!(step["timeout_ms"]["value"], 1000, "{text}");
    assert_eq!(step["retries"]["max_attempts"], 3, "{text}");
    assert_eq!(step["retries"]["backoff_ms"], 250, "{text}");
    // initialize 1.0e2 + ready 200.0, not the 5000 + 10000 defaults.
    assert_eq!(plan["critical_path"]["total_ms"], 300, "{text}");
}

#[test]
fn whole_numbers_past_u64_are_refused_where_they_are_written() {
    let out = validate(&fixture("huge-numbers.yaml"));
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(listing(&out));
}

#[test]
fn a_target_plans_what_it_requires_and_optional_dependencies_only_when_selected() {
    let plan = |targets: &[&str]| {
        let mut args = vec!["plan", "--format", "json", "--at", AT];
        for t in targets {
            args.extend(["--target", t]);
        }
        let out = rune(args).arg_path(fixture("selection.yaml")).run();
        assert_eq!(out.code, 0, "{}", out.snapshot());
        let plan = out.json();
        let waves: Vec<Vec<String>> = plan["startup"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                w["modules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["module"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect();
        waves
    };
    // cache is optional for app: not planned, and neither is what cache requires.
    assert_eq!(plan(&["app"]), [vec!["db", "registry-entry"], vec!["app"]]);
    // Selected itself, it is planned with what it requires, and orders app's startup.
    assert_eq!(
        plan(&["app", "cache"]),
        [
            vec!["db", "registry-entry", "store"],
            vec!["cache"],
            vec!["app"]
        ]
    );
}

#[test]
fn modules_with_nothing_to_run_cost_nothing_on_the_critical_path() {
    let out = rune([
        "plan",
        "--format",
        "json",
        "--at",
        AT,
        "--target",
        "app",
        &fixture("selection.yaml"),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let path = &out.json()["critical_path"];
    // db declares 90 s timeouts but has `runtime: none`; registry-entry has no
    // lifecycle. Only app's own 10 + 20 ms count.
    assert_eq!(path["total_ms"], 30, "{path:#}");
}

#[test]
fn written_empty_policy_lists_mean_none() {
    let plan = |action: &str| {
        let out = rune([
            "plan",
            "--format",
            "json",
            "--at",
            AT,
            "--action",
            action,
            &fixture("empty-policy-lists.yaml"),
        ])
        .run();
        let step = out.json()["actions"][0].clone();
        (out.code, step["decision"].clone())
    };
    // `applies_to: { categories: [], impacts: [] }` governs nothing and
    // `break_glass: { impacts: [] }` asks for no acknowledgment.
    let (code, decision) = plan("restart");
    assert_eq!(code, 0, "{decision:#}");
    assert_eq!(decision["allowed"], true, "{decision:#}");
    assert_eq!(decision["rule"], "default_allow", "{decision:#}");
    // `days: []`: the window governing diagnostics never opens.
    let (code, decision) = plan("probe");
    assert_eq!(code, 1, "{decision:#}");
    assert_eq!(decision["allowed"], false, "{decision:#}");
    assert_eq!(decision["rule"], "change_windows.never", "{decision:#}");
    // Both windows are almost certainly mistakes: validate says so.
    let out = validate(&fixture("empty-policy-lists.yaml"));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(listing(&out));
}

#[test]
fn optional_mrs_fields_sent_as_null_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let registration = r#"{"catalog_version": "1", "modules": [
      {"module_identity": {"module_name": "config-manager", "module_class": "ConfigService",
         "module_type": "core_service", "module_version": "2.1.0", "description": "Config",
         "registration_timestamp": "2026-11-23T10:15:00Z"},
       "capability_declaration": {"provides_events": [{"event_type": "CONFIG_UPDATED",
         "description": "changed", "data_schema": {"type": "object", "required": ["key"]},
         "schema_version": "1.0", "example_data": null, "backward_compatible": null}],
         "consumes_events": [], "service_metadata": null},
       "technical_requirements": {"supported_protocols": ["rcs_v2"],
         "dependencies": [{"module_name": "lom", "version_requirement": null, "criticality": "required"}],
         "resource_requirements": {"min_memory_mb": null, "cpu_cores": 1},
         "health_check_endpoint": {"event_type": "H", "expected_response": "OK", "timeout_ms": 5,
           "check_interval_seconds": null},
         "configuration_schema": null},
       "registration_metadata": {"registration_id": "7f3c2a4e-9b1d-4c6e-8f2a-1d3b5c7e9f01",
         "registration_version": "1.0", "update_mode": "replace", "expires_at": null,
         "registration_source": null, "previous_registration_id": null,
         "orchestrator_acknowledgment_required": null}},
      {"module_identity": {"module_name": "lom", "module_class": "Orchestrator",
         "module_type": "core_service", "module_version": "1.4.0", "description": "Orchestrator"},
       "technical_requirements": {"supported_protocols": ["rcs_v2"], "dependencies": null}}]}"#;
    let path = dir.path().join("registered.json");
    std::fs::write(&path, registration).unwrap();
    let out = rune(["validate", "--format", "json", "--deny-warnings"])
        .arg_path(&path)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // A required MRS field is still required: null is not a module_class.
    std::fs::write(
        &path,
        registration.replace(
            r#""module_class": "ConfigService""#,
            r#""module_class": null"#,
        ),
    )
    .unwrap();
    let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(codes(&out), ["rune::schema::wrong_type"]);
}

/// `rune validate --format json` on `text` (written to a temporary file): its
/// output and the fastest of three runs' times, the one least disturbed by whatever
/// else the machine runs.
fn timed_validate(text: &str) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.yaml");
    std::fs::write(&path, text).unwrap();
    let mut fastest = Duration::MAX;
    let mut out = None;
    for _ in 0..3 {
        let started = Instant::now();
        out = Some(rune(["validate", "--format", "json"]).arg_path(&path).run());
        fastest = fastest.min(started.elapsed());
    }
    (out.unwrap(), fastest)
}

/// Check that validating `shape(n)` grows about linearly in n, not by the wall
/// clock (a slow or loaded machine is slow at both sizes): four times the input
/// takes under eight times as long, where a quadratic check (these shapes took
/// minutes before the checks were made linear) takes sixteen. Returns the output
/// for the larger size.
fn assert_about_linear(n: usize, shape: impl Fn(usize) -> String) -> Output {
    let (_, small) = timed_validate(&shape(n / 4));
    let (out, large) = timed_validate(&shape(n));
    assert!(
        large < small * 8,
        "{} items took {large:?}, {} took {small:?}: worse than linear",
        n,
        n / 4
    );
    out
}

#[test]
fn many_misspelt_dependencies_validate_in_about_linear_time() {
    // Every module depends on a near miss of another (one transposition), which
    // each needs a suggestion: quadratic before, indexed now.
    let count = 3_000;
    let shape = |count: usize| {
        let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
        for i in 0..count {
            let other = (i * 7 + 1) % count;
            text.push_str(&format!(
                "  - module_identity: {{ module_name: service-{i:05}, module_class: C, module_type: service, module_version: 1.0.0, description: d }}\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n      dependencies: [{{ module_name: servcie-{other:05}, criticality: required }}]\n"
            ));
        }
        text
    };
    let out = assert_about_linear(count, shape);
    assert_eq!(out.code, 1);
    let report = out.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), count);
    assert_eq!(diagnostics[0]["help"], "did you mean `service-00001`?");
}

#[test]
fn a_long_needs_chain_reading_its_first_step_validates_in_about_linear_time() {
    // Steps in a chain, each reading the first step's output: every read is a
    // reachability question over the whole chain.
    let shape = |count: usize| {
        let mut text = String::from(
            "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: ops, module_class: C, module_type: service, module_version: 1.0.0, description: d }\n    capability_declaration:\n      actions: [{ action: act, description: d, category: diagnostic, impact: low }]\nworkflows:\n  long:\n    steps:\n      - { id: s0, action: act }\n",
        );
        for i in 1..count {
            text.push_str(&format!(
                "      - {{ id: s{i}, action: act, needs: [s{}], params: {{ x: {{ $from: steps.s0.output.x }} }} }}\n",
                i - 1
            ));
        }
        // The last step is not behind s0: it must still be caught.
        text.push_str(
            "      - { id: loose, action: act, params: { x: { $from: steps.s0.output.x } } }\n",
        );
        text
    };
    let out = assert_about_linear(5_000, shape);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(
        diagnostics[0]["message"],
        "step `loose` reads the output of `s0` but does not need it"
    );
}
