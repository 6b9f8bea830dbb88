//! The plan document as a contract: generated schema, round trip, paths relative to
//! the catalog root, resolved commands, step ids.

use std::path::Path;

use crate::plan::fixture;
use crate::support::{rune, Output};

const AT: &str = "2026-03-27T10:00:00Z";

fn plan_json(dir: &Path, args: &[&str]) -> Output {
    rune(["plan", "--at", AT, "--format", "json"])
        .args(args.iter().copied())
        .current_dir(dir)
        .run()
}

#[test]
fn the_plan_schema_file_is_generated_from_the_document_type() {
    let generated = rune::plan::document::schema();
    let path = crate::support::root().join("schemas/plan.schema.json");
    if std::env::var_os("RUNE_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("schema written");
    }
    let on_disk = std::fs::read_to_string(&path).expect("plan schema is readable");
    assert!(
        on_disk == generated,
        "schemas/plan.schema.json differs from the PlanDocument type; regenerate it with \
         `RUNE_UPDATE_SCHEMAS=1 cargo test --test tests plan_document::` and review the diff"
    );
    // And `rune schema plan` prints that same file.
    let out = rune(["schema", "plan"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, generated);
}

#[test]
fn a_printed_plan_deserializes_into_the_document_type_and_back_unchanged() {
    let dir = fixture();
    let out = plan_json(
        dir.path(),
        &[
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
            "--ack",
            "restart-nomad",
            "--reason",
            "agent wedged",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc: rune::plan::document::PlanDocument =
        serde_json::from_str(&out.stdout).expect("the plan deserializes");
    assert_eq!(doc.to_json(), out.stdout);
    assert_eq!(doc.actions.len(), 1);
    // Inside its change window, acknowledged: the window decides, break glass agrees.
    let decision = &doc.actions[0].decision;
    // Compared as serialised: the rule is typed, and its JSON is what scripts see.
    let rule = |r| serde_json::to_value(r).unwrap();
    assert_eq!(rule(&decision.rule), "change_windows.weekday-business");
    assert!(decision
        .checks
        .iter()
        .any(|c| rule(&c.rule) == "break_glass" && c.allowed));
}

#[test]
fn an_unknown_field_is_refused_when_reading_a_plan() {
    let dir = fixture();
    let out = plan_json(dir.path(), &[]);
    let mut value = out.json();
    value["startup"][0]["modules"][0]["extra"] = serde_json::json!(true);
    let err = serde_json::from_value::<rune::plan::document::PlanDocument>(value)
        .expect_err("an unknown field is an error");
    assert!(err.to_string().contains("extra"), "{err}");
}

#[test]
fn step_ids_are_unique_and_in_execution_order() {
    let dir = fixture();
    let out = plan_json(dir.path(), &["--action", "drain-node", "-p", "node=a"]);
    let doc: rune::plan::document::PlanDocument = serde_json::from_str(&out.stdout).unwrap();
    let mut ids = Vec::new();
    for m in doc.startup.iter().flat_map(|w| &w.modules) {
        ids.extend(m.steps.iter().map(|s| s.id));
    }
    ids.extend(doc.actions.iter().map(|a| a.id));
    for m in doc.shutdown.iter().flat_map(|w| &w.modules) {
        ids.extend(m.steps.iter().map(|s| s.id));
    }
    let expected: Vec<u64> = (1..=doc.summary.steps).collect();
    assert_eq!(ids, expected);
    // The action runs after its module's ready step.
    let provider = doc
        .startup
        .iter()
        .flat_map(|w| &w.modules)
        .find(|m| m.module == doc.actions[0].module)
        .unwrap();
    assert_eq!(doc.actions[0].after_step, provider.steps[2].id);
}

#[test]
fn the_same_catalogs_give_the_same_digests_however_their_path_is_spelled() {
    let dir = fixture();
    let base = plan_json(dir.path(), &[]).json();
    let spellings: [(&Path, &[&str]); 4] = [
        (dir.path(), &["./catalogs/"]),
        (
            dir.path(),
            &[
                "catalogs/core.yaml",
                "catalogs/ops.yaml",
                "catalogs/policy.yaml",
            ],
        ),
        (&dir.path().join("catalogs"), &["."]),
        (&dir.path().join("catalogs"), &["../catalogs"]),
    ];
    for (cwd, args) in spellings {
        let other = plan_json(cwd, args).json();
        assert_eq!(
            other["inputs"]["files"], base["inputs"]["files"],
            "{args:?}"
        );
        assert_eq!(
            other["inputs"]["catalog_sha256"], base["inputs"]["catalog_sha256"],
            "{args:?}"
        );
        assert_eq!(other["startup"], base["startup"], "{args:?}");
    }
    assert_eq!(base["inputs"]["catalog_root"], "catalogs");
    let files: Vec<&str> = base["inputs"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["core.yaml", "ops.yaml", "policy.yaml"]);
}

#[test]
fn a_saved_plan_records_the_catalog_root_from_where_it_lies() {
    let dir = fixture();
    std::fs::create_dir_all(dir.path().join("ci/plans")).unwrap();
    let out = rune(["plan", "--at", AT, "--out", "ci/plans/plan.json"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("ci/plans/plan.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["inputs"]["catalog_root"], "../../catalogs");
    // Nothing else differs from the printed plan.
    let mut printed = plan_json(dir.path(), &[]).json();
    printed["inputs"]["catalog_root"] = saved["inputs"]["catalog_root"].clone();
    assert_eq!(printed, saved);
}

#[test]
fn no_absolute_path_appears_unless_one_was_given() {
    let dir = fixture();
    let relative = plan_json(dir.path(), &[]);
    let here = dir.path().to_string_lossy().into_owned();
    assert!(!relative.stdout.contains(&here), "{}", relative.stdout);
    let absolute = plan_json(dir.path(), &[&format!("{here}/catalogs")]).json();
    assert_eq!(
        absolute["inputs"]["catalog_root"],
        format!("{here}/catalogs").replace('\\', "/")
    );
    // Still relative inside the root: the digest does not depend on where the catalogs live.
    assert_eq!(
        absolute["inputs"]["catalog_sha256"],
        relative.json()["inputs"]["catalog_sha256"]
    );
}

const NESTED: &str = r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: svc
      module_class: Service
      module_type: service
      module_version: 1.0.0
      description: A service with plugins
    capability_declaration:
      actions:
        - action: probe
          description: Probe the service
          category: diagnostic
          impact: low
          input_schema: { type: object, additionalProperties: false }
          exec: ["../plugins/probe.sh", "--fast"]
        - action: shell-out
          description: Uses a program from PATH
          category: diagnostic
          impact: low
          input_schema: { type: object, additionalProperties: false }
          exec: ["jq", "-n"]
    lifecycle:
      runtime: process
      exec: ["bin/svc", "--stdio", "two words"]
"#;

#[test]
fn exec_paths_resolve_against_the_declaring_file_and_bare_names_stay_for_path() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("catalogs/team")).unwrap();
    std::fs::write(dir.path().join("catalogs/team/svc.yaml"), NESTED).unwrap();
    let out = plan_json(dir.path(), &["--action", "probe"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let svc = &doc["startup"][0]["modules"][0];
    assert_eq!(svc["declared_in"], "team/svc.yaml");
    assert_eq!(
        svc["command"],
        serde_json::json!({"argv": ["team/bin/svc", "--stdio", "two words"], "working_dir": "team"})
    );
    assert_eq!(
        doc["actions"][0]["command"],
        serde_json::json!({"argv": ["plugins/probe.sh", "--fast"], "working_dir": "team"})
    );
    let path_lookup = plan_json(dir.path(), &["--action", "shell-out"]).json();
    assert_eq!(
        path_lookup["actions"][0]["command"]["argv"],
        serde_json::json!(["jq", "-n"])
    );
    // The human view shows the resolved command line.
    let human = rune(["plan", "--at", AT, "--action", "probe"])
        .current_dir(dir.path())
        .run();
    assert!(
        human
            .stdout
            .contains("process: team/bin/svc --stdio 'two words'"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("command   plugins/probe.sh --fast"),
        "{}",
        human.stdout
    );
}

#[test]
#[cfg(unix)]
fn a_file_name_cannot_forge_another_catalogs_digest() {
    // Catalog one has `a.yaml` and `b.yaml`. Catalog two has a single file whose
    // name spells "a.yaml <digest of one's a.yaml>", a newline, "b.yaml", and whose
    // text is b.yaml's: a `name digest` line listing of the two is identical.
    use sha2::Digest;
    let one = tempfile::TempDir::new().unwrap();
    let two = tempfile::TempDir::new().unwrap();
    std::fs::create_dir(one.path().join("catalogs")).unwrap();
    std::fs::create_dir(two.path().join("catalogs")).unwrap();
    std::fs::write(one.path().join("catalogs/a.yaml"), crate::plan::CORE).unwrap();
    std::fs::write(one.path().join("catalogs/b.yaml"), NESTED).unwrap();
    let digest = format!("{:x}", sha2::Sha256::digest(crate::plan::CORE.as_bytes()));
    std::fs::write(
        two.path()
            .join("catalogs")
            .join(format!("a.yaml {digest}\nb.yaml")),
        NESTED,
    )
    .unwrap();
    let a = plan_json(one.path(), &[]);
    let b = plan_json(two.path(), &[]);
    assert_eq!(a.code, 0, "{}", a.snapshot());
    assert_eq!(b.code, 0, "{}", b.snapshot());
    assert_ne!(
        a.json()["inputs"]["catalog_sha256"],
        b.json()["inputs"]["catalog_sha256"]
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_catalog_file_whose_path_is_not_utf8_is_refused_by_plan_but_validated() {
    use std::os::unix::ffi::OsStrExt;
    let dir = fixture();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.yaml");
    std::fs::rename(
        dir.path().join("catalogs/ops.yaml"),
        dir.path().join("catalogs").join(name),
    )
    .unwrap();
    let validate = rune(["validate"]).current_dir(dir.path()).run();
    assert_eq!(validate.code, 0, "{}", validate.snapshot());
    let out = rune(["plan", "--at", AT]).current_dir(dir.path()).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("rune::plan::unrepresentable_path"),
        "{}",
        out.stderr
    );
    let json = plan_json(dir.path(), &[]);
    assert_eq!(json.code, 1);
    assert_eq!(
        json.json()["diagnostics"][0]["code"],
        "rune::plan::unrepresentable_path"
    );
}

/// A chain of `n` modules, each depending on the one before: `n` startup waves.
fn chain_catalog(dir: &Path, n: usize) {
    let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - module_identity:\n      module_name: m{i:04}\n      module_class: Chain\n      \
             module_type: service\n      module_version: 1.0.0\n      description: \"link \\\"{i}\\\"\"\n    \
             lifecycle:\n      runtime: none\n"
        ));
        if i > 0 {
            text.push_str(&format!(
                "    technical_requirements:\n      supported_protocols: [rcs_v2]\n      \
                 dependencies:\n        - {{ module_name: m{:04}, version_requirement: \">=1.0.0\", \
                 criticality: required }}\n",
                i - 1
            ));
        }
    }
    std::fs::write(dir.join("chain.yaml"), text).unwrap();
}

#[test]
fn a_long_plan_and_graph_are_serde_jsons_pretty_layout_byte_for_byte() {
    // Long sequences are rendered on several threads (src/pretty_json.rs); what
    // comes out must be exactly what serde_json's pretty printer writes.
    let dir = tempfile::tempdir().unwrap();
    chain_catalog(dir.path(), 700);
    let out = plan_json(dir.path(), &["chain.yaml"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc: rune::plan::document::PlanDocument =
        serde_json::from_str(&out.stdout).expect("the plan deserializes");
    assert_eq!(doc.startup.len(), 700);
    let expected = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    assert!(
        out.stdout == expected,
        "plan JSON differs from serde_json's layout"
    );

    let graph = rune(["graph", "--format", "json", "chain.yaml"])
        .current_dir(dir.path())
        .run();
    assert_eq!(graph.code, 0, "{}", graph.snapshot());
    let value: serde_json::Value = serde_json::from_str(&graph.stdout).unwrap();
    assert_eq!(value["nodes"].as_array().unwrap().len(), 700);
    assert_eq!(value["edges"].as_array().unwrap().len(), 699);
    // The expected text, written out: typed values re-serialised through a Value
    // would sort their keys.
    let mut expected = String::from("{\n  \"format_version\": 1,\n  \"nodes\": [");
    for i in 0..700 {
        let sep = if i == 0 { "" } else { "," };
        expected.push_str(&format!(
            "{sep}\n    {{\n      \"name\": \"m{i:04}\",\n      \"version\": \"1.0.0\",\n      \"runtime\": \"none\"\n    }}"
        ));
    }
    expected.push_str("\n  ],\n  \"edges\": [");
    for i in 1..700 {
        let sep = if i == 1 { "" } else { "," };
        expected.push_str(&format!(
            "{sep}\n    {{\n      \"from\": \"m{i:04}\",\n      \"to\": \"m{:04}\",\n      \"criticality\": \"required\"\n    }}",
            i - 1
        ));
    }
    expected.push_str("\n  ]\n}\n");
    assert!(
        graph.stdout == expected,
        "graph JSON differs from serde_json's layout"
    );
}
