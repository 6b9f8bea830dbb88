//! Plans as golden files: `rune plan --check GOLDEN [--update]` and `rune diff A B`
//! compare plans by meaning. Every case copies the bundled catalogs (and the
//! programs they run) into a temporary directory, saves a plan, edits the catalog
//! the way a pull request would, and reads what the real binary reports: each
//! change once, by its cause, on the catalog line that holds it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::support::{rune, Output};

/// The bundled catalogs and the programs they run, copied into a temporary
/// directory (`catalogs/`, `modules/`, `plugins/`).
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temporary directory");
        copy_bundle(dir.path());
        Tree { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `rune ARGS` run in the tree.
    fn rune(&self, args: &[&str]) -> Output {
        rune(args).current_dir(self.path()).run()
    }

    /// Replace `from` by `to` in a catalog file (once; it must be there).
    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join("catalogs").join(file);
        let text = std::fs::read_to_string(&path).expect("catalog file");
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write catalog");
    }
}

/// Copy the repository's catalogs, modules and plugins under `to`.
fn copy_bundle(to: &Path) {
    let root = crate::support::root();
    for part in ["catalogs", "modules", "plugins"] {
        let ok = Command::new("cp")
            .arg("-R")
            .arg(root.join(part))
            .arg(to)
            .status()
            .expect("cp runs")
            .success();
        assert!(ok, "copy {part}");
    }
}

const AT: &str = "2026-01-05T10:00:00Z";

/// Digests in messages change with every edit of the bundled catalogs: not what
/// these snapshots are about.
fn redacted(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('…') {
        let head = &rest[..i];
        let cut = head.len()
            - head
                .chars()
                .rev()
                .take_while(char::is_ascii_hexdigit)
                .count();
        out.push_str(&head[..cut]);
        out.push_str("[sha256]…");
        rest = &rest[i + '…'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn golden(tree: &Tree, extra: &[&str]) {
    let mut args = vec!["plan", "--at", AT, "--out", "golden.json"];
    args.extend_from_slice(extra);
    let made = tree.rune(&args);
    assert_eq!(made.code, 0, "{}", made.snapshot());
}

#[test]
fn an_unchanged_catalog_checks_clean_without_repeating_the_instant() {
    let tree = Tree::new();
    golden(&tree, &[]);
    // No --at: the golden file's instant, not now.
    let check = tree.rune(&["plan", "--check", "golden.json"]);
    assert_eq!(check.code, 0, "{}", check.snapshot());
    assert_eq!(
        check.stdout,
        "no drift: the plan now means the same as golden.json\n"
    );
    let diff = tree.rune(&["diff", "golden.json", "golden.json"]);
    assert_eq!(diff.code, 0, "{}", diff.snapshot());
}

#[test]
fn a_timeout_change_is_one_line_on_the_line_that_changed() {
    let tree = Tree::new();
    golden(&tree, &[]);
    tree.edit(
        "services.yaml",
        "timeouts: { initialize_ms: 5000, ready_ms: 10000,",
        "timeouts: { initialize_ms: 5000, ready_ms: 3000,",
    );
    let human = tree.rune(&["plan", "--check", "golden.json"]);
    assert_eq!(human.code, 1, "{}", human.snapshot());
    insta::assert_snapshot!("timeout_human", redacted(&human.snapshot()));
    let github = tree.rune(&["plan", "--check", "golden.json", "--format", "github"]);
    assert_eq!(github.code, 1);
    insta::assert_snapshot!("timeout_github", redacted(&github.snapshot()));
    let json = tree.rune(&["plan", "--check", "golden.json", "--format", "json"]);
    assert_eq!(json.code, 1);
    let mut doc = json.json();
    for c in doc["changes"].as_array_mut().unwrap() {
        if c["kind"] == "input" {
            c["before"] = Json::from("[sha256]");
            c["after"] = Json::from("[sha256]");
            c["message"] = Json::from(redacted(c["message"].as_str().unwrap()));
        }
    }
    insta::assert_json_snapshot!("timeout_json", doc);
}

#[test]
fn a_module_that_moves_is_named_once_with_its_cause() {
    let tree = Tree::new();
    golden(&tree, &[]);
    // secret-store now waits for error-handler (wave 3): it moves from wave 2 to
    // wave 4, and everything that starts after it moves too.
    tree.edit(
        "services.yaml",
        "        - { module_name: lom, version_requirement: \">=1.2.0\", criticality: required }\n      resource_requirements: { min_memory_mb: 64, max_memory_mb: 256",
        "        - { module_name: lom, version_requirement: \">=1.2.0\", criticality: required }\n        - { module_name: error-handler, criticality: required }\n      resource_requirements: { min_memory_mb: 64, max_memory_mb: 256",
    );
    let check = tree.rune(&["plan", "--check", "golden.json", "--format", "json"]);
    assert_eq!(check.code, 1, "{}", check.snapshot());
    let doc = check.json();
    let moved: Vec<&Json> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "module_moved")
        .collect();
    assert_eq!(moved.len(), 1, "{doc:#}");
    assert_eq!(moved[0]["subject"], "secret-store");
    assert_eq!(moved[0]["before"]["wave"], 2);
    assert_eq!(moved[0]["after"]["wave"], 4);
    // config-manager, service-registry, log-shipper, api-gateway, host-ops,
    // scheduler: moved, counted, not listed.
    assert_eq!(doc["moved_with"], 6, "{doc:#}");
    let human = tree.rune(&["plan", "--check", "golden.json"]);
    insta::assert_snapshot!("moved_human", redacted(&human.snapshot()));
}

#[test]
fn a_policy_decision_that_changes_names_the_rule_that_now_decides() {
    let tree = Tree::new();
    let action = ["--action", "rotate-logs", "--param", "keep=2"];
    // Monday 11:00 in Berlin: inside weekday-business.
    golden(&tree, &action);
    // Sunday: outside it.
    let mut args = vec![
        "plan",
        "--at",
        "2026-01-04T10:00:00Z",
        "--check",
        "golden.json",
    ];
    args.extend_from_slice(&action);
    let human = tree.rune(&args);
    assert_eq!(human.code, 1, "{}", human.snapshot());
    insta::assert_snapshot!("decision_human", redacted(&human.snapshot()));
    args.extend_from_slice(&["--format", "github"]);
    let github = tree.rune(&args);
    assert_eq!(github.code, 1);
    assert!(
        github.stdout.lines().any(
            |l| l.starts_with("::error file=catalogs/policy.yaml,line=15,")
                && l.contains("now denied by `change_windows.weekday-business`")
        ),
        "{}",
        github.snapshot()
    );
}

#[test]
fn update_writes_the_golden_file_and_then_it_checks_clean() {
    let tree = Tree::new();
    // Missing, without --update: a usage error that says how to make it.
    let missing = tree.rune(&["plan", "--at", AT, "--check", "golden.json"]);
    assert_eq!(missing.code, 2, "{}", missing.snapshot());
    assert!(missing.stderr.contains("--update"), "{}", missing.stderr);
    let made = tree.rune(&["plan", "--at", AT, "--check", "golden.json", "--update"]);
    assert_eq!(made.code, 0, "{}", made.snapshot());
    assert!(made.stderr.contains("golden plan written to golden.json"));
    let again = tree.rune(&["plan", "--at", AT, "--check", "golden.json", "--update"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stderr.contains("golden.json is up to date"),
        "{}",
        again.stderr
    );
    tree.edit(
        "core.yaml",
        "ready_ms: 1000, drain_ms: 2000",
        "ready_ms: 1500, drain_ms: 2000",
    );
    assert_eq!(tree.rune(&["plan", "--check", "golden.json"]).code, 1);
    let accepted = tree.rune(&["plan", "--check", "golden.json", "--update"]);
    assert_eq!(accepted.code, 0, "{}", accepted.snapshot());
    assert!(accepted
        .stdout
        .contains("ready timeout 1000 ms (lifecycle) → 1500 ms"));
    assert_eq!(tree.rune(&["plan", "--check", "golden.json"]).code, 0);
    // The file --update writes is the file --out writes.
    let out = tree.rune(&["plan", "--at", AT, "--out", "out.json"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        std::fs::read(tree.path().join("out.json")).unwrap(),
        std::fs::read(tree.path().join("golden.json")).unwrap()
    );
}

#[test]
fn diff_compares_two_saved_workflow_plans() {
    let tree = Tree::new();
    let workflow = [
        "--workflow",
        "free-disk-space",
        "--input",
        "path=..",
        "--input",
        "max_used_percent=90",
        "--ack",
        "purge-archives",
        "--reason",
        "disk full",
    ];
    let mut args = vec!["plan", "--at", AT, "--out", "a.json"];
    args.extend_from_slice(&workflow);
    assert_eq!(tree.rune(&args).code, 0);
    // purge's own timeout changes, but policy.overrides sets the one in force:
    // no drift there. rotate's timeout is new; verify now needs rotate only.
    tree.edit(
        "workflows.yaml",
        "        timeout_ms: 30000\n",
        "        timeout_ms: 45000\n",
    );
    tree.edit(
        "workflows.yaml",
        "        params: { keep: 2 }\n",
        "        params: { keep: 2 }\n        timeout_ms: 25000\n",
    );
    tree.edit(
        "workflows.yaml",
        "        action: disk-usage\n        needs: [purge]\n",
        "        action: disk-usage\n        needs: [rotate]\n",
    );
    args[4] = "b.json";
    assert_eq!(tree.rune(&args).code, 0);
    let diff = tree.rune(&["diff", "a.json", "b.json"]);
    assert_eq!(diff.code, 1, "{}", diff.snapshot());
    insta::assert_snapshot!("workflow_human", redacted(&diff.snapshot()));
    let github = tree.rune(&["diff", "a.json", "b.json", "--format", "github"]);
    assert!(
        github
            .stdout
            .contains("::error file=catalogs/workflows.yaml,line=34,"),
        "{}",
        github.stdout
    );
    assert_eq!(tree.rune(&["diff", "b.json", "b.json"]).code, 0);
}

#[test]
fn a_file_that_is_not_a_plan_is_a_usage_error() {
    let tree = Tree::new();
    golden(&tree, &[]);
    let text = std::fs::read_to_string(tree.path().join("golden.json")).unwrap();
    // The same key twice: refused as `rune apply` refuses it.
    std::fs::write(
        tree.path().join("twice.json"),
        text.replacen(
            "\"clock\": \"fixed\",",
            "\"clock\": \"fixed\",\n  \"clock\": \"now\",",
            1,
        ),
    )
    .unwrap();
    std::fs::write(tree.path().join("garbage.json"), "{ not json").unwrap();
    for args in [
        vec!["diff", "golden.json", "twice.json"],
        vec!["diff", "garbage.json", "golden.json"],
        vec!["diff", "golden.json", "absent.json"],
        vec!["plan", "--check", "twice.json"],
        vec!["plan", "--check", "garbage.json", "--format", "github"],
        vec!["plan", "--format", "github"],
        vec!["plan", "--check", "golden.json", "--out", "x.json"],
        vec!["plan", "--update"],
        vec!["plan", "--check", "catalogs/core.yaml", "--update"],
    ] {
        let out = tree.rune(&args);
        assert_eq!(out.code, 2, "{args:?}\n{}", out.snapshot());
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let twice = tree.rune(&["diff", "golden.json", "twice.json"]);
    assert!(
        twice.stderr.contains("duplicate key `clock`"),
        "{}",
        twice.stderr
    );
    // Nothing was overwritten.
    assert!(
        std::fs::read_to_string(tree.path().join("catalogs/core.yaml"))
            .unwrap()
            .contains("modules:")
    );
}

/// The same plan made under another time zone, locale, working directory and in
/// a copied tree: a golden file made on one machine checks clean on another.
#[test]
fn a_plan_is_the_same_on_every_machine() {
    let tree = Tree::new();
    golden(&tree, &["--action", "rotate-logs", "--param", "keep=2"]);
    let reference = std::fs::read(tree.path().join("golden.json")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    copy_bundle(elsewhere.path());
    let sub = tree.path().join("catalogs");
    // What differs, the working directory, the environment, the arguments after
    // the selectors.
    type Case<'a> = (&'a str, PathBuf, Vec<(&'a str, &'a str)>, Vec<String>);
    let cases: Vec<Case> = vec![
        (
            "another time zone and locale",
            tree.path().to_path_buf(),
            vec![
                ("TZ", "Pacific/Kiritimati"),
                ("LANG", "de_DE.UTF-8"),
                ("LC_ALL", "tr_TR.UTF-8"),
            ],
            vec!["--out".into(), "golden2.json".into()],
        ),
        (
            "the catalog directory as working directory",
            sub.clone(),
            vec![("TZ", "America/St_Johns"), ("LC_ALL", "C")],
            vec![".".into(), "--out".into(), "../golden3.json".into()],
        ),
        (
            "a copied tree",
            elsewhere.path().to_path_buf(),
            vec![("TZ", "Asia/Kathmandu"), ("LANG", "ja_JP.UTF-8")],
            vec!["--out".into(), "golden.json".into()],
        ),
    ];
    for (what, cwd, env, extra) in cases {
        let mut args: Vec<String> = [
            "plan",
            "--at",
            AT,
            "--action",
            "rotate-logs",
            "--param",
            "keep=2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().cloned());
        let mut command = rune(&args).current_dir(&cwd);
        for (k, v) in &env {
            command = command.env(k, v);
        }
        let made = command.run();
        assert_eq!(made.code, 0, "{what}: {}", made.snapshot());
        let written = cwd.join(extra.last().unwrap());
        assert_eq!(
            std::fs::read(&written).unwrap(),
            reference,
            "{what}: the plan differs byte for byte"
        );
        let diff = tree.rune(&["diff", "golden.json", written.to_str().unwrap()]);
        assert_eq!(diff.code, 0, "{what}: {}", diff.snapshot());
        // And the check made there against the golden file made here.
        let mut check = rune([
            "plan",
            "--action",
            "rotate-logs",
            "--param",
            "keep=2",
            "--check",
            tree.path().join("golden.json").to_str().unwrap(),
        ])
        .current_dir(&cwd);
        for (k, v) in &env {
            check = check.env(k, v);
        }
        if cwd == sub {
            check = check.args(["."]);
        }
        let check = check.run();
        assert_eq!(check.code, 0, "{what}: {}", check.snapshot());
    }
}

#[test]
fn another_selection_names_the_request_and_each_module_it_adds() {
    let tree = Tree::new();
    golden(&tree, &["--target", "config-manager"]);
    let check = tree.rune(&[
        "plan",
        "--target",
        "api-gateway",
        "--check",
        "golden.json",
        "--format",
        "json",
    ]);
    assert_eq!(check.code, 1, "{}", check.snapshot());
    let doc = check.json();
    let named: Vec<(String, String)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |kind: &str, subject: &str| (kind.to_string(), subject.to_string());
    assert_eq!(
        named,
        [
            expect("request", "request"),
            expect("module_added", "api-gateway"),
            expect("module_added", "service-registry"),
        ],
        "{doc:#}"
    );
    // A new step that policy denies says so (purge-archives needs break glass).
    let denied = tree.rune(&[
        "plan",
        "--target",
        "config-manager",
        "--action",
        "purge-archives",
        "-p",
        "older_than_minutes=5",
        "--check",
        "golden.json",
    ]);
    assert_eq!(denied.code, 1, "{}", denied.snapshot());
    assert!(
        denied.stdout.contains(
            "step `purge-archives` added (action `purge-archives` of module `host-ops`), denied by `break_glass`"
        ),
        "{}",
        denied.stdout
    );
}

/// docs/ci.md's plain shell recipe, exactly as written there, against the bundled
/// catalogs: clean, then applied (real module processes), then failing on drift.
#[test]
fn the_plain_shell_ci_recipe_runs_as_written() {
    let root = crate::support::root();
    let script = std::fs::read_to_string(root.join("docs/ci.sh")).unwrap();
    let docs = std::fs::read_to_string(root.join("docs/ci.md")).unwrap();
    assert!(
        docs.contains(&script),
        "docs/ci.md must show docs/ci.sh as it is"
    );
    let tree = Tree::new();
    std::fs::create_dir_all(tree.path().join("tests/golden")).unwrap();
    // Made as docs/ci.md says.
    let made = tree.rune(&[
        "plan",
        "catalogs",
        "--at",
        AT,
        "--check",
        "tests/golden/plan.json",
        "--update",
    ]);
    assert_eq!(made.code, 0, "{}", made.snapshot());
    let golden = std::fs::read(tree.path().join("tests/golden/plan.json")).unwrap();
    let digest = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&golden));
    std::fs::write(
        tree.path().join("tests/golden/plan.json.sha256"),
        format!("{digest}  tests/golden/plan.json\n"),
    )
    .unwrap();
    let ci = |apply: bool| {
        let mut command = Command::new("sh");
        command
            .arg(root.join("docs/ci.sh"))
            .current_dir(tree.path())
            .env("RUNE", env!("CARGO_BIN_EXE_rune"))
            .env("APPLY", if apply { "1" } else { "0" })
            .env("NO_COLOR", "1")
            .env_remove("SOURCE_DATE_EPOCH");
        crate::support::output_within(command, std::time::Duration::from_secs(120))
            .expect("sh runs")
    };
    let clean = ci(true);
    assert_eq!(clean.code, 0, "{}", clean.snapshot());
    assert!(clean.stdout.contains("no drift"), "{}", clean.stdout);
    assert!(clean.stdout.contains("== rune apply"), "{}", clean.stdout);
    tree.edit(
        "core.yaml",
        "ready_ms: 1000, drain_ms: 2000",
        "ready_ms: 1500, drain_ms: 2000",
    );
    let drifted = ci(false);
    assert_eq!(drifted.code, 1, "{}", drifted.snapshot());
    assert!(
        drifted
            .stdout
            .contains("ready timeout 1000 ms (lifecycle) → 1500 ms (lifecycle)"),
        "{}",
        drifted.stdout
    );
}

/// `.pre-commit-hooks.yaml` as pre-commit users install it: `pre-commit try-repo`
/// builds rune with `cargo install` (language: rust) and runs both hooks on a
/// repository with a good catalog, then on one with a broken catalog. The build
/// shares one target directory (`target/pre-commit`), so only the first run of a
/// checkout compiles everything.
#[test]
fn the_pre_commit_hooks_pass_a_good_catalog_and_fail_a_broken_one() {
    if !Command::new("pre-commit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        crate::support::skip("pre-commit is not installed (.ci/run installs it)");
        return;
    }
    let root = crate::support::root();
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    copy_bundle(&repo);
    let made = rune(["plan", "--at", AT, "--check", "rune.plan.json", "--update"])
        .current_dir(&repo)
        .run();
    assert_eq!(made.code, 0, "{}", made.snapshot());
    let git = |args: &[&str]| {
        let mut command = Command::new("git");
        command
            .args([
                "-c",
                "user.name=rune",
                "-c",
                "user.email=rune@example.invalid",
            ])
            .args(args)
            .current_dir(&repo);
        let out = crate::support::output_within(command, std::time::Duration::from_secs(60))
            .expect("git runs");
        assert_eq!(out.code, 0, "git {args:?}: {}", out.snapshot());
    };
    git(&["init", "-q", "."]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "catalogs"]);
    let try_repo = || {
        let mut command = Command::new("pre-commit");
        command
            .arg("try-repo")
            .arg(&root)
            .args(["--all-files", "--color", "never"])
            .current_dir(&repo)
            .env("PRE_COMMIT_HOME", work.path().join("pre-commit-home"))
            .env("CARGO_TARGET_DIR", root.join("target/pre-commit"))
            .env_remove("SOURCE_DATE_EPOCH");
        // The first run of a checkout compiles rune in release mode.
        crate::support::output_within(command, std::time::Duration::from_secs(1800))
            .expect("pre-commit runs")
    };
    let good = try_repo();
    assert_eq!(good.code, 0, "{}", good.snapshot());
    assert!(
        good.stdout.contains("rune validate") && good.stdout.contains("Passed"),
        "{}",
        good.stdout
    );
    assert!(!good.stdout.contains("Failed"), "{}", good.stdout);
    release_binary_loads_no_libgcc_s(&root.join("target/pre-commit"));

    // A dependency on a module no catalog declares.
    let services = repo.join("catalogs/services.yaml");
    let text = std::fs::read_to_string(&services).unwrap();
    let broken = text.replacen(
        "{ module_name: lom, version_requirement: \">=1.2.0\", criticality: required }",
        "{ module_name: no-such-module, criticality: required }",
        1,
    );
    assert_ne!(broken, text);
    std::fs::write(&services, broken).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "broken"]);
    let bad = try_repo();
    assert_eq!(bad.code, 1, "{}", bad.snapshot());
    assert!(
        bad.stdout.contains("missing_dependency") || bad.stdout.contains("no-such-module"),
        "{}",
        bad.stdout
    );
    assert!(
        !bad.stdout.contains("Passed"),
        "both hooks fail: {}",
        bad.stdout
    );
}

/// The release build pre-commit made (`cargo install`, in `target_dir`) links
/// GCC's unwinder statically (build.rs, link/README.md): `ldd` lists no
/// `libgcc_s`, and the binary runs.
fn release_binary_loads_no_libgcc_s(target_dir: &std::path::Path) {
    if !cfg!(all(
        target_arch = "x86_64",
        target_os = "linux",
        target_env = "gnu"
    )) {
        return;
    }
    let binary = target_dir.join("release/rune");
    assert!(binary.is_file(), "{} was built", binary.display());
    let mut ldd = Command::new("ldd");
    ldd.arg(&binary);
    let Ok(libs) = crate::support::output_within(ldd, std::time::Duration::from_secs(30)) else {
        crate::support::skip("ldd is not installed");
        return;
    };
    assert_eq!(libs.code, 0, "{}", libs.snapshot());
    assert!(libs.stdout.contains("libc.so"), "{}", libs.stdout);
    assert!(!libs.stdout.contains("libgcc_s"), "{}", libs.stdout);
    let mut version = Command::new(&binary);
    version.arg("--version");
    let ran = crate::support::output_within(version, std::time::Duration::from_secs(30))
        .expect("the release rune runs");
    assert_eq!(ran.code, 0, "{}", ran.snapshot());
}

mod properties {
    //! Drift by meaning, as properties over a real plan: renumbering, the instant,
    //! the root, counts, prose and the order inside a wave change nothing; each
    //! meaningful edit is named, once, by kind and subject.

    use std::sync::OnceLock;

    use proptest::prelude::*;
    use rune::plan::document::PlanDocument;
    use rune::plan::drift::compare;
    use serde_json::{json, Value as Json};

    use crate::support::rune;

    /// A lifecycle plan with an action, and a workflow plan, from the bundled
    /// catalogs.
    fn bases() -> &'static [Json; 2] {
        static BASES: OnceLock<[Json; 2]> = OnceLock::new();
        BASES.get_or_init(|| {
            let plan = |args: &[&str]| {
                let out = rune(args).run();
                assert_eq!(out.code, 0, "{}", out.snapshot());
                out.json()
            };
            [
                plan(&[
                    "plan",
                    "--at",
                    super::AT,
                    "--format",
                    "json",
                    "--action",
                    "rotate-logs",
                    "--param",
                    "keep=2",
                ]),
                plan(&[
                    "plan",
                    "--at",
                    super::AT,
                    "--format",
                    "json",
                    "--workflow",
                    "free-disk-space",
                    "--input",
                    "path=..",
                    "--input",
                    "max_used_percent=90",
                    "--ack",
                    "purge-archives",
                    "--reason",
                    "full",
                ]),
            ]
        })
    }

    fn modules(doc: &mut Json) -> impl Iterator<Item = &mut Json> {
        doc["startup"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .flat_map(|w| w["modules"].as_array_mut().unwrap().iter_mut())
    }

    fn actions(doc: &mut Json) -> impl Iterator<Item = &mut Json> {
        doc["actions"].as_array_mut().unwrap().iter_mut()
    }

    fn bump(value: &mut Json, by: u64) {
        *value = json!(value.as_u64().unwrap() + by);
    }

    /// Edits that leave the meaning alone.
    fn neutral(doc: &mut Json, which: usize) {
        match which {
            0 => {
                let shift = |steps: &mut Json| {
                    for s in steps.as_array_mut().unwrap() {
                        bump(&mut s["id"], 1000);
                    }
                };
                for m in modules(doc) {
                    shift(&mut m["steps"]);
                }
                for w in doc["shutdown"].as_array_mut().unwrap() {
                    for m in w["modules"].as_array_mut().unwrap() {
                        shift(&mut m["steps"]);
                    }
                }
                for a in actions(doc) {
                    bump(&mut a["id"], 1000);
                    bump(&mut a["after_step"], 1000);
                }
            }
            1 => {
                doc["evaluated_at"] = json!("2031-02-03T04:05:06Z");
                doc["clock"] = json!("now");
            }
            2 => doc["inputs"]["catalog_root"] = json!("somewhere/else"),
            3 => bump(&mut doc["summary"]["steps"], 7),
            4 => {
                for a in actions(doc) {
                    a["decision"]["reason"] = json!("worded another way");
                    a["description"] = json!("other words");
                }
            }
            5 => {
                doc["inputs"]["policy_inputs_sha256"] = json!("0".repeat(64));
                doc["inputs"]["catalog_sha256"] = json!("f".repeat(64));
            }
            _ => {
                for w in doc["startup"].as_array_mut().unwrap() {
                    w["modules"].as_array_mut().unwrap().reverse();
                }
            }
        }
    }

    const NEUTRAL: usize = 7;

    /// Edits that change the meaning, each with the kind and subject that must name
    /// it.
    fn meaningful(doc: &mut Json, which: usize) -> (&'static str, String) {
        let first_running = |doc: &mut Json| -> String {
            modules(doc)
                .find(|m| m["command"].is_object())
                .map(|m| m["module"].as_str().unwrap().to_string())
                .unwrap()
        };
        let step_key = |a: &Json| -> String {
            a["workflow"]["step"]
                .as_str()
                .or(a["action"].as_str())
                .unwrap()
                .to_string()
        };
        match which {
            0 => {
                let name = first_running(doc);
                let m = modules(doc).find(|m| m["module"] == name.as_str()).unwrap();
                bump(&mut m["steps"][2]["timeout_ms"], 1);
                ("phase_timeout", name)
            }
            1 => {
                let name = first_running(doc);
                let m = modules(doc).find(|m| m["module"] == name.as_str()).unwrap();
                m["command"]["argv"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("--verbose"));
                ("module_changed", name)
            }
            2 => {
                let a = &mut doc["actions"][0];
                bump(&mut a["timeout_ms"]["value"], 1);
                ("step_changed", step_key(a))
            }
            3 => {
                let a = &mut doc["actions"][0];
                bump(&mut a["retries"]["max_attempts"], 1);
                ("step_changed", step_key(a))
            }
            4 => {
                let a = &mut doc["actions"][0];
                let allowed = a["decision"]["allowed"].as_bool().unwrap();
                a["decision"]["allowed"] = json!(!allowed);
                ("decision", step_key(a))
            }
            5 => {
                let f = &mut doc["inputs"]["files"][0];
                f["sha256"] = json!("a".repeat(64));
                ("input", f["file"].as_str().unwrap().to_string())
            }
            6 => {
                bump(&mut doc["critical_path"]["total_ms"], 1);
                ("critical_path", "critical_path".to_string())
            }
            7 => {
                doc["request"]["targets"] = json!(["zz-not-planned"]);
                ("request", "request".to_string())
            }
            _ => {
                // The last module to start leaves the plan (its shutdown too).
                let waves = doc["startup"].as_array_mut().unwrap();
                let last = waves.last_mut().unwrap()["modules"].as_array_mut().unwrap();
                let gone = last.pop().unwrap()["module"].as_str().unwrap().to_string();
                if last.is_empty() {
                    waves.pop();
                }
                for w in doc["shutdown"].as_array_mut().unwrap() {
                    w["modules"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|m| m["module"] != gone.as_str());
                }
                doc["shutdown"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|w| !w["modules"].as_array().unwrap().is_empty());
                ("module_removed", gone)
            }
        }
    }

    const MEANINGFUL: usize = 9;

    fn typed(doc: &Json) -> PlanDocument {
        serde_json::from_value(doc.clone()).expect("still a plan document")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn drift_is_empty_exactly_when_the_meaning_is_the_same(
            base in 0usize..2,
            neutral_edits in proptest::collection::btree_set(0..NEUTRAL, 0..=NEUTRAL),
            meaningful_edits in proptest::collection::btree_set(0..MEANINGFUL, 0..=3),
        ) {
            let original = &bases()[base];
            let mut edited = original.clone();
            for &n in &neutral_edits {
                neutral(&mut edited, n);
            }
            let expected: Vec<(&str, String)> = meaningful_edits
                .iter()
                .map(|&m| meaningful(&mut edited, m))
                .collect();
            let (a, b) = (typed(original), typed(&edited));
            prop_assert!(compare(&a, &a).is_empty());
            prop_assert!(compare(&b, &b).is_empty());
            let drift = compare(&a, &b);
            prop_assert_eq!(drift.is_empty(), expected.is_empty(), "{:#?}", drift);
            prop_assert_eq!(compare(&b, &a).is_empty(), drift.is_empty());
            let changes = serde_json::to_value(&drift.changes).unwrap();
            let changes = changes.as_array().unwrap();
            for (kind, subject) in &expected {
                prop_assert!(
                    changes.iter().any(|c| c["kind"] == *kind && c["subject"] == subject.as_str()),
                    "{} `{}` not named: {:#?}", kind, subject, changes
                );
            }
            // Each change once.
            let mut seen = std::collections::BTreeSet::new();
            for c in changes {
                prop_assert!(
                    seen.insert((c["kind"].to_string(), c["subject"].to_string(), c["field"].to_string())),
                    "named twice: {}", c
                );
            }
        }
    }
}
