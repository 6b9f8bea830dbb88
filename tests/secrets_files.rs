//! Secrets and files (issue 17 part 4), through the real binary: plugins and module
//! processes get the documented environment and nothing else of rune's; the journal
//! is private and never one of the files the command reads; values the catalog
//! marks secret never reach the journal or the report; the bundled collect-logs
//! plugin reads only where its catalog entry allows and keeps its archives private.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::root;

/// Every run of the binary here ends within this, or the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// What a finished run left.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn show(&self) -> String {
        format!(
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `rune ARGS` in `dir` with `env` added to a known environment (the secrets
/// below included), killing it and failing the test past [`DEADLINE`].
fn rune_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rune"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("AWS_SECRET_ACCESS_KEY", "aws-secret-never-passed")
        .env("GITHUB_TOKEN", "ghp_token-never-passed")
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("TZ", "UTC")
        .env("RUNE_PROGRESS", "off")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("rune starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rune {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The environment a dump-env.sh wrapper wrote to `file`.
fn dumped(file: &Path) -> BTreeMap<String, String> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    String::from_utf8_lossy(&bytes)
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Assert that no process whose pid is in `file` (one a line) is still running.
fn assert_gone(file: &Path) {
    let pids = std::fs::read_to_string(file).unwrap_or_default();
    assert!(
        !pids.trim().is_empty(),
        "no pid recorded in {}",
        file.display()
    );
    for pid in pids.lines() {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z ")),
            "process {pid} is still running"
        );
    }
}

/// A catalog in a fresh directory: an action `show-env` whose plugin dumps its
/// environment, and a process module `keeper` that does too, with a config holding
/// a secret.
fn catalog_dir() -> TempDir {
    let dir = TempDir::new().unwrap();
    let dump = root().join("tests/fixtures/secrets/dump-env.sh");
    let ok = root().join("tests/fixtures/plugins/ok.sh");
    let spi = root().join("tests/fixtures/modules/spi-module.sh");
    let d = dir.path().display();
    let catalog = format!(
        r#"catalog_version: "1"
modules:
  - module_identity: {{ module_name: host, module_class: Fixture, module_type: plugin_host, module_version: 1.0.0, description: Plugins }}
    capability_declaration:
      actions:
        - action: show-env
          description: Dumps its environment
          category: diagnostic
          impact: low
          input_schema: {{ type: object, additionalProperties: true }}
          exec: ["{dump}", "{d}/plugin.env", "{ok}"]
          env:
            pass: [DECLARED_PASS, DECLARED_BUT_UNSET]
            set: {{ DECLARED_SET: literal-value, TZ: Europe/Paris }}
  - module_identity: {{ module_name: keeper, module_class: Fixture, module_type: service, module_version: 1.0.0, description: A module process }}
    lifecycle:
      runtime: process
      exec: ["{dump}", "{d}/module.env", "{spi}", "ok", "keeper", "1.0.0"]
      env:
        pass: [DECLARED_PASS]
        set: {{ MODULE_SET: module-value }}
      spi_versions: ["1"]
      config: {{ region: eu-west-1, password: hunter2-very-secret, nested: {{ api_key: k-123-secret-key }} }}
      secrets: ["/password", "/nested/api_key"]
      timeouts: {{ initialize_ms: 5000, ready_ms: 5000, drain_ms: 5000, shutdown_ms: 5000 }}
"#,
        dump = dump.display(),
        ok = ok.display(),
        spi = spi.display(),
    );
    std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
    dir
}

fn assert_documented_environment(env: &BTreeMap<String, String>, extra: &[(&str, &str)]) {
    for secret in [
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "RUNE_PROGRESS",
        "RUST_BACKTRACE",
    ] {
        assert!(!env.contains_key(secret), "{secret} leaked: {env:?}");
    }
    assert!(env.contains_key("PATH"), "{env:?}");
    assert_eq!(env.get("LANG").map(String::as_str), Some("C.UTF-8"));
    assert_eq!(env.get("LC_ALL").map(String::as_str), Some("C.UTF-8"));
    for (k, v) in extra {
        assert_eq!(env.get(*k).map(String::as_str), Some(*v), "{k} in {env:?}");
    }
    let allowed = ["PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR"];
    for name in env.keys() {
        let declared = extra.iter().any(|(k, _)| k == name);
        // bash itself sets a few (PWD, SHLVL, _) before `env` runs.
        let shell = ["PWD", "SHLVL", "_", "OLDPWD"].contains(&name.as_str());
        // rune's own: the supervisor's token that finds escaped descendants.
        let rune = name == "RUNE_SUPERVISED";
        assert!(
            allowed.contains(&name.as_str())
                || name.starts_with("LC_")
                || declared
                || shell
                || rune,
            "{name} was passed without being allowed or declared: {env:?}"
        );
    }
}

#[test]
fn a_plugin_gets_the_allowlist_and_what_its_action_declares_only() {
    let dir = catalog_dir();
    let out = rune_in(
        dir.path(),
        &[
            "run",
            "--catalog",
            "catalog.yaml",
            "show-env",
            "--output",
            "json",
        ],
        &[("DECLARED_PASS", "passed-through")],
    );
    assert_eq!(out.code, 0, "{}", out.show());
    let env = dumped(&dir.path().join("plugin.env"));
    assert_documented_environment(
        &env,
        &[
            ("DECLARED_PASS", "passed-through"),
            ("DECLARED_SET", "literal-value"),
            ("TZ", "Europe/Paris"),
        ],
    );
    assert!(!env.contains_key("DECLARED_BUT_UNSET"), "{env:?}");
    assert!(!out.stdout.contains("never-passed"), "{}", out.show());
    assert_gone(&dir.path().join("plugin.env.pid"));
}

#[test]
fn a_module_process_gets_the_allowlist_and_what_its_lifecycle_declares_only() {
    let dir = catalog_dir();
    let out = rune_in(
        dir.path(),
        &["apply", "--catalog", "catalog.yaml", "--format", "json"],
        &[("DECLARED_PASS", "passed-through")],
    );
    assert_eq!(out.code, 0, "{}", out.show());
    let env = dumped(&dir.path().join("module.env"));
    assert_documented_environment(
        &env,
        &[
            ("DECLARED_PASS", "passed-through"),
            ("MODULE_SET", "module-value"),
            ("TZ", "UTC"),
        ],
    );
    assert_gone(&dir.path().join("module.env.pid"));
}

#[test]
fn the_journal_is_created_private() {
    let dir = catalog_dir();
    let out = rune_in(
        dir.path(),
        &[
            "run",
            "--catalog",
            "catalog.yaml",
            "show-env",
            "--journal",
            "j.jsonl",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.show());
    let mode = std::fs::metadata(dir.path().join("j.jsonl"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "journal mode {mode:o}");
    let out = rune_in(
        dir.path(),
        &["apply", "--catalog", "catalog.yaml", "--journal", "a.jsonl"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.show());
    let mode = std::fs::metadata(dir.path().join("a.jsonl"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "journal mode {mode:o}");
    assert_gone(&dir.path().join("plugin.env.pid"));
    assert_gone(&dir.path().join("module.env.pid"));
}

/// `rune ARGS` refuses with a usage error naming `why`, runs nothing, and leaves
/// `kept` byte for byte as it was.
fn refuses_journal(dir: &Path, args: &[&str], why: &str, kept: &Path) {
    let before = std::fs::read(kept).ok();
    let out = rune_in(dir, args, &[]);
    assert_eq!(out.code, 2, "{}", out.show());
    assert!(out.stderr.contains(why), "{}", out.show());
    assert_eq!(
        std::fs::read(kept).ok(),
        before,
        "{} changed",
        kept.display()
    );
    assert!(!dir.join("plugin.env").exists(), "the plugin ran");
    assert!(!dir.join("module.env").exists(), "the module ran");
}

#[test]
fn the_journal_is_never_a_file_the_command_reads() {
    let dir = catalog_dir();
    let d = dir.path();
    let catalog = d.join("catalog.yaml");
    // The catalog itself, for run and apply, under another spelling too.
    refuses_journal(
        d,
        &[
            "run",
            "--catalog",
            "catalog.yaml",
            "show-env",
            "--journal",
            "catalog.yaml",
        ],
        "catalog file this command reads",
        &catalog,
    );
    refuses_journal(
        d,
        &[
            "apply",
            "--catalog",
            "catalog.yaml",
            "--journal",
            "./catalog.yaml",
        ],
        "catalog file",
        &catalog,
    );
    // A new catalog-named file in a catalog directory would be read next time.
    std::fs::create_dir(d.join("cats")).unwrap();
    std::fs::copy(&catalog, d.join("cats/catalog.yaml")).unwrap();
    refuses_journal(
        d,
        &[
            "run",
            "--catalog",
            "cats",
            "show-env",
            "--journal",
            "cats/journal.yaml",
        ],
        "read the journal as a catalog",
        &d.join("cats/journal.yaml"),
    );
    // The params file.
    std::fs::write(d.join("params.json"), "{}").unwrap();
    refuses_journal(
        d,
        &[
            "run",
            "--catalog",
            "catalog.yaml",
            "show-env",
            "--params-file",
            "params.json",
            "--journal",
            "params.json",
        ],
        "--params-file",
        &d.join("params.json"),
    );
    // The plan being applied.
    let out = rune_in(
        d,
        &["plan", "--catalog", "catalog.yaml", "--out", "plan.json"],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.show());
    refuses_journal(
        d,
        &["apply", "plan.json", "--journal", "plan.json"],
        "the plan being applied",
        &d.join("plan.json"),
    );
    // A symbolic link to nothing.
    std::os::unix::fs::symlink(d.join("elsewhere/nothing.jsonl"), d.join("dangling")).unwrap();
    refuses_journal(
        d,
        &[
            "run",
            "--catalog",
            "catalog.yaml",
            "show-env",
            "--journal",
            "dangling",
        ],
        "symbolic link to a file that does not exist",
        &d.join("dangling"),
    );
    assert!(!d.join("elsewhere").exists());
}

#[test]
fn values_marked_secret_and_the_token_are_redacted_in_the_journal_and_the_report() {
    let dir = catalog_dir();
    let out = rune_in(
        dir.path(),
        &[
            "apply",
            "--catalog",
            "catalog.yaml",
            "--format",
            "json",
            "--journal",
            "j.jsonl",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.show());
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap();
    for text in [&journal, &out.stdout, &out.stderr] {
        assert!(!text.contains("hunter2-very-secret"), "{text}");
        assert!(!text.contains("k-123-secret-key"), "{text}");
    }
    let initialize = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "message" && e["message"]["method"] == "initialize")
        .unwrap_or_else(|| panic!("no initialize request in {journal}"));
    let params = &initialize["message"]["params"];
    assert_eq!(params["token"], "[redacted]", "{params}");
    assert_eq!(params["config"]["password"], "[redacted]", "{params}");
    assert_eq!(
        params["config"]["nested"]["api_key"], "[redacted]",
        "{params}"
    );
    // What is not marked secret is kept as it was.
    assert_eq!(params["config"]["region"], "eu-west-1", "{params}");
    // The module echoes the token; the report shows it redacted too.
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let init = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["phase"] == "initialize")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(init["output"]["token"], "[redacted]", "{init}");
    assert_gone(&dir.path().join("module.env.pid"));
}

/// A copy of the bundled catalogs and plugins, so the plugins' work directory is
/// the test's own.
fn bundled() -> TempDir {
    let dir = TempDir::new().unwrap();
    for sub in ["catalogs", "plugins"] {
        let status = Command::new("cp")
            .arg("-R")
            .arg(root().join(sub))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

fn collect_logs(dir: &Path, source: &str) -> (Ran, serde_json::Value) {
    let out = rune_in(
        dir,
        &[
            "run",
            "--catalog",
            "catalogs",
            "collect-logs",
            "--param",
            &format!("source={source}"),
            "--output",
            "json",
        ],
        &[],
    );
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.show()));
    (out, json)
}

#[test]
fn collect_logs_reads_only_where_its_catalog_allows_and_keeps_archives_private() {
    let dir = bundled();
    let d = dir.path();
    let logs = d.join("work/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("a.log"), "private line\n").unwrap();
    // An archives directory left world-readable by an older version.
    std::fs::create_dir_all(d.join("work/archives")).unwrap();
    std::fs::set_permissions(
        d.join("work/archives"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    let (out, json) = collect_logs(d, "../work/logs");
    assert_eq!(out.code, 0, "{}", out.show());
    let archive = PathBuf::from(json["output"]["archive"].as_str().unwrap());
    assert_eq!(json["output"]["files"], 1, "{json}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&archive), 0o600, "{}", archive.display());
    assert_eq!(mode(archive.parent().unwrap()), 0o700);

    // Outside the allowed directories: directly, through `..`, through a link.
    std::os::unix::fs::symlink("/etc", logs.join("escape")).unwrap();
    for source in ["/etc", "../work/logs/../../catalogs", "../work/logs/escape"] {
        let (out, json) = collect_logs(d, source);
        assert_eq!(out.code, 4, "{source}: {}", out.show());
        let error = json["error"].to_string();
        assert!(
            error.contains("not under a directory the catalog allows"),
            "{source}: {json}"
        );
    }
    // Only the one allowed collection left an archive.
    let archives = std::fs::read_dir(d.join("work/archives")).unwrap();
    let names: Vec<_> = archives
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.gz"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn a_malformed_env_declaration_is_refused_where_it_is_written() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        r#"catalog_version: "1"
modules:
  - module_identity: { module_name: m, module_class: C, module_type: t, module_version: 1.0.0, description: d }
    capability_declaration:
      actions:
        - action: a
          description: d
          category: diagnostic
          impact: low
          exec: ["./a.sh"]
          env: { pass: ["NOT-A-NAME"], set: { OK: 1 } }
"#,
    )
    .unwrap();
    let out = rune_in(dir.path(), &["validate", "--catalog", "c.yaml"], &[]);
    assert_eq!(out.code, 1, "{}", out.show());
    assert!(out.stderr.contains("c.yaml:11"), "{}", out.show());
    assert!(out.stderr.contains("NOT-A-NAME"), "{}", out.show());
}
