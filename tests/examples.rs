//! The bundled example really runs: every plugin and module process that `catalogs/`
//! names is run directly with bash (a BPCS object on stdin for a plugin; SPI lines for
//! a module), the way rune runs them, and its answers are checked against the catalog
//! (output_schema, describe's name and version) and against the machine (df,
//! /proc/meminfo, the files it wrote). Each test works on a copy of catalogs/,
//! plugins/ and modules/ in a temporary directory, so the repository's own work
//! directory is never touched.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const CORRELATION: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";
const TOKEN: &str = "00112233445566778899aabbccddeeff";

/// A copy of the example (catalogs/, plugins/, modules/) in a temporary directory.
struct Example {
    dir: tempfile::TempDir,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Example {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::support::root();
        for part in ["catalogs", "plugins", "modules"] {
            copy_tree(&root.join(part), &dir.path().join(part));
        }
        Example { dir }
    }

    fn catalogs(&self) -> PathBuf {
        self.dir.path().join("catalogs")
    }

    /// The work directory the catalog names (`--work-dir ../work`).
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Every catalog file as JSON, read by rune's own loader.
    fn documents(&self) -> Vec<Value> {
        let loaded = rune::loader::load(&[self.catalogs()]);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded
            .files
            .iter()
            .filter_map(|f| f.document.as_ref().map(|d| d.to_json()))
            .collect()
    }

    fn modules(&self) -> Vec<Value> {
        self.documents()
            .iter()
            .flat_map(|d| d["modules"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Every action: (name, exec, output_schema).
    fn actions(&self) -> Vec<(String, Vec<String>, Value)> {
        let mut actions = Vec::new();
        for module in self.modules() {
            for action in module["capability_declaration"]["actions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                actions.push((
                    action["action"].as_str().unwrap().to_string(),
                    strings(&action["exec"]),
                    action["output_schema"].clone(),
                ));
            }
        }
        actions
    }

    fn action(&self, name: &str) -> (Vec<String>, Value) {
        let (_, exec, schema) = self
            .actions()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("the catalog has no action {name}"));
        (exec, schema)
    }

    /// A command for `exec` as rune runs it: the program relative to the catalog
    /// file's directory (all example catalogs sit in catalogs/), run there, under bash.
    fn command(&self, exec: &[String]) -> Command {
        let (program, args) = exec.split_first().expect("an exec");
        let mut command = Command::new("bash");
        command
            .arg(self.catalogs().join(program))
            .args(args)
            .current_dir(self.catalogs());
        // What the action's `env: set:` gives it, as rune would.
        for module in self.modules() {
            for action in module["capability_declaration"]["actions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                if strings(&action["exec"]) != exec {
                    continue;
                }
                if let Some(set) = action["env"]["set"].as_object() {
                    for (name, value) in set {
                        command.env(name, value.as_str().unwrap_or_default());
                    }
                }
            }
        }
        command
    }

    /// Run action `name` with `params`; its exit code and its one JSON answer.
    fn run(&self, name: &str, params: Value, dry_run: bool) -> Answer {
        let (exec, schema) = self.action(name);
        let request = json!({
            "message_metadata": {"version": "1.0", "message_id": "msg-000001",
                "correlation_id": CORRELATION, "parent_message_id": null,
                "created_at": "2026-03-26T09:00:00Z"},
            "payload": {"input_parameters": params,
                "context": {"node": "localhost", "action": name, "module": "host-ops",
                    "step": 1, "attempt": 1, "timeout_ms": 10000, "requested_by": "test",
                    "dry_run": dry_run}},
            "observability": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "span_id": "00f067aa0ba902b7"}
        });
        self.run_raw(&exec, request.to_string().as_bytes(), schema)
    }

    fn run_raw(&self, exec: &[String], stdin: &[u8], schema: Value) -> Answer {
        let out =
            crate::support::output_with_input(self.command(exec), stdin, crate::support::DEADLINE);
        let stdout = out.stdout;
        let answer: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout:?}"));
        assert!(out.code >= 0, "killed by a signal: {}", out.stderr);
        Answer {
            code: out.code,
            json: answer,
            stderr: out.stderr,
            schema,
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// A plugin's exit code and answer, with the action's output_schema.
struct Answer {
    code: i32,
    json: Value,
    stderr: String,
    schema: Value,
}

impl Answer {
    /// The output_data of a successful answer, checked against the BPCS envelope and
    /// the action's output_schema.
    fn success(&self) -> &Value {
        assert_eq!(self.code, 0, "{:#}\n{}", self.json, self.stderr);
        assert_eq!(self.json["payload"]["result"], "success", "{:#}", self.json);
        assert!(self.json["error"].is_null(), "{:#}", self.json);
        assert_eq!(
            self.json["message_metadata"]["correlation_id"], CORRELATION,
            "the answer echoes the correlation id"
        );
        assert_eq!(
            self.json["message_metadata"]["parent_message_id"],
            "msg-000001"
        );
        assert_eq!(
            self.json["observability"]["trace_id"],
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let output = &self.json["payload"]["output_data"];
        let validator = jsonschema::validator_for(&self.schema).expect("a valid schema");
        let errors: Vec<String> = validator
            .iter_errors(output)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{output:#} against the schema: {errors:?}"
        );
        output
    }

    /// The error of a failed answer with exit code `code` (repeated in error.code).
    fn failure(&self, code: i32) -> &Value {
        assert_eq!(self.code, code, "{:#}\n{}", self.json, self.stderr);
        assert!(self.json["payload"].is_null(), "{:#}", self.json);
        assert_eq!(self.json["error"]["code"], code, "{:#}", self.json);
        assert!(self.json["error"]["message"].is_string());
        &self.json["error"]
    }
}

#[test]
fn every_action_of_the_example_answers_with_output_its_schema_allows() {
    let example = Example::new();
    let actions = example.actions();
    assert_eq!(actions.len(), 9, "{actions:?}");
    for (name, exec, _) in &actions {
        assert!(
            example.catalogs().join(&exec[0]).is_file(),
            "{name}: {exec:?} does not exist"
        );
        // The parameters every action needs (only probe-module requires one).
        let params = match name.as_str() {
            "probe-module" => json!({"module": "secret-store"}),
            "quarantine-files" => json!({"pattern": "*.log.*"}),
            "count-files" => json!({"dir": "logs", "max_count": 100000}),
            // A batch to restore: quarantine one first.
            "restore-files" => {
                let out = example
                    .run("quarantine-files", json!({"pattern": "*.old"}), false)
                    .success()
                    .clone();
                json!({"batch": out["batch"]})
            }
            _ => json!({}),
        };
        example.run(name, params, false).success();
    }
}

#[test]
fn disk_usage_agrees_with_df_and_fails_on_a_missing_path() {
    let example = Example::new();
    let answer = example.run(
        "disk-usage",
        json!({"path": "/", "max_used_percent": 100}),
        false,
    );
    let out = answer.success();
    let mut df = Command::new("df");
    df.args(["-Pk", "/"]);
    let df = crate::support::output_within(df, crate::support::DEADLINE)
        .unwrap()
        .stdout;
    let columns: Vec<&str> = df.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(out["size_kb"].to_string(), columns[1]);
    assert_eq!(out["mount_point"], columns[5]);
    assert_eq!(out["path"], "/");
    assert_eq!(out["healthy"], true, "at most 100% used is always healthy");
    let out = example
        .run(
            "disk-usage",
            json!({"path": "/", "max_used_percent": 0}),
            false,
        )
        .success()
        .clone();
    assert_eq!(out["healthy"], out["used_percent"] == 0);

    let missing = example.run("disk-usage", json!({"path": "no/such/dir"}), false);
    assert_eq!(missing.failure(2)["details"]["path"], "no/such/dir");
    let bad = example.run("disk-usage", json!({"max_used_percent": "lots"}), false);
    bad.failure(1);
}

#[test]
fn memory_status_reads_proc_meminfo() {
    let example = Example::new();
    let answer = example.run("memory-status", json!({"min_available_percent": 0}), false);
    let out = answer.success();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB");
    assert_eq!(out["total_kb"].to_string(), total);
    assert_eq!(out["healthy"], true, "0% available is enough");
    assert!(out["available_kb"].as_u64().unwrap() <= out["total_kb"].as_u64().unwrap());
}

#[test]
fn a_plugin_refuses_input_that_is_not_one_json_object() {
    let example = Example::new();
    let (exec, schema) = example.action("memory-status");
    let answer = example.run_raw(&exec, b"not json", schema);
    assert!(answer.failure(1)["message"]
        .as_str()
        .unwrap()
        .contains("not one JSON object"));
}

/// Write `text` to work/logs/NAME.
fn log(example: &Example, name: &str, text: &str) -> PathBuf {
    let logs = example.work().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let path = logs.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn tar_listing(archive: &str) -> Vec<String> {
    let mut tar = Command::new("tar");
    tar.args(["-tzf", archive]);
    let out = crate::support::output_within(tar, crate::support::DEADLINE).unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut names: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.rsplit('/').next().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn collect_logs_archives_the_logs_and_purge_archives_deletes_them() {
    let example = Example::new();
    log(&example, "a.log", "first\n");
    log(&example, "b.log", "second\n");
    log(&example, "notes.txt", "not a log\n");
    let out = example
        .run("collect-logs", json!({"source": "../work/logs"}), false)
        .success()
        .clone();
    assert_eq!(out["files"], 2, "{out:#}");
    let archive = out["archive"].as_str().unwrap();
    assert!(archive.starts_with(example.work().join("archives").to_str().unwrap()));
    assert_eq!(tar_listing(archive), ["a.log", "b.log"]);
    assert_eq!(
        out["bytes"].as_u64().unwrap(),
        std::fs::metadata(archive).unwrap().len()
    );

    let missing = example.run("collect-logs", json!({"source": "no/such/dir"}), false);
    missing.failure(2);

    // A dry run says what it would delete and deletes nothing; an age limit keeps a
    // fresh archive; then everything goes.
    let dry = example
        .run("purge-archives", json!({}), true)
        .success()
        .clone();
    assert_eq!(
        (dry["removed"].clone(), dry["dry_run"].clone()),
        (json!(1), json!(true))
    );
    assert!(Path::new(archive).exists());
    let young = example
        .run("purge-archives", json!({"older_than_minutes": 60}), false)
        .success()
        .clone();
    assert_eq!(
        (young["removed"].clone(), young["kept"].clone()),
        (json!(0), json!(1))
    );
    let purged = example
        .run("purge-archives", json!({}), false)
        .success()
        .clone();
    assert_eq!(purged["removed"], 1);
    assert_eq!(purged["freed_bytes"], out["bytes"]);
    assert!(!Path::new(archive).exists());
}

#[test]
fn rotate_logs_shifts_generations_and_keeps_a_bounded_number() {
    let example = Example::new();
    let log_file = log(&example, "m.log", "generation 1\n");
    let logs = example.work().join("logs");
    let dry = example
        .run("rotate-logs", json!({}), true)
        .success()
        .clone();
    assert_eq!(
        (dry["rotated"].clone(), dry["files"].clone()),
        (json!(1), json!(["m.log"]))
    );
    assert!(log_file.exists(), "a dry run changes nothing");
    for generation in 1..=3 {
        std::fs::write(&log_file, format!("generation {generation}\n")).unwrap();
        let out = example
            .run("rotate-logs", json!({"keep": 2}), false)
            .success()
            .clone();
        assert_eq!(out["rotated"], 1);
        assert_eq!(out["removed"], if generation == 3 { 1 } else { 0 });
    }
    assert!(!log_file.exists());
    assert_eq!(
        std::fs::read_to_string(logs.join("m.log.1")).unwrap(),
        "generation 3\n"
    );
    assert_eq!(
        std::fs::read_to_string(logs.join("m.log.2")).unwrap(),
        "generation 2\n"
    );
    assert!(!logs.join("m.log.3").exists(), "keep 2 drops the oldest");
    // Too small to rotate: nothing happens.
    std::fs::write(&log_file, "tiny\n").unwrap();
    let out = example
        .run("rotate-logs", json!({"min_bytes": 1000}), false)
        .success()
        .clone();
    assert_eq!(out["rotated"], 0);
    assert!(log_file.exists());
}

/// A running module process (in its own process group) and its SPI pipes.
struct Module {
    child: Child,
    stdin: ChildStdin,
    /// Its stdout, line by line from a reader thread, so a module that never
    /// answers fails the test at [`ANSWER_DEADLINE`] instead of hanging it.
    lines: std::sync::mpsc::Receiver<String>,
    next_id: u64,
}

/// How long a module may take to answer one request in these tests.
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

impl Module {
    fn start(example: &Example, exec: &[String]) -> Self {
        use std::os::unix::process::CommandExt;
        let mut child = example
            .command(exec)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Module {
            child,
            stdin,
            lines,
            next_id: 1,
        }
    }

    /// Send one request and read its one-line answer.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{request}").unwrap();
        self.stdin.flush().unwrap();
        let line = self
            .lines
            .recv_timeout(ANSWER_DEADLINE)
            .unwrap_or_else(|_| panic!("no answer to {method} within {ANSWER_DEADLINE:?}"));
        assert!(line.ends_with('\n'), "one message per line: {line:?}");
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let answer = self.call(method, params);
        assert!(answer["error"].is_null(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Wait for the process to exit by itself (after shutdown), at most 5 s.
    fn exit_code(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().expect("exited by itself");
            }
            if start.elapsed() > Duration::from_secs(5) {
                let _ = self.child.kill();
                panic!("the module did not exit after shutdown");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        // Its group: whatever the module started dies with it.
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// (name, version, exec, config) of every process module.
fn process_modules(example: &Example) -> Vec<(String, String, Vec<String>, Value)> {
    example
        .modules()
        .into_iter()
        .filter(|m| m["lifecycle"]["runtime"] == "process")
        .map(|m| {
            (
                m["module_identity"]["module_name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                m["module_identity"]["module_version"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                strings(&m["lifecycle"]["exec"]),
                m["lifecycle"]["config"].clone(),
            )
        })
        .collect()
}

#[test]
fn every_module_process_runs_its_whole_lifecycle_and_the_probe_sees_it() {
    let example = Example::new();
    let modules = process_modules(&example);
    let names: Vec<&str> = modules.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(names, ["secret-store", "config-manager"]);
    for (name, version, exec, config) in &modules {
        let mut module = Module::start(&example, exec);
        let describe = module.result("describe", json!({}));
        assert_eq!(describe["module_name"], name.as_str());
        assert_eq!(describe["module_version"], version.as_str());
        assert_eq!(describe["spi_versions"], json!(["1"]));
        let init = module.result(
            "initialize",
            json!({"spi_version": "1", "config": config, "token": TOKEN,
                   "trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                             "parent_span_id": "00f067aa0ba902b7", "sampled": true},
                   "correlation_id": CORRELATION, "deployment_mode": "local",
                   "fallback": "fail_closed"}),
        );
        assert_eq!(init, json!({"spi_version": "1", "token": TOKEN}));
        let ready = module.result("ready", json!({}));
        assert_eq!(ready["ready"], true, "{name}: {ready}");
        let health = module.result("health", json!({}));
        assert_eq!(health["status"], "ready", "{name}: {health}");

        // The probe plugin sees this very process, running and healthy.
        let probe = example
            .run("probe-module", json!({"module": name}), false)
            .success()
            .clone();
        assert_eq!(probe["running"], true, "{probe:#}");
        assert_eq!(probe["healthy"], true, "{probe:#}");
        assert_eq!(probe["pid"], module.child.id());

        let unknown = module.call("execute", json!({"action": "nope", "input_parameters": {}}));
        assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
        let unknown = module.call("no-such-method", json!({}));
        assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
        assert_eq!(
            module.result("drain", json!({})),
            json!({"status": "draining"})
        );
        assert_eq!(module.result("health", json!({}))["status"], "draining");
        assert_eq!(module.result("shutdown", json!({})), json!({}));
        assert_eq!(module.exit_code(), 0);

        let probe = example
            .run("probe-module", json!({"module": name}), false)
            .success()
            .clone();
        assert_eq!(
            (probe["running"].clone(), probe["status"].clone()),
            (json!(false), json!("not-running"))
        );
        let log = std::fs::read_to_string(example.work().join(format!("logs/{name}.log"))).unwrap();
        assert!(log.contains("shutting down"), "{log}");
    }
}

#[test]
fn secret_store_keeps_its_store_private_and_reports_a_loosened_one_degraded() {
    use std::os::unix::fs::PermissionsExt;
    let example = Example::new();
    let (_, _, exec, config) = process_modules(&example).remove(0);
    let mut module = Module::start(&example, &exec);
    module.result(
        "initialize",
        json!({"spi_version": "1", "config": config, "token": TOKEN}),
    );
    let store = example.work().join("secrets");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store), 0o700);
    assert_eq!(mode(&store.join(".seal-key")), 0o600);
    let key = std::fs::read_to_string(store.join(".seal-key")).unwrap();
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(module.result("ready", json!({}))["ready"], true);

    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let health = module.result("health", json!({}));
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["details"]["problem"]
        .as_str()
        .unwrap()
        .contains("755"));
    let ready = module.result("ready", json!({}));
    assert_eq!(ready["ready"], false, "{ready}");

    // The vault backend needs a server: refused at initialize.
    let mut other = Module::start(&example, &exec);
    let refused = other.call(
        "initialize",
        json!({"spi_version": "1", "config": {"backend": "vault"}, "token": TOKEN}),
    );
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
}

#[test]
fn config_manager_serves_the_merged_config_and_refuses_a_broken_file() {
    let example = Example::new();
    let (_, _, exec, config) = process_modules(&example).remove(1);
    let mut module = Module::start(&example, &exec);
    module.result(
        "initialize",
        json!({"spi_version": "1", "config": config, "token": TOKEN}),
    );
    assert_eq!(module.result("ready", json!({}))["ready"], true);
    let effective: Value = serde_json::from_str(
        &std::fs::read_to_string(example.work().join("config/effective.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(effective["revision"], 1);
    assert_eq!(
        effective["config"]["thresholds"]["disk_max_used_percent"],
        90
    );
    assert_eq!(effective["config"]["logging"]["level"], "info");
    let health = module.result("health", json!({}));
    assert_eq!(health["details"]["files"], 2, "{health}");

    let config_dir = example.dir.path().join("modules/config.d");
    std::fs::write(config_dir.join("broken.json"), "{ not json").unwrap();
    let mut broken = Module::start(&example, &exec);
    let refused = broken.call(
        "initialize",
        json!({"spi_version": "1", "config": config, "token": TOKEN}),
    );
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(refused["error"]["data"]["file"]
        .as_str()
        .unwrap()
        .ends_with("broken.json"));
    // Asking for an SPI version it does not speak is refused too.
    let mut module = Module::start(&example, &exec);
    let refused = module.call(
        "initialize",
        json!({"spi_version": "2", "config": config, "token": TOKEN}),
    );
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
}

#[test]
fn the_plan_only_nomad_example_still_validates_and_plans() {
    let out = crate::support::rune(["validate", "examples/nomad"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let out = crate::support::rune([
        "plan",
        "examples/nomad",
        "--action",
        "restart-nomad",
        "-p",
        "node=worker-3",
        "--ack",
        "restart-nomad",
        "--reason",
        "agent wedged",
        "--at",
        "2026-03-26T09:00:00Z",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("nomad-ops"), "{}", out.stdout);
    // Plan-only: the plugins it names are not in the repository.
    let root = crate::support::root();
    assert!(!root
        .join("examples/nomad/plugins/restart-nomad.sh")
        .exists());
    let plugins = std::fs::read_to_string(root.join("examples/nomad/plugins.yaml")).unwrap();
    assert!(plugins.contains("PLAN-ONLY"));
}

#[test]
fn quarantine_files_moves_a_batch_restore_files_puts_it_back_and_count_files_verifies() {
    let example = Example::new();
    log(&example, "a.log.1", "old a\n");
    log(&example, "b.log.1", "old b\n");
    log(&example, "a.log", "live\n");
    let out = example
        .run("quarantine-files", json!({"pattern": "*.log.*"}), false)
        .success()
        .clone();
    assert_eq!(out["moved"], 2, "{out:#}");
    assert_eq!(out["files"], json!(["a.log.1", "b.log.1"]));
    let logs = example.work().join("logs");
    assert!(!logs.join("a.log.1").exists());
    // Verification: two files in quarantine, more than 1 allowed: business failure.
    let over = example.run(
        "count-files",
        json!({"dir": "quarantine", "pattern": "*.log.*", "max_count": 1}),
        false,
    );
    assert_eq!(over.failure(3)["details"]["count"], 2);
    let ok = example
        .run(
            "count-files",
            json!({"dir": "quarantine", "pattern": "*.log.*", "max_count": 2}),
            false,
        )
        .success()
        .clone();
    assert_eq!(ok["count"], 2);
    // Written again meanwhile: the restore keeps both, quarantined lines first.
    log(&example, "a.log.1", "new a\n");
    let back = example
        .run("restore-files", json!({"batch": out["batch"]}), false)
        .success()
        .clone();
    assert_eq!(back["restored"], 2, "{back:#}");
    assert_eq!(back["merged"], 1);
    assert_eq!(
        std::fs::read_to_string(logs.join("a.log.1")).unwrap(),
        "old a\nnew a\n"
    );
    assert_eq!(
        std::fs::read_to_string(logs.join("b.log.1")).unwrap(),
        "old b\n"
    );
    assert!(!std::path::Path::new(out["dir"].as_str().unwrap()).exists());
    // A batch name that is not one is refused before anything moves.
    example
        .run("restore-files", json!({"batch": "../../etc"}), false)
        .failure(1);
}
