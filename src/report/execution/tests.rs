//! The report from hand-built event lists shaped like real runs.

use jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::exec::eps::{Eps, Kind, Origin};
use crate::exec::event::{Direction, Protocol};

fn at() -> Timestamp {
    "2026-01-05T10:00:00Z".parse().unwrap()
}

fn origin(step: u64, module: &str, action: Option<&str>, phase: Option<&str>) -> Origin {
    Origin {
        step: Some(step),
        module: Some(module.into()),
        action: action.map(Into::into),
        phase: phase.map(Into::into),
        correlation_id: "00000000-0000-4000-8000-000000000000".into(),
        trace_id: format!("{:032x}", 1),
        span_id: format!("{step:016x}"),
        at: at(),
    }
}

fn started(
    step: u64,
    module: &str,
    action: Option<&str>,
    phase: Option<&str>,
    attempt: u64,
) -> Event {
    Event::StepStarted {
        at: at(),
        step,
        module: module.into(),
        action: action.map(Into::into),
        phase: phase.map(Into::into),
        attempt,
        span_id: format!("{step:016x}"),
    }
}

fn message(step: u64, direction: Direction, protocol: Protocol, body: Json) -> Event {
    Event::Message {
        at: at(),
        step,
        direction,
        protocol,
        message: body,
    }
}

#[allow(clippy::too_many_arguments)]
fn finished(
    step: u64,
    module: &str,
    action: Option<&str>,
    phase: Option<&str>,
    outcome: Outcome,
    attempts: u64,
    duration_ms: u64,
    output: Option<Json>,
    error: Option<Eps>,
) -> Event {
    Event::StepFinished {
        at: at(),
        step,
        module: module.into(),
        action: action.map(Into::into),
        phase: phase.map(Into::into),
        outcome,
        attempts,
        duration_ms,
        reason: None,
        output,
        stderr: None,
        error: error.map(Box::new),
    }
}

fn state(module: &str, from: ModuleState, to: ModuleState, reason: Option<&str>) -> Event {
    Event::StateChanged {
        at: at(),
        module: module.into(),
        from,
        to,
        reason: reason.map(Into::into),
    }
}

fn wave(stage: &str, wave: u64, members: &[&str]) -> Event {
    Event::WaveStarted {
        at: at(),
        stage: stage.into(),
        wave,
        members: members.iter().map(|m| m.to_string()).collect(),
    }
}

/// A phase step that succeeds with one SPI exchange.
fn phase_ok(step: u64, module: &str, phase: &str, result: Json) -> Vec<Event> {
    vec![
        started(step, module, None, Some(phase), 1),
        message(
            step,
            Direction::Request,
            Protocol::Spi,
            json!({"jsonrpc": "2.0", "id": step, "method": phase, "params": {}}),
        ),
        message(
            step,
            Direction::Response,
            Protocol::Spi,
            json!({"jsonrpc": "2.0", "id": step, "result": result}),
        ),
        finished(
            step,
            module,
            None,
            Some(phase),
            Outcome::Succeeded,
            1,
            3,
            Some(result),
            None,
        ),
    ]
}

/// `rune apply` of the bundled example where config-manager never becomes ready:
/// secret-store starts (and reports degraded health), config-manager fails closed,
/// web-frontend (which requires it) is skipped, the disk check times out once and
/// then succeeds, and secret-store is drained and shut down.
pub(crate) fn failed_apply() -> Vec<Event> {
    use ModuleState::*;
    let mut events = vec![
        Event::RunStarted {
            at: at(),
            command: "apply".into(),
            correlation_id: "00000000-0000-4000-8000-000000000000".into(),
            trace_id: format!("{:032x}", 1),
            steps: 14,
            parallelism: 2,
        },
        wave("startup", 1, &["lmm", "secret-store"]),
        state("lmm", Discovered, Available, None),
        state("secret-store", Discovered, Available, None),
    ];
    events.extend(phase_ok(1, "lmm", "register", json!({})));
    events.extend(phase_ok(
        2,
        "secret-store",
        "register",
        json!({"module_name": "secret-store", "module_version": "1.2.0", "spi_versions": ["1"]}),
    ));
    events.extend(phase_ok(3, "lmm", "initialize", json!({})));
    events.extend(phase_ok(
        4,
        "secret-store",
        "initialize",
        json!({"spi_version": "1", "token": "0123456789abcdef0123456789abcdef"}),
    ));
    events.extend(phase_ok(5, "lmm", "ready", json!({})));
    events.push(state("lmm", Available, Active, None));
    events.extend(phase_ok(
        6,
        "secret-store",
        "ready",
        json!({"ready": true, "status": "warm"}),
    ));
    events.push(state("secret-store", Available, Active, None));
    events.push(state(
        "secret-store",
        Active,
        Degraded,
        Some("health answered \"degraded\": vault file is 91% full \u{1b}[32m(all fine)\u{1b}[0m"),
    ));
    events.push(wave("startup", 2, &["config-manager"]));
    events.push(state("config-manager", Discovered, Available, None));
    events.extend(phase_ok(
        7,
        "config-manager",
        "register",
        json!({"module_name": "config-manager", "module_version": "0.4.1", "spi_versions": ["1"]}),
    ));
    events.extend(phase_ok(
        8,
        "config-manager",
        "initialize",
        json!({"spi_version": "1", "token": "0123456789abcdef0123456789abcdef"}),
    ));
    events.push(started(9, "config-manager", None, Some("ready"), 1));
    events.push(Event::StepFinished {
        at: at(),
        step: 9,
        module: "config-manager".into(),
        action: None,
        phase: Some("ready".into()),
        outcome: Outcome::Failed,
        attempts: 1,
        duration_ms: 500,
        reason: None,
        output: None,
        // Untrusted: a module that tries to rewrite the operator's terminal.
        stderr: Some(
            "loading /etc/config-manager/app.yaml\nwaiting for lock\n\u{1b}[2K\rREADY: all good \u{202e}doog lla\n"
                .into(),
        ),
        error: Some(Box::new(
            Eps::new(
                Kind::NotReady,
                "config-manager did not become ready within 500 ms (last status: \"warming\")",
                origin(9, "config-manager", None, Some("ready")),
            )
            .with_data(json!({"probes": 12, "last_answer": {"ready": false, "status": "warming"}, "ready_timeout_ms": 500})),
        )),
    });
    events.push(state(
        "config-manager",
        Available,
        Unavailable,
        Some("did not become ready"),
    ));
    events.push(wave("startup", 3, &["web-frontend"]));
    events.push(Event::StepFinished {
        at: at(),
        step: 10,
        module: "web-frontend".into(),
        action: None,
        phase: Some("register".into()),
        outcome: Outcome::Skipped,
        attempts: 0,
        duration_ms: 0,
        reason: Some("requires config-manager, which is unavailable".into()),
        output: None,
        stderr: None,
        error: Some(Box::new(Eps::new(
            Kind::DependencyUnsatisfied,
            "web-frontend requires config-manager, which did not start",
            origin(10, "web-frontend", None, Some("register")),
        ))),
    });
    events.push(state(
        "web-frontend",
        Discovered,
        Unavailable,
        Some("requires config-manager"),
    ));
    events.push(wave("actions", 1, &["disk-usage"]));
    events.push(started(11, "host-ops", Some("disk-usage"), None, 1));
    events.push(message(
        11,
        Direction::Request,
        Protocol::Bpcs,
        json!({"payload": {"input_parameters": {"path": "/var"}}}),
    ));
    events.push(Event::Retrying {
        at: at(),
        step: 11,
        attempt: 1,
        backoff_ms: 200,
        error: Box::new(Eps::new(
            Kind::Timeout,
            "disk-usage did not answer within 300 ms; its process group was killed",
            origin(11, "host-ops", Some("disk-usage"), None),
        )),
    });
    events.push(started(11, "host-ops", Some("disk-usage"), None, 2));
    events.push(message(
        11,
        Direction::Request,
        Protocol::Bpcs,
        json!({"payload": {"input_parameters": {"path": "/var"}}}),
    ));
    events.push(message(
        11,
        Direction::Response,
        Protocol::Bpcs,
        json!({"payload": {"result": "success", "output_data": {"path": "/var", "used_percent": 41}}, "error": null}),
    ));
    events.push(finished(
        11,
        "host-ops",
        Some("disk-usage"),
        None,
        Outcome::Succeeded,
        2,
        0,
        Some(json!({"path": "/var", "used_percent": 41, "mount": "/dev/sda1"})),
        None,
    ));
    events.push(wave("shutdown", 1, &["secret-store", "lmm"]));
    events.extend(phase_ok(
        12,
        "secret-store",
        "drain",
        json!({"status": "draining"}),
    ));
    events.extend(phase_ok(13, "secret-store", "shutdown", json!({})));
    events.push(state("secret-store", Degraded, Stopped, None));
    events.extend(phase_ok(14, "lmm", "shutdown", json!({})));
    events.push(state("lmm", Active, Stopped, None));
    events.push(Event::RunFinished {
        at: at(),
        succeeded: false,
        duration_ms: 0,
    });
    events
}

/// `rune run noop` interrupted twice: the plugin ignored the first signal's wind
/// down and was killed by the second.
pub(crate) fn interrupted_run() -> Vec<Event> {
    vec![
        Event::RunStarted {
            at: at(),
            command: "run".into(),
            correlation_id: "00000000-0000-4000-8000-000000000000".into(),
            trace_id: format!("{:032x}", 1),
            steps: 1,
            parallelism: 1,
        },
        started(1, "examples", Some("noop"), None, 1),
        Event::Interrupted { at: at(), count: 1 },
        Event::Interrupted { at: at(), count: 2 },
        Event::StepFinished {
            at: at(),
            step: 1,
            module: "examples".into(),
            action: Some("noop".into()),
            phase: None,
            outcome: Outcome::Failed,
            attempts: 1,
            duration_ms: 1730,
            reason: None,
            output: None,
            stderr: Some("[INFO] noop: sleeping 30s\n".into()),
            error: Some(Box::new(Eps::new(
                Kind::Interrupted,
                "interrupted (second Ctrl-C): the plugin's process group was killed",
                origin(1, "examples", Some("noop"), None),
            ))),
        },
        Event::RunFinished {
            at: at(),
            succeeded: false,
            duration_ms: 1731,
        },
    ]
}

#[test]
fn a_failed_apply_reads_well() {
    let report = Report::from_events(&failed_apply());
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.exit_status(), ExitStatus::ExecutionFailed);
    insta::assert_snapshot!(render_human(&report, false));
}

#[test]
fn a_failed_apply_is_complete_in_json() {
    let report = Report::from_events(&failed_apply());
    let mut out = Vec::new();
    report.write_json(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // The exact stderr, EPS envelope and output survive, escaped only by JSON.
    assert!(text.contains("\\u001b[2K\\rREADY: all good \u{202e}doog lla"));
    assert!(text.contains("\"recovery_actions\""));
    assert!(text.contains("\"ready_timeout_ms\": 500"));
    insta::assert_snapshot!(text);
}

#[test]
fn nothing_a_module_says_reaches_the_terminal_raw() {
    let human = render_human(&Report::from_events(&failed_apply()), true);
    // Colour is ours (ESC [ … m); every other escape, CR and bidi override is shown
    // escaped.
    let without_ours = human
        .replace("\u{1b}[0m", "")
        .replace("\u{1b}[1m", "")
        .replace("\u{1b}[2m", "")
        .replace("\u{1b}[31m", "")
        .replace("\u{1b}[32m", "")
        .replace("\u{1b}[33m", "");
    assert!(!without_ours.contains('\u{1b}'));
    assert!(!without_ours.contains('\r'));
    assert!(!without_ours.contains('\u{202e}'));
    assert!(without_ours.contains("\\e[2K\\rREADY: all good \\u{202e}doog lla"));
    assert!(without_ours.contains("91% full \\e[32m(all fine)\\e[0m"));
}

#[test]
fn an_interrupted_run_exits_130() {
    let report = Report::from_events(&interrupted_run());
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.exit_status(), ExitStatus::Interrupted);
    insta::assert_snapshot!(render_human(&report, false));
}

#[test]
fn a_run_cut_short_shows_the_step_that_never_finished() {
    let mut events = interrupted_run();
    events.truncate(2);
    let report = Report::from_events(&events);
    assert_eq!(report.status, RunStatus::Unfinished);
    assert_eq!(report.counts.unfinished, 1);
    assert_eq!(report.exit_status(), ExitStatus::ExecutionFailed);
    insta::assert_snapshot!(render_human(&report, false));
}

#[test]
fn parallel_workers_interleaving_differently_give_the_same_bytes() {
    let events = failed_apply();
    // Move every event of lmm's steps after everyone else's, as another schedule
    // of the parallel workers could; each step's own events keep their order.
    let lmm_steps = [1u64, 3, 5, 14];
    let is_lmm = |e: &Event| match e {
        Event::StepStarted { module, .. }
        | Event::StepFinished { module, .. }
        | Event::StateChanged { module, .. } => module == "lmm",
        Event::Message { step, .. } => lmm_steps.contains(step),
        _ => false,
    };
    let mut other: Vec<Event> = events
        .iter()
        .filter(|e| !is_lmm(e) && !matches!(e, Event::RunFinished { .. }))
        .cloned()
        .collect();
    other.extend(events.iter().filter(|e| is_lmm(e)).cloned());
    other.push(events.last().unwrap().clone());
    assert_ne!(other, events);
    let render = |events: &[Event]| {
        let report = Report::from_events(events);
        let mut json = Vec::new();
        report.write_json(&mut json).unwrap();
        (render_human(&report, true), json)
    };
    // lmm's own order is kept; only its place among the other modules' events moved.
    assert!(
        render(&events) == render(&other),
        "the order of workers changed the report"
    );
}

#[test]
fn durations_read_naturally() {
    assert_eq!(human_duration(0), "0 ms");
    assert_eq!(human_duration(999), "999 ms");
    assert_eq!(human_duration(1234), "1.2 s");
    assert_eq!(human_duration(123_000), "2 min 03 s");
}

/// Every EPS kind, in the order docs/execution.md lists them.
fn every_kind() -> Vec<Kind> {
    crate::exec::eps::ALL_KINDS.to_vec()
}

#[test]
fn the_docs_list_every_eps_code() {
    let docs = include_str!("../../../docs/execution.md");
    let name = |v: Json| v.as_str().unwrap().to_string();
    let rows: Vec<&str> = docs.lines().filter(|l| l.starts_with("| -32")).collect();
    let kinds = every_kind();
    assert_eq!(rows.len(), kinds.len(), "one row per kind");
    for (kind, row) in kinds.iter().zip(&rows) {
        let eps = Eps::new(*kind, "", Origin::default());
        let expected = format!(
            "| {} | `{}` | {} | {} | {} | ",
            kind.code(),
            name(serde_json::to_value(kind).unwrap()),
            name(serde_json::to_value(kind.classification()).unwrap()),
            name(serde_json::to_value(kind.severity()).unwrap()),
            if eps.context().retry_recommended {
                "yes"
            } else {
                "no"
            },
        );
        assert!(
            row.starts_with(&expected),
            "docs row\n{row}\nshould start\n{expected}"
        );
    }
}

/// The human report (coloured) and the JSON document of `report`.
fn printed(report: &Report) -> (String, Vec<u8>) {
    let mut json = Vec::new();
    report.write_json(&mut json).unwrap();
    (render_human(report, true), json)
}

/// The report of `events` with every row kept in memory, as when no spill file
/// can be made.
fn in_memory(events: &[Event]) -> Report {
    let mut builder = ReportBuilder::new();
    builder.spill = None;
    for event in events {
        builder.push(event);
    }
    builder.finish()
}

#[test]
fn spilled_rows_print_as_rows_kept_in_memory() {
    for events in [failed_apply(), interrupted_run()] {
        let spilled = Report::from_events(&events);
        assert!(
            spilled
                .steps
                .rows
                .iter()
                .any(|r| matches!(r, Row::Spilled { .. })),
            "nothing was spilled"
        );
        let memory = in_memory(&events);
        assert!(memory
            .steps
            .rows
            .iter()
            .all(|r| matches!(r, Row::Memory(_))));
        assert!(printed(&spilled) == printed(&memory));
        assert_eq!(spilled, memory);
    }
}

#[test]
fn an_event_about_a_step_after_its_row_was_written_is_not_lost() {
    let events = failed_apply();
    // Every message and decision moved after the end of its step: the rows are
    // read back and written again, and the report is the same.
    let late = |e: &Event| {
        matches!(
            e,
            Event::Message { .. } | Event::Retrying { .. } | Event::WorkflowStep { .. }
        )
    };
    let mut moved: Vec<Event> = events.iter().filter(|e| !late(e)).cloned().collect();
    let last = moved.pop().unwrap();
    moved.extend(events.iter().filter(|e| late(e)).cloned());
    moved.push(last);
    assert_ne!(moved, events);
    assert!(printed(&Report::from_events(&events)) == printed(&Report::from_events(&moved)));
}

#[test]
fn a_null_output_reads_back_as_null() {
    let events = vec![
        started(1, "host-ops", Some("noop"), None, 1),
        finished(
            1,
            "host-ops",
            Some("noop"),
            None,
            Outcome::Succeeded,
            1,
            0,
            Some(Json::Null),
            None,
        ),
    ];
    let (_, json) = printed(&Report::from_events(&events));
    let (_, memory) = printed(&in_memory(&events));
    assert_eq!(
        String::from_utf8_lossy(&json),
        String::from_utf8_lossy(&memory)
    );
    assert!(String::from_utf8_lossy(&json).contains("\"output\": null"));
}

fn decided(step: u64, id: &str, decision: WorkflowDecision) -> Event {
    Event::WorkflowStep {
        at: at(),
        step,
        id: id.into(),
        decision,
        reason: None,
        node: None,
    }
}

#[test]
fn a_step_undone_after_its_row_was_written_reads_compensated() {
    let ok = |step, action| {
        [
            started(step, "host-ops", Some(action), None, 1),
            finished(
                step,
                "host-ops",
                Some(action),
                None,
                Outcome::Succeeded,
                1,
                0,
                Some(json!({"done": step})),
                None,
            ),
        ]
    };
    let mut events = vec![decided(1, "rotate", WorkflowDecision::Started)];
    events.extend(ok(1, "rotate-logs"));
    events.push(decided(1, "rotate", WorkflowDecision::Succeeded));
    events.push(decided(2, "rotate", WorkflowDecision::CompensationStarted));
    events.extend(ok(2, "unrotate"));
    events.push(decided(2, "rotate", WorkflowDecision::Compensated));
    let outcomes = |report: &Report| -> Vec<(Option<WorkflowOutcome>, bool)> {
        report
            .steps
            .iter()
            .map(|s| {
                let w = s.unwrap().workflow.unwrap();
                (w.outcome, w.compensation)
            })
            .collect()
    };
    let by_name = Report::from_events(&events);
    let mut builder = ReportBuilder::for_plan(HashMap::from([(2, 1)]));
    for event in &events {
        builder.push(event);
    }
    let by_id = builder.finish();
    let want = [(Some(WorkflowOutcome::Compensated), false), (None, true)];
    assert_eq!(outcomes(&by_name), want);
    assert_eq!(outcomes(&by_id), want);
    assert!(printed(&by_name) == printed(&in_memory(&events)));
    assert!(printed(&by_id) == printed(&by_name));
}

#[test]
fn a_spill_file_that_stops_taking_writes_loses_no_row() {
    use std::os::fd::AsRawFd;
    // As when the disk fills up mid-run: the first rows are written, then the file
    // refuses writes (here: the same file reopened read-only), and the rows after
    // that stay in memory, while the written ones still read back.
    let events = failed_apply();
    let mut builder = ReportBuilder::new();
    let half = events.len() / 2;
    for event in &events[..half] {
        builder.push(event);
    }
    let spill = builder.spill.as_mut().expect("a spill file");
    assert!(spill.end > 0, "nothing was written before the disk filled");
    let fd = spill.file.as_raw_fd();
    spill.file = File::open(format!("/proc/self/fd/{fd}")).expect("reopened read-only");
    for event in &events[half..] {
        builder.push(event);
    }
    let report = builder.finish();
    let rows = &report.steps.rows;
    assert!(rows.iter().any(|r| matches!(r, Row::Spilled { .. })));
    assert!(rows.iter().any(|r| matches!(r, Row::Memory(_))));
    let memory = in_memory(&events);
    assert!(printed(&report) == printed(&memory));
    assert_eq!(report, memory);
}
