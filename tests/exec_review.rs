//! Executor defects found by review, each through the real binary: Ctrl-C during
//! a workflow step's retries, deterministic reports of parallel workflows, raw
//! stderr in JSON, duplicate keys in plugin answers, a journal that cannot be
//! written, and the backoff schedule in the plan.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::Signal;
use serde_json::Value as Json;
use tempfile::TempDir;

use crate::support::{root, Running};

fn module_exec() -> PathBuf {
    root().join("tests/fixtures/module_exec/catalog.yaml")
}

/// Start `rune ARGS` with `WF_LOG` at `log`, progress as plain lines.
fn start(args: &[&str], log: &Path) -> Running {
    crate::support::rune(args)
        .env("WF_LOG", log.to_str().unwrap())
        .env("RUNE_PROGRESS", "lines")
        .spawn()
}

#[test]
fn the_first_ctrl_c_stops_a_workflow_steps_retries_and_lets_the_attempt_finish() {
    let dir = TempDir::new().unwrap();
    let log = dir.path().join("steps.log");
    let catalog = module_exec();
    let mut child = start(
        &[
            "apply",
            "--catalog",
            catalog.to_str().unwrap(),
            "--workflow",
            "retrying",
            "--format",
            "json",
        ],
        &log,
    );
    // The first attempt logs its start, then sleeps 800 ms: the signal lands while
    // it runs.
    child.wait_for("the first attempt to start", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("start"))
    });
    child.signal(Signal::SIGINT);
    let out = child.wait();
    let stdout = &out.stdout;
    assert_eq!(out.code, 130, "{stdout}");
    // Without the fix: five more attempts over 1 + 2 + 4 + 8 + 16 s of backoff, each
    // logged (and the run's deadline would fail the test first).
    let log = std::fs::read_to_string(&log).unwrap();
    let starts = log.lines().filter(|l| l.starts_with("start")).count();
    let ends = log.lines().filter(|l| l.starts_with("end")).count();
    assert_eq!(
        (starts, ends),
        (1, 1),
        "the attempt in flight finishes, no other starts:\n{log}"
    );
    let report: Json = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["status"], "interrupted", "{report}");
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "task")
        .unwrap();
    assert_eq!(step["attempts"], 1, "{step}");
}

/// `apply ARGS --deterministic` once; its stdout.
fn deterministic(args: &[&str]) -> String {
    let out = crate::support::rune(["apply", "--deterministic"])
        .args(args)
        .env("RUNE_PROGRESS", "off")
        .run();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out.stdout
}

#[test]
fn deterministic_reports_of_parallel_steps_are_byte_identical() {
    let catalog = module_exec();
    let catalog = catalog.to_str().unwrap();
    let args = [
        "--catalog",
        catalog,
        "--workflow",
        "parallel",
        "--parallelism",
        "6",
    ];
    // The final JSON report (the last line of --format json; the event lines
    // before it follow completion order and may differ).
    let json_args: Vec<&str> = args.iter().copied().chain(["--format", "json"]).collect();
    let reports: Vec<String> = (0..5)
        .map(|_| {
            let out = deterministic(&json_args);
            out.lines().last().unwrap().to_string()
        })
        .collect();
    let report: Json = serde_json::from_str(&reports[0]).unwrap();
    // Span ids are the step ids; the request message ids name step and attempt.
    for step in report["steps"].as_array().unwrap() {
        let id = step["step"].as_u64().unwrap();
        assert_eq!(step["span_id"], format!("{id:016x}"), "{step}");
    }
    for other in &reports[1..] {
        assert_eq!(other, &reports[0]);
    }
    let human: Vec<String> = (0..3).map(|_| deterministic(&args)).collect();
    for other in &human[1..] {
        assert_eq!(other, &human[0]);
    }
}

#[test]
fn json_keeps_stderr_raw_and_only_the_human_views_escape_it() {
    let dir = TempDir::new().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let catalog = module_exec();
    let raw = "line1\n\u{1b}[31mRED\rX \u{202e} \u{fffd} literal \\e\n";
    let out = crate::support::rune(["apply", "--catalog"])
        .arg_path(&catalog)
        .args(["--action", "noisy", "--format", "json", "--journal"])
        .arg_path(&journal)
        .env("RUNE_PROGRESS", "off")
        .run();
    assert_eq!(out.code, 4);
    let report: Json = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let step = &report["steps"][0];
    assert_eq!(step["stderr"], raw, "{step}");
    assert_eq!(
        step["error"]["error_payload"]["error_data"]["error"]["data"]["stderr_tail"],
        raw
    );
    let journal = std::fs::read_to_string(&journal).unwrap();
    let finished: Json = journal
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .find(|e| e["event"] == "step_finished")
        .unwrap();
    assert_eq!(finished["stderr"], raw);
    let run = crate::support::rune(["run", "noisy", "--catalog"])
        .arg_path(&catalog)
        .args(["--output", "json"])
        .run();
    assert_eq!(run.json()["stderr"], raw, "{}", run.stdout);

    // People see it escaped: no ESC, CR or bidi override reaches a terminal.
    let human = crate::support::rune(["apply", "--catalog"])
        .arg_path(&catalog)
        .args(["--action", "noisy", "--color", "never"])
        .env("RUNE_PROGRESS", "off")
        .run();
    let pretty = crate::support::rune(["run", "noisy", "--catalog"])
        .arg_path(&catalog)
        .run();
    for text in [&human.stdout, &pretty.stderr] {
        assert!(text.contains(r"\e[31mRED\rX \u{202e}"), "{text}");
        assert!(!text.contains(['\u{1b}', '\r', '\u{202e}']), "{text}");
    }
}

#[test]
fn a_plugin_answer_with_a_key_twice_is_invalid_output() {
    let out = crate::support::rune(["run", "twice", "--catalog"])
        .arg_path(module_exec())
        .args(["--output", "json"])
        .run();
    assert_eq!(out.code, 4, "{}", out.stdout);
    let doc = out.json();
    assert!(doc["output"].is_null(), "{doc}");
    let error = &doc["eps"];
    assert_eq!(error["rune"]["kind"], "invalid_message", "{error}");
    assert_eq!(
        error["error_payload"]["error_data"]["error"]["code"],
        -32600
    );
    let message = error["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(message.contains("duplicate key `allowed`"), "{message}");
}

/// A tmpfs of `size` at a fresh directory, unmounted on drop (root only).
struct SmallFs(TempDir);

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        let dir = TempDir::new().unwrap();
        let mut mount = Command::new("mount");
        mount
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path());
        let ok = crate::support::succeeds(mount);
        ok.then_some(SmallFs(dir))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let mut umount = Command::new("umount");
        umount.arg(self.0.path());
        crate::support::succeeds(umount);
    }
}

#[test]
fn a_full_disk_leaves_whole_journal_lines_and_the_runs_own_exit_code() {
    let Some(fs) = SmallFs::mount("8k") else {
        crate::support::skip("cannot mount a tmpfs (needs root)");
        return;
    };
    // One of the two pages taken: about 4 KiB left, less than one run journals.
    std::fs::write(fs.0.path().join("filler"), vec![b'x'; 4096]).unwrap();
    let journal = fs.0.path().join("journal.jsonl");
    let run = || {
        crate::support::rune(["apply", "--catalog"])
            .arg_path(module_exec())
            .args(["--workflow", "bad-output", "--journal"])
            .arg_path(&journal)
            .env("RUNE_PROGRESS", "off")
            .run()
    };
    // Twice: the second run appends to a journal the first left on a full disk.
    for _ in 0..2 {
        let out = run();
        assert_eq!(out.code, 4, "the workflow's own exit code:\n{}", out.stderr);
        assert!(
            out.stderr.contains("is incomplete: a write failed"),
            "{}",
            out.stderr
        );
        let bytes = std::fs::read(&journal).unwrap();
        assert!(bytes.ends_with(b"\n"), "a torn last line");
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            serde_json::from_slice::<Json>(line)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(line)));
        }
    }
}

#[test]
fn the_plan_states_the_backoff_schedule_rune_waits() {
    let plan = |args: &[&str]| {
        let out = crate::support::rune(["plan", "--catalog"])
            .arg_path(module_exec())
            .args(args)
            .run();
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    // 6 attempts from 1 s: 1, 2, 4, 8, 16 s, not "1000 ms apart".
    let text = plan(&["--workflow", "retrying"]);
    assert!(
        text.contains(
            "retries   6 attempts, waiting 1000 ms, 2000 ms, 4000 ms, …, 16000 ms (doubling, at most 30000 ms), on any"
        ),
        "{text}"
    );
    let text = plan(&["--action", "mexec", "--param", "n=1"]);
    assert!(
        text.contains("retries   3 attempts, waiting 50 ms, 100 ms (doubling, at most 30000 ms)"),
        "{text}"
    );
}
