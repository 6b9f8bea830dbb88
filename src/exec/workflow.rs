//! Workflow runs: the steps of a workflow plan (`doc.actions`, each with its
//! `workflow` record), scheduled by their `needs`, `if`, `when` and
//! `continue_on_error`, then the compensations of a stopped workflow.
//!
//! Two layers. [`Scheduler`] is a deterministic state machine: given which steps
//! finished and how, it decides which steps start or are skipped next (and why),
//! and, at the end, which compensations run in which order. It holds no threads,
//! processes or values, so property tests drive it with random DAGs, outcomes and
//! completion orders ([`tests`]). [`run`] is the plumbing: it asks the scheduler,
//! fills each starting step's references from earlier steps' parameters and
//! outputs, runs it through mediation on a worker thread, and feeds the outcome
//! back. A step with `nodes` (a fan-out) runs once on each of its nodes, at most
//! its `forks` at once, each run a plan step of its own (its own id, events and
//! journal lines); the step succeeds when every node did, its output is the
//! nodes' outputs by node name, and its compensation runs on each node that
//! succeeded, reading that node's own output. Scheduling is O(steps + edges): each step's count of unfinished needs
//! goes down once per finished need, and ready steps wait in a heap ordered by plan
//! position (wave, then declaration order), so the same completion order always
//! gives the same run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::mpsc;
use std::sync::Mutex;

use serde_json::{json, Map, Value as Json};

use super::eps::{Eps, Kind, Origin};
use super::event::{Event, Outcome, WorkflowDecision, WorkflowEnd};
use super::lifecycle::Context;
use super::mediation::ActionResult;
use crate::plan::document::{ActionStep, PlanDocument, Reference, When, WhenTest};
use crate::registry::StepIf;

/// What the scheduler needs to know of one step.
#[derive(Debug, Clone)]
pub(crate) struct StepSpec {
    /// Indices (into the step list) of the steps it needs; each lower than its own.
    pub needs: Vec<usize>,
    /// Its outcome condition.
    pub condition: StepIf,
    /// Whether its failure lets the workflow go on.
    pub continue_on_error: bool,
    /// Whether it declares a compensation.
    pub compensates: bool,
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Not decided yet.
    Pending,
    /// Started, not finished.
    Running,
    /// It succeeded.
    Succeeded,
    /// It failed.
    Failed,
    /// It was not run. `tainted`: because something upstream failed or the
    /// workflow stopped (an `if: failure` step downstream runs).
    Skipped {
        /// Whether a failure caused the skip.
        tainted: bool,
    },
}

impl State {
    // Used by the property tests; the plumbing only needs the counts.
    #[cfg_attr(not(test), allow(dead_code))]
    fn finished(self) -> bool {
        !matches!(self, State::Pending | State::Running)
    }
    fn tainted(self) -> bool {
        matches!(self, State::Failed | State::Skipped { tainted: true })
    }
}

/// What the caller says about a step's `when`, once the step may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WhenVerdict {
    /// No `when`, or it holds.
    Run,
    /// It does not hold (or its reference cannot be resolved): skip, not tainted.
    Skip(String),
}

/// One decision of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Start step `.0`.
    Start(usize),
    /// Skip step `.0`, for reason `.1`.
    Skip(usize, String),
}

/// The workflow's state machine. `N` names a step in reasons: the run borrows
/// the plan's step ids (`&str`), so no name is copied per step.
#[derive(Debug)]
pub(crate) struct Scheduler<N = String> {
    specs: Vec<StepSpec>,
    names: Vec<N>,
    dependents: Vec<Vec<usize>>,
    unfinished_needs: Vec<usize>,
    state: Vec<State>,
    ready: BinaryHeap<Reverse<usize>>,
    running: usize,
    limit: usize,
    left: usize,
    /// The step whose failure stopped the workflow.
    stopped_by: Option<usize>,
    interrupted: bool,
    /// Succeeded or failed steps, in the order they finished.
    completed: Vec<usize>,
    /// Failed steps that succeeded on some of their nodes (a fan-out): they are
    /// compensated there.
    partial: Vec<bool>,
}

impl<N: AsRef<str>> Scheduler<N> {
    /// A scheduler for `specs` (named `names`, for reasons), at most `limit` at once.
    pub(crate) fn new(specs: Vec<StepSpec>, names: Vec<N>, limit: usize) -> Scheduler<N> {
        let n = specs.len();
        let mut dependents = vec![Vec::new(); n];
        let mut unfinished_needs = vec![0; n];
        let mut ready = BinaryHeap::new();
        for (i, spec) in specs.iter().enumerate() {
            for &need in &spec.needs {
                dependents[need].push(i);
            }
            unfinished_needs[i] = spec.needs.len();
            if spec.needs.is_empty() {
                ready.push(Reverse(i));
            }
        }
        Scheduler {
            specs,
            names,
            dependents,
            unfinished_needs,
            state: vec![State::Pending; n],
            ready,
            running: 0,
            limit: limit.max(1),
            left: n,
            stopped_by: None,
            interrupted: false,
            completed: Vec::new(),
            partial: vec![false; n],
        }
    }

    /// Every step has finished (succeeded, failed or skipped).
    pub(crate) fn done(&self) -> bool {
        self.left == 0
    }

    /// Steps running now.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    /// The step whose failure stopped the workflow, if one did.
    pub(crate) fn stopped_by(&self) -> Option<usize> {
        self.stopped_by
    }

    /// Where step `i` is.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn state(&self, i: usize) -> State {
        self.state[i]
    }

    /// Ctrl-C: nothing new starts; every pending step is skipped by the next
    /// [`Scheduler::next`], running steps finish.
    pub(crate) fn interrupt(&mut self) {
        self.interrupted = true;
    }

    /// Decide what can be decided now: skips (which may make more steps
    /// decidable) and starts, up to the parallelism limit. `when` is asked only
    /// about a step that would otherwise start.
    pub(crate) fn next(&mut self, mut when: impl FnMut(usize) -> WhenVerdict) -> Vec<Decision> {
        let mut out = Vec::new();
        if self.interrupted {
            for i in 0..self.state.len() {
                if self.state[i] == State::Pending {
                    self.finish(i, State::Skipped { tainted: true });
                    out.push(Decision::Skip(i, "interrupted: not started".to_string()));
                }
            }
            self.ready.clear();
            return out;
        }
        // A step that would start but finds no free slot waits at the head of the
        // heap: later ones (in plan order) wait behind it, so starts stay in order.
        while let Some(&Reverse(i)) = self.ready.peek() {
            let verdict = self.condition(i);
            match verdict {
                Err(reason) => {
                    self.ready.pop();
                    let tainted = reason.1;
                    self.finish(i, State::Skipped { tainted });
                    out.push(Decision::Skip(i, reason.0));
                }
                Ok(()) => {
                    if self.running >= self.limit {
                        break;
                    }
                    self.ready.pop();
                    match when(i) {
                        WhenVerdict::Run => {
                            self.state[i] = State::Running;
                            self.running += 1;
                            out.push(Decision::Start(i));
                        }
                        WhenVerdict::Skip(reason) => {
                            self.finish(i, State::Skipped { tainted: false });
                            out.push(Decision::Skip(i, reason));
                        }
                    }
                }
            }
        }
        // Nothing runs, nothing is ready, and steps are left: they need a step
        // that can never finish (a plan whose needs form a cycle; rune's planner
        // never makes one). Skipped, never waited on forever.
        if self.running == 0 && self.ready.is_empty() && self.left > 0 {
            for i in 0..self.state.len() {
                if self.state[i] == State::Pending {
                    self.state[i] = State::Skipped { tainted: true };
                    self.left -= 1;
                    out.push(Decision::Skip(
                        i,
                        "it needs a step that cannot finish first (the needs form a cycle)"
                            .to_string(),
                    ));
                }
            }
        }
        out
    }

    /// Step `i`, which was started, was killed by the run's interruption: it ends
    /// as failed for what needs it, but it is not the failure that stopped the
    /// workflow (the interruption is, and it stops scheduling by itself).
    pub(crate) fn interrupted(&mut self, i: usize) {
        debug_assert_eq!(self.state[i], State::Running);
        self.running -= 1;
        self.interrupted = true;
        self.finish(i, State::Failed);
    }

    /// Step `i`, which is ending failed, succeeded on some of its nodes: it is
    /// compensated like a step that succeeded (on those nodes).
    pub(crate) fn partly_succeeded(&mut self, i: usize) {
        self.partial[i] = true;
    }

    /// Step `i`, which was started, finished.
    pub(crate) fn finished(&mut self, i: usize, succeeded: bool) {
        debug_assert_eq!(self.state[i], State::Running);
        self.running -= 1;
        self.completed.push(i);
        if succeeded {
            self.finish(i, State::Succeeded);
        } else {
            if !self.specs[i].continue_on_error && self.stopped_by.is_none() {
                self.stopped_by = Some(i);
            }
            self.finish(i, State::Failed);
        }
    }

    /// The compensations to run once everything finished: the steps that
    /// succeeded (on every node, or on some: [`Scheduler::partly_succeeded`])
    /// and declare one, in reverse order of completion; none unless the workflow
    /// stopped (and none after Ctrl-C).
    pub(crate) fn compensations(&self) -> Vec<usize> {
        if self.stopped_by.is_none() || self.interrupted {
            return Vec::new();
        }
        self.completed
            .iter()
            .rev()
            .copied()
            .filter(|&i| {
                (self.state[i] == State::Succeeded || self.partial[i]) && self.specs[i].compensates
            })
            .collect()
    }

    fn finish(&mut self, i: usize, state: State) {
        self.state[i] = state;
        self.left -= 1;
        for k in 0..self.dependents[i].len() {
            let d = self.dependents[i][k];
            self.unfinished_needs[d] -= 1;
            if self.unfinished_needs[d] == 0 {
                self.ready.push(Reverse(d));
            }
        }
    }

    /// Whether decidable step `i` may run by its `if` (and the workflow's stop);
    /// else why not, and whether that skip is tainted.
    fn condition(&self, i: usize) -> Result<(), (String, bool)> {
        let spec = &self.specs[i];
        let name = |j: usize| self.names[j].as_ref();
        match spec.condition {
            StepIf::Success => {
                for &need in &spec.needs {
                    match self.state[need] {
                        State::Failed => {
                            return Err((format!("needed step `{}` failed", name(need)), true))
                        }
                        State::Skipped { tainted } => {
                            return Err((
                                format!("needed step `{}` was skipped", name(need)),
                                tainted,
                            ))
                        }
                        _ => {}
                    }
                }
                if let Some(stop) = self.stopped_by {
                    return Err((
                        format!("the workflow stopped after step `{}` failed", name(stop)),
                        true,
                    ));
                }
                Ok(())
            }
            StepIf::Failure => {
                if spec.needs.iter().any(|&n| self.state[n].tainted()) {
                    Ok(())
                } else {
                    Err(("no needed step failed".to_string(), false))
                }
            }
            StepIf::Always => Ok(()),
        }
    }
}

/// An action and how to run it (the executor's prepared action).
pub(crate) use super::apply::PreparedAction as Runnable;

/// How a workflow run ended.
pub(crate) struct Ended {
    /// A failure stopped it (exit 4), whether or not compensation succeeded.
    pub stopped: bool,
}

/// Runs one action step (the plumbing lends the executor's way of running
/// actions, so a step runs exactly as `--action` would).
pub(crate) trait StepRunner: Sync {
    /// Run `step` with `params` to its end (the runner watches the run's kill
    /// flag: a second Ctrl-C ends it).
    fn run(
        &self,
        step: &ActionStep,
        node: &str,
        runnable: &Runnable,
        params: &Map<String, Json>,
    ) -> ActionResult;
}

/// One run of a step: its plan step id and the node it runs on.
#[derive(Debug, Clone)]
struct Target {
    /// The run's plan step id (a fan-out's first node has the step's own).
    id: u64,
    /// The step id of the compensation's run on the same node, if any.
    compensate: Option<u64>,
    /// The node (`localhost` for this machine).
    node: String,
}

impl Target {
    /// The node, for events: None for this machine.
    fn remote(&self) -> Option<&str> {
        Some(self.node.as_str()).filter(|n| !super::remote::is_local(n))
    }
}

/// How one run of a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEnd {
    Succeeded,
    Failed,
    /// Killed by the second Ctrl-C.
    Killed,
    /// Never started: Ctrl-C came first.
    NotStarted,
}

/// How one run ended, and its output.
type RunResult = (RunEnd, Option<Json>);

/// A step (all its runs) ended: sent to the scheduling loop.
struct Done {
    step: usize,
    /// Each target's end, in target order.
    ends: Vec<RunEnd>,
}

/// The runs a workflow step was planned as: `(step id, node)`, one per node of a
/// fan-out, else the step's own id and its node when the plan names one. For
/// `compensation`, the ids of the compensation's runs.
pub(crate) fn planned_runs(step: &ActionStep, compensation: bool) -> Vec<(u64, Option<&str>)> {
    let place = step.workflow.as_ref();
    if let Some(fanout) = place.and_then(|w| w.fanout.as_ref()) {
        return fanout
            .nodes
            .iter()
            .filter_map(|n| {
                let id = if compensation { n.compensate? } else { n.step };
                Some((id, Some(n.node.as_str())))
            })
            .collect();
    }
    let id = if compensation {
        match place.and_then(|w| w.compensate.as_deref()) {
            Some(c) => c.id,
            None => return Vec::new(),
        }
    } else {
        step.id
    };
    vec![(id, place.and_then(|w| w.node.as_deref()))]
}

/// Run the workflow steps of `doc` (modules already started). `runnables[i]` is
/// `doc.actions[i]`'s; `compensations` maps a compensation step id to its own.
/// Returns how it ended.
pub(crate) fn run(
    doc: &PlanDocument,
    runnables: &[Runnable],
    compensations: &HashMap<u64, Runnable>,
    parallelism: usize,
    ctx: &Context,
    runner: &dyn StepRunner,
) -> Ended {
    let steps = &doc.actions;
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.workflow.as_ref().map(|w| (w.step.as_str(), i)))
        .collect();
    let mut scheduler = Scheduler::new(step_specs(steps, &index), step_names(steps), parallelism);
    let shared = Shared {
        ctx,
        steps,
        values: Values {
            doc,
            index: &index,
            inputs: doc.workflow.as_ref().map(|w| &w.inputs),
        },
        runnables,
        runner,
        outputs: Mutex::new(vec![None; steps.len()]),
    };
    let mut reads = Reads {
        readers: count_readers(steps, &index),
        ran_params: vec![RanWith::NotStarted; steps.len()],
        ran_on: vec![Vec::new(); steps.len()],
    };
    run_steps(&shared, &mut scheduler, &mut reads);
    let stopped = scheduler.stopped_by().is_some();
    let compensated = compensate(&shared, &scheduler.compensations(), compensations, &reads);
    record_compensations_not_run(ctx, steps, &compensated, stopped);
    if let Some(workflow) = &doc.workflow {
        ctx.sink.emit(&Event::WorkflowFinished {
            at: ctx.ids.now(),
            name: workflow.name.clone(),
            stopped_by: scheduler.stopped_by().map(|i| step_name(&steps[i])),
            ended: if ctx.stop.is_set() || ctx.kill.is_set() {
                WorkflowEnd::Interrupted
            } else if stopped {
                WorkflowEnd::Stopped
            } else {
                WorkflowEnd::Completed
            },
        });
    }
    Ended { stopped }
}

/// What the scheduling loop and the compensations share.
struct Shared<'a, 'c, 'r> {
    ctx: &'a Context<'c>,
    steps: &'a [ActionStep],
    values: Values<'a>,
    runnables: &'a [Runnable<'r>],
    runner: &'a dyn StepRunner,
    /// What each step returned, while read (see [`Reads`]).
    outputs: Mutex<Vec<Option<Json>>>,
}

/// How many steps not yet decided, and compensations, read each step's values, and
/// what each started step ran with. A step's output and filled params are kept
/// while that count is above zero: memory holds what later steps may read, not
/// every step's output. A compensation's reads are released only when the workflow
/// ends.
struct Reads {
    readers: Vec<u32>,
    /// What each step ran with (references filled), while read. A step without
    /// references borrows its plan params instead of a copy.
    ran_params: Vec<RanWith>,
    /// Where each started step ran, and how each run ended (what its
    /// compensation needs: it runs on the nodes where the step succeeded).
    ran_on: Vec<Vec<(Target, RunEnd)>>,
}

impl Reads {
    /// Step `i` was decided: the steps it reads have one reader less.
    fn release(&mut self, shared: &Shared<'_, '_, '_>, i: usize) {
        for p in read_steps(&shared.steps[i], shared.values.index) {
            self.readers[p] -= 1;
            if self.readers[p] == 0 {
                self.ran_params[p] = RanWith::NotStarted;
                lock(&shared.outputs)[p] = None;
            }
        }
    }
}

/// What the scheduler needs to know of each step.
fn step_specs(steps: &[ActionStep], index: &HashMap<&str, usize>) -> Vec<StepSpec> {
    steps
        .iter()
        .map(|s| {
            let w = s.workflow.as_ref();
            StepSpec {
                needs: w
                    .map(|w| {
                        w.needs
                            .iter()
                            .filter_map(|n| index.get(n.as_str()).copied())
                            .collect()
                    })
                    .unwrap_or_default(),
                condition: w.map_or(StepIf::Success, |w| w.condition),
                continue_on_error: w.is_some_and(|w| w.continue_on_error),
                compensates: w.is_some_and(|w| w.compensate.is_some()),
            }
        })
        .collect()
}

/// Each step's workflow id (its action when it has none).
fn step_names(steps: &[ActionStep]) -> Vec<&str> {
    steps
        .iter()
        .map(|s| {
            s.workflow
                .as_ref()
                .map_or(s.action.as_str(), |w| w.step.as_str())
        })
        .collect()
}

/// How many steps and compensations read each step's values (see [`Reads`]).
fn count_readers(steps: &[ActionStep], index: &HashMap<&str, usize>) -> Vec<u32> {
    let mut readers = vec![0u32; steps.len()];
    for step in steps {
        for p in read_steps(step, index) {
            readers[p] += 1;
        }
        if let Some(comp) = step.workflow.as_ref().and_then(|w| w.compensate.as_deref()) {
            for p in read_steps(comp, index) {
                readers[p] += 1;
            }
        }
    }
    readers
}

/// Run the steps as the scheduler decides, until every step is decided (or the
/// run is interrupted).
fn run_steps(shared: &Shared<'_, '_, '_>, scheduler: &mut Scheduler<&str>, reads: &mut Reads) {
    let ctx = shared.ctx;
    // None: a Ctrl-C, which wakes the scheduler like a finished step does: it
    // never looks now and then.
    let (tx, rx) = mpsc::channel::<Option<Done>>();
    for flag in [&ctx.stop, &ctx.kill] {
        let tx = tx.clone();
        flag.on_set(move || {
            let _ = tx.send(None);
        });
    }
    std::thread::scope(|scope| {
        let pool = super::pool::Pool::new(scope);
        run_steps_on(&pool, shared, scheduler, reads, &rx, &tx);
    });
}

/// The scheduler's loop of [`run_steps`], its steps run by `pool`'s threads.
fn run_steps_on<'scope, 'env>(
    pool: &super::pool::Pool<'scope, 'env>,
    shared: &'env Shared<'env, '_, '_>,
    scheduler: &mut Scheduler<&str>,
    reads: &mut Reads,
    rx: &mpsc::Receiver<Option<Done>>,
    tx: &mpsc::Sender<Option<Done>>,
) {
    let ctx = shared.ctx;
    loop {
        if ctx.stop.is_set() || ctx.kill.is_set() {
            ctx.note_interrupts();
            scheduler.interrupt();
        }
        let decisions = {
            let outputs = lock(&shared.outputs);
            scheduler.next(|i| {
                match &shared.steps[i]
                    .workflow
                    .as_ref()
                    .and_then(|w| w.when.as_ref())
                {
                    Some(when) => shared.values.when(when, &reads.ran_params, &outputs),
                    None => WhenVerdict::Run,
                }
            })
        };
        for decision in decisions {
            match decision {
                Decision::Skip(i, reason) => skip_step(shared, reads, i, &reason),
                Decision::Start(i) => start_step(pool, shared, reads, i, tx),
            }
        }
        if scheduler.done() {
            break;
        }
        // Wake for a finished step, or for Ctrl-C.
        match rx.recv() {
            Ok(first) => {
                for done in std::iter::once(first)
                    .chain(std::iter::from_fn(|| rx.try_recv().ok()))
                    .flatten()
                {
                    settle(shared, scheduler, reads, done);
                }
            }
            Err(mpsc::RecvError) => break,
        }
    }
}

/// The scheduler skipped step `i` (each of its nodes, for a fan-out).
fn skip_step(shared: &Shared<'_, '_, '_>, reads: &mut Reads, i: usize, reason: &str) {
    reads.release(shared, i);
    let step = &shared.steps[i];
    for (id, node) in planned_runs(step, false) {
        let name = step_name(step);
        decide_as(
            shared.ctx,
            id,
            &name,
            WorkflowDecision::Skipped,
            Some(reason),
            node,
        );
        shared
            .ctx
            .skipped(id, &step.module, None, Some(&step.action), reason, None);
    }
}

/// Where step `step` runs: each node of its fan-out, or its one node (`node`,
/// resolved when it was read from an earlier step).
fn targets_of(step: &ActionStep, node: Option<String>) -> Vec<Target> {
    let place = step.workflow.as_ref();
    let comp = place.and_then(|w| w.compensate.as_deref()).map(|c| c.id);
    if let Some(fanout) = place.and_then(|w| w.fanout.as_ref()) {
        return fanout
            .nodes
            .iter()
            .map(|n| Target {
                id: n.step,
                compensate: n.compensate,
                node: n.node.clone(),
            })
            .collect();
    }
    let node = node
        .or_else(|| place.and_then(|w| w.node.clone()))
        .unwrap_or_else(|| "localhost".to_string());
    vec![Target {
        id: step.id,
        compensate: comp,
        node,
    }]
}

/// How many runs of step `step` go at once: its fan-out's `forks`, else one.
fn forks_of(step: &ActionStep) -> usize {
    step.workflow
        .as_ref()
        .and_then(|w| w.fanout.as_ref())
        .map_or(1, |f| usize::try_from(f.forks).unwrap_or(usize::MAX).max(1))
}

/// Start step `i` on a thread of `pool`, its references filled; it reports on
/// `tx` when every run of it ended.
fn start_step<'scope, 'env: 'scope>(
    pool: &super::pool::Pool<'scope, 'env>,
    shared: &'env Shared<'env, '_, '_>,
    reads: &mut Reads,
    i: usize,
    tx: &mpsc::Sender<Option<Done>>,
) {
    let ctx = shared.ctx;
    let step = &shared.steps[i];
    let fans_out = step.workflow.as_ref().is_some_and(|w| w.fanout.is_some());
    if !fans_out {
        let node = step.workflow.as_ref().and_then(|w| w.node.as_deref());
        decide_as(
            ctx,
            step.id,
            &step_name(step),
            WorkflowDecision::Started,
            None,
            node,
        );
    }
    let (filled, node) = {
        let outputs = lock(&shared.outputs);
        (
            shared
                .values
                .fill(step, &step.references, &reads.ran_params, &outputs, None),
            shared.values.node(step, &reads.ran_params, &outputs),
        )
    };
    reads.release(shared, i);
    // Decided like any failure (continue_on_error included) when the loop
    // receives it.
    let failed_before = |kind: Kind, message: (String, Json), targets: &[Target]| {
        for target in targets {
            if fans_out {
                decide_as(
                    ctx,
                    target.id,
                    &step_name(step),
                    WorkflowDecision::Started,
                    None,
                    target.remote(),
                );
            }
            fail_before_start(ctx, step, target.id, target.remote(), kind, message.clone());
        }
        let _ = tx.send(Some(Done {
            step: i,
            ends: vec![RunEnd::Failed; targets.len()],
        }));
    };
    // A node read from an earlier step is routed to as if the catalog named it.
    let node = match node {
        Ok(node) => node,
        Err(message) => {
            let mut targets = targets_of(step, None);
            // Where it would have run is what could not be read.
            for target in &mut targets {
                target.node = "localhost".to_string();
            }
            failed_before(Kind::RoutingFailure, message, &targets);
            return;
        }
    };
    let targets = targets_of(step, node);
    let filled = match filled {
        Ok(params) => params,
        Err(message) => {
            failed_before(Kind::InvalidParams, message, &targets);
            reads.ran_on[i] = targets.into_iter().map(|t| (t, RunEnd::Failed)).collect();
            return;
        }
    };
    let tx = tx.clone();
    let outputs = &shared.outputs;
    let runnable = &shared.runnables[i];
    if reads.readers[i] > 0 {
        reads.ran_params[i] = match &filled {
            Some(params) => RanWith::Filled(params.clone()),
            None => RanWith::PlanParams,
        };
    }
    reads.ran_on[i] = targets
        .iter()
        .map(|t| (t.clone(), RunEnd::NotStarted))
        .collect();
    // A thread that cannot be created runs the step here.
    pool.run(move || {
        let params = filled.as_ref().unwrap_or(&step.params);
        let name = step_name(step);
        let results = run_targets(
            shared,
            step,
            runnable,
            &targets,
            forks_of(step),
            |t| t.id,
            |_| Ok(std::borrow::Cow::Borrowed(params)),
            |target| {
                if fans_out {
                    decide_as(
                        ctx,
                        target.id,
                        &name,
                        WorkflowDecision::Started,
                        None,
                        target.remote(),
                    );
                }
            },
        );
        let output = if fans_out {
            // The nodes' outputs by node name: what `steps.ID.output` reads.
            let by_node: Map<String, Json> = targets
                .iter()
                .zip(&results)
                .filter(|(_, (end, _))| *end == RunEnd::Succeeded)
                .map(|(t, (_, output))| (t.node.clone(), output.clone().unwrap_or(Json::Null)))
                .collect();
            Some(Json::Object(by_node))
        } else {
            results.first().and_then(|(_, output)| output.clone())
        };
        if let Some(output) = output {
            lock(outputs)[i] = Some(output);
        }
        let ends = results.into_iter().map(|(end, _)| end).collect();
        // Sent once this thread is idle, so the step it lets start can have it.
        Box::new(move || {
            let _ = tx.send(Some(Done { step: i, ends }));
        })
    });
}

/// Run `step` once per target, at most `forks` at once (in target order as
/// slots free up), each run under its own step id (`id_of`) with its own
/// parameters (`params`); `on_start` is told of each run as it starts. Each
/// target's end and output, in target order; after Ctrl-C the targets not yet
/// started are put on record as skipped.
#[allow(clippy::too_many_arguments)] // steps and compensations each call it once
fn run_targets<'p>(
    shared: &Shared<'_, '_, '_>,
    step: &ActionStep,
    runnable: &Runnable,
    targets: &[Target],
    forks: usize,
    id_of: impl Fn(&Target) -> u64 + Sync,
    params: impl Fn(usize) -> Result<std::borrow::Cow<'p, Map<String, Json>>, (String, Json)> + Sync,
    on_start: impl Fn(&Target) + Sync,
) -> Vec<RunResult> {
    let ctx = shared.ctx;
    let run_one = |k: usize| -> RunResult {
        let target = &targets[k];
        let id = id_of(target);
        // A fan-out starts no further node after Ctrl-C (a single run is the
        // step itself: mediation sees the stop).
        if targets.len() > 1 && (ctx.stop.is_set() || ctx.kill.is_set()) {
            let why = "interrupted: not started";
            decide_as(
                ctx,
                id,
                &step_name(step),
                WorkflowDecision::Skipped,
                Some(why),
                target.remote(),
            );
            ctx.skipped(id, &step.module, None, Some(&step.action), why, None);
            return (RunEnd::NotStarted, None);
        }
        on_start(target);
        // Each run is a plan step of its own: the step under the run's id.
        let run_step = if id == step.id {
            std::borrow::Cow::Borrowed(step)
        } else {
            let mut copy = step.clone();
            copy.id = id;
            std::borrow::Cow::Owned(copy)
        };
        let params = match params(k) {
            Ok(params) => params,
            Err(message) => {
                fail_before_start(
                    ctx,
                    &run_step,
                    id,
                    target.remote(),
                    Kind::InvalidParams,
                    message,
                );
                return (RunEnd::Failed, None);
            }
        };
        let result = shared
            .runner
            .run(&run_step, &target.node, runnable, &params);
        let end = match result.outcome {
            Outcome::Succeeded => RunEnd::Succeeded,
            _ if result
                .error
                .as_ref()
                .is_some_and(|e| e.kind() == Kind::Interrupted) =>
            {
                RunEnd::Killed
            }
            _ => RunEnd::Failed,
        };
        (end, result.output)
    };
    if targets.len() == 1 {
        return vec![run_one(0)];
    }
    let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; targets.len()]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..forks.min(targets.len()) {
            super::supervisor::spawn_scoped_or_inline(scope, || loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if k >= targets.len() {
                    break;
                }
                let result = run_one(k);
                lock(&results)[k] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or((RunEnd::NotStarted, None)))
        .collect()
}

/// Step `done.step` ended on every node: record each run and tell the scheduler.
fn settle(
    shared: &Shared<'_, '_, '_>,
    scheduler: &mut Scheduler<&str>,
    reads: &mut Reads,
    done: Done,
) {
    let i = done.step;
    let step = &shared.steps[i];
    // No step left to read it: its output goes as soon as its row is written (the
    // report has it).
    if reads.readers[i] == 0 {
        lock(&shared.outputs)[i] = None;
    }
    let mut ran_on = std::mem::take(&mut reads.ran_on[i]);
    if ran_on.len() != done.ends.len() {
        // Failed before it started: the targets were not kept.
        ran_on = targets_of(step, None)
            .into_iter()
            .map(|t| (t, RunEnd::Failed))
            .collect();
    }
    let continued = step.workflow.as_ref().is_some_and(|w| w.continue_on_error);
    let name = step_name(step);
    for ((target, end), &ended) in ran_on.iter_mut().zip(&done.ends) {
        *end = ended;
        let decision = match ended {
            RunEnd::Succeeded => WorkflowDecision::Succeeded,
            RunEnd::Failed if continued => WorkflowDecision::FailedContinued,
            RunEnd::Failed => WorkflowDecision::Failed,
            RunEnd::Killed => WorkflowDecision::Interrupted,
            // On record already, as skipped.
            RunEnd::NotStarted => continue,
        };
        decide_as(
            shared.ctx,
            target.id,
            &name,
            decision,
            None,
            target.remote(),
        );
    }
    let succeeded = done.ends.iter().all(|e| *e == RunEnd::Succeeded);
    let killed = done
        .ends
        .iter()
        .any(|e| matches!(e, RunEnd::Killed | RunEnd::NotStarted));
    if !succeeded && done.ends.contains(&RunEnd::Succeeded) {
        scheduler.partly_succeeded(i);
    }
    reads.ran_on[i] = ran_on;
    if killed {
        scheduler.interrupted(i);
    } else {
        scheduler.finished(i, succeeded);
    }
}

/// Run the compensations the scheduler chose, in its order, until one is
/// interrupted; the plan step ids of the compensation runs decided on. Each runs
/// on the nodes where its step succeeded (all of a fan-out's at once, up to its
/// `forks`), reading that node's own output.
fn compensate(
    shared: &Shared<'_, '_, '_>,
    chosen: &[usize],
    compensations: &HashMap<u64, Runnable>,
    reads: &Reads,
) -> std::collections::HashSet<u64> {
    let ctx = shared.ctx;
    let outputs = lock(&shared.outputs);
    let mut decided = std::collections::HashSet::new();
    for &i in chosen {
        if ctx.stop.is_set() || ctx.kill.is_set() {
            ctx.note_interrupts();
            break;
        }
        let step = &shared.steps[i];
        let Some(comp) = step.workflow.as_ref().and_then(|w| w.compensate.as_deref()) else {
            continue;
        };
        let Some(runnable) = compensations.get(&comp.id) else {
            continue;
        };
        let fans_out = step.workflow.as_ref().is_some_and(|w| w.fanout.is_some());
        let targets: Vec<Target> = reads.ran_on[i]
            .iter()
            .filter(|(t, end)| *end == RunEnd::Succeeded && t.compensate.is_some())
            .map(|(t, _)| t.clone())
            .collect();
        let name = step_name(step);
        // The node's own output, for a fan-out: what `steps.ID.output` means in
        // the compensation of node N is N's output.
        let own_output = |target: &Target| -> Option<Json> {
            if !fans_out {
                return None;
            }
            outputs[i].as_ref()?.get(&target.node).cloned()
        };
        let results = run_targets(
            shared,
            comp,
            runnable,
            &targets,
            forks_of(step),
            |t| t.compensate.unwrap_or(comp.id),
            |k| {
                let own = own_output(&targets[k]);
                let focus = own.as_ref().map(|o| (i, o));
                shared
                    .values
                    .fill(comp, &comp.references, &reads.ran_params, &outputs, focus)
                    .map(|filled| match filled {
                        Some(params) => std::borrow::Cow::Owned(params),
                        None => std::borrow::Cow::Borrowed(&comp.params),
                    })
            },
            |target| {
                let id = target.compensate.unwrap_or(comp.id);
                decide_as(
                    ctx,
                    id,
                    &name,
                    WorkflowDecision::CompensationStarted,
                    None,
                    target.remote(),
                );
            },
        );
        for (target, (end, _)) in targets.iter().zip(results) {
            let id = target.compensate.unwrap_or(comp.id);
            decided.insert(id);
            let decision = match end {
                RunEnd::Succeeded => WorkflowDecision::Compensated,
                RunEnd::NotStarted => continue,
                _ => WorkflowDecision::CompensationFailed,
            };
            decide_as(ctx, id, &name, decision, None, target.remote());
        }
    }
    decided
}

/// Put every compensation run not decided on record too, with why: the report
/// then accounts for every planned step.
fn record_compensations_not_run(
    ctx: &Context,
    steps: &[ActionStep],
    decided: &std::collections::HashSet<u64>,
    stopped: bool,
) {
    for step in steps {
        let Some(comp) = step.workflow.as_ref().and_then(|w| w.compensate.as_deref()) else {
            continue;
        };
        let name = step_name(step);
        let fans_out = step.workflow.as_ref().is_some_and(|w| w.fanout.is_some());
        for (id, node) in planned_runs(step, true) {
            if decided.contains(&id) {
                continue;
            }
            let why = if ctx.stop.is_set() || ctx.kill.is_set() {
                "interrupted: not started".to_string()
            } else if !stopped {
                "not needed: the workflow did not stop".to_string()
            } else if let (true, Some(node)) = (fans_out, node) {
                format!(
                    "step `{name}` did not succeed on node `{}`: nothing to undo there",
                    crate::escape::untrusted(node)
                )
            } else {
                format!("step `{name}` did not succeed: nothing to undo")
            };
            let node = node.filter(|n| !super::remote::is_local(n));
            decide_as(
                ctx,
                id,
                &name,
                WorkflowDecision::CompensationSkipped,
                Some(&why),
                node,
            );
            ctx.skipped(id, &comp.module, None, Some(&comp.action), &why, None);
        }
    }
}

/// What a started step ran with, while a later step or compensation may read its
/// `params`.
#[derive(Debug, Clone)]
enum RanWith {
    /// Not started (or no longer read).
    NotStarted,
    /// Its plan parameters: it has no references.
    PlanParams,
    /// Its parameters with references filled.
    Filled(Map<String, Json>),
}

/// The steps whose values `step` reads: one per `steps.ID...` reference and its
/// `when` (counted as often as they are read).
fn read_steps<'s>(
    step: &'s ActionStep,
    index: &'s HashMap<&str, usize>,
) -> impl Iterator<Item = usize> + 's {
    let when = step
        .workflow
        .as_ref()
        .and_then(|w| w.when.as_ref())
        .map(|w| w.from.as_str());
    let node = step.workflow.as_ref().and_then(|w| w.node_from.as_deref());
    step.references
        .iter()
        .map(|r| r.from.as_str())
        .chain(when)
        .chain(node)
        .filter_map(|from| {
            let id = from.strip_prefix("steps.")?.split('.').next()?;
            index.get(id).copied()
        })
}

/// The field `field` of an object, or the item at index `field` of an array
/// (`steps.a.output.hosts.0.name`), as validation reads references.
fn child<'v>(value: &'v Json, field: &str) -> Option<&'v Json> {
    match value {
        Json::Array(items) => field.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => value.get(field),
    }
}

/// The workflow step id of `step` (its action when it has none).
pub(super) fn step_name(step: &ActionStep) -> String {
    step.workflow
        .as_ref()
        .map_or_else(|| step.action.clone(), |w| w.step.clone())
}

/// Workflow decision `decision` on the run `step` (a plan step id) of workflow
/// step `id` (for a compensation: the step it undoes), on `node` when that is
/// another machine.
fn decide_as(
    ctx: &Context,
    step: u64,
    id: &str,
    decision: WorkflowDecision,
    reason: Option<&str>,
    node: Option<&str>,
) {
    ctx.sink.emit(&Event::WorkflowStep {
        at: ctx.ids.now(),
        step,
        id: id.to_string(),
        decision,
        reason: reason.map(str::to_string),
        node: node.map(str::to_string),
    });
}

/// A reference that cannot be filled (a parameter, or the node) fails the run
/// `id` of `step` before anything starts (on `node`, named first in the journal
/// as every remote run's node is).
fn fail_before_start(
    ctx: &Context,
    step: &ActionStep,
    id: u64,
    node: Option<&str>,
    kind: Kind,
    (message, data): (String, Json),
) {
    if let Some(node) = node {
        ctx.sink.emit(&Event::NodeAssigned {
            at: ctx.ids.now(),
            step: id,
            node: node.to_string(),
            transport: "ssh".to_string(),
        });
    }
    let origin = Origin {
        step: Some(id),
        module: Some(step.module.clone()),
        action: Some(step.action.clone()),
        phase: None,
        correlation_id: ctx.ids.correlation_id.clone(),
        trace_id: ctx.ids.trace_id.clone(),
        span_id: ctx.ids.span_for(id),
        at: ctx.ids.now(),
    };
    let eps = Eps::new(kind, message, origin).with_data(data);
    ctx.sink.emit(&Event::StepFinished {
        at: ctx.ids.now(),
        step: id,
        module: step.module.clone(),
        action: Some(step.action.clone()),
        phase: None,
        outcome: Outcome::Failed,
        attempts: 0,
        duration_ms: 0,
        reason: None,
        output: None,
        stderr: None,
        error: Some(Box::new(eps)),
    });
}

/// Where references read from.
struct Values<'a> {
    doc: &'a PlanDocument,
    index: &'a HashMap<&'a str, usize>,
    inputs: Option<&'a Map<String, Json>>,
}

impl Values<'_> {
    /// The value `from` names, or why there is none (a compensation may read the
    /// step it undoes: that step is in `index` too).
    ///
    /// `focus`: step `.0`'s output is `.1` (one node's, in that node's
    /// compensation of a fan-out step).
    fn lookup(
        &self,
        from: &str,
        ran_params: &[RanWith],
        outputs: &[Option<Json>],
        focus: Option<(usize, &Json)>,
    ) -> Result<Json, String> {
        // Walked by reference: only the value found is copied, never a whole
        // output or parameter map.
        let mut parts = from.split('.');
        let (map, path): (Option<&Map<String, Json>>, Vec<&str>) = match parts.next() {
            Some("inputs") => (self.inputs, parts.collect()),
            Some("steps") => {
                let id = parts.next().unwrap_or_default();
                let Some(&i) = self.index.get(id) else {
                    return Err(format!("`{from}`: there is no step `{id}`"));
                };
                let output = match focus {
                    Some((f, own)) if f == i => Some(own),
                    _ => outputs[i].as_ref(),
                };
                match parts.next() {
                    Some("output") => match output {
                        Some(Json::Object(output)) => {
                            let path: Vec<&str> = parts.collect();
                            if focus.is_none_or(|(f, _)| f != i) && self.fans_out(i) {
                                if let Some(why) = self.missing_node(i, output, &path) {
                                    return Err(format!("`{from}`: {why}"));
                                }
                                let n = node_parts(output, &path);
                                if n > 1 {
                                    let node = path[..n].join(".");
                                    let value = output.get(&node).ok_or_else(|| {
                                        format!("`{from}`: there is no field `{node}`")
                                    })?;
                                    return walk(from, value, &path[n..]);
                                }
                            }
                            (Some(output), path)
                        }
                        _ => {
                            return Err(format!(
                                "`{from}`: step `{id}` has no output (it did not succeed)"
                            ))
                        }
                    },
                    Some("params") => match &ran_params[i] {
                        RanWith::Filled(params) => (Some(params), parts.collect()),
                        RanWith::PlanParams => (Some(&self.doc.actions[i].params), parts.collect()),
                        // The plan holds placeholders where references go: a step
                        // that never started has no parameters to read.
                        RanWith::NotStarted => {
                            return Err(format!(
                                "`{from}`: step `{id}` did not start, so it has no parameters"
                            ))
                        }
                    },
                    _ => return Err(format!("`{from}` names neither `output` nor `params`")),
                }
            }
            _ => return Err(format!("`{from}` is not an inputs.* or steps.* reference")),
        };
        let Some(map) = map else {
            return Err(format!("`{from}`: the run has no inputs"));
        };
        let Some((first, rest)) = path.split_first() else {
            return Ok(Json::Object(map.clone()));
        };
        let value = map
            .get(*first)
            .ok_or_else(|| format!("`{from}`: there is no field `{first}`"))?;
        walk(from, value, rest)
    }

    /// Why fan-out step `i`'s `output` has no entry for the node `path` starts
    /// with: the step did not succeed there, or does not run there at all.
    fn missing_node(&self, i: usize, output: &Map<String, Json>, path: &[&str]) -> Option<String> {
        let first = path.first()?;
        if output.contains_key(*first) || node_parts(output, path) > 1 {
            return None;
        }
        let step = &self.doc.actions[i];
        let id = step_name(step);
        let nodes: Vec<&str> = step
            .workflow
            .as_ref()?
            .fanout
            .as_ref()?
            .nodes
            .iter()
            .map(|n| n.node.as_str())
            .collect();
        let named = (1..=path.len())
            .map(|n| path[..n].join("."))
            .find(|name| nodes.contains(&name.as_str()));
        Some(match named {
            Some(node) => {
                format!("step `{id}` did not succeed on node `{node}`, so it has no output there")
            }
            None => format!(
                "step `{id}` does not run on a node `{}` (its nodes: {})",
                crate::escape::untrusted(first),
                nodes.join(", ")
            ),
        })
    }

    /// Whether step `i` fans out (its output is its nodes' outputs by name).
    fn fans_out(&self, i: usize) -> bool {
        self.doc.actions[i]
            .workflow
            .as_ref()
            .is_some_and(|w| w.fanout.is_some())
    }

    fn when(&self, when: &When, ran_params: &[RanWith], outputs: &[Option<Json>]) -> WhenVerdict {
        let value = match self.lookup(&when.from, ran_params, outputs, None) {
            Ok(v) => v,
            Err(why) => return WhenVerdict::Skip(format!("when: cannot be read: {why}")),
        };
        // JSON Schema's equality, as validation and output_schema see values: 80
        // and 80.0 are the same number.
        let equal = jsonschema::json::cmp::equal(&value, &when.value);
        let holds = match when.test {
            WhenTest::Equals => equal,
            WhenTest::NotEquals => !equal,
        };
        if holds {
            return WhenVerdict::Run;
        }
        let test = match when.test {
            WhenTest::Equals => "equals",
            WhenTest::NotEquals => "not_equals",
        };
        WhenVerdict::Skip(format!(
            "when: {} {test} {}; it is {}",
            when.from,
            compact(&when.value),
            compact(&value)
        ))
    }

    /// The node `step` runs on when an earlier step's output or parameters name
    /// it (`node: { $from: steps... }`); None when the plan already says (a
    /// name, or a run input). Err: the node cannot be read, is not a name, or
    /// is not one the inventory has.
    fn node(
        &self,
        step: &ActionStep,
        ran_params: &[RanWith],
        outputs: &[Option<Json>],
    ) -> Result<Option<String>, (String, Json)> {
        let Some(from) = step
            .workflow
            .as_ref()
            .and_then(|w| w.node_from.as_deref())
            .filter(|f| f.starts_with("steps."))
        else {
            return Ok(None);
        };
        let fail = |why: String, node: Json, help: Option<String>| {
            (
                format!("`{}` has no node to run on: {why}", step.action),
                json!({ "reference": from, "node": node, "help": help }),
            )
        };
        let value = self
            .lookup(from, ran_params, outputs, None)
            .map_err(|why| fail(why, Json::Null, None))?;
        let Json::String(name) = value else {
            return Err(fail(
                format!(
                    "`{from}` is {}, not a node name",
                    crate::schema::Found::Json(&value).describe()
                ),
                value,
                Some(
                    "a node reference must read a string: the name of a node of the inventory"
                        .to_string(),
                ),
            ));
        };
        if let Err(unknown) = super::remote::check_node(&name) {
            return Err(fail(
                format!(
                    "`{from}` names node {}: {}",
                    crate::schema::quote(&name),
                    unknown.message
                ),
                Json::String(name),
                unknown.help,
            ));
        }
        Ok(Some(name))
    }

    /// `step`'s params with `references` filled; None when there are none.
    fn fill(
        &self,
        step: &ActionStep,
        references: &[Reference],
        ran_params: &[RanWith],
        outputs: &[Option<Json>],
        focus: Option<(usize, &Json)>,
    ) -> Result<Option<Map<String, Json>>, (String, Json)> {
        if references.is_empty() {
            return Ok(None);
        }
        let mut params = Json::Object(step.params.clone());
        for reference in references {
            let data = json!({"pointer": reference.pointer, "reference": reference.from});
            let value = self
                .lookup(&reference.from, ran_params, outputs, focus)
                .map_err(|why| {
                    (
                        format!(
                            "the reference at {} of `{}` cannot be filled: {why}",
                            reference.pointer, step.action
                        ),
                        data.clone(),
                    )
                })?;
            match params.pointer_mut(&reference.pointer) {
                Some(slot) => *slot = value,
                None => {
                    return Err((
                        format!(
                            "the reference at {} of `{}` points at no parameter",
                            reference.pointer, step.action
                        ),
                        data,
                    ))
                }
            }
        }
        match params {
            Json::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        }
    }
}

/// How many of the first parts of `path` name one key of `output`: a fan-out
/// step's output is keyed by node name, and a node's name may hold a `.`.
fn node_parts(output: &Map<String, Json>, path: &[&str]) -> usize {
    if path.first().is_none_or(|first| output.contains_key(*first)) {
        return 1;
    }
    (2..=path.len())
        .find(|&n| output.contains_key(&path[..n].join(".")))
        .unwrap_or(1)
}

/// The value `fields` reach inside `value` (for messages: reference `from`).
fn walk(from: &str, mut value: &Json, fields: &[&str]) -> Result<Json, String> {
    for field in fields {
        value =
            child(value, field).ok_or_else(|| format!("`{from}`: there is no field `{field}`"))?;
    }
    Ok(value.clone())
}

fn compact(value: &Json) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
