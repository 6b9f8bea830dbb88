//! Plan stage: what `rune apply` will do, computed without running anything.
//!
//! Input is a checked registry and its graph plus a [`Request`] (targets, an action
//! with parameters, the instant, break-glass acknowledgments); output is a [`Plan`]:
//! startup waves, the action steps with their policy decisions, the shutdown order
//! and the critical path. Rendering lives in `report::plan`; nothing here prints,
//! reads files or looks at the clock, so the same inputs give the same plan.
//!
//! Rules the plan follows:
//! - Selection: with `--target`, the targets and everything they require,
//!   transitively; an optional dependency is planned only when it is selected
//!   itself (a target, or required by one), and then orders startup. With
//!   `--action`, also the providing module and what it requires; with neither,
//!   every module.
//! - Startup: waves from the DAG, each module going through register, initialize and
//!   ready; modules in a wave sorted by name. Actions run after all startup waves
//!   (so after their providing module is ready). Shutdown is the exact reverse of
//!   startup: waves last to first, modules in reverse order, each drain then
//!   shutdown. A plan therefore reads as one apply run: start, act, stop.
//! - Critical path: each module costs its `initialize_ms + ready_ms`; a timeout the
//!   catalog leaves out counts as the default ([`DEFAULT_INITIALIZE_MS`],
//!   [`DEFAULT_READY_MS`]). A module with nothing to run (`runtime: none`, or no
//!   `lifecycle`) costs nothing: no process is waited for.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

pub mod document;
pub mod drift;
pub(crate) mod programs;
pub(crate) mod root;
pub(crate) mod strict;
pub mod workflow;

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::graph::{CriticalPath, DependencyGraph};
use crate::policy::{self, Decision, PolicyInput, ResolvedSettings};
use crate::registry::{Module, Registry, Runtime};

/// `describe` timeout (register) when the catalog sets none.
pub(crate) const DEFAULT_DESCRIBE_MS: u64 = 5_000;
/// `initialize` timeout when the catalog sets none.
pub const DEFAULT_INITIALIZE_MS: u64 = 5_000;
/// `ready` timeout when the catalog sets none.
pub const DEFAULT_READY_MS: u64 = 10_000;
/// `drain` timeout when the catalog sets none.
pub(crate) const DEFAULT_DRAIN_MS: u64 = 10_000;
/// `shutdown` timeout when the catalog sets none.
pub(crate) const DEFAULT_SHUTDOWN_MS: u64 = 5_000;

/// A lifecycle phase, as a plan step.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Read the descriptor.
    Register,
    /// Hand over config and agree on the SPI version.
    Initialize,
    /// Probe until ready.
    Ready,
    /// Stop routing new work; let in-flight work finish.
    Drain,
    /// Release resources and exit.
    Shutdown,
}

/// The startup phases of every module, in order.
pub(crate) const STARTUP_PHASES: [Phase; 3] = [Phase::Register, Phase::Initialize, Phase::Ready];
/// The shutdown phases of every module, in order.
pub(crate) const SHUTDOWN_PHASES: [Phase; 2] = [Phase::Drain, Phase::Shutdown];

impl Phase {
    /// The name in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Register => "register",
            Phase::Initialize => "initialize",
            Phase::Ready => "ready",
            Phase::Drain => "drain",
            Phase::Shutdown => "shutdown",
        }
    }

    /// The phase's timeout for `module` and whether the catalog declared it
    /// (`false`: the default applies). `register` has no timeout of its own, and no
    /// phase of a module with nothing to run has one: no process is waited for,
    /// whatever the catalog declares.
    pub fn timeout(self, module: &Module) -> Option<(u64, bool)> {
        if module.lifecycle.runtime == Runtime::None {
            return None;
        }
        let t = &module.lifecycle.timeouts;
        let (declared, default) = match self {
            Phase::Register => return None,
            Phase::Initialize => (t.initialize_ms, DEFAULT_INITIALIZE_MS),
            Phase::Ready => (t.ready_ms, DEFAULT_READY_MS),
            Phase::Drain => (t.drain_ms, DEFAULT_DRAIN_MS),
            Phase::Shutdown => (t.shutdown_ms, DEFAULT_SHUTDOWN_MS),
        };
        Some(declared.map_or((default, false), |ms| (ms, true)))
    }
}

/// A module's worst-case startup time: initialize plus ready timeouts, or nothing
/// for a module with nothing to run.
pub fn startup_cost(module: &Module) -> u64 {
    // Saturation is out of reach: the schema bounds each timeout by 2^53 - 1.
    [Phase::Initialize, Phase::Ready]
        .iter()
        .filter_map(|p| p.timeout(module))
        .fold(0u64, |sum, (ms, _)| sum.saturating_add(ms))
}

/// Where the evaluation instant came from: `fixed` (`--at`) and
/// `source_date_epoch` (the SOURCE_DATE_EPOCH environment variable) are
/// reproducible; `now` is the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// `--at`: the plan is reproducible.
    Fixed,
    /// `SOURCE_DATE_EPOCH`: reproducible too, fixed by the environment.
    SourceDateEpoch,
    /// The wall clock: the plan records the instant it used.
    Now,
}

impl Clock {
    /// The name in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::Fixed => "fixed",
            Clock::SourceDateEpoch => "source_date_epoch",
            Clock::Now => "now",
        }
    }
}

/// What the operator asked to plan.
#[derive(Debug, Clone)]
pub struct Request {
    /// `--target` module names, as given.
    pub targets: Vec<String>,
    /// `--action` name.
    pub action: Option<String>,
    /// Action parameters, already typed (see `params`).
    pub params: Map<String, Json>,
    /// The instant policy is evaluated at.
    pub at: Timestamp,
    /// Whether `at` was given or read from the clock.
    pub clock: Clock,
    /// `--ack` action names.
    pub acks: Vec<String>,
    /// `--reason`.
    pub reason: Option<String>,
}

/// One action request in a plan.
#[derive(Debug, Clone)]
pub struct ActionStep {
    /// Registry index of the providing module.
    pub module: usize,
    /// Index of the action in that module's `actions`.
    pub action: usize,
    /// Parameters, validated against the input_schema.
    pub params: Map<String, Json>,
    /// Resolved timeout and retries.
    pub settings: ResolvedSettings,
    /// The policy decision.
    pub decision: Decision,
    /// The break-glass acknowledgment given for this action (`--ack`), with its reason.
    pub acknowledgment: Option<Acknowledgment>,
    /// Workflow steps: parameters filled at run time from other steps, sorted by
    /// pointer (`params` holds `null` there).
    pub references: Vec<document::Reference>,
    /// Workflow steps: where the step sits in its workflow.
    pub place: Option<workflow::StepPlace>,
}

impl ActionStep {
    /// The step and its compensation, if any.
    pub fn with_compensation(&self) -> impl Iterator<Item = &ActionStep> {
        std::iter::once(self).chain(self.place.as_ref().and_then(|p| p.compensate.as_deref()))
    }
}

/// A recorded `--ack`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgment {
    /// The acknowledged action.
    pub action: String,
    /// `--reason`, when given.
    pub reason: Option<String>,
}

/// A computed plan. Shutdown is not stored: it is the exact reverse of `startup`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What was asked.
    pub request: Request,
    /// Registry indices of the targets (empty: everything).
    pub targets: Vec<usize>,
    /// Startup waves of registry indices, each sorted by name.
    pub startup: Vec<Vec<usize>>,
    /// The longest startup chain.
    pub critical_path: CriticalPath,
    /// Action steps, run after startup (for a workflow: its steps in wave order).
    pub actions: Vec<ActionStep>,
    /// For `--workflow`: the workflow, its inputs and its step waves.
    pub workflow: Option<workflow::WorkflowPlan>,
}

impl Plan {
    /// Number of modules the plan starts.
    pub fn module_count(&self) -> usize {
        self.startup.iter().map(Vec::len).sum()
    }

    /// Shutdown waves: startup waves last to first, modules in reverse order.
    pub fn shutdown(&self) -> impl Iterator<Item = impl Iterator<Item = usize> + '_> + '_ {
        self.startup.iter().rev().map(|w| w.iter().rev().copied())
    }

    /// Every step: three per module to start and two to stop (none for a module
    /// with nothing to run), one per action.
    pub fn step_count(&self, registry: &Registry) -> usize {
        let running = self
            .startup
            .iter()
            .flatten()
            .filter(|&&m| registry.modules[m].lifecycle.runtime != Runtime::None)
            .count();
        running * (STARTUP_PHASES.len() + SHUTDOWN_PHASES.len()) + self.action_count()
    }

    /// Every action step and compensation.
    pub fn all_actions(&self) -> impl Iterator<Item = &ActionStep> {
        self.actions.iter().flat_map(ActionStep::with_compensation)
    }

    /// Action steps, compensations included.
    pub fn action_count(&self) -> usize {
        self.all_actions().count()
    }

    /// Action steps (and compensations) policy denied.
    pub fn denied(&self) -> usize {
        self.all_actions().filter(|a| !a.decision.allowed).count()
    }
}

/// Why a plan could not be made.
#[derive(Debug, Clone)]
pub enum PlanError {
    /// The request itself is wrong (unknown names, flags that do not fit): exit 2.
    Usage(Vec<Diagnostic>),
    /// The request is understood but invalid (bad parameters, a cycle): exit 1.
    Invalid(Vec<Diagnostic>),
}

/// The module with this name, or an `unknown_module` diagnostic with a suggestion.
pub(crate) fn find_module(
    registry: &Registry,
    name: &str,
    flag: &str,
) -> Result<usize, Diagnostic> {
    registry
        .modules
        .iter()
        .position(|m| m.name.value == name)
        .ok_or_else(|| {
            let d = Diagnostic::new(
                Code::UnknownModule,
                format!("{flag} names module `{name}`, which is not in the catalog"),
            );
            let mut names: Vec<&str> = registry
                .modules
                .iter()
                .map(|m| m.name.value.as_str())
                .collect();
            names.sort_unstable();
            match did_you_mean(name, names.iter().copied()) {
                Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                None => d.with_help("run `rune graph` to see every module"),
            }
        })
}

/// The (module, action) indices of the action with this name, or an
/// `unknown_action` diagnostic with a suggestion.
pub(crate) fn find_action(registry: &Registry, name: &str) -> Result<(usize, usize), Diagnostic> {
    for (m, module) in registry.modules.iter().enumerate() {
        if let Some(a) = module.actions.iter().position(|a| a.name.value == name) {
            return Ok((m, a));
        }
    }
    let mut names: Vec<&str> = registry
        .actions()
        .map(|(_, a)| a.name.value.as_str())
        .collect();
    names.sort_unstable();
    let d = Diagnostic::new(
        Code::UnknownAction,
        format!("--action names `{name}`, which no module provides"),
    );
    Err(match did_you_mean(name, names.iter().copied()) {
        Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
        None => d.with_help("run `rune list-actions` to see every action"),
    })
}

/// Compute the plan for `request`.
pub fn plan(
    registry: &Registry,
    graph: &DependencyGraph,
    request: Request,
) -> Result<Plan, PlanError> {
    let mut usage = Vec::new();
    let mut targets = Vec::new();
    for name in &request.targets {
        match find_module(registry, name, "--target") {
            Ok(m) => targets.push(m),
            Err(d) => usage.push(d),
        }
    }
    let action = match &request.action {
        Some(name) => match find_action(registry, name) {
            Ok(found) => Some(found),
            Err(d) => {
                usage.push(d);
                None
            }
        },
        None => None,
    };
    for ack in &request.acks {
        if request.action.as_deref() != Some(ack.as_str()) {
            usage.push(
                Diagnostic::new(
                    Code::UnknownAction,
                    format!("--ack `{ack}` does not name the action being planned"),
                )
                .with_help(match &request.action {
                    Some(a) => format!("acknowledge the planned action: `--ack {a}`"),
                    None => "--ack acknowledges the action given with --action".to_string(),
                }),
            );
        }
    }
    if !usage.is_empty() {
        return Err(PlanError::Usage(usage));
    }
    targets.sort_unstable();
    targets.dedup();

    let mut roots = targets.clone();
    roots.extend(action.map(|(m, _)| m));
    let selected = (!roots.is_empty()).then(|| graph.required_closure(registry, &roots));
    let startup = graph
        .startup_waves(registry, selected.as_deref())
        .map_err(|cycle| {
            let names: Vec<&str> = cycle
                .modules
                .iter()
                .map(|&m| registry.modules[m].name.value.as_str())
                .collect();
            PlanError::Invalid(vec![Diagnostic::new(
                Code::DependencyCycle,
                format!(
                    "cannot order startup: {} on or behind a dependency cycle",
                    names.join(", ")
                ),
            )
            .with_help("run `rune validate` to see the cycle")])
        })?;
    let critical_path = graph.critical_path(registry, &startup, startup_cost);
    let unknown_nodes = unknown_module_nodes(registry, &startup);
    if !unknown_nodes.is_empty() {
        return Err(PlanError::Invalid(unknown_nodes));
    }

    let mut actions = Vec::new();
    if let Some((m, a)) = action {
        let spec = &registry.modules[m].actions[a];
        // serde_json's map is ordered by key: equal parameters serialise identically.
        let params = request.params.clone();
        let invalid = crate::params::validate(&params, spec);
        if !invalid.is_empty() {
            return Err(PlanError::Invalid(invalid));
        }
        let policy = registry.policy();
        let input = PolicyInput {
            at: request.at,
            acks: &request.acks,
            reason: request.reason.as_deref(),
        };
        let acknowledgment = request
            .acks
            .contains(&spec.name.value)
            .then(|| Acknowledgment {
                action: spec.name.value.clone(),
                reason: request.reason.clone(),
            });
        actions.push(ActionStep {
            module: m,
            action: a,
            params,
            settings: policy::resolve_settings(policy, spec),
            decision: policy::decide(policy, spec, &input),
            acknowledgment,
            references: Vec::new(),
            place: None,
        });
    }
    Ok(Plan {
        request,
        targets,
        startup,
        critical_path,
        actions,
        workflow: None,
    })
}

/// A module process started on a node the inventory does not name: one located
/// diagnostic per module, with the closest name the inventory has.
fn unknown_module_nodes(registry: &Registry, startup: &[Vec<usize>]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for &m in startup.iter().flatten() {
        let module = &registry.modules[m];
        let Some(node) = &module.lifecycle.node else {
            continue;
        };
        if module.lifecycle.runtime != crate::registry::Runtime::Process {
            continue;
        }
        if let Err(unknown) = crate::exec::remote::check_node(&node.value) {
            let mut d = Diagnostic::new(
                Code::UnknownNode,
                format!(
                    "module `{}` runs on node {}: {}",
                    module.name.value,
                    crate::schema::quote(&node.value),
                    unknown.message
                ),
            )
            .with_label(node.span, "the node is named here");
            if let Some(help) = unknown.help {
                d = d.with_help(help);
            }
            problems.push(d);
        }
    }
    problems
}
