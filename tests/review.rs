//! Found in review of the plan document, the error channel and `rune man`: each
//! test is a hostile input that once gave a wrong plan, a hang or a panic.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::rune;

const AT: &str = "2026-01-01T00:00:00Z";

/// A catalog file declaring one process module `name` that runs `exec`, and an
/// action `NAME-act` that runs `action_exec`.
fn catalog(name: &str, exec: &str, action_exec: &str) -> String {
    format!(
        r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: {name}
      module_class: Thing
      module_type: core_service
      module_version: 1.0.0
      description: a module
    lifecycle:
      runtime: process
      exec: [{exec}]
    capability_declaration:
      actions:
        - action: {name}-act
          description: an action
          category: diagnostic
          impact: low
          exec: [{action_exec}]
"#
    )
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("directory is created");
    }
    std::fs::write(path, text).expect("file is written");
}

fn plan_json(dir: &Path, args: &[&str]) -> Json {
    let out = rune(["plan", "--at", AT, "--format", "json"])
        .args(args.iter().copied())
        .current_dir(dir)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    out.json()
}

/// Every startup command's argv[0] and every action command's, by module/action.
fn programs(doc: &Json) -> Vec<String> {
    let startup = doc["startup"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|w| w["modules"].as_array().into_iter().flatten());
    let actions = doc["actions"].as_array().into_iter().flatten();
    startup
        .chain(actions)
        .map(|m| m["command"]["argv"][0].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn an_exec_path_in_the_root_directory_stays_a_path_not_a_name_looked_up_on_path() {
    let dir = TempDir::new().expect("temporary directory");
    // `./tool`, `bin/../tool` and `./` paths in the root's own directory normalise
    // to a name without a `/`: written bare, `rune apply` would run whatever `tool`
    // is on PATH instead of the catalog's own file.
    write(
        &dir.path().join("cat/a.yaml"),
        &catalog("alpha", r#""./alpha", "--flag""#, r#""bin/../run.sh""#),
    );
    write(
        &dir.path().join("cat/sub/b.yaml"),
        &catalog("beta", r#""../beta""#, r#""./x/../run.sh""#),
    );
    let doc = plan_json(dir.path(), &["cat", "--action", "alpha-act"]);
    assert_eq!(programs(&doc), ["./alpha", "./run.sh"]);
    let doc = plan_json(dir.path(), &["cat", "--action", "beta-act"]);
    assert_eq!(programs(&doc), ["./beta", "sub/run.sh"]);
    // A bare name stays a bare name: that one is looked up on PATH, as documented.
    write(
        &dir.path().join("bare/a.yaml"),
        &catalog("gamma", r#""jq""#, r#""/usr/bin/env""#),
    );
    let doc = plan_json(dir.path(), &["bare", "--action", "gamma-act"]);
    assert_eq!(programs(&doc), ["jq", "/usr/bin/env"]);
    // The readable plan shows the same command line.
    let out = rune(["plan", "--at", AT, "cat", "--action", "alpha-act"])
        .current_dir(dir.path())
        .run();
    assert!(
        out.stdout.contains("process: ./alpha --flag") && out.stdout.contains("command   ./run.sh"),
        "{}",
        out.snapshot()
    );
}

#[cfg(unix)]
#[test]
fn a_backslash_in_a_unix_file_name_is_kept_not_turned_into_a_directory() {
    let dir = TempDir::new().expect("temporary directory");
    // Two different files: `a\b.yaml` and `a/b.yaml`.
    write(
        &dir.path().join("cat").join("a\\b.yaml"),
        &catalog("alpha", r#""x""#, r#""y""#),
    );
    write(
        &dir.path().join("cat/a/b.yaml"),
        &catalog("beta", r#""x""#, r#""y""#),
    );
    write(
        &dir.path().join("c\\d/e.yaml"),
        &catalog("gamma", r#""x""#, r#""y""#),
    );
    let doc = plan_json(dir.path(), &["cat"]);
    let files: Vec<&str> = doc["inputs"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["file"].as_str().expect("file name"))
        .collect();
    assert_eq!(files, ["a/b.yaml", "a\\b.yaml"]);
    let doc = plan_json(dir.path(), &["c\\d"]);
    assert_eq!(doc["inputs"]["catalog_root"], "c\\d");
}

/// The catalog files a saved plan names, resolved as a reader of the plan file
/// would: from the plan file's directory, by the operating system.
fn files_seen_from(plan: &Path) -> Vec<std::path::PathBuf> {
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(plan).expect("plan is written"))
        .expect("plan is JSON");
    let root = doc["inputs"]["catalog_root"]
        .as_str()
        .expect("catalog_root");
    let dir = plan.parent().expect("plan has a directory");
    doc["inputs"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| dir.join(root).join(f["file"].as_str().expect("file")))
        .collect()
}

#[cfg(unix)]
#[test]
fn a_plan_saved_through_a_symbolic_link_finds_its_catalogs_from_where_it_lies() {
    let dir = TempDir::new().expect("temporary directory");
    let base = dir.path();
    write(
        &base.join("cat/a.yaml"),
        &catalog("alpha", r#""x""#, r#""y""#),
    );
    std::fs::create_dir_all(base.join("out/deep")).expect("out/deep");
    std::os::unix::fs::symlink(base.join("out/deep"), base.join("deeplink")).expect("link");
    // `deeplink/../p.json` is `out/p.json` to the kernel, not `./p.json`; and a plan
    // in a linked directory lies in the link's target.
    for out in ["deeplink/../p.json", "deeplink/q.json", "out/deep/r.json"] {
        let run = rune(["plan", "--at", AT, "cat", "--out", out])
            .current_dir(base)
            .run();
        assert_eq!(run.code, 0, "{}", run.snapshot());
        let files = files_seen_from(&base.join(out));
        assert!(!files.is_empty());
        for file in files {
            assert!(
                file.is_file(),
                "--out {out}: the plan names {} which does not exist",
                file.display()
            );
        }
    }
}

/// Run `rune ARGS` in `dir`: (exit code, stderr). A hang is killed at 20 s and
/// fails the test.
fn run_bounded(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = rune(args)
        .current_dir(dir)
        .deadline(Duration::from_secs(20))
        .run();
    (out.code, out.stderr)
}

#[cfg(unix)]
#[test]
fn man_out_dir_refuses_a_fifo_at_a_page_name_instead_of_hanging() {
    let dir = TempDir::new().expect("temporary directory");
    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).expect("man1");
    let fifo = pages.join("rune-plan.1");
    let mut mkfifo = Command::new("mkfifo");
    mkfifo.arg(&fifo);
    let made = crate::support::succeeds(mkfifo);
    if !made {
        crate::support::skip("mkfifo is not available");
        return;
    }
    let (code, stderr) = run_bounded(dir.path(), &["man", "--out-dir", "man1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot write rune-plan.1 in `man1`: it is a FIFO, not a regular file"),
        "{stderr}"
    );
    // A file where the directory should be is named for what it is.
    std::fs::write(dir.path().join("afile"), "").expect("afile");
    let (code, stderr) = run_bounded(dir.path(), &["man", "--out-dir", "afile"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot write rune.1 in `afile`: not a directory"),
        "{stderr}"
    );
}

/// A change to a valid plan document.
type Mutation = Box<dyn Fn(&mut Json)>;

#[test]
fn hostile_plan_json_is_refused_by_the_document_type_without_panicking() {
    use rune::plan::document::PlanDocument;
    let dir = crate::plan::fixture();
    let out = rune(["plan", "--at", AT, "--format", "json"])
        .args(["--action", "restart-nomad", "-p", "node=worker-1"])
        .args(["--ack", "restart-nomad", "--reason", "r"])
        .current_dir(dir.path())
        .run();
    let good: Json = out.json();
    assert!(serde_json::from_value::<PlanDocument>(good.clone()).is_ok());
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let mutations: Vec<(&str, Mutation)> = vec![
        ("unknown field", Box::new(|d| d["extra"] = Json::Null)),
        (
            "unknown nested field",
            Box::new(|d| d["inputs"]["extra"] = 1.into()),
        ),
        (
            "format_version past u32",
            Box::new(|d| d["format_version"] = serde_json::json!(1u64 << 40)),
        ),
        (
            "another format version",
            Box::new(|d| d["format_version"] = 2.into()),
        ),
        (
            "negative step id",
            Box::new(|d| d["startup"][0]["modules"][0]["steps"][0]["id"] = (-1).into()),
        ),
        (
            "fractional step id",
            Box::new(|d| d["startup"][0]["modules"][0]["steps"][0]["id"] = 1.5.into()),
        ),
        (
            "huge timeout",
            Box::new(|d| d["actions"][0]["timeout_ms"]["value"] = serde_json::json!(1e300)),
        ),
        (
            "string where a number goes",
            Box::new(|d| d["summary"]["steps"] = "10".into()),
        ),
        (
            "unknown rule",
            Box::new(|d| d["actions"][0]["decision"]["rule"] = "change_windows.".into()),
        ),
        (
            "unknown phase",
            Box::new(|d| d["shutdown"][0]["modules"][0]["steps"][0]["phase"] = "explode".into()),
        ),
        (
            "bad instant",
            Box::new(|d| d["evaluated_at"] = "yesterday".into()),
        ),
        ("null document", Box::new(|d| *d = Json::Null)),
        (
            "missing field",
            Box::new(|d| {
                d.as_object_mut().map(|o| o.remove("inputs"));
            }),
        ),
    ];
    for (what, mutate) in mutations {
        let mut doc = good.clone();
        mutate(&mut doc);
        let text = doc.to_string();
        let parsed = std::panic::catch_unwind(|| serde_json::from_str::<PlanDocument>(&text));
        match parsed {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("{what}: accepted"),
            Err(_) => panic!("{what}: panicked"),
        }
    }
    // Nesting past serde_json's recursion limit is an error, not a stack overflow.
    let text =
        good.to_string()
            .replacen("\"params\":{", &format!("\"params\":{{\"deep\":{deep},"), 1);
    assert!(serde_json::from_str::<PlanDocument>(&text).is_err());
}

#[test]
fn a_denied_plan_with_out_dash_leaves_one_json_document_on_stdout_not_nothing() {
    let dir = crate::plan::fixture();
    let denied = ["--action", "restart-nomad", "-p", "node=worker-1"];
    // Without --out -, stdout holds the plan with its denied step (exit 1).
    let plain = rune(["plan", "--at", AT, "--format", "json"])
        .args(denied)
        .current_dir(dir.path())
        .run();
    assert_eq!(plain.code, 1, "{}", plain.snapshot());
    assert_eq!(plain.json()["summary"]["denied"], 1);
    // With --out -, the plan never reaches stdout; the diagnostics report does, so
    // `--format json` still means stdout parses, and `rune apply -` gets no plan.
    let out = rune(["plan", "--at", AT, "--format", "json", "--out", "-"])
        .args(denied)
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let report = out.json();
    assert_eq!(report["valid"], false, "{report:#}");
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .expect("a diagnostics report")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["rune::plan::policy_denied"]);
    assert!(
        out.stderr
            .contains("the plan has denied steps; not written to stdout"),
        "{}",
        out.snapshot()
    );
    // In the human format the readable plan is on stderr and stdout stays empty.
    let human = rune(["plan", "--at", AT, "--out", "-"])
        .args(denied)
        .current_dir(dir.path())
        .run();
    assert_eq!(human.code, 1, "{}", human.snapshot());
    assert_eq!(human.stdout, "");
    assert!(human.stderr.contains("DENIED"), "{}", human.snapshot());
}

#[test]
fn a_parameter_given_twice_on_the_command_line_is_a_usage_error_not_the_last_one_silently() {
    let dir = crate::plan::fixture();
    let twice = |extra: &[&str]| {
        // Inside the fixture's change window, acknowledged: allowed.
        rune([
            "plan",
            "--at",
            "2026-03-27T10:00:00Z",
            "--action",
            "restart-nomad",
        ])
        .args(["--ack", "restart-nomad", "--reason", "r"])
        .args(extra.iter().copied())
        .current_dir(dir.path())
        .run()
    };
    for args in [
        &["-p", "node=worker-1", "-p", "node=worker-2"][..],
        &["-p", "node=worker-1", "--param", " node =worker-1"][..],
    ] {
        let out = twice(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.snapshot());
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.contains("rune::cli::invalid_param")
                && out
                    .stderr
                    .contains("--param `node` is given more than once"),
            "{}",
            out.snapshot()
        );
    }
    // In JSON too, as a diagnostics report on stdout.
    let out = twice(&["-p", "node=a", "-p", "node=b", "--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(
        out.json()["diagnostics"][0]["code"],
        "rune::cli::invalid_param"
    );
    // The command line still overrides a params file.
    std::fs::write(dir.path().join("params.yaml"), "node: worker-1\n").expect("params file");
    let out = twice(&["--params-file", "params.yaml", "-p", "node=worker-2"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains(r#"{"node":"worker-2"}"#),
        "{}",
        out.snapshot()
    );
}

#[cfg(unix)]
#[test]
fn plan_out_refuses_to_replace_the_params_file_it_reads() {
    let dir = crate::plan::fixture();
    let params = "node: worker-1\n";
    std::fs::write(dir.path().join("params.yaml"), params).expect("params file");
    std::os::unix::fs::symlink("params.yaml", dir.path().join("link.yaml")).expect("link");
    for out in ["params.yaml", "./params.yaml", "link.yaml"] {
        let run = rune(["plan", "--at", AT, "--action", "restart-nomad"])
            .args(["--params-file", "params.yaml", "--out", out])
            .current_dir(dir.path())
            .run();
        assert_eq!(run.code, 2, "--out {out}: {}", run.snapshot());
        assert!(
            run.stderr.contains("rune::cli::unwritable_out")
                && run
                    .stderr
                    .contains("it is the --params-file this plan reads"),
            "{}",
            run.snapshot()
        );
        let kept = std::fs::read_to_string(dir.path().join("params.yaml")).expect("params");
        assert_eq!(kept, params, "--out {out} replaced the params file");
    }
}

#[test]
fn plan_help_says_at_overrides_source_date_epoch() {
    let out = rune(["plan", "--help"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let at: String = out
        .stdout
        .lines()
        .skip_while(|l| !l.contains("--at <RFC3339>"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(at.contains("SOURCE_DATE_EPOCH"), "{}", out.stdout);
}
