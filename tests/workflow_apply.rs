//! `rune apply --workflow` through the real binary: the fixture workflows of
//! tests/fixtures/workflow_apply (every step runs task.sh, which records its start
//! and end in `$WF_LOG`), the example workflows of catalogs/ on a fresh copy, and
//! random step DAGs. Orders are read from the journal (`exec::event::Event` lines)
//! and from the log the plugins write.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rune::exec::event::{Event, Outcome, WorkflowDecision, WorkflowEnd};
use tempfile::TempDir;

use crate::support::{root, rune, Output};

fn fixture() -> PathBuf {
    root().join("tests/fixtures/workflow_apply")
}

/// One finished workflow run: its output, journal events and step log.
struct Run {
    out: Output,
    events: Vec<Event>,
    log: Vec<LogLine>,
    _dir: TempDir,
}

impl Run {
    /// `(mode, name)` of the log's `start` lines, in order.
    fn starts(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|(what, ..)| what == "start")
            .map(|(_, mode, name, _)| format!("{mode} {name}"))
            .collect()
    }

    /// Workflow decisions `(id, decision, reason)` in journal order.
    fn decisions(&self) -> Vec<(String, WorkflowDecision, Option<String>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::WorkflowStep {
                    id,
                    decision,
                    reason,
                    ..
                } => Some((id.clone(), *decision, reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn decision(&self, id: &str) -> (WorkflowDecision, Option<String>) {
        self.decisions()
            .into_iter()
            .filter(|(i, d, _)| {
                i == id
                    && !matches!(
                        d,
                        WorkflowDecision::Started
                            | WorkflowDecision::CompensationStarted
                            | WorkflowDecision::CompensationSkipped
                    )
            })
            .map(|(_, d, r)| (d, r))
            .next_back()
            .unwrap_or_else(|| panic!("no decision on `{id}`"))
    }
}

/// One line of the step log: what (`start`, `end`), mode, name, nanoseconds.
type LogLine = (String, String, String, u128);

fn read_log(path: &Path) -> Vec<LogLine> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].parse().unwrap_or(0),
            )
        })
        .collect()
}

fn read_journal(path: &Path) -> Vec<Event> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line {l}: {e}")))
        .collect()
}

/// `rune apply --catalog CATALOG --workflow NAME --deterministic ARGS...`.
fn apply_in(catalog: &Path, workflow: &str, args: &[&str]) -> Run {
    let dir = TempDir::new().expect("temporary directory");
    let journal = dir.path().join("journal.jsonl");
    let log = dir.path().join("steps.log");
    let out = rune(["apply", "--catalog"])
        .arg_path(catalog)
        .args(["--workflow", workflow, "--deterministic", "--journal"])
        .arg_path(&journal)
        .args(args)
        .env("WF_LOG", &log.to_string_lossy())
        .run();
    Run {
        events: read_journal(&journal),
        log: read_log(&log),
        out,
        _dir: dir,
    }
}

fn apply(workflow: &str, args: &[&str]) -> Run {
    apply_in(&fixture().join("catalog.yaml"), workflow, args)
}

#[test]
fn a_failure_stops_the_workflow_handlers_run_and_succeeded_steps_are_undone_in_reverse() {
    let run = apply("stop-and-compensate", &["--parallelism", "1"]);
    assert_eq!(run.out.code, 4, "{}", run.out.snapshot());
    // One at a time, in (wave, declaration) order; d never starts; the handlers
    // run; then the compensations of a, x, b (c failed: nothing to undo) in reverse
    // order of completion.
    assert_eq!(
        run.starts(),
        [
            "task a",
            "task x",
            "task b",
            "task c",
            "task on-failure",
            "task finally",
            "undo b",
            "undo x",
            "undo a"
        ]
    );
    assert_eq!(run.decision("c").0, WorkflowDecision::Failed);
    assert_eq!(
        run.decision("d"),
        (
            WorkflowDecision::Skipped,
            Some("needed step `c` failed".into())
        )
    );
    for id in ["a", "x", "b"] {
        assert_eq!(run.decision(id).0, WorkflowDecision::Compensated, "{id}");
    }
    let skipped_undo: Vec<_> = run
        .decisions()
        .into_iter()
        .filter(|(_, d, _)| *d == WorkflowDecision::CompensationSkipped)
        .collect();
    assert_eq!(
        skipped_undo,
        [(
            "c".to_string(),
            WorkflowDecision::CompensationSkipped,
            Some("step `c` did not succeed: nothing to undo".into())
        )]
    );
    // A compensation reads the step's params and output as they ran.
    let json = apply(
        "stop-and-compensate",
        &["--parallelism", "1", "--format", "json"],
    );
    let report: serde_json::Value = json
        .out
        .stdout
        .lines()
        .last()
        .map(|l| serde_json::from_str(l).expect("report line"))
        .expect("a report");
    let undo_b = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workflow"]["id"] == "b" && s["workflow"]["compensation"] == true)
        .expect("undo b");
    assert_eq!(
        undo_b["output"],
        serde_json::json!({"name": "b", "value": 1})
    );
    assert_eq!(report["workflow"]["stopped_by"], "c");
}

#[test]
fn reports_of_a_stopped_workflow() {
    let human = apply("stop-and-compensate", &["--parallelism", "1"]);
    insta::assert_snapshot!("stop_and_compensate_human", human.out.stdout);
    let json = rune(["apply", "--catalog"])
        .arg_path(fixture().join("catalog.yaml"))
        .args([
            "--workflow",
            "stop-and-compensate",
            "--deterministic",
            "--parallelism",
            "1",
            "--format",
            "json",
        ])
        .env("WF_LOG", "/dev/null")
        .run();
    assert_eq!(json.code, 4);
    // Event lines, then the report: the report is the last line.
    let report: serde_json::Value =
        serde_json::from_str(json.stdout.lines().last().unwrap()).unwrap();
    let steps: Vec<serde_json::Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("workflow").is_some())
        .map(|s| {
            serde_json::json!({
                "step": s["step"], "workflow": s["workflow"], "status": s["status"],
                "attempts": s["attempts"], "duration_ms": s["duration_ms"],
                "reason": s.get("reason"), "output": s.get("output"),
                "error": s.get("error").map(|e| &e["error_payload"]["error_data"]["error"]),
            })
        })
        .collect();
    insta::assert_json_snapshot!(
        "stop_and_compensate_json",
        serde_json::json!({"status": report["status"], "workflow": report["workflow"], "steps": steps})
    );
}

#[test]
fn the_last_line_counts_a_compensation_refused_before_it_started_apart_from_those_run() {
    // a, b, c succeed and x fails: undo c succeeds, undo b cannot fill its
    // reference (0 attempts), undo a fails.
    let run = apply("compensations-fail", &["--parallelism", "1"]);
    assert_eq!(run.out.code, 4, "{}", run.out.snapshot());
    assert_eq!(
        run.starts(),
        ["task a", "task b", "task c", "task x", "undo c", "undo a"]
    );
    assert_eq!(
        run.out.stdout.lines().last(),
        Some(
            "workflow `compensations-fail` stopped after step `x` failed; \
             2 compensations run (1 failed), 1 failed before it started"
        ),
        "{}",
        run.out.stdout
    );
    insta::assert_snapshot!("compensations_fail_human", run.out.stdout);
}

#[test]
fn ctrl_c_while_compensating_a_stopped_workflow_says_it_stopped_and_was_interrupted() {
    // a, x, b succeed and c fails; in reverse order of completion undo b fails,
    // undo x is slow (Ctrl-C while it runs: it finishes), undo a never starts.
    let (out, _, log, events) = interrupted_run("slow-undo", "start undo x", 1);
    assert_eq!(out.code, 130, "{}", out.snapshot());
    let starts: Vec<String> = log
        .iter()
        .filter(|(what, ..)| what == "start")
        .map(|(_, mode, name, _)| format!("{mode} {name}"))
        .collect();
    assert_eq!(
        starts,
        ["task a", "task x", "task b", "task c", "undo b", "undo x"]
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::WorkflowFinished { stopped_by: Some(by), ended: WorkflowEnd::Interrupted, .. } if by == "c"
    )));
    assert_eq!(
        out.stdout.lines().last(),
        Some(
            "workflow `slow-undo` stopped after step `c` failed, then interrupted: \
             no new step or compensation was started; 2 compensations run (1 failed)"
        ),
        "{}",
        out.stdout
    );
    let undo_a = out
        .stdout
        .lines()
        .find(|l| l.contains("undo a · steps: undo"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(undo_a.contains("skipped") && undo_a.contains("interrupted: not started"));
    // The progress says both too, and that the run was interrupted with failures.
    assert!(
        out.stderr.contains(
            "== workflow `slow-undo` stopped after step `c` failed, then interrupted: \
             no new step or compensation was started"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().last(),
        Some("== interrupted, with failures in 0 ms"),
        "{}",
        out.stderr
    );
}

#[test]
fn continue_on_error_goes_on_and_exits_0() {
    let run = apply("continue", &["--parallelism", "1"]);
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    assert_eq!(run.decision("flaky").0, WorkflowDecision::FailedContinued);
    assert_eq!(
        run.decision("after-flaky"),
        (
            WorkflowDecision::Skipped,
            Some("needed step `flaky` failed".into())
        )
    );
    assert_eq!(run.decision("handler").0, WorkflowDecision::Succeeded);
    assert_eq!(run.decision("other").0, WorkflowDecision::Succeeded);
    assert!(
        run.out.stdout.contains("failed, continued"),
        "{}",
        run.out.stdout
    );
    assert!(run.out.stdout.contains("ran to its end"));
}

#[test]
fn a_when_skips_a_step_and_its_dependents_but_not_always_handlers() {
    let run = apply("when", &["--input", "wanted=red"]);
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    assert_eq!(
        run.decision("fix"),
        (
            WorkflowDecision::Skipped,
            Some("when: steps.probe.output.value.state equals \"red\"; it is \"green\"".into())
        )
    );
    assert_eq!(
        run.decision("after-fix").1.as_deref(),
        Some("needed step `fix` was skipped")
    );
    // A when-skipped step is not a failure: the failure handler does not run.
    assert_eq!(
        run.decision("on-failure").1.as_deref(),
        Some("no needed step failed")
    );
    assert_eq!(run.decision("report").0, WorkflowDecision::Succeeded);
    assert_eq!(run.starts(), ["task probe", "task report"]);
    // The output reference was filled from the probe's output.
    let finished = run.events.iter().find_map(|e| match e {
        Event::StepFinished {
            step: 5, output, ..
        } => output.clone(),
        _ => None,
    });
    assert_eq!(
        finished,
        Some(serde_json::json!({"name": "report", "value": {"state": "green"}}))
    );
}

#[test]
fn a_reference_that_cannot_be_filled_fails_its_step_with_an_eps_error() {
    let run = apply("unfilled", &[]);
    assert_eq!(run.out.code, 4, "{}", run.out.snapshot());
    assert_eq!(run.decision("broken").0, WorkflowDecision::FailedContinued);
    assert_eq!(run.decision("reader").0, WorkflowDecision::Failed);
    // Decided once, like any failure.
    let reader_failed = run
        .decisions()
        .iter()
        .filter(|(id, d, _)| id == "reader" && *d == WorkflowDecision::Failed)
        .count();
    assert_eq!(reader_failed, 1, "{}", run.out.snapshot());
    // The plugin never ran: the step failed before anything started.
    assert_eq!(run.starts(), ["task broken"]);
    let error = run
        .events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished {
                step: 2,
                error: Some(error),
                ..
            } => Some(error.clone()),
            _ => None,
        })
        .expect("an EPS error");
    assert_eq!(error.code(), -32602, "{error:?}");
    assert_eq!(
        error
            .details()
            .map(|d| serde_json::Value::Object(d.clone())),
        Some(serde_json::json!({"pointer": "/value", "reference": "steps.broken.output.value"}))
    );
    assert!(
        error.reason().contains("/value") && error.reason().contains("steps.broken.output.value"),
        "{}",
        error.reason()
    );
}

#[test]
fn a_reference_reads_an_array_item_by_index() {
    let run = apply("index", &[]);
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    let output = run
        .events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished {
                step: 2,
                output: Some(output),
                ..
            } => Some(output.clone()),
            _ => None,
        })
        .expect("the second step's output");
    assert_eq!(output["value"], "x", "{output}");
}

#[test]
fn every_step_is_checked_against_its_action_schemas() {
    let run = apply("schemas", &[]);
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    let codes: Vec<i32> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                error: Some(error), ..
            } => Some(error.code()),
            _ => None,
        })
        .collect();
    // invalid_result, for each of the three runs of the action.
    assert_eq!(codes, [-32200, -32200, -32200], "{}", run.out.stdout);
}

#[test]
fn at_most_parallelism_steps_run_at_once() {
    let run = apply("wide", &["--parallelism", "2"]);
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    let mut running = 0i32;
    let mut max = 0;
    let mut marks: Vec<(u128, i32)> = run
        .log
        .iter()
        .map(|(what, _, _, t)| (*t, if what == "start" { 1 } else { -1 }))
        .collect();
    // At one instant, an end comes before a start.
    marks.sort();
    for (_, d) in marks {
        running += d;
        max = max.max(running);
    }
    assert_eq!(max, 2, "{:?}", run.log);
    assert_eq!(run.starts().len(), 6);
}

/// Steps of a random DAG: `needs[i]` lists earlier steps.
fn random_dag(seed: u64, n: usize) -> (String, Vec<Vec<usize>>) {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut yaml = String::from("  random:\n    description: random\n    steps:\n");
    let mut all = Vec::new();
    for i in 0..n {
        let mut needs: Vec<usize> = Vec::new();
        if i > 0 {
            for _ in 0..(next() % 3) {
                let k = (next() % i as u64) as usize;
                if !needs.contains(&k) {
                    needs.push(k);
                }
            }
        }
        let names: Vec<String> = needs.iter().map(|k| format!("s{k}")).collect();
        yaml.push_str(&format!(
            "      - {{ id: s{i}, action: task, needs: [{}], params: {{ name: s{i}, sleep_ms: {} }} }}\n",
            names.join(", "),
            next() % 60
        ));
        all.push(needs);
    }
    (yaml, all)
}

#[test]
fn random_dags_start_no_step_before_its_needs_and_respect_parallelism() {
    let base = std::fs::read_to_string(fixture().join("catalog.yaml")).unwrap();
    let (head, _) = base.split_once("workflows:\n").unwrap();
    for seed in [7u64, 1234, 99_991] {
        let dir = TempDir::new().unwrap();
        let (steps, needs) = random_dag(seed, 12);
        std::fs::write(
            dir.path().join("catalog.yaml"),
            format!("{head}workflows:\n{steps}"),
        )
        .unwrap();
        std::fs::copy(fixture().join("task.sh"), dir.path().join("task.sh")).unwrap();
        let run = apply_in(
            &dir.path().join("catalog.yaml"),
            "random",
            &["--parallelism", "2"],
        );
        assert_eq!(run.out.code, 0, "seed {seed}: {}", run.out.snapshot());
        // Journal order: a step starts after every step it needs finished, and at
        // most 2 run at once.
        let ids: std::collections::HashMap<u64, usize> = run
            .events
            .iter()
            .filter_map(|e| match e {
                Event::WorkflowStep {
                    step,
                    id,
                    decision: WorkflowDecision::Started,
                    ..
                } => Some((*step, id[1..].parse().unwrap())),
                _ => None,
            })
            .collect();
        let mut finished = vec![false; needs.len()];
        let mut running = 0;
        for event in &run.events {
            match event {
                Event::StepStarted {
                    step, attempt: 1, ..
                } if ids.contains_key(step) => {
                    let i = ids[step];
                    for &k in &needs[i] {
                        assert!(
                            finished[k],
                            "seed {seed}: s{i} started before s{k} finished"
                        );
                    }
                    running += 1;
                    assert!(running <= 2, "seed {seed}: more than 2 running");
                }
                Event::StepFinished {
                    step,
                    outcome: Outcome::Succeeded,
                    ..
                } if ids.contains_key(step) => {
                    finished[ids[step]] = true;
                    running -= 1;
                }
                _ => {}
            }
        }
        assert!(finished.iter().all(|f| *f), "seed {seed}");
    }
}

#[test]
fn a_saved_workflow_plan_runs_and_dry_run_prints_it() {
    let dir = TempDir::new().unwrap();
    let plan = dir.path().join("plan.json");
    let out = rune(["plan", "--catalog"])
        .arg_path(fixture().join("catalog.yaml"))
        .args(["--workflow", "when", "--input", "wanted=blue", "--out"])
        .arg_path(&plan)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let log = dir.path().join("steps.log");
    let out = rune(["apply", "--deterministic"])
        .arg_path(&plan)
        .env("WF_LOG", &log.to_string_lossy())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("workflow `when` ran to its end"));
    // Flags that would change a saved plan are refused.
    let out = rune(["apply"])
        .arg_path(&plan)
        .args(["--input", "wanted=red"])
        .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    // --dry-run prints the plan and runs nothing.
    let log = dir.path().join("dry.log");
    let out = rune(["apply", "--catalog"])
        .arg_path(fixture().join("catalog.yaml"))
        .args(["--workflow", "when", "--input", "wanted=red", "--dry-run"])
        .env("WF_LOG", &log.to_string_lossy())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("probe"), "{}", out.stdout);
    assert!(!log.exists());
}

#[test]
fn bad_workflow_requests_are_refused_before_anything_runs() {
    let out = rune(["apply", "--catalog"])
        .arg_path(fixture().join("catalog.yaml"))
        .args(["--workflow", "nope"])
        .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    // A required input missing.
    let out = rune(["apply", "--catalog"])
        .arg_path(fixture().join("catalog.yaml"))
        .args(["--workflow", "when"])
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
}

/// `rune apply --workflow slow`, interrupted `signals` times once the slow step
/// started; returns the exit code, the time from the first signal to the exit,
/// the step log and the journal.
fn interrupted_slow_run(signals: usize) -> (Option<i32>, Duration, Vec<LogLine>, Vec<Event>) {
    let (out, took, log, events) = interrupted_run("slow", "start task slow", signals);
    (Some(out.code), took, log, events)
}

/// `rune apply --workflow WORKFLOW --parallelism 1` (progress in lines on
/// stderr), interrupted `signals` times once the step log has a line starting
/// `started`; returns its output, the time from the first signal to the exit,
/// the step log and the journal.
fn interrupted_run(
    workflow: &str,
    started: &str,
    signals: usize,
) -> (Output, Duration, Vec<LogLine>, Vec<Event>) {
    let dir = TempDir::new().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let log = dir.path().join("steps.log");
    let mut child = crate::support::rune(["apply", "--catalog"])
        .arg_path(fixture().join("catalog.yaml"))
        .args(["--workflow", workflow, "--deterministic", "--journal"])
        .arg_path(&journal)
        .args(["--parallelism", "1"])
        .env("WF_LOG", log.to_str().unwrap())
        .env("RUNE_PROGRESS", "lines")
        .spawn();
    // Wait for the step to start, then press Ctrl-C.
    child.wait_for(&format!("`{started}` to start"), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(started))
    });
    let signalled = Instant::now();
    for count in 1..=signals {
        child.signal(nix::sys::signal::Signal::SIGINT);
        // The next signal only once rune has taken this one (journaled it); the last
        // may end the run before it is journaled.
        if count < signals {
            let seen = format!("\"count\":{count}");
            child.wait_for(&format!("interrupt {count} in the journal"), || {
                std::fs::read_to_string(&journal)
                    .unwrap_or_default()
                    .lines()
                    .any(|l| l.contains("\"event\":\"interrupted\"") && l.contains(&seen))
            });
        }
    }
    let out = child.wait();
    let took = signalled.elapsed();
    (out, took, read_log(&log), read_journal(&journal))
}

#[test]
fn a_second_ctrl_c_kills_the_running_step() {
    let (code, _, log, events) = interrupted_slow_run(2);
    assert_eq!(code, Some(130));
    // The 1.5 s step was killed (its process group: the sleep too), not waited for:
    // it never logged its end.
    let lines: Vec<String> = log.iter().map(|(w, _, n, _)| format!("{w} {n}")).collect();
    assert_eq!(lines, ["start slow"]);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Interrupted { count: 2, .. })));
    // Killed by the interruption, not failed by itself: it is not what stopped
    // the workflow.
    assert!(events.iter().any(|e| matches!(
        e,
        Event::WorkflowStep { id, decision: WorkflowDecision::Interrupted, .. } if id == "slow"
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::WorkflowFinished {
            stopped_by: None,
            ended: WorkflowEnd::Interrupted,
            ..
        }
    )));
}

#[test]
fn ctrl_c_during_a_workflow_starts_no_new_step_and_exits_130() {
    let (out, _, log, events) = interrupted_run("slow", "start task slow", 1);
    assert_eq!(out.code, 130, "{}", out.snapshot());
    // Nothing failed: the progress ends saying the run was interrupted, not
    // that it finished with failures.
    assert_eq!(
        out.stderr.lines().last(),
        Some("== interrupted in 0 ms"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("workflow `slow` interrupted: no new step was started"),
        "{}",
        out.stdout
    );

    // The running step ended on its own; nothing new started, not even the
    // `if: always` handler.
    let lines: Vec<String> = log.iter().map(|(w, _, n, _)| format!("{w} {n}")).collect();
    assert_eq!(lines, ["start slow", "end slow"]);
    let skipped: Vec<(String, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::WorkflowStep {
                id,
                decision: WorkflowDecision::Skipped,
                reason,
                ..
            } => Some((id.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "next".to_string(),
                Some("interrupted: not started".to_string())
            ),
            (
                "side".to_string(),
                Some("interrupted: not started".to_string())
            )
        ]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Interrupted { count: 1, .. })));
    // The workflow says it was interrupted, not that it ran to its end.
    assert!(events.iter().any(|e| matches!(
        e,
        Event::WorkflowFinished {
            ended: WorkflowEnd::Interrupted,
            ..
        }
    )));
    assert!(matches!(
        events.last(),
        Some(Event::RunFinished {
            succeeded: false,
            ..
        })
    ));
}

/// A directory with the fixture's actions, a module `broken` run as
/// `spi-module.sh BEHAVIOUR` that provides `fix`, and the workflow
/// `needs-broken`: `first` (with a compensation), then `fix` on `broken`.
fn needs_broken(behaviour: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    let base = std::fs::read_to_string(fixture().join("catalog.yaml")).unwrap();
    let (head, _) = base.split_once("workflows:\n").unwrap();
    let spi = root().join("tests/fixtures/modules/spi-module.sh");
    let catalog = format!(
        r#"{head}  - module_identity: {{ module_name: broken, module_class: Fixture, module_type: service, module_version: 1.0.0, description: Does not start }}
    capability_declaration:
      actions:
        - action: fix
          description: Served by a plugin, provided by a module that must start first
          category: diagnostic
          impact: low
          exec: ["./task.sh"]
          env: {{ pass: [WF_LOG] }}
    lifecycle:
      runtime: process
      exec: ["{spi}", "{behaviour}", "broken", "1.0.0"]
      env: {{ pass: [RUNE_TEST_PIDS] }}
      spi_versions: ["1"]
      timeouts: {{ initialize_ms: 3000, ready_ms: 1500, drain_ms: 3000, shutdown_ms: 3000 }}
workflows:
  needs-broken:
    description: One step on a module that does not start
    steps:
      - {{ id: first, action: task, params: {{ name: first }}, compensate: {{ action: undo, params: {{ name: first }} }} }}
      - {{ id: fix, action: fix, needs: [first] }}
"#,
        spi = spi.display()
    );
    std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
    std::fs::copy(fixture().join("task.sh"), dir.path().join("task.sh")).unwrap();
    dir
}

/// The report of a workflow that never started accounts for every planned
/// step: each step and each compensation is skipped with `why`, in the journal,
/// the JSON report and the human report, and the counts add up.
fn assert_every_planned_step_skipped(run: &Run, json: &serde_json::Value, why: &str) {
    for id in ["first", "fix"] {
        assert_eq!(
            run.decision(id),
            (WorkflowDecision::Skipped, Some(why.into())),
            "{id}"
        );
    }
    let undo: Vec<_> = run
        .decisions()
        .into_iter()
        .filter(|(_, d, _)| *d == WorkflowDecision::CompensationSkipped)
        .collect();
    assert_eq!(
        undo,
        [(
            "first".to_string(),
            WorkflowDecision::CompensationSkipped,
            Some(why.into())
        )],
        "{}",
        run.out.stdout
    );
    let undo_row = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["workflow"]["compensation"] == true)
        .unwrap_or_else(|| panic!("no compensation row: {json:#}"));
    assert_eq!(undo_row["workflow"]["id"], "first");
    assert_eq!(undo_row["status"], "skipped");
    assert_eq!(undo_row["reason"], why);
    let counts = &json["counts"];
    let total: u64 = ["succeeded", "failed", "skipped", "unfinished"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap())
        .sum();
    assert_eq!(total, json["planned_steps"].as_u64().unwrap(), "{json:#}");
    assert_eq!(
        json["steps"].as_array().unwrap().len() as u64,
        total,
        "{json:#}"
    );
    let undo_line = run
        .out
        .stdout
        .lines()
        .find(|l| l.contains("undo first · steps: undo"))
        .unwrap_or_else(|| panic!("no undo row: {}", run.out.stdout));
    assert!(
        undo_line.contains("skipped") && undo_line.contains(why),
        "{undo_line}"
    );
    assert!(
        !run.out.stdout.contains("never started"),
        "{}",
        run.out.stdout
    );
}

#[test]
fn a_module_that_does_not_start_skips_every_step_and_compensation() {
    let dir = needs_broken("crash-at-initialize");
    let catalog = dir.path().join("catalog.yaml");
    let run = apply_in(&catalog, "needs-broken", &[]);
    assert_eq!(run.out.code, 4, "{}", run.out.snapshot());
    assert!(run.starts().is_empty(), "{:?}", run.log);
    let json = apply_in(&catalog, "needs-broken", &["--format", "json"]);
    assert_eq!(json.out.code, 4, "{}", json.out.snapshot());
    assert_every_planned_step_skipped(&run, &json_report(&json), "module `broken` did not start");
}

/// `rune apply --workflow needs-broken` on a module that never answers `ready`,
/// interrupted once while it starts; with `--format json` when `json`.
fn interrupted_during_startup(json: bool) -> Run {
    let dir = needs_broken("hang-at-ready");
    let journal = dir.path().join("journal.jsonl");
    let log = dir.path().join("steps.log");
    let mut command = crate::support::rune(["apply", "--catalog"])
        .arg_path(dir.path().join("catalog.yaml"))
        .args(["--workflow", "needs-broken", "--deterministic", "--journal"])
        .arg_path(&journal)
        .env("WF_LOG", log.to_str().unwrap())
        .env("RUNE_PROGRESS", "off");
    if json {
        command = command.args(["--format", "json"]);
    }
    let mut child = command.spawn();
    // Ctrl-C once the module is asked whether it is ready (it never answers).
    child.wait_for("the module to reach ready", || {
        std::fs::read_to_string(&journal)
            .unwrap_or_default()
            .contains("\"method\":\"ready\"")
    });
    child.signal(nix::sys::signal::Signal::SIGINT);
    let out = child.wait();
    Run {
        events: read_journal(&journal),
        log: read_log(&log),
        out,
        _dir: dir,
    }
}

#[test]
fn ctrl_c_during_startup_skips_every_step_and_compensation() {
    let run = interrupted_during_startup(false);
    assert_eq!(run.out.code, 130, "{}", run.out.snapshot());
    assert!(run.starts().is_empty(), "{:?}", run.log);
    let json = interrupted_during_startup(true);
    assert_eq!(json.out.code, 130, "{}", json.out.snapshot());
    assert_every_planned_step_skipped(&run, &json_report(&json), "interrupted: not started");
}

/// The repository's catalogs, plugins and modules in a fresh directory (the
/// example workflows write in `work/`).
fn fresh_copy() -> TempDir {
    let dir = TempDir::new().unwrap();
    for sub in ["catalogs", "plugins", "modules"] {
        let mut cp = Command::new("cp");
        cp.arg("-R").arg(root().join(sub)).arg(dir.path());
        assert!(crate::support::succeeds(cp), "cp -R {sub}");
    }
    dir
}

#[test]
fn the_example_quarantine_workflow_succeeds_or_puts_the_files_back() {
    if !Path::new("/usr/bin/jq").exists() && which("jq").is_none() {
        crate::support::skip("jq is not installed");
        return;
    }
    let dir = fresh_copy();
    let logs = dir.path().join("work/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log.1"), "old\n").unwrap();
    std::fs::write(logs.join("app.log.2"), "older\n").unwrap();
    let catalogs = dir.path().join("catalogs");
    // The verification allows no file in quarantine: the workflow stops, keeps a
    // record, and the compensation puts both files back.
    let run = apply_in(
        &catalogs,
        "quarantine-logs",
        &[
            "--input",
            "pattern=app.log.*",
            "--input",
            "max_quarantined=0",
        ],
    );
    assert_eq!(run.out.code, 4, "{}", run.out.snapshot());
    // The human report, without what differs from machine to machine (outputs:
    // sizes, paths, archive names; error details: paths; module process lines).
    let stable: Vec<&str> = run
        .out
        .stdout
        .lines()
        .filter(|l| !l.contains("output:") && !l.contains("details:") && !l.contains("stderr"))
        .filter(|l| !l.trim_start().starts_with("│   "))
        .collect();
    insta::assert_snapshot!("quarantine_logs_stopped_human", stable.join("\n"));
    assert_eq!(run.decision("verify").0, WorkflowDecision::Failed);
    assert_eq!(run.decision("keep-record").0, WorkflowDecision::Succeeded);
    assert_eq!(run.decision("quarantine").0, WorkflowDecision::Compensated);
    assert_eq!(
        std::fs::read_to_string(logs.join("app.log.2")).unwrap(),
        "older\n"
    );
    assert!(logs.join("app.log.1").exists());
    // Allowing them, the files stay in quarantine and the workflow succeeds.
    let run = apply_in(
        &catalogs,
        "quarantine-logs",
        &[
            "--input",
            "pattern=app.log.*",
            "--input",
            "max_quarantined=5",
            // One at a time: the journal order is then the same on every machine.
            "--parallelism",
            "1",
        ],
    );
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    let decisions: Vec<String> = run
        .decisions()
        .iter()
        .map(|(id, d, reason)| match reason {
            Some(reason) => format!("{id}: {d:?}: {reason}"),
            None => format!("{id}: {d:?}"),
        })
        .collect();
    insta::assert_snapshot!("quarantine_logs_succeeded_decisions", decisions.join("\n"));
    assert!(!logs.join("app.log.1").exists());
    assert_eq!(run.decision("after").0, WorkflowDecision::Succeeded);
    // And the health check runs end to end.
    let run = apply_in(&catalogs, "health-check", &[]);
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// A catalog of the fixture's actions (task.sh copied beside it) and `workflows`
/// (YAML, indented as under `workflows:`), in a new directory.
fn own_catalog(workflows: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().expect("temporary directory");
    let text = std::fs::read_to_string(fixture().join("catalog.yaml")).expect("fixture");
    let actions = &text[..text.find("workflows:").expect("a workflows key")];
    std::fs::copy(fixture().join("task.sh"), dir.path().join("task.sh")).expect("task.sh");
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, format!("{actions}workflows:\n{workflows}")).expect("catalog");
    (dir, catalog)
}

/// The final report: the last line of `apply --format json` (after the event lines).
fn json_report(run: &Run) -> serde_json::Value {
    let last = run.out.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not a report ({e}): {last}"))
}

#[test]
fn report_rows_written_as_steps_end_read_back_in_plan_order_with_their_outputs() {
    // At --parallelism 2, `b` (and usually `c`) end before `a`: rows are written
    // to the spill file out of plan order and must come back as a, b, c, d.
    let (_dir, catalog) = own_catalog(
        "  spill:
    description: Steps that end out of plan order
    steps:
      - { id: a, action: task, params: { name: a, sleep_ms: 800, value: { big: [1, 2, 3], text: A } } }
      - { id: b, action: task, params: { name: b, value: B } }
      - { id: c, action: task, params: { name: c, sleep_ms: 100, value: C } }
      - id: d
        action: task
        needs: [b]
        params: { name: d, value: { $from: steps.b.output.value } }
",
    );
    let run = apply_in(
        &catalog,
        "spill",
        &["--parallelism", "2", "--format", "json"],
    );
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    let ends: Vec<&str> = run
        .log
        .iter()
        .filter(|(what, ..)| what == "end")
        .map(|(_, _, name, _)| name.as_str())
        .collect();
    // `a` sleeps 800 ms, `b` not at all: `a` ends after `b` (how `c` and `d`
    // fall around it depends on the machine's load).
    let end = |name: &str| ends.iter().position(|n| *n == name).expect(name);
    assert!(end("a") > end("b"), "{:?}", run.log);
    let report = json_report(&run);
    let steps = report["steps"].as_array().expect("steps");
    let rows: Vec<(u64, &str, serde_json::Value)> = steps
        .iter()
        .map(|s| {
            (
                s["step"].as_u64().unwrap(),
                s["workflow"]["outcome"].as_str().unwrap(),
                s["output"]["value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                1,
                "succeeded",
                serde_json::json!({"big": [1, 2, 3], "text": "A"})
            ),
            (2, "succeeded", serde_json::json!("B")),
            (3, "succeeded", serde_json::json!("C")),
            (4, "succeeded", serde_json::json!("B")),
        ],
        "{report:#}"
    );
    assert_eq!(report["counts"]["succeeded"], 4);
    // The human report reads the same rows, in the same order.
    let human = apply_in(&catalog, "spill", &["--parallelism", "2"]);
    let order: Vec<usize> = ["1  a ·", "2  b ·", "3  c ·", "4  d ·"]
        .iter()
        .map(|row| human.out.stdout.find(row).expect(row))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "{}",
        human.out.stdout
    );
    assert!(human
        .out
        .stdout
        .contains(r#"output: {"name":"d","value":"B"}"#));
}

#[test]
fn an_output_read_after_other_steps_ran_in_between_is_still_there() {
    // `p`'s output is read by `r` (and its `when`) three steps later; the steps
    // in between are read by nobody, so theirs are dropped as they end.
    let (_dir, catalog) = own_catalog(
        "  later:
    description: A reference to an output several steps back
    steps:
      - { id: p, action: task, params: { name: p, value: { state: red, hosts: [h1, h2] } } }
      - { id: x1, action: task, needs: [p], params: { name: x1, value: 1 } }
      - { id: x2, action: task, needs: [x1], params: { name: x2, value: 2 } }
      - { id: x3, action: task, needs: [x2], params: { name: x3, value: 3 } }
      - id: r
        action: task
        needs: [x3]
        when: { from: steps.p.output.value.state, equals: red }
        params: { name: r, value: { $from: steps.p.output.value.hosts.1 } }
      - id: s
        action: task
        needs: [r]
        params: { name: s, value: { $from: steps.x3.params.value } }
",
    );
    let run = apply_in(
        &catalog,
        "later",
        &["--parallelism", "2", "--format", "json"],
    );
    assert_eq!(run.out.code, 0, "{}", run.out.snapshot());
    let report = json_report(&run);
    let outputs: Vec<serde_json::Value> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["output"]["value"].clone())
        .collect();
    assert_eq!(
        outputs,
        [
            serde_json::json!({"state": "red", "hosts": ["h1", "h2"]}),
            serde_json::json!(1),
            serde_json::json!(2),
            serde_json::json!(3),
            serde_json::json!("h2"),
            serde_json::json!(3),
        ],
        "{report:#}"
    );
}
