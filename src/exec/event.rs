//! What execution reports as it goes: one [`Event`] per request, response, state
//! change, step outcome and EPS error, handed to a [`Sink`].
//!
//! The journal writes events as JSON lines; the report stage turns the same events
//! into live progress, plain progress lines and the final report. Nothing in `exec`
//! prints.

use std::sync::Mutex;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::eps::Eps;

/// A module's lifecycle state as execution moves it (the registry states of
/// DESIGN, plus where a run leaves a module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModuleState {
    /// Registered in the catalog; nothing run yet.
    Discovered,
    /// Registered and its required dependencies are satisfied.
    Available,
    /// Initialized and ready: work may be routed to it.
    Active,
    /// Reachable but failing health checks.
    Degraded,
    /// Not eligible for routing: it failed, or a module it requires did.
    Unavailable,
    /// Drained and shut down.
    Stopped,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did what it was asked.
    Succeeded,
    /// It failed; the event carries the EPS error.
    Failed,
    /// It was not run (a module it needs failed, the run was interrupted, or
    /// nothing is run for it); the event says why.
    Skipped,
}

/// How a workflow run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowEnd {
    /// Every step ran, or was skipped by its conditions; failures, if any, were
    /// under continue_on_error.
    Completed,
    /// A step failed without continue_on_error (`stopped_by`); compensations ran.
    Stopped,
    /// Ctrl-C: nothing new was started.
    Interrupted,
    /// A module it needs did not start, so no step ran.
    NotStarted,
}

/// A decision on a workflow step, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowDecision {
    /// Its needs and conditions held: it starts.
    Started,
    /// It will not run; the event says why.
    Skipped,
    /// It succeeded.
    Succeeded,
    /// It failed and stopped the workflow.
    Failed,
    /// It failed; `continue_on_error` let the workflow go on.
    FailedContinued,
    /// It was running when the second Ctrl-C killed it: the run's interruption,
    /// not a failure of the step, ended it, so it does not stop the workflow.
    Interrupted,
    /// Its compensation (the event's `step`) starts.
    CompensationStarted,
    /// Its compensation succeeded.
    Compensated,
    /// Its compensation failed.
    CompensationFailed,
    /// Its compensation is not run (the workflow did not stop, the step did not
    /// succeed, or the run was interrupted); the event says why.
    CompensationSkipped,
}

/// Which way a protocol message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// rune → plugin or module.
    Request,
    /// plugin or module → rune.
    Response,
}

/// Which protocol a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// One-shot plugin.
    Bpcs,
    /// Module SPI (JSON-RPC 2.0).
    Spi,
    /// RCS: the action execution request from the orchestrator to the providing
    /// module, from which each attempt's BPCS request or SPI `execute` is derived.
    Rcs,
}

/// One thing that happened during execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// The run began.
    RunStarted {
        /// When.
        at: Timestamp,
        /// `apply` or `run`.
        command: String,
        /// The command's correlation id.
        correlation_id: String,
        /// The command's W3C trace id.
        trace_id: String,
        /// Steps in the plan.
        steps: u64,
        /// At most this many steps run at once.
        parallelism: u64,
    },
    /// A break-glass acknowledgment (`--ack`, `--reason`) the run acts on, recorded
    /// before the action it allows.
    Acknowledged {
        /// When.
        at: Timestamp,
        /// The acknowledged action.
        action: String,
        /// Why it must run, as the operator gave it.
        reason: Option<String>,
    },
    /// Where a step's plugin runs, recorded before its first attempt: the node
    /// (`localhost`, or an inventory node) and how it is reached. Every later
    /// event of the step (`step` id) happened there.
    NodeAssigned {
        /// When.
        at: Timestamp,
        /// Plan step id.
        step: u64,
        /// The node's name.
        node: String,
        /// `local` or `ssh`.
        transport: String,
    },
    /// A wave of module phases or of actions began.
    WaveStarted {
        /// When.
        at: Timestamp,
        /// `startup`, `actions` or `shutdown`.
        stage: String,
        /// 1-based wave number within its stage.
        wave: u64,
        /// Modules (or actions) of the wave.
        members: Vec<String>,
    },
    /// A step (a module phase or an action attempt) began.
    StepStarted {
        /// When.
        at: Timestamp,
        /// Plan step id.
        step: u64,
        /// The module.
        module: String,
        /// The action, for an action step.
        action: Option<String>,
        /// The lifecycle phase, for a module step.
        phase: Option<String>,
        /// 1-based attempt.
        attempt: u64,
        /// The step's W3C span id.
        span_id: String,
    },
    /// A protocol message sent or received.
    Message {
        /// When.
        at: Timestamp,
        /// Plan step id.
        step: u64,
        /// Which way.
        direction: Direction,
        /// Which protocol.
        protocol: Protocol,
        /// The message as sent, or as parsed when received.
        message: Json,
    },
    /// A module moved between lifecycle states.
    StateChanged {
        /// When.
        at: Timestamp,
        /// The module.
        module: String,
        /// From.
        from: ModuleState,
        /// To.
        to: ModuleState,
        /// Why, for people.
        reason: Option<String>,
    },
    /// An attempt failed and will be tried again after a backoff.
    Retrying {
        /// When.
        at: Timestamp,
        /// Plan step id.
        step: u64,
        /// The attempt that failed.
        attempt: u64,
        /// Wait before the next attempt.
        backoff_ms: u64,
        /// Why it failed.
        error: Box<Eps>,
    },
    /// A step ended.
    StepFinished {
        /// When.
        at: Timestamp,
        /// Plan step id.
        step: u64,
        /// The module.
        module: String,
        /// The action, for an action step.
        action: Option<String>,
        /// The lifecycle phase, for a module step.
        phase: Option<String>,
        /// How it ended.
        outcome: Outcome,
        /// Attempts made.
        attempts: u64,
        /// Wall time in milliseconds (0 in the deterministic setting).
        duration_ms: u64,
        /// Why it was skipped, for a skipped step.
        reason: Option<String>,
        /// The result (`output_data` of a plugin, `result` of an SPI call).
        output: Option<Json>,
        /// The last lines of the process's stderr, escaped for display.
        stderr: Option<String>,
        /// The failure, for a failed step.
        error: Option<Box<Eps>>,
    },
    /// A workflow step was decided on: started, skipped (and why), finished, or
    /// compensated. The action's own attempts, output and error are in the
    /// `step_started` and `step_finished` events of the same `step`.
    WorkflowStep {
        /// When.
        at: Timestamp,
        /// Plan step id (of the compensation step, for a compensation).
        step: u64,
        /// The workflow step's id from the catalog.
        id: String,
        /// What was decided or how it ended.
        decision: WorkflowDecision,
        /// Why, for a skipped step.
        reason: Option<String>,
        /// The node this run of the step is on, when it is another machine
        /// (each node of a fan-out step is a run, and a step, of its own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// The workflow's steps and compensations are over.
    WorkflowFinished {
        /// When.
        at: Timestamp,
        /// The workflow.
        name: String,
        /// The step whose failure stopped the workflow, if one did.
        stopped_by: Option<String>,
        /// How it ended.
        ended: WorkflowEnd,
    },
    /// The operator pressed Ctrl-C (or sent SIGINT/SIGTERM).
    Interrupted {
        /// When.
        at: Timestamp,
        /// 1 for the first signal (stop scheduling, wind down), 2 for the second
        /// (kill what is left).
        count: u64,
    },
    /// The run ended.
    RunFinished {
        /// When.
        at: Timestamp,
        /// Whether everything asked for succeeded.
        succeeded: bool,
        /// Wall time in milliseconds (0 in the deterministic setting).
        duration_ms: u64,
    },
}

/// Where events go.
pub trait Sink: Sync {
    /// Record one event. Sinks keep their own failures (the journal reports a
    /// failed write at the end of the run); emitting never fails the step.
    fn emit(&self, event: &Event);
}

/// A sink that hands every event to several sinks, in order.
pub struct Fanout<'a>(pub Vec<&'a dyn Sink>);

impl Sink for Fanout<'_> {
    fn emit(&self, event: &Event) {
        for sink in &self.0 {
            sink.emit(event);
        }
    }
}

/// A sink that keeps every event in memory (for `rune run`'s one step and for
/// tests; `apply` folds its report as events arrive instead).
#[derive(Default)]
pub struct Collect(Mutex<Vec<Event>>);

impl Collect {
    /// The events so far.
    pub fn into_events(self) -> Vec<Event> {
        self.0
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Sink for Collect {
    fn emit(&self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event.clone());
    }
}
