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

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::plural;
use crate::escape::untrusted;
use crate::exec::eps::Eps;
use crate::exec::event::{Event, ModuleState, Outcome, WorkflowDecision, WorkflowEnd};
use crate::ExitStatus;

/// The version of the report's JSON shape; bumped when a field changes meaning.
pub(crate) const FORMAT_VERSION: u64 = 2;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryReport {
    /// The attempt that failed.
    pub attempt: u64,
    /// How long rune waited before the next one.
    pub backoff_ms: u64,
    /// Why it failed.
    pub error: Eps,
}

/// A step's part in the run.
// Deserialize: rows are written to the spill file and read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub output: Option<Json>,
    /// The last lines of the process's stderr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Eps>,
    /// Failed attempts that were tried again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<RetryReport>,
    /// Protocol messages sent and received (the journal has them in full).
    pub messages: u64,
    /// A plugin step's last BPCS response as the plugin wrote it, with its
    /// `message_metadata` and `observability` (as `rune run` keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_response: Option<Json>,
    /// For a workflow step or compensation: its place in the workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowStepReport>,
    /// The node it ran on, when that is another machine (over ssh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A field that is there, `null` included, is Some: a `null` output reads back
/// as written.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}

/// How a workflow step ended, as the workflow sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowOutcome {
    /// It succeeded.
    Succeeded,
    /// It failed and stopped the workflow.
    Failed,
    /// It failed; `continue_on_error` let the workflow go on.
    FailedContinued,
    /// The second Ctrl-C killed it while it ran; it did not stop the workflow.
    Interrupted,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStepReport {
    /// The step id from the catalog (for a compensation: the step it undoes).
    pub id: String,
    /// How it ended (for a compensation step: its own status says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<WorkflowOutcome>,
    /// Whether this step is the compensation of step `id`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
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
    pub steps: Steps,
    /// The workflow, for a workflow run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowReport>,
}

/// A report folded from events as they arrive, so a run of many steps holds its
/// report, not every event it emitted. Each step's row is written to an anonymous
/// temporary file ([`Steps`]) once the step finishes: what stays in memory per step
/// is a fixed-size [`Slot`], indexed by plan step id (ids are dense from 1).
pub(crate) struct ReportBuilder {
    report: Report,
    slots: Vec<Slot>,
    // Workflow decisions that came before their step's first event (a step is
    // decided, then started or skipped): at most the steps being started.
    early: HashMap<u64, WorkflowStepReport>,
    // The node of a step no event opened a row for yet (a step's node is named
    // before it starts): at most the steps being started.
    early_node: HashMap<u64, String>,
    // A compensation's plan step id -> the step it undoes. Given by the plan
    // (`for_plan`); without it, learned from the decisions' names (`step_of`).
    undoes: Option<HashMap<u64, u64>>,
    step_of: HashMap<String, u64>,
    spill: Option<Spill>,
    modules: Vec<ModuleReport>,
    module_index: HashMap<String, u32>,
    // Startup order: the first wave (of any stage) that names the module.
    wave_rank: HashMap<String, (usize, u64)>,
    stage_order: Vec<String>,
    finished: Option<bool>,
}

/// Where one step's row is while the run goes on.
#[derive(Debug, Default)]
enum Place {
    /// No event named it yet.
    #[default]
    Absent,
    /// Started (or finished, when the rows could not be spilled).
    Open(Box<StepReport>),
    /// Written to the spill file.
    Spilled { offset: u64, len: u32 },
}

/// What the builder keeps of one step: its row's place and what the final report
/// needs without reading the row back.
#[derive(Debug)]
struct Slot {
    place: Place,
    // A workflow outcome decided after the row was written (the step's own
    // success or failure, then its compensation's): applied when read back.
    outcome: Option<WorkflowOutcome>,
    status: StepStatus,
    module: u32,
    has_workflow: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            place: Place::Absent,
            outcome: None,
            status: StepStatus::Unfinished,
            module: 0,
            has_workflow: false,
        }
    }
}

/// The anonymous temporary file step rows are appended to (as compact JSON).
///
/// Each row is written at once, unbuffered: a row counts as spilled only once the
/// file holds it, so a disk that fills up mid-run costs no row already reported
/// as written (a buffer flushed at the end would lose them all).
struct Spill {
    file: File,
    end: u64,
    /// A write failed (the disk is full): later rows stay in memory, and the rows
    /// already written are still read back from the file.
    full: bool,
}

impl Spill {
    /// A new spill file, or None when none can be made (rows then stay in memory).
    fn create() -> Option<Spill> {
        let file = tempfile::tempfile().ok()?;
        Some(Spill {
            file,
            end: 0,
            full: false,
        })
    }

    /// Write `row`; None (and no more spilling) when it cannot be written whole.
    fn append(&mut self, row: &StepReport) -> Option<(u64, u32)> {
        use std::os::unix::fs::FileExt;
        if self.full {
            return None;
        }
        let bytes = serde_json::to_vec(row).ok()?;
        let written = u32::try_from(bytes.len())
            .ok()
            .filter(|_| self.file.write_all_at(&bytes, self.end).is_ok());
        let Some(len) = written else {
            self.full = true;
            return None;
        };
        let offset = self.end;
        self.end += u64::from(len);
        Some((offset, len))
    }

    fn read(&self, offset: u64, len: u32) -> io::Result<StepReport> {
        read_row(&self.file, offset, len, None)
    }
}

/// Read one row back from `file`, with a workflow outcome decided after it was written.
fn read_row(
    file: &File,
    offset: u64,
    len: u32,
    outcome: Option<WorkflowOutcome>,
) -> io::Result<StepReport> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0; len as usize];
    file.read_exact_at(&mut bytes, offset)?;
    let mut row: StepReport = serde_json::from_slice(&bytes)?;
    if let (Some(outcome), Some(workflow)) = (outcome, row.workflow.as_mut()) {
        workflow.outcome = Some(outcome);
    }
    Ok(row)
}

impl Default for ReportBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReportBuilder {
    /// An empty report.
    pub(crate) fn new() -> ReportBuilder {
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
            steps: Steps::default(),
            workflow: None,
        };
        ReportBuilder {
            report,
            slots: Vec::new(),
            early: HashMap::new(),
            early_node: HashMap::new(),
            undoes: None,
            step_of: HashMap::new(),
            // No spill file: rows stay in memory, as the run still needs a report.
            spill: Spill::create(),
            modules: Vec::new(),
            module_index: HashMap::new(),
            wave_rank: HashMap::new(),
            stage_order: Vec::new(),
            finished: None,
        }
    }

    /// An empty report for a plan whose compensation steps undo the steps
    /// `undoes` maps them to (compensation plan step id -> step id), so no name
    /// per step is kept to find them.
    pub(crate) fn for_plan(undoes: HashMap<u64, u64>) -> ReportBuilder {
        ReportBuilder {
            undoes: Some(undoes),
            ..ReportBuilder::new()
        }
    }

    fn module(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.module_index.get(name) {
            return i;
        }
        let i = self.modules.len() as u32;
        self.modules.push(ModuleReport {
            module: name.to_string(),
            state: ModuleState::Discovered,
            degraded: false,
            transitions: Vec::new(),
            steps: Vec::new(),
        });
        self.module_index.insert(name.to_string(), i);
        i
    }

    fn slot(&mut self, step: u64) -> &mut Slot {
        let i = step as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        &mut self.slots[i]
    }

    /// Step `step`'s row, in memory to be changed (read back if it was written;
    /// made from `make` if no event named it yet). None when it cannot be read back.
    fn open(
        &mut self,
        step: u64,
        make: impl FnOnce() -> Option<StepReport>,
    ) -> Option<&mut StepReport> {
        let early = &mut self.early;
        let early_node = &mut self.early_node;
        let spill = &mut self.spill;
        let i = step as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, Slot::default);
        }
        let slot = &mut self.slots[i];
        match std::mem::take(&mut slot.place) {
            Place::Absent => {
                let mut row = make()?;
                row.workflow = early.remove(&step);
                row.node = early_node.remove(&step);
                slot.place = Place::Open(Box::new(row));
            }
            Place::Open(row) => slot.place = Place::Open(row),
            Place::Spilled { offset, len } => {
                // Rare: an event about a step after its end. Its row is read back
                // and written again when it ends again.
                let read = spill.as_ref().map(|s| s.read(offset, len));
                match read {
                    Some(Ok(mut row)) => {
                        if let (Some(outcome), Some(w)) = (slot.outcome.take(), &mut row.workflow) {
                            w.outcome = Some(outcome);
                        }
                        slot.place = Place::Open(Box::new(row));
                    }
                    _ => {
                        slot.place = Place::Spilled { offset, len };
                        return None;
                    }
                }
            }
        }
        match &mut slot.place {
            Place::Open(row) => Some(row),
            _ => None,
        }
    }

    /// Step `step` ended: its row goes to the spill file.
    fn seal(&mut self, step: u64) {
        let Some(slot) = self.slots.get_mut(step as usize) else {
            return;
        };
        let Place::Open(row) = &slot.place else {
            return;
        };
        slot.status = row.status;
        slot.has_workflow = row.workflow.is_some();
        // When it cannot be written (the disk is full or gone) the row stays in
        // memory, so the report is still complete.
        if let Some((offset, len)) = self.spill.as_mut().and_then(|s| s.append(row)) {
            slot.place = Place::Spilled { offset, len };
        }
    }

    /// Record workflow decision `record` for step `step`.
    fn decide(&mut self, step: u64, record: WorkflowStepReport) {
        let i = step as usize;
        let written = self
            .slots
            .get(i)
            .is_some_and(|s| matches!(s.place, Place::Spilled { .. }) && s.has_workflow);
        if written {
            // A step's decisions all name the same id (and compensation or not):
            // only the outcome changes after its row was written.
            if record.outcome.is_some() {
                self.slots[i].outcome = record.outcome;
            }
            return;
        }
        let absent = self
            .slots
            .get(i)
            .is_none_or(|s| matches!(s.place, Place::Absent));
        if absent {
            self.early.insert(step, record);
            return;
        }
        if let Some(row) = self.open(step, || None) {
            row.workflow = Some(record);
        }
        if !matches!(self.slots[i].place, Place::Open(_)) {
            return;
        }
        // Re-opened only to add the record: written again as it had ended.
        let ended = match &self.slots[i].place {
            Place::Open(row) => row.status != StepStatus::Unfinished,
            _ => false,
        };
        if ended {
            self.seal(step);
        }
    }

    /// The step a compensation decided for undoes ended with `outcome`.
    fn undone(&mut self, of: u64, outcome: WorkflowOutcome) {
        if let Some(record) = self.early.get_mut(&of) {
            record.outcome = Some(outcome);
            return;
        }
        let Some(slot) = self.slots.get_mut(of as usize) else {
            return;
        };
        match &mut slot.place {
            Place::Absent => {}
            Place::Open(row) => {
                if let Some(w) = &mut row.workflow {
                    w.outcome = Some(outcome);
                }
            }
            Place::Spilled { .. } => {
                if slot.has_workflow {
                    slot.outcome = Some(outcome);
                }
            }
        }
    }

    /// Fold one event in.
    pub(crate) fn push(&mut self, event: &Event) {
        match event {
            // Recorded in the journal and shown as progress; the report is about
            // what ran.
            Event::Acknowledged { .. } => {}
            Event::NodeAssigned { step, node, .. } => self.assign_node(*step, node),
            Event::RunStarted { .. }
            | Event::WorkflowFinished { .. }
            | Event::Interrupted { .. }
            | Event::RunFinished { .. } => self.push_run(event),
            Event::WaveStarted {
                stage,
                wave,
                members,
                ..
            } => self.wave_started(stage, *wave, members),
            Event::StepStarted { .. }
            | Event::Message { .. }
            | Event::Retrying { .. }
            | Event::StepFinished { .. } => self.push_step(event),
            Event::StateChanged {
                module,
                from,
                to,
                reason,
                ..
            } => self.state_changed(module, *from, *to, reason.as_deref()),
            Event::WorkflowStep {
                step,
                id,
                decision,
                node,
                ..
            } => {
                if let Some(node) = node {
                    self.assign_node(*step, node);
                }
                self.workflow_step(*step, id, *decision);
            }
        }
    }

    /// An event about the whole run: its start, its end, an interrupt.
    fn push_run(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                at,
                command,
                correlation_id,
                trace_id,
                steps,
                ..
            } => {
                let report = &mut self.report;
                report.command = Some(command.clone());
                report.started_at = Some(*at);
                report.correlation_id = Some(correlation_id.clone());
                report.trace_id = Some(trace_id.clone());
                report.planned_steps = *steps;
            }
            Event::WorkflowFinished {
                name,
                stopped_by,
                ended,
                ..
            } => {
                self.report.workflow = Some(WorkflowReport {
                    name: name.clone(),
                    stopped_by: stopped_by.clone(),
                    ended: *ended,
                });
            }
            Event::Interrupted { count, .. } => {
                self.report.interrupts = self.report.interrupts.max(*count);
            }
            Event::RunFinished {
                succeeded,
                duration_ms,
                ..
            } => {
                self.finished = Some(*succeeded);
                self.report.duration_ms = *duration_ms;
            }
            _ => {}
        }
    }

    /// A wave of a stage started: the order modules are listed in.
    fn wave_started(&mut self, stage: &str, wave: u64, members: &[String]) {
        let stage_order = &mut self.stage_order;
        let stage_index = match stage_order.iter().position(|s| s == stage) {
            Some(i) => i,
            None => {
                stage_order.push(stage.to_string());
                stage_order.len() - 1
            }
        };
        // Only module stages order modules; action waves name actions.
        if stage != "actions" {
            for member in members {
                self.wave_rank
                    .entry(member.clone())
                    .or_insert((stage_index, wave));
            }
        }
    }

    /// An event about one step: it started, said something, is retried, ended.
    fn push_step(&mut self, event: &Event) {
        match event {
            Event::StepStarted {
                step,
                module,
                action,
                phase,
                attempt,
                span_id,
                ..
            } => {
                let m = self.module(module);
                self.slot(*step).module = m;
                if let Some(entry) =
                    self.open(*step, || Some(new_step(*step, module, action, phase)))
                {
                    entry.attempts = entry.attempts.max(*attempt);
                    entry.span_id = Some(span_id.clone());
                }
            }
            Event::Message {
                step,
                direction,
                protocol,
                message,
                ..
            } => {
                let ended = self.ended(*step);
                if let Some(entry) = self.open(*step, || None) {
                    entry.messages += 1;
                    if *direction == crate::exec::event::Direction::Response
                        && *protocol == crate::exec::event::Protocol::Bpcs
                    {
                        entry.plugin_response = Some(message.clone());
                    }
                }
                if ended {
                    self.seal(*step);
                }
            }
            Event::Retrying {
                step,
                attempt,
                backoff_ms,
                error,
                ..
            } => {
                let ended = self.ended(*step);
                if let Some(entry) = self.open(*step, || None) {
                    entry.retries.push(RetryReport {
                        attempt: *attempt,
                        backoff_ms: *backoff_ms,
                        error: (**error).clone(),
                    });
                }
                if ended {
                    self.seal(*step);
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
                let m = self.module(module);
                self.slot(*step).module = m;
                if let Some(entry) =
                    self.open(*step, || Some(new_step(*step, module, action, phase)))
                {
                    entry.status = (*outcome).into();
                    entry.attempts = *attempts;
                    entry.duration_ms = *duration_ms;
                    entry.reason = reason.clone();
                    entry.output = output.clone();
                    entry.stderr = stderr.clone();
                    entry.error = error.as_deref().cloned();
                }
                self.seal(*step);
            }
            _ => {}
        }
    }

    /// A module moved from one lifecycle state to another.
    fn state_changed(
        &mut self,
        module: &str,
        from: ModuleState,
        to: ModuleState,
        reason: Option<&str>,
    ) {
        let m = self.module(module) as usize;
        let entry = &mut self.modules[m];
        entry.state = to;
        entry.degraded |= to == ModuleState::Degraded;
        entry.transitions.push(Transition {
            from,
            to,
            reason: reason.map(str::to_string),
        });
    }

    /// Step `step` runs on `node` (another machine).
    fn assign_node(&mut self, step: u64, node: &str) {
        match self.slots.get_mut(step as usize).map(|s| &mut s.place) {
            Some(Place::Open(row)) => row.node = Some(node.to_string()),
            // Named before it ended: the row has it.
            Some(Place::Spilled { .. }) => {}
            _ => {
                self.early_node.insert(step, node.to_string());
            }
        }
    }

    /// The workflow decided a step or a compensation.
    fn workflow_step(&mut self, step: u64, id: &str, decision: WorkflowDecision) {
        let outcome = match decision {
            WorkflowDecision::Started => Some(WorkflowOutcome::Unfinished),
            WorkflowDecision::Skipped => Some(WorkflowOutcome::Skipped),
            WorkflowDecision::Succeeded => Some(WorkflowOutcome::Succeeded),
            WorkflowDecision::Failed => Some(WorkflowOutcome::Failed),
            WorkflowDecision::FailedContinued => Some(WorkflowOutcome::FailedContinued),
            WorkflowDecision::Interrupted => Some(WorkflowOutcome::Interrupted),
            WorkflowDecision::CompensationStarted | WorkflowDecision::CompensationSkipped => None,
            WorkflowDecision::Compensated => Some(WorkflowOutcome::Compensated),
            WorkflowDecision::CompensationFailed => Some(WorkflowOutcome::CompensationFailed),
        };
        let compensation = matches!(
            decision,
            WorkflowDecision::CompensationStarted
                | WorkflowDecision::CompensationSkipped
                | WorkflowDecision::Compensated
                | WorkflowDecision::CompensationFailed
        );
        if compensation {
            self.decide(
                step,
                WorkflowStepReport {
                    id: id.to_string(),
                    outcome: None,
                    compensation: true,
                },
            );
            // The compensated step's own outcome says it was undone.
            let of = match &self.undoes {
                Some(undoes) => undoes.get(&step).copied(),
                None => self.step_of.get(id).copied(),
            };
            if let (Some(outcome), Some(of)) = (outcome, of) {
                self.undone(of, outcome);
            }
        } else {
            if self.undoes.is_none() {
                self.step_of.insert(id.to_string(), step);
            }
            self.decide(
                step,
                WorkflowStepReport {
                    id: id.to_string(),
                    outcome,
                    compensation: false,
                },
            );
        }
    }

    /// Whether step `step`'s row was written (it ended).
    fn ended(&self, step: u64) -> bool {
        self.slots
            .get(step as usize)
            .is_some_and(|s| matches!(s.place, Place::Spilled { .. }))
    }

    /// The report of every event pushed.
    pub(crate) fn finish(self) -> Report {
        let ReportBuilder {
            mut report,
            slots,
            mut modules,
            wave_rank,
            spill,
            finished,
            ..
        } = self;
        // Rows not written stay in memory; written ones are read back from the
        // file as the report is printed.
        let file = spill.map(|s| Arc::new(s.file));
        let mut rows = Vec::new();
        for (id, slot) in slots.into_iter().enumerate() {
            let (row, status) = match slot.place {
                Place::Absent => continue,
                Place::Open(row) => {
                    let status = row.status;
                    (Row::Memory(row), status)
                }
                Place::Spilled { offset, len } => (
                    Row::Spilled {
                        step: id as u64,
                        offset,
                        len,
                        outcome: slot.outcome,
                    },
                    slot.status,
                ),
            };
            match status {
                StepStatus::Succeeded => report.counts.succeeded += 1,
                StepStatus::Failed => report.counts.failed += 1,
                StepStatus::Skipped => report.counts.skipped += 1,
                StepStatus::Unfinished => report.counts.unfinished += 1,
            }
            if let Some(module) = modules.get_mut(slot.module as usize) {
                module.steps.push(id as u64);
            }
            rows.push(row);
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
        report.steps = Steps { rows, file };
        report
    }
}

/// Every step's row, by plan step id: in memory, or in the run's spill file,
/// read back one row at a time each time the report is printed.
#[derive(Debug, Clone, Default)]
pub struct Steps {
    rows: Vec<Row>,
    file: Option<Arc<File>>,
}

#[derive(Debug, Clone)]
enum Row {
    Memory(Box<StepReport>),
    Spilled {
        step: u64,
        offset: u64,
        len: u32,
        outcome: Option<WorkflowOutcome>,
    },
}

impl Steps {
    /// How many steps the report lists.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each row in order, read back where it was spilled.
    pub fn iter(&self) -> impl Iterator<Item = io::Result<StepReport>> + '_ {
        self.rows.iter().map(|row| match row {
            Row::Memory(row) => Ok((**row).clone()),
            Row::Spilled {
                offset,
                len,
                outcome,
                ..
            } => match &self.file {
                Some(file) => read_row(file, *offset, *len, *outcome),
                None => Err(io::Error::other("the report's spill file was lost")),
            },
        })
    }

    /// Each row in order; a row that cannot be read back is shown as unfinished,
    /// with why (the human view has no other way to say it).
    fn rows(&self) -> impl Iterator<Item = StepReport> + '_ {
        (0..self.rows.len()).map(|k| self.row(k))
    }

    /// Row `k` (read back where it was spilled; shown as unfinished, with why,
    /// when it cannot be).
    fn row(&self, k: usize) -> StepReport {
        let (read, step) = match &self.rows[k] {
            Row::Memory(row) => (Ok((**row).clone()), row.step),
            Row::Spilled {
                step,
                offset,
                len,
                outcome,
            } => (
                match &self.file {
                    Some(file) => read_row(file, *offset, *len, *outcome),
                    None => Err(io::Error::other("the report's spill file was lost")),
                },
                *step,
            ),
        };
        read.unwrap_or_else(|e| {
            let mut lost = new_step(step, "?", &None, &None);
            lost.reason = Some(format!("its report row cannot be read back: {e}"));
            lost
        })
    }
}

impl PartialEq for Steps {
    fn eq(&self, other: &Steps) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| matches!((a, b), (Ok(a), Ok(b)) if a == b))
    }
}

impl Serialize for Steps {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for row in self.iter() {
            seq.serialize_element(&row.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// A sink that folds events into the final report as they arrive.
#[derive(Default)]
pub(crate) struct ReportSink(std::sync::Mutex<ReportBuilder>);

impl ReportSink {
    /// A sink for a plan whose compensations undo the steps `undoes` maps them to
    /// ([`ReportBuilder::for_plan`]).
    pub(crate) fn for_plan(undoes: HashMap<u64, u64>) -> ReportSink {
        ReportSink(std::sync::Mutex::new(ReportBuilder::for_plan(undoes)))
    }

    /// The report of every event emitted so far.
    pub(crate) fn finish(self) -> Report {
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
pub(crate) fn stdout_color(choice: crate::cli::ColorChoice) -> bool {
    use std::io::IsTerminal;
    super::use_color(choice, io::stdout().is_terminal())
}

/// Print the final report on stdout; returns the exit status the run ends with
/// ([`Report::exit_status`]), or 2 when stdout could not be written.
pub fn print(printer: &mut super::Printer, report: &Report, format: ReportFormat) -> ExitStatus {
    match format {
        ReportFormat::Human { color } => printer.out_with(|w| write_human(report, color, w)),
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
        plugin_response: None,
        workflow: None,
        node: None,
    }
}

/// At most this many characters of a step's output in the human view.
const OUTPUT_SHOWN: usize = 160;
/// At most this many characters of an error's details in the human view.
pub(crate) const DETAILS_SHOWN: usize = 400;
/// At most this many last lines of stderr in the human view.
pub(crate) const STDERR_LINES_SHOWN: usize = 8;

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
pub(crate) fn shorten(text: &str, max: usize) -> String {
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
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_human(report, color, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`render_human`] written to `w` a step at a time: the steps are read back one
/// by one (three times: widths, rows, errors), never held all at once.
pub(crate) fn write_human(report: &Report, color: bool, w: &mut impl Write) -> io::Result<()> {
    let paint = Paint(color);
    let mut out = String::new();
    write_headline(&mut out, report, paint);
    write_modules(&mut out, report, paint);
    let compensations = write_steps(&mut out, report, paint, w)?;
    write_errors(&mut out, report, paint, w)?;
    write_counts(&mut out, report, paint);
    if let Some(workflow) = &report.workflow {
        write_workflow_end(&mut out, workflow, &compensations, paint);
    }
    w.write_all(out.as_bytes())
}

/// The first lines: how the run ended, in how long, its ids and interrupts.
fn write_headline(out: &mut String, report: &Report, paint: Paint) {
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
}

/// The modules whose lifecycle the run reported, each with where it ended.
fn write_modules(out: &mut String, report: &Report, paint: Paint) {
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
}

/// One row per step; what the workflow's compensations did, for the last line.
/// Written out to `w` a row at a time: a report of many steps is not held whole.
fn write_steps(
    out: &mut String,
    report: &Report,
    paint: Paint,
    w: &mut impl Write,
) -> io::Result<CompensationTally> {
    // Counted while the rows are read for the widths, for the last line.
    let mut compensations = CompensationTally::default();
    if !report.steps.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Steps"));
        let (mut id_width, mut label_width, mut word_width) = (1, 0, 0);
        // With steps on other machines the rows are grouped by node: this
        // machine's first, then each node's by name, each in step order.
        let mut nodes: Vec<Option<String>> = Vec::with_capacity(report.steps.len());
        let mut failed: Vec<bool> = Vec::with_capacity(report.steps.len());
        for step in report.steps.rows() {
            id_width = id_width.max(step.step.to_string().len());
            label_width = label_width.max(full_label(&step).chars().count());
            word_width = word_width.max(outcome_word(&step, paint).0.chars().count());
            if step.workflow.as_ref().is_some_and(|w| w.compensation) {
                compensations.count(&step);
            }
            failed.push(step.status == StepStatus::Failed);
            nodes.push(step.node);
        }
        let grouped = nodes.iter().any(Option::is_some);
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        if grouped {
            order.sort_by(|&a, &b| nodes[a].cmp(&nodes[b]).then(a.cmp(&b)));
        }
        let word_width = word_width.max(10) + 1;
        // Rows sit under their node's heading.
        let indent = if grouped { "    " } else { "  " };
        for (n, &k) in order.iter().enumerate() {
            let step = report.steps.row(k);
            w.write_all(out.as_bytes())?;
            out.clear();
            if grouped && (n == 0 || nodes[order[n - 1]] != nodes[k]) {
                let group = || (0..nodes.len()).filter(|&j| nodes[j] == nodes[k]);
                let (ran, failures) = (group().count(), group().filter(|&j| failed[j]).count());
                let heading = match &nodes[k] {
                    Some(node) => format!("on {} (over ssh)", untrusted(node)),
                    None => "on this machine".to_string(),
                };
                let _ = write!(out, "  {}  {}", paint.bold(&heading), plural(ran, "step"));
                if failures > 0 {
                    let _ = write!(out, ", {}", paint.red(&format!("{failures} failed")));
                }
                out.push('\n');
            }
            let step = &step;
            let label = full_label(step);
            let (plain, status) = outcome_word(step, paint);
            let pad = " ".repeat(label_width - label.chars().count());
            let status_pad = " ".repeat(word_width - plain.chars().count());
            let _ = write!(
                out,
                "{indent}{:>id_width$}  {label}{pad}  {status}{status_pad}",
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
                            paint.red(&format!("{} {}", error.code(), kind_word(error)))
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
                        "{indent}{:>id_width$}  {}",
                        "",
                        paint.dim(&format!("output: {}", shorten(&text, OUTPUT_SHOWN)))
                    );
                }
            }
        }
    }
    Ok(compensations)
}

/// Each failed attempt's error, in full.
fn write_errors(
    out: &mut String,
    report: &Report,
    paint: Paint,
    w: &mut impl Write,
) -> io::Result<()> {
    let mut failures = report
        .steps
        .rows()
        .filter(|s| s.error.is_some() || !s.retries.is_empty())
        .peekable();
    if failures.peek().is_some() {
        let _ = writeln!(out, "\n{}", paint.bold("Errors"));
        for step in failures {
            w.write_all(out.as_bytes())?;
            out.clear();
            let step = &step;
            let mut label = full_label(step);
            if let Some(node) = &step.node {
                let _ = write!(label, " on {}", untrusted(node));
            }
            for retry in &step.retries {
                let _ = writeln!(
                    out,
                    "\n  step {} {label}, attempt {} (retried after {} ms):",
                    step.step, retry.attempt, retry.backoff_ms
                );
                super::eps::render(out, &retry.error, None, "    ", paint);
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
                super::eps::render(out, error, step.stderr.as_deref(), "    ", paint);
            }
        }
    }
    Ok(())
}

/// The step counts line.
fn write_counts(out: &mut String, report: &Report, paint: Paint) {
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
}

/// How the workflow ended, and what its compensations did.
fn write_workflow_end(
    out: &mut String,
    workflow: &WorkflowReport,
    compensations: &CompensationTally,
    paint: Paint,
) {
    match (&workflow.stopped_by, workflow.ended) {
        // Ctrl-C while a stopped workflow ran its handlers or compensations:
        // the stop, and what the compensations did, still explain exit 130.
        (Some(step), WorkflowEnd::Interrupted) => {
            let _ = writeln!(
                out,
                "workflow `{}` {} after step `{}` failed, then {}: no new step or compensation was started; {}",
                untrusted(&workflow.name),
                paint.red("stopped"),
                untrusted(step),
                paint.red("interrupted"),
                compensations.summary()
            );
        }
        (None, WorkflowEnd::Interrupted) => {
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
            let _ = writeln!(
                out,
                "workflow `{}` {} after step `{}` failed; {}",
                untrusted(&workflow.name),
                paint.red("stopped"),
                untrusted(step),
                compensations.summary()
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

/// What the compensations of a workflow did, for the report's last line.
#[derive(Default)]
struct CompensationTally {
    /// Started: a process ran (or was killed), whatever its outcome.
    run: usize,
    /// Started and failed.
    failed: usize,
    /// Failed with no attempt: refused before anything started (a reference
    /// that could not be filled). Not run, so not counted in `run`.
    failed_unstarted: usize,
}

impl CompensationTally {
    fn count(&mut self, step: &StepReport) {
        match step.status {
            StepStatus::Skipped => {}
            StepStatus::Failed if step.attempts == 0 => self.failed_unstarted += 1,
            StepStatus::Failed => {
                self.run += 1;
                self.failed += 1;
            }
            StepStatus::Succeeded | StepStatus::Unfinished => self.run += 1,
        }
    }

    /// `2 compensations run (1 failed), 1 failed before it started`.
    fn summary(&self) -> String {
        let mut text = format!("{} run", plural(self.run, "compensation"));
        if self.failed > 0 {
            let _ = write!(text, " ({} failed)", self.failed);
        }
        match self.failed_unstarted {
            0 => {}
            1 => text.push_str(", 1 failed before it started"),
            n => {
                let _ = write!(text, ", {n} failed before they started");
            }
        }
        text
    }
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
        Some(WorkflowOutcome::Interrupted) => ("interrupted", paint.yellow("interrupted")),
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

pub(crate) fn is_empty_json(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// The failure's kind as its snake_case name (`timeout`, `not_ready`).
pub(crate) fn kind_word(eps: &Eps) -> &'static str {
    eps.kind().name()
}

#[cfg(test)]
pub(crate) mod tests;
