//! The executor: runs a plan document.
//!
//! Startup wave by wave (the modules of one wave in parallel, at most
//! `parallelism` at once, on std threads), then the action steps in plan order
//! (plugins through [`super::mediation`], actions without a plugin through their
//! module's SPI `execute`), then drain and shutdown wave by wave in the exact
//! reverse of startup. A module that fails to start fails closed: modules that
//! require it are skipped (DependencyUnsatisfied), and unless rollback is off no
//! further module starts, no action runs, and what was started is drained and shut
//! down in reverse (rollback). Without rollback the rest of the plan runs around
//! the failure and everything started is still shut down at the end: no module
//! process outlives rune either way. The first Ctrl-C (`stop`) stops scheduling and
//! winds down in reverse; the second (`kill`) kills every process group left.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::eps::{Eps, Kind};
use super::event::{Event, ModuleState, Outcome};
use super::lifecycle::{self, Context, ModuleSpec, Running};
use super::mediation::{ActionCall, ActionResult, Mediator, ModuleAnswer, Schemas, Via};
use super::process::Spec;
use super::spi::{CallError, Trace};
use crate::plan::document::{ActionStep, PhaseStep, PlanDocument};
use crate::registry::Action;

/// An action step and what running it needs.
pub(crate) struct PreparedAction<'a> {
    /// The catalog's action.
    pub action: &'a Action,
    /// Its plugin, when it has one (else its module's SPI `execute` runs it).
    pub command: Option<&'a Spec>,
}

/// Everything the executor needs beyond the plan document.
pub(crate) struct Prepared<'a> {
    /// Every module of the plan, by name.
    pub modules: HashMap<String, ModuleSpec>,
    /// One entry per `doc.actions`, in order.
    pub actions: Vec<PreparedAction<'a>>,
    /// A workflow's compensation steps, by plan step id.
    pub compensations: HashMap<u64, PreparedAction<'a>>,
}

/// How to run.
pub(crate) struct Options {
    /// Module phases at most this many at once.
    pub parallelism: usize,
    /// Roll back started modules when one fails to start.
    pub rollback: bool,
}

/// What a module is now, during the run.
struct Slot {
    state: ModuleState,
    running: Option<Running>,
}

/// Run `doc`. Every outcome is reported through `ctx.sink`; the return value says
/// whether everything asked for succeeded.
pub(crate) fn execute(
    doc: &PlanDocument,
    prepared: &Prepared,
    options: &Options,
    ctx: &Context,
) -> bool {
    let watch = ctx.ids.stopwatch();
    ctx.sink.emit(&Event::RunStarted {
        at: ctx.ids.now(),
        command: "apply".to_string(),
        correlation_id: ctx.ids.correlation_id.clone(),
        trace_id: ctx.ids.trace_id.clone(),
        steps: doc.summary.steps,
        parallelism: options.parallelism as u64,
    });
    for ack in doc.actions.iter().filter_map(|a| a.acknowledgment.as_ref()) {
        ctx.sink.emit(&Event::Acknowledged {
            at: ctx.ids.now(),
            action: ack.action.clone(),
            reason: ack.reason.clone(),
        });
    }
    let failed = AtomicBool::new(false);
    let slots: Mutex<HashMap<String, Slot>> = Mutex::new(HashMap::new());
    // Set when a module failed to start and rollback is on: nothing new starts.
    let mut halted: Option<String> = None;

    for wave in &doc.startup {
        let members: Vec<String> = wave.modules.iter().map(|m| m.module.clone()).collect();
        if let Some(why) = skip_reason(ctx, halted.as_deref()) {
            for m in &wave.modules {
                // A module that requires one that failed (or one that is unavailable
                // for that reason) is unavailable itself, not merely not started.
                let missing: Vec<String> = prepared
                    .modules
                    .get(&m.module)
                    .map(|spec| {
                        let slots = lock(&slots);
                        spec.requires
                            .iter()
                            .filter(|r| {
                                slots
                                    .get(*r)
                                    .is_some_and(|s| s.state == ModuleState::Unavailable)
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                if missing.is_empty() {
                    skip_steps(ctx, &m.module, &m.steps, &why, None);
                    continue;
                }
                let because = format!("a module it requires did not start: {}", missing.join(", "));
                ctx.state(
                    &m.module,
                    ModuleState::Discovered,
                    ModuleState::Unavailable,
                    &because,
                );
                for step in &m.steps {
                    let eps = Eps::new(
                        Kind::DependencyUnsatisfied,
                        format!("`{}` was not started: {because}", m.module),
                        ctx.origin(step.id, &m.module, step.phase.as_str()),
                    )
                    .with_data(json!({"missing": missing}));
                    ctx.skipped(
                        step.id,
                        &m.module,
                        Some(step.phase.as_str()),
                        None,
                        &because,
                        Some(eps),
                    );
                }
                lock(&slots).insert(
                    m.module.clone(),
                    Slot {
                        state: ModuleState::Unavailable,
                        running: None,
                    },
                );
            }
            continue;
        }
        ctx.sink.emit(&Event::WaveStarted {
            at: ctx.ids.now(),
            stage: "startup".to_string(),
            wave: wave.wave,
            members,
        });
        let failed_in_wave = Mutex::new(Vec::new());
        parallel(&wave.modules, options.parallelism, |m| {
            let Some(spec) = prepared.modules.get(&m.module) else {
                return;
            };
            if let Some(why) = skip_reason(ctx, None) {
                skip_steps(ctx, &m.module, &m.steps, &why, None);
                return;
            }
            let missing: Vec<String> = {
                let slots = lock(&slots);
                spec.requires
                    .iter()
                    .filter(|r| {
                        prepared.modules.contains_key(*r)
                            && slots.get(*r).is_none_or(|s| s.running.is_none())
                    })
                    .cloned()
                    .collect()
            };
            if !missing.is_empty() {
                failed.store(true, Ordering::SeqCst);
                let why = format!("a module it requires did not start: {}", missing.join(", "));
                let eps = |step: u64, phase: &str| {
                    Eps::new(
                        Kind::DependencyUnsatisfied,
                        format!("`{}` was not started: {why}", m.module),
                        ctx.origin(step, &m.module, phase),
                    )
                    .with_data(json!({"missing": missing}))
                };
                ctx.state(
                    &m.module,
                    ModuleState::Discovered,
                    ModuleState::Unavailable,
                    &why,
                );
                for step in &m.steps {
                    ctx.skipped(
                        step.id,
                        &m.module,
                        Some(step.phase.as_str()),
                        None,
                        &why,
                        Some(eps(step.id, step.phase.as_str())),
                    );
                }
                lock(&slots).insert(
                    m.module.clone(),
                    Slot {
                        state: ModuleState::Unavailable,
                        running: None,
                    },
                );
                return;
            }
            let slot = match lifecycle::start(spec, &m.steps, ctx) {
                Ok((running, state)) => Slot {
                    state,
                    running: Some(running),
                },
                Err(lifecycle::StartFailed(eps)) => {
                    failed.store(true, Ordering::SeqCst);
                    lock(&failed_in_wave).push(format!("{} ({})", m.module, eps.error.code));
                    Slot {
                        state: ModuleState::Unavailable,
                        running: None,
                    }
                }
            };
            lock(&slots).insert(m.module.clone(), slot);
        });
        let mut failed_names = failed_in_wave.into_inner().unwrap_or_default();
        failed_names.sort();
        if options.rollback && !failed_names.is_empty() {
            halted = Some(format!(
                "rolled back: {} did not start",
                failed_names.join(", ")
            ));
        }
    }

    // A workflow: its steps run by their needs and conditions, then its
    // compensations, all before shutdown.
    if doc.workflow.is_some() {
        if !run_workflow(doc, prepared, options, &slots, halted.as_deref(), ctx) {
            failed.store(true, Ordering::SeqCst);
        }
    } else if !doc.actions.is_empty() {
        // Degraded modules take work; read their state from the events' last word.
        let mut announced = false;
        for (step, prepared_action) in doc.actions.iter().zip(&prepared.actions) {
            if let Some(why) = skip_reason(ctx, halted.as_deref()) {
                failed.store(true, Ordering::SeqCst);
                ctx.skipped(step.id, &step.module, None, Some(&step.action), &why, None);
                continue;
            }
            if !announced {
                announced = true;
                ctx.sink.emit(&Event::WaveStarted {
                    at: ctx.ids.now(),
                    stage: "actions".to_string(),
                    wave: 1,
                    members: doc.actions.iter().map(|a| a.action.clone()).collect(),
                });
            }
            if !run_action(step, prepared_action, &slots, ctx) {
                failed.store(true, Ordering::SeqCst);
            }
        }
    }

    // Shutdown: the exact reverse of startup, whatever happened before. An interrupt
    // that brought it forward is on record first.
    ctx.note_interrupts();
    let mut slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
    for wave in &doc.shutdown {
        let mut todo = Vec::new();
        for m in &wave.modules {
            match slots.get_mut(&m.module).and_then(|s| {
                let state = s.state;
                s.running.take().map(|r| (state, r))
            }) {
                Some((state, running)) => todo.push((m, state, Mutex::new(Some(running)))),
                None => skip_steps(ctx, &m.module, &m.steps, "the module was not started", None),
            }
        }
        if todo.is_empty() {
            continue;
        }
        ctx.sink.emit(&Event::WaveStarted {
            at: ctx.ids.now(),
            stage: "shutdown".to_string(),
            wave: wave.wave,
            members: todo.iter().map(|(m, ..)| m.module.clone()).collect(),
        });
        parallel(&todo, options.parallelism, |(m, state, running)| {
            let Some(running) = lock(running).take() else {
                return;
            };
            let Some(spec) = prepared.modules.get(&m.module) else {
                return;
            };
            let from = if *state == ModuleState::Unavailable {
                ModuleState::Active
            } else {
                current_state(spec, *state)
            };
            if !lifecycle::stop(spec, running, &m.steps, from, ctx) {
                failed.store(true, Ordering::SeqCst);
            }
        });
    }
    let interrupted = ctx.stop.is_set() || ctx.kill.is_set();
    let succeeded = !failed.load(Ordering::SeqCst) && !interrupted;
    ctx.sink.emit(&Event::RunFinished {
        at: ctx.ids.now(),
        succeeded,
        duration_ms: watch.reported_ms(),
    });
    succeeded
}

/// The state a started module is in, for its move to stopped.
fn current_state(_spec: &ModuleSpec, state: ModuleState) -> ModuleState {
    state
}

/// Why nothing more is scheduled, if so.
fn skip_reason(ctx: &Context, halted: Option<&str>) -> Option<String> {
    if ctx.kill.is_set() || ctx.stop.is_set() {
        ctx.note_interrupts();
        return Some("interrupted: not started".to_string());
    }
    halted.map(str::to_string)
}

fn skip_steps(ctx: &Context, module: &str, steps: &[PhaseStep], why: &str, error: Option<Eps>) {
    for step in steps {
        ctx.skipped(
            step.id,
            module,
            Some(step.phase.as_str()),
            None,
            why,
            error.clone(),
        );
    }
}

/// Run one action step. Returns whether it succeeded.
fn run_action(
    step: &ActionStep,
    prepared: &PreparedAction,
    slots: &Mutex<HashMap<String, Slot>>,
    ctx: &Context,
) -> bool {
    let up = lock(slots)
        .get(&step.module)
        .is_some_and(|s| s.running.is_some());
    if !up {
        let why = format!("its module `{}` is not running", step.module);
        let eps = Eps::new(
            Kind::DependencyUnsatisfied,
            format!("`{}` was not run: {why}", step.action),
            lifecycle_origin(ctx, step),
        );
        ctx.skipped(
            step.id,
            &step.module,
            None,
            Some(&step.action),
            &why,
            Some(eps),
        );
        return false;
    }
    // `--action`: the first Ctrl-C already ends the attempt in flight.
    let result = mediate(step, prepared, &step.params, slots, ctx, &ctx.stop, None);
    result.outcome == Outcome::Succeeded
}

/// One action request through mediation: its plugin, or (without one) its
/// module's SPI `execute`, under the same validation, retries and EPS rules.
/// `kill` ends the attempt in flight; the first Ctrl-C (`ctx.stop`) always stops
/// further attempts.
fn mediate(
    step: &ActionStep,
    prepared: &PreparedAction,
    params: &serde_json::Map<String, serde_json::Value>,
    slots: &Mutex<HashMap<String, Slot>>,
    ctx: &Context,
    kill: &super::process::Cancel,
    schemas: Option<&Schemas>,
) -> ActionResult {
    let mediator = Mediator {
        ids: ctx.ids,
        sink: ctx.sink,
        stop: ctx.stop.clone(),
        kill: kill.clone(),
    };
    let execute = |request, timeout, cancel: &super::process::Cancel| {
        execute_in_module(step, request, timeout, cancel, slots, ctx)
    };
    let via = match &prepared.command {
        Some(command) => Via::Plugin(command),
        None => Via::Module(&execute),
    };
    mediator.run_action(&ActionCall {
        step: step.id,
        module: &step.module,
        action: prepared.action,
        via,
        params,
        node: "localhost",
        timeout: Duration::from_millis(step.timeout_ms.value),
        max_attempts: step.retries.max_attempts,
        backoff_ms: step.retries.backoff_ms,
        retry_on: &step.retries.on,
        schemas,
    })
}

/// The workflow part of a run; whether it went on to its end (false when it
/// stopped, was interrupted, or could not start because a module did not).
fn run_workflow(
    doc: &PlanDocument,
    prepared: &Prepared,
    options: &Options,
    slots: &Mutex<HashMap<String, Slot>>,
    halted: Option<&str>,
    ctx: &Context,
) -> bool {
    // Modules of the plan that are not running: every step is skipped, since a
    // workflow half run around a missing module would act on a broken system.
    let down: Vec<String> = {
        let slots = lock(slots);
        doc.startup_modules()
            .filter(|m| slots.get(&m.module).is_none_or(|s| s.running.is_none()))
            .map(|m| m.module.clone())
            .collect()
    };
    let interrupted = ctx.stop.is_set() || ctx.kill.is_set();
    if interrupted || halted.is_some() || !down.is_empty() {
        if interrupted {
            ctx.note_interrupts();
        }
        let why = |module: &str| {
            if interrupted {
                "interrupted: not started".to_string()
            } else if down.iter().any(|m| m == module) {
                format!("module `{module}` did not start")
            } else if let Some(first) = down.first() {
                format!("module `{first}` did not start")
            } else {
                halted.unwrap_or("a module did not start").to_string()
            }
        };
        // The compensations are planned steps too: each is on record as not
        // run, with why, as after a workflow that ran (the report then accounts
        // for every planned step). Steps first, then compensations, in plan order.
        use super::event::WorkflowDecision::{CompensationSkipped, Skipped};
        let steps = doc.actions.iter().map(|step| (step, step, Skipped));
        let compensations = doc.actions.iter().filter_map(|step| {
            let comp = step.workflow.as_ref()?.compensate.as_deref()?;
            Some((comp, step, CompensationSkipped))
        });
        for (planned, undone, decision) in steps.chain(compensations) {
            let why = why(&planned.module);
            ctx.sink.emit(&Event::WorkflowStep {
                at: ctx.ids.now(),
                step: planned.id,
                // A compensation is named by the step it undoes.
                id: super::workflow::step_name(undone),
                decision,
                reason: Some(why.clone()),
            });
            ctx.skipped(
                planned.id,
                &planned.module,
                None,
                Some(&planned.action),
                &why,
                None,
            );
        }
        if let Some(workflow) = &doc.workflow {
            ctx.sink.emit(&Event::WorkflowFinished {
                at: ctx.ids.now(),
                name: workflow.name.clone(),
                stopped_by: None,
                ended: if ctx.stop.is_set() || ctx.kill.is_set() {
                    super::event::WorkflowEnd::Interrupted
                } else {
                    super::event::WorkflowEnd::NotStarted
                },
            });
        }
        return false;
    }
    let mut schemas = HashMap::new();
    for prepared_action in prepared
        .actions
        .iter()
        .chain(prepared.compensations.values())
    {
        schemas
            .entry(key(prepared_action.action))
            .or_insert_with(|| Schemas::compile(prepared_action.action));
    }
    let runner = ExecRunner {
        ctx,
        slots,
        schemas,
    };
    let ended = super::workflow::run(
        doc,
        &prepared.actions,
        &prepared.compensations,
        options.parallelism,
        ctx,
        &runner,
    );
    !ended.stopped && !ctx.stop.is_set() && !ctx.kill.is_set()
}

/// Runs workflow steps as `--action` runs an action: a plugin through
/// mediation, else the module's SPI `execute`.
struct ExecRunner<'a, 'c> {
    ctx: &'c Context<'a>,
    slots: &'c Mutex<HashMap<String, Slot>>,
    /// Each action's schemas, compiled once for the run, by action.
    schemas: HashMap<usize, Schemas>,
}

/// An action's identity for the schema cache: its place in the registry.
fn key(action: &Action) -> usize {
    std::ptr::from_ref(action) as usize
}

impl super::workflow::StepRunner for ExecRunner<'_, '_> {
    fn run(
        &self,
        step: &ActionStep,
        runnable: &PreparedAction,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> ActionResult {
        // The first Ctrl-C lets a running step end (or time out); the second
        // kills it.
        let schemas = self.schemas.get(&key(runnable.action));
        mediate(
            step,
            runnable,
            params,
            self.slots,
            self.ctx,
            &self.ctx.kill,
            schemas,
        )
    }
}

fn lifecycle_origin(ctx: &Context, step: &ActionStep) -> super::eps::Origin {
    let mut origin = ctx.origin(step.id, &step.module, "execute");
    origin.phase = None;
    origin.action = Some(step.action.clone());
    origin
}

/// An action without a plugin: one SPI `execute` call to its module (mediation
/// builds the request and judges the answer).
fn execute_in_module(
    step: &ActionStep,
    request: serde_json::Value,
    timeout: Duration,
    cancel: &super::process::Cancel,
    slots: &Mutex<HashMap<String, Slot>>,
    ctx: &Context,
) -> ModuleAnswer {
    let mut guard = lock(slots);
    match guard.get_mut(&step.module).and_then(|s| s.running.as_mut()) {
        Some(Running::Process(client)) => {
            let trace = Trace {
                step: step.id,
                ids: ctx.ids,
                sink: ctx.sink,
            };
            let result = client.call("execute", request, timeout, cancel, &trace);
            ModuleAnswer {
                result,
                stderr: client.stderr_tail(),
            }
        }
        _ => ModuleAnswer {
            result: Err(CallError {
                kind: Kind::ConfigurationError,
                message: format!(
                    "`{}` has no plugin and its module `{}` has no process to run it",
                    step.action, step.module
                ),
                data: None,
            }),
            stderr: None,
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `f` on every item, at most `n` at once, in item order as workers free up.
fn parallel<T: Sync>(items: &[T], n: usize, f: impl Fn(&T) + Sync) {
    let n = n.max(1).min(items.len());
    if n <= 1 {
        items.iter().for_each(f);
        return;
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..n {
            // A worker that cannot be created works on this thread instead.
            super::supervisor::spawn_scoped_or_inline(scope, || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { return };
                f(item);
            });
        }
    });
}

/// Span ids for every step of `doc`, in plan order.
pub(crate) fn spans(doc: &PlanDocument, ids: &super::ids::RunIds) -> HashMap<u64, String> {
    let mut spans = HashMap::new();
    let phases = doc.startup_modules().flat_map(|m| m.steps.iter()).chain(
        doc.shutdown
            .iter()
            .flat_map(|w| w.modules.iter().flat_map(|m| m.steps.iter())),
    );
    let mut ids_in_order: Vec<u64> = phases.map(|s| s.id).collect();
    ids_in_order.sort_unstable();
    for id in ids_in_order {
        spans.insert(id, ids.span_for(id));
    }
    spans
}
