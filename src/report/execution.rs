//! The final report of `rune apply` and `rune run`, built from the run's events.
//!
//! Execution reports [`Event`]s as it goes; the report is a fold over them, so the
//! journal, the progress and the report cannot disagree about what happened. It
//! holds every module's final lifecycle state (and how it got there), every step's
//! outcome, attempts, duration, output and EPS error, and each retry. Its JSON is
//! the [`Report`] itself, complete (EPS envelopes in full, outputs as the plugin
//! gave them); the human view is rendered from the same value, with every text a
//! plugin, a module or a catalog supplied escaped (`escape::untrusted`), long outputs and
//! stderr tails shortened.
//!
//! Deterministic: modules are listed in the order the startup waves named them
//! (then by name), steps by plan step id, so the same events, in whatever order
//! parallel workers emitted them, give byte-identical output.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value as Json;

use super::plural;
use crate::escape::untrusted;
use crate::exec::eps::Eps;
use crate::exec::event::{Event, ModuleState, Outcome, WorkflowDecision, WorkflowEnd};
use crate::ExitStatus;

/// The version of the report's JSON shape; bumped when a field changes meaning.
pub const FORMAT_VERSION: u64 = 1;

/// How the run ended as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Everything asked for succeeded.
    Succeeded,
    /// Something failed (a step, or a module that did not start).
    Failed,
    /// The operator interrupted it (Ctrl-C, SIGTERM).
    Interrupted,
    /// The events stop before the run finished (rune was killed mid-run).
    Unfinished,
}

/// How a step ended, or that it never did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It did what it was asked.
    Succeeded,
    /// It failed; `error` says why.
    Failed,
    /// It was not run; `reason` says why.
    Skipped,
    /// It started and never finished (the run was killed).
    Unfinished,
}

impl From<Outcome> for StepStatus {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Succeeded => StepStatus::Succeeded,
            Outcome::Failed => StepStatus::Failed,
            Outcome::Skipped => StepStatus::Skipped,
        }
    }
}

/// One move of a module between lifecycle states.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// From.
    pub from: ModuleState,
    /// To.
    pub to: ModuleState,
    /// Why, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A module's part in the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleReport {
    /// The module's name.
    pub module: String,
    /// Where the run left it (`discovered` when no state change was reported).
    pub state: ModuleState,
    /// Whether it was marked degraded at any point (a failed health check).
    pub degraded: bool,
    /// Every state change, in order.
    pub transitions: Vec<Transition>,
    /// Its steps (plan step ids), in order.
    pub steps: Vec<u64>,
}

/// An attempt that failed and was tried again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryReport {
    /// The attempt that failed.
    pub attempt: u64,
    /// How long rune waited before the next one.
    pub backoff_ms: u64,
    /// Why it failed.
    pub error: Eps,
}

/// A step's part in the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Plan step id.
    pub step: u64,
    /// The module.
    pub module: String,
    /// The action, for an action step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The lifecycle phase, for a module step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// How it ended.
    pub status: StepStatus,
    /// Attempts made.
    pub attempts: u64,
    /// Wall time in milliseconds (0 in the deterministic setting).
    pub duration_ms: u64,
    /// The W3C span id of its last attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What it returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Json>,
    /// The last lines of the process's stderr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Eps>,
    /// Failed attempts that were tried again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<RetryReport>,
    /// Protocol messages sent and received (the journal has them in full).
    pub messages: u64,
    /// For a workflow step or compensation: its place in the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowStepReport>,
}

/// How a workflow step ended, as the workflow sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowOutcome {
    /// It succeeded.
    Succeeded,
    /// It failed and stopped the workflow.
    Failed,
    /// It failed; `continue_on_error` let the workflow go on.
    FailedContinued,
    /// It was not run; `reason` says why.
    Skipped,
    /// It succeeded and, the workflow having stopped, was undone.
    Compensated,
    /// It succeeded; the workflow stopped and its compensation failed.
    CompensationFailed,
    /// It started and never finished.
    Unfinished,
}

/// A step's place in its workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowStepReport {
    /// The step id from the catalog (for a compensation: the step it undoes).
    pub id: String,
    /// How it ended (for a compensation step: its own status says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<WorkflowOutcome>,
    /// Whether this step is the compensation of step `id`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compensation: bool,
}

/// The workflow a run ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowReport {
    /// Its name.
    pub name: String,
    /// The step whose failure stopped it (exit 4), if one did.
    pub stopped_by: Option<String>,
    /// How it ended.
    pub ended: WorkflowEnd,
}

/// Step counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Steps that succeeded.
    pub succeeded: u64,
    /// Steps that failed.
    pub failed: u64,
    /// Steps not run.
    pub skipped: u64,
    /// Steps that started and never finished.
    pub unfinished: u64,
}

/// The final report of one `apply` or `run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always `execution`: tells the report apart from event lines on the same stream.
    pub report: &'static str,
    /// [`FORMAT_VERSION`].
    pub format_version: u64,
    /// `apply` or `run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// When it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Wall time in milliseconds (0 in the deterministic setting).
    pub duration_ms: u64,
    /// The command's correlation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The command's W3C trace id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Steps the plan held.
    pub planned_steps: u64,
    /// Signals received (1: stopped scheduling and wound down; 2: killed).
    pub interrupts: u64,
    /// Step counts.
    pub counts: Counts,
    /// Every module, in startup order.
    pub modules: Vec<ModuleReport>,
    /// Every step, by step id.
    pub steps: Vec<StepReport>,
    /// The workflow, for a workflow run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowReport>,
}

/// A report folded from events as they arrive, so a run of many steps holds its
/// report, not every event it emitted.
pub struct ReportBuilder {
    report: Report,
    // Workflow decisions by plan step id, applied once every step is known.
    decided: BTreeMap<u64, WorkflowStepReport>,
    step_of: HashMap<String, u64>,
    steps: BTreeMap<u64, StepReport>,
    modules: HashMap<String, ModuleReport>,
    // Startup order: the first wave (of any stage) that names the module.
    wave_rank: HashMap<String, (usize, u64)>,
    stage_order: Vec<String>,
    finished: Option<bool>,
}

impl Default for ReportBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReportBuilder {
    /// An empty report.
    pub fn new() -> ReportBuilder {
        let report = Report {
            report: "execution",
            format_version: FORMAT_VERSION,
            command: None,
            status: RunStatus::Unfinished,
            started_at: None,
            duration_ms: 0,
            correlation_id: None,
            trace_id: None,
            planned_steps: 0,
            interrupts: 0,
            counts: Counts::default(),
            modules: Vec::new(),
            steps: Vec::new(),
            workflow: None,
        };
        ReportBuilder {
            report,
            decided: BTreeMap::new(),
            step_of: HashMap::new(),
            steps: BTreeMap::new(),
            modules: HashMap::new(),
            wave_rank: HashMap::new(),
            stage_order: Vec::new(),
            finished: None,
        }
    }

    /// Fold one event in.
    pub fn push(&mut self, event: &Event) {
        let ReportBuilder {
            report,
            decided,
            step_of,
            steps,
            modules,
            wave_rank,
            stage_order,
            finished,
        } = self;
        let module_entry = |modules: &mut HashMap<String, ModuleReport>, name: &str| {
            if !modules.contains_key(name) {
                modules.insert(
                    name.to_string(),
                    ModuleReport {
                        module: name.to_string(),
                        state: ModuleState::Discovered,
                        degraded: false,
                        transitions: Vec::new(),
                        steps: Vec::new(),
                    },
                );
            }
        };

        match event {
            // Recorded in the journal and shown as progress; the report is about
            // what ran.
            Event::Acknowledged { .. } => {}
            Event::RunStarted {
                at,
                command,
                correlation_id,
                trace_id,
                steps,
                ..
            } => {
                report.command = Some(command.clone());
                report.started_at = Some(*at);
                report.correlation_id = Some(correlation_id.clone());
                report.trace_id = Some(trace_id.clone());
                report.planned_steps = *steps;
            }
            Event::WaveStarted {
                stage,
                wave,
                members,
                ..
            } => {
                let stage_index = match stage_order.iter().position(|s| s == stage) {
                    Some(i) => i,
                    None => {
                        stage_order.push(stage.clone());
                        stage_order.len() - 1
                    }
                };
                // Only module stages order modules; action waves name actions.
                if stage != "actions" {
                    for member in members {
                        wave_rank
                            .entry(member.clone())
                            .or_insert((stage_index, *wave));
                    }
                }
            }
            Event::StepStarted {
                step,
                module,
                action,
                phase,
                attempt,
                span_id,
                ..
            } => {
                module_entry(modules, module);
                let entry = steps
                    .entry(*step)
                    .or_insert_with(|| new_step(*step, module, action, phase));
                entry.attempts = entry.attempts.max(*attempt);
                entry.span_id = Some(span_id.clone());
            }
            Event::Message { step, .. } => {
                if let Some(entry) = steps.get_mut(step) {
                    entry.messages += 1;
                }
            }
            Event::StateChanged {
                module,
                from,
                to,
                reason,
                ..
            } => {
                module_entry(modules, module);
                let entry = modules.get_mut(module.as_str()).expect("just inserted");
                entry.state = *to;
                entry.degraded |= *to == ModuleState::Degraded;
                entry.transitions.push(Transition {
                    from: *from,
                    to: *to,
                    reason: reason.clone(),
                });
            }
            Event::Retrying {
                step,
                attempt,
                backoff_ms,
                error,
                ..
            } => {
                if let Some(entry) = steps.get_mut(step) {
                    entry.retries.push(RetryReport {
                        attempt: *attempt,
                        backoff_ms: *backoff_ms,
                        error: (**error).clone(),
                    });
                }
            }
            Event::StepFinished {
                step,
                module,
                action,
                phase,
                outcome,
                attempts,
                duration_ms,
                reason,
                output,
                stderr,
                error,
                ..
            } => {
                module_entry(modules, module);
                let entry = steps
                    .entry(*step)
                    .or_insert_with(|| new_step(*step, module, action, phase));
                entry.status = (*outcome).into();
                entry.attempts = *attempts;
                entry.duration_ms = *duration_ms;
                entry.reason = reason.clone();
                entry.output = output.clone();
                entry.stderr = stderr.clone();
                entry.error = error.as_deref().cloned();
            }
            Event::WorkflowStep {
                step, id, decision, ..
            } => {
                let outcome = match decision {
                    WorkflowDecision::Started => Some(WorkflowOutcome::Unfinished),
                    WorkflowDecision::Skipped => Some(WorkflowOutcome::Skipped),
                    WorkflowDecision::Succeeded => Some(WorkflowOutcome::Succeeded),
                    WorkflowDecision::Failed => Some(WorkflowOutcome::Failed),
                    WorkflowDecision::FailedContinued => Some(WorkflowOutcome::FailedContinued),
                    WorkflowDecision::CompensationStarted
                    | WorkflowDecision::CompensationSkipped => None,
                    WorkflowDecision::Compensated => Some(WorkflowOutcome::Compensated),
                    WorkflowDecision::CompensationFailed => {
                        Some(WorkflowOutcome::CompensationFailed)
                    }
                };
                let compensation = matches!(
                    decision,
                    WorkflowDecision::CompensationStarted
                        | WorkflowDecision::CompensationSkipped
                        | WorkflowDecision::Compensated
                        | WorkflowDecision::CompensationFailed
                );
                if compensation {
                    decided.insert(
                        *step,
                        WorkflowStepReport {
                            id: id.clone(),
                            outcome: None,
                            compensation: true,
                        },
                    );
                    // The compensated step's own outcome says it was undone.
                    if let (Some(outcome), Some(of)) = (outcome, step_of.get(id)) {
                        if let Some(entry) = decided.get_mut(of) {
                            entry.outcome = Some(outcome);
                        }
                    }
                } else {
                    step_of.insert(id.clone(), *step);
                    decided.insert(
                        *step,
                        WorkflowStepReport {
                            id: id.clone(),
                            outcome,
                            compensation: false,
                        },
                    );
                }
            }
            Event::WorkflowFinished {
                name,
                stopped_by,
                ended,
                ..
            } => {
                report.workflow = Some(WorkflowReport {
                    name: name.clone(),
                    stopped_by: stopped_by.clone(),
                    ended: *ended,
                });
            }
            Event::Interrupted { count, .. } => {
                report.interrupts = report.interrupts.max(*count);
            }
            Event::RunFinished {
                succeeded,
                duration_ms,
                ..
            } => {
                *finished = Some(*succeeded);
                report.duration_ms = *duration_ms;
            }
        }
    }

    /// The report of every event pushed.
    pub fn finish(self) -> Report {
        let ReportBuilder {
            mut report,
            decided,
            step_of: _,
            mut steps,
            mut modules,
            wave_rank,
            stage_order: _,
            finished,
        } = self;
        for (id, workflow) in decided {
            if let Some(entry) = steps.get_mut(&id) {
                entry.workflow = Some(workflow);
            }
        }
        for step in steps.values() {
            match step.status {
                StepStatus::Succeeded => report.counts.succeeded += 1,
                StepStatus::Failed => report.counts.failed += 1,
                StepStatus::Skipped => report.counts.skipped += 1,
                StepStatus::Unfinished => report.counts.unfinished += 1,
            }
            if let Some(module) = modules.get_mut(step.module.as_str()) {
                module.steps.push(step.step);
            }
        }
        report.status = match finished {
            _ if report.interrupts > 0 => RunStatus::Interrupted,
            // A workflow that did not stop succeeded, failures under
            // continue_on_error included (they are reported, not fatal).
            Some(true) if report.counts.failed == 0 || report.workflow.is_some() => {
                RunStatus::Succeeded
            }
            Some(_) => RunStatus::Failed,
            None => RunStatus::Unfinished,
        };
        let mut modules: Vec<ModuleReport> = modules.into_values().collect();
        modules.sort_by(|a, b| {
            let rank = |m: &ModuleReport| {
                wave_rank
                    .get(&m.module)
                    .copied()
                    .unwrap_or((usize::MAX, u64::MAX))
            };
            rank(a).cmp(&rank(b)).then_with(|| a.module.cmp(&b.module))
        });
        report.modules = modules;
        report.steps = steps.into_values().collect();
        report
    }
}

/// A sink that folds events into the final report as they arrive.
#[derive(Default)]
pub struct ReportSink(std::sync::Mutex<ReportBuilder>);

impl ReportSink {
    /// The report of every event emitted so far.
    pub fn finish(self) -> Report {
        self.0
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .finish()
    }
}

impl crate::exec::event::Sink for ReportSink {
    fn emit(&self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event);
    }
}

impl Report {
    /// Fold the run's events into its report.
    pub fn from_events(events: &[Event]) -> Report {
        let mut builder = ReportBuilder::new();
        for event in events {
            builder.push(event);
        }
        builder.finish()
    }

    /// The exit status the run ends with: 0 succeeded, 4 failed (or unfinished),
    /// 130 interrupted.
    pub fn exit_status(&self) -> ExitStatus {
        match self.status {
            RunStatus::Succeeded => ExitStatus::Success,
            RunStatus::Failed | RunStatus::Unfinished => ExitStatus::ExecutionFailed,
            RunStatus::Interrupted => ExitStatus::Interrupted,
        }
    }

    /// Write the report as one pretty-printed JSON document and a newline.
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, self)?;
        w.write_all(b"\n")
    }

    /// Write the report as one compact JSON line (after `--format json` event lines).
    pub fn write_json_line(&self, w: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer(&mut *w, self)?;
        w.write_all(b"\n")
    }
}

/// How the final report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// For people, on stdout; coloured when `color` (see [`stdout_color`]).
    Human {
        /// Whether to colour it.
        color: bool,
    },
    /// One pretty JSON document on stdout (`rune run --output json`, or
    /// `apply --format json` without event lines).
    JsonDocument,
    /// One compact JSON line on stdout, after the event lines of
    /// `apply --format json` ([`super::progress::ProgressMode::Json`]).
    JsonLine,
}

/// Whether a human report on stdout is coloured, from `--color` and `NO_COLOR`.
pub fn stdout_color(choice: crate::cli::ColorChoice) -> bool {
    use std::io::IsTerminal;
    super::use_color(choice, io::stdout().is_terminal())
}

/// Print the final report on stdout; returns the exit status the run ends with
/// ([`Report::exit_status`]), or 2 when stdout could not be written.
pub fn print(printer: &mut super::Printer, report: &Report, format: ReportFormat) -> ExitStatus {
    match format {
        ReportFormat::Human { color } => printer.out(&render_human(report, color)),
        ReportFormat::JsonDocument => printer.out_with(|w| report.write_json(w)),
        ReportFormat::JsonLine => printer.out_with(|w| report.write_json_line(w)),
    }
    printer.finish(report.exit_status())
}

fn new_step(
    step: u64,
    module: &str,
    action: &Option<String>,
    phase: &Option<String>,
) -> StepReport {
    StepReport {
        step,
        module: module.to_string(),
        action: action.clone(),
        phase: phase.clone(),
        status: StepStatus::Unfinished,
        attempts: 0,
        duration_ms: 0,
        span_id: None,
        reason: None,
        output: None,
        stderr: None,
        error: None,
        retries: Vec::new(),
        messages: 0,
        workflow: None,
    }
}

/// At most this many characters of a step's output in the human view.
const OUTPUT_SHOWN: usize = 160;
/// At most this many characters of an error's details in the human view.
const DETAILS_SHOWN: usize = 400;
/// At most this many last lines of stderr in the human view.
const STDERR_LINES_SHOWN: usize = 8;

/// ANSI styles for the human view (only when colour is on).
#[derive(Clone, Copy)]
pub(crate) struct Paint(pub(crate) bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
    pub(crate) fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
    pub(crate) fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    pub(crate) fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }
    pub(crate) fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
    pub(crate) fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
}

/// A duration for people: `0 ms`, `850 ms`, `1.2 s`, `2 min 03 s`.
pub(crate) fn human_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// What a step did, for people: `host-ops: disk-usage` or `secret-store: ready`.
pub(crate) fn step_label(module: &str, action: Option<&str>, phase: Option<&str>) -> String {
    match (action, phase) {
        (Some(action), _) => format!("{}: {}", untrusted(module), untrusted(action)),
        (None, Some(phase)) => format!("{} {}", untrusted(module), untrusted(phase)),
        (None, None) => untrusted(module).into_owned(),
    }
}

/// The word for a module state.
pub(crate) fn state_word(state: ModuleState) -> &'static str {
    match state {
        ModuleState::Discovered => "discovered",
        ModuleState::Available => "available",
        ModuleState::Active => "active",
        ModuleState::Degraded => "degraded",
        ModuleState::Unavailable => "unavailable",
        ModuleState::Stopped => "stopped",
    }
}

fn status_word(status: StepStatus, paint: Paint) -> String {
    match status {
        StepStatus::Succeeded => paint.green("succeeded"),
        StepStatus::Failed => paint.red("failed"),
        StepStatus::Skipped => paint.yellow("skipped"),
        StepStatus::Unfinished => paint.red("unfinished"),
    }
}

/// `text`, escaped, cut to `max` characters with an ellipsis saying how much is left.
fn shorten(text: &str, max: usize) -> String {
    let escaped = untrusted(text);
    let total = escaped.chars().count();
    if total <= max {
        return escaped.into_owned();
    }
    let kept: String = escaped.chars().take(max).collect();
    format!(
        "{kept}… ({} more characters; --format json shows all)",
        total - max
    )
}

/// The human report: headline, modules, steps, then every error in full.
pub fn render_human(report: &Report, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    let command = report.command.as_deref().unwrap_or("execution");
    let headline = match report.status {
        RunStatus::Succeeded => paint.green("succeeded"),
        RunStatus::Failed => paint.red("failed"),
        RunStatus::Interrupted => paint.yellow("interrupted"),
        RunStatus::Unfinished => paint.red("did not finish"),
    };
    let _ = write!(out, "{} {headline}", paint.bold(&format!("rune {command}")));
    if report.status != RunStatus::Unfinished {
        let _ = write!(out, " in {}", human_duration(report.duration_ms));
    }
    out.push('\n');
    if let (Some(correlation), Some(trace)) = (&report.correlation_id, &report.trace_id) {
        let _ = writeln!(
            out,
            "{}",
            paint.dim(&format!(
                "correlation {} · trace {}",
                untrusted(correlation),
                untrusted(trace)
            ))
        );
    }
    match report.interrupts {
        0 => {}
        1 => out
            .push_str("interrupted: stopped scheduling and wound down what had started (Ctrl-C)\n"),
        _ => out.push_str("interrupted twice: killed what was still running (Ctrl-C)\n"),
    }

    // Modules whose lifecycle nothing reported (the module of a `rune run` action)
    // have nothing to say here; the JSON lists them all.
    let modules: Vec<&ModuleReport> = report
        .modules
        .iter()
        .filter(|m| !m.transitions.is_empty())
        .collect();
    if !modules.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Modules"));
        let width = modules
            .iter()
            .map(|m| untrusted(&m.module).chars().count())
            .max()
            .unwrap_or(0);
        for module in modules {
            let name = untrusted(&module.module);
            let pad = " ".repeat(width - name.chars().count());
            let state = state_word(module.state);
            let state = match module.state {
                ModuleState::Active | ModuleState::Stopped => paint.green(state),
                ModuleState::Degraded => paint.yellow(state),
                ModuleState::Unavailable => paint.red(state),
                _ => state.to_string(),
            };
            let path: Vec<&str> = module
                .transitions
                .iter()
                .map(|t| state_word(t.to))
                .collect();
            let _ = write!(out, "  {name}{pad}  {state}");
            if path.len() > 1 {
                let _ = write!(out, "  {}", paint.dim(&format!("({})", path.join(" → "))));
            }
            if module.degraded && module.state != ModuleState::Degraded {
                let _ = write!(out, "  {}", paint.yellow("was degraded"));
            }
            // The last reason given is the one that explains where it ended.
            if let Some(reason) = module
                .transitions
                .iter()
                .rev()
                .find_map(|t| t.reason.as_ref())
            {
                let _ = write!(out, ": {}", untrusted(reason));
            }
            out.push('\n');
        }
    }

    if !report.steps.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Steps"));
        let id_width = report
            .steps
            .iter()
            .map(|s| s.step.to_string().len())
            .max()
            .unwrap_or(1);
        let labels: Vec<String> = report.steps.iter().map(full_label).collect();
        let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let words: Vec<(&str, String)> = report
            .steps
            .iter()
            .map(|s| outcome_word(s, paint))
            .collect();
        let word_width = words
            .iter()
            .map(|(plain, _)| plain.chars().count())
            .max()
            .unwrap_or(0)
            .max(10)
            + 1;
        for ((step, label), (plain, status)) in report.steps.iter().zip(&labels).zip(&words) {
            let pad = " ".repeat(label_width - label.chars().count());
            let status_pad = " ".repeat(word_width - plain.chars().count());
            let _ = write!(
                out,
                "  {:>id_width$}  {label}{pad}  {status}{status_pad}",
                step.step
            );
            match step.status {
                StepStatus::Skipped => {
                    if let Some(reason) = &step.reason {
                        let _ = write!(out, "{}", untrusted(reason));
                    }
                }
                StepStatus::Unfinished => {
                    let _ = write!(out, "attempt {} started, never finished", step.attempts);
                }
                _ => {
                    let _ = write!(
                        out,
                        "{}  {}",
                        plural(step.attempts as usize, "attempt"),
                        human_duration(step.duration_ms)
                    );
                    if let Some(error) = &step.error {
                        let _ = write!(
                            out,
                            "  {}",
                            paint.red(&format!("{} {}", error.error.code, kind_word(error)))
                        );
                    }
                }
            }
            out.push('\n');
            if let Some(output) = &step.output {
                if step.action.is_some() && !is_empty_json(output) {
                    let text = serde_json::to_string(output).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  {:>id_width$}  {}",
                        "",
                        paint.dim(&format!("output: {}", shorten(&text, OUTPUT_SHOWN)))
                    );
                }
            }
        }
    }

    let failures: Vec<&StepReport> = report
        .steps
        .iter()
        .filter(|s| s.error.is_some() || !s.retries.is_empty())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Errors"));
        for step in failures {
            let label = full_label(step);
            for retry in &step.retries {
                let _ = writeln!(
                    out,
                    "\n  step {} {label}, attempt {} (retried after {} ms):",
                    step.step, retry.attempt, retry.backoff_ms
                );
                render_eps(&mut out, &retry.error, None, paint);
            }
            if let Some(error) = &step.error {
                let _ = writeln!(
                    out,
                    "\n  step {} {label}{}:",
                    step.step,
                    if step.attempts > 1 {
                        format!(", attempt {}", step.attempts)
                    } else {
                        String::new()
                    }
                );
                render_eps(&mut out, error, step.stderr.as_deref(), paint);
            }
        }
    }

    let counts = report.counts;
    let mut parts = vec![format!("{} succeeded", counts.succeeded)];
    if counts.failed > 0 {
        parts.push(paint.red(&format!("{} failed", counts.failed)));
    }
    if counts.skipped > 0 {
        parts.push(paint.yellow(&format!("{} skipped", counts.skipped)));
    }
    if counts.unfinished > 0 {
        parts.push(paint.red(&format!("{} unfinished", counts.unfinished)));
    }
    let ran = report.steps.len() as u64;
    let _ = write!(
        out,
        "\n{}: {}",
        plural(ran as usize, "step"),
        parts.join(", ")
    );
    if report.planned_steps > ran {
        let _ = write!(
            out,
            "; {} of {} planned never started",
            report.planned_steps - ran,
            report.planned_steps
        );
    }
    out.push('\n');
    if let Some(workflow) = &report.workflow {
        match (&workflow.stopped_by, workflow.ended) {
            (_, WorkflowEnd::Interrupted) => {
                let _ = writeln!(
                    out,
                    "workflow `{}` {}: no new step was started",
                    untrusted(&workflow.name),
                    paint.red("interrupted")
                );
            }
            (_, WorkflowEnd::NotStarted) => {
                let _ = writeln!(
                    out,
                    "workflow `{}` {}: a module it needs did not start",
                    untrusted(&workflow.name),
                    paint.red("did not run")
                );
            }
            (Some(step), _) => {
                let undone = report
                    .steps
                    .iter()
                    .filter(|s| {
                        s.status != StepStatus::Skipped
                            && s.workflow.as_ref().is_some_and(|w| w.compensation)
                    })
                    .count();
                let _ = writeln!(
                    out,
                    "workflow `{}` {} after step `{}` failed; {} run",
                    untrusted(&workflow.name),
                    paint.red("stopped"),
                    untrusted(step),
                    plural(undone, "compensation")
                );
            }
            (None, _) => {
                let _ = writeln!(
                    out,
                    "workflow `{}` ran to its end",
                    untrusted(&workflow.name)
                );
            }
        }
    }
    out
}

/// A step's label: for a workflow step its id first (`rotate · host-ops:
/// rotate-logs`), for a compensation what it undoes.
fn full_label(step: &StepReport) -> String {
    let label = step_label(&step.module, step.action.as_deref(), step.phase.as_deref());
    match &step.workflow {
        Some(w) if w.compensation => format!("undo {} · {label}", untrusted(&w.id)),
        Some(w) => format!("{} · {label}", untrusted(&w.id)),
        None => label,
    }
}

/// The outcome word, plain and painted: a workflow step's outcome as the
/// workflow sees it, else the step's status.
fn outcome_word(step: &StepReport, paint: Paint) -> (&'static str, String) {
    let outcome = step.workflow.as_ref().and_then(|w| w.outcome);
    match outcome {
        Some(WorkflowOutcome::FailedContinued) => {
            let plain = "failed, continued";
            (plain, paint.yellow(plain))
        }
        Some(WorkflowOutcome::Compensated) => ("compensated", paint.yellow("compensated")),
        Some(WorkflowOutcome::CompensationFailed) => {
            let plain = "succeeded, compensation failed";
            (plain, paint.red(plain))
        }
        _ => {
            let plain = match step.status {
                StepStatus::Succeeded => "succeeded",
                StepStatus::Failed => "failed",
                StepStatus::Skipped => "skipped",
                StepStatus::Unfinished => "unfinished",
            };
            (plain, status_word(step.status, paint))
        }
    }
}

fn is_empty_json(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// The failure's kind as its snake_case name (`timeout`, `not_ready`).
pub(crate) fn kind_word(eps: &Eps) -> String {
    serde_json::to_value(eps.kind())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn render_eps(out: &mut String, eps: &Eps, stderr: Option<&str>, paint: Paint) {
    let context = &eps.error_context;
    let class = serde_json::to_value(context.error_classification)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let severity = serde_json::to_value(context.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "    {} {}: {}",
        paint.red(&format!("error[{}]", eps.error.code)),
        kind_word(eps),
        untrusted(&eps.error.message)
    );
    let retry = if context.retry_recommended {
        "retrying may help"
    } else {
        "retrying will not help"
    };
    let _ = writeln!(
        out,
        "    {} {class} · severity {severity} · affects the {} · {retry}",
        paint.dim("│"),
        untrusted(&context.system_impact)
    );
    if let Some(data) = &eps.error.data {
        if !is_empty_json(data) {
            let text = serde_json::to_string(data).unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} details: {}",
                paint.dim("│"),
                shorten(&text, DETAILS_SHOWN)
            );
        }
    }
    if let Some(stderr) = stderr.filter(|s| !s.trim().is_empty()) {
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        let skipped = lines.len().saturating_sub(STDERR_LINES_SHOWN);
        let _ = writeln!(
            out,
            "    {} stderr{}:",
            paint.dim("│"),
            if skipped > 0 {
                format!(" (last {STDERR_LINES_SHOWN} of {} lines)", lines.len())
            } else {
                String::new()
            }
        );
        for line in &lines[skipped..] {
            let _ = writeln!(
                out,
                "    {}   {}",
                paint.dim("│"),
                shorten(line, DETAILS_SHOWN)
            );
        }
    }
    for action in &context.recovery_actions {
        let _ = writeln!(out, "    {} {}", paint.dim("= help:"), untrusted(action));
    }
}

#[cfg(test)]
pub(crate) mod tests;
