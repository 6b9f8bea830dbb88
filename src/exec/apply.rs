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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::eps::{Eps, Kind};
use super::event::{Event, ModuleState, Outcome};
use super::lifecycle::{self, Context, ModuleSpec, Observation, Running, StartedModule};
use super::mediation::{ActionCall, ActionResult, Mediator, Schemas, Via};
use super::process::Spec;
use crate::plan::document::{ActionStep, PhaseStep, PlanDocument, StartupModule, StartupWave};
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

/// Failed health checks in a row after which a degraded module is unavailable.
/// The lifecycle model names the states, not the count; three rides out one slow
/// answer without keeping a dead module in service for long.
pub(crate) const UNAVAILABLE_AFTER: u32 = 3;

/// What a module is now, during the run.
struct Slot {
    state: ModuleState,
    /// Shared with the steps that call it; the map's lock is never held across a
    /// call, so calls to different modules run at once.
    running: Option<Arc<StartedModule>>,
    /// Modules it requires: an action of this module needs them available too.
    requires: Vec<String>,
    /// Health checks failed in a row.
    failures: u32,
    /// Why it became unavailable while the run went on.
    unavailable_because: Option<String>,
    /// Kept in service by its `lifecycle.rollback` when a rollback halted the run.
    kept: bool,
}

impl Slot {
    fn new(state: ModuleState, running: Option<Arc<StartedModule>>, requires: Vec<String>) -> Slot {
        Slot {
            state,
            running,
            requires,
            failures: 0,
            unavailable_because: None,
            kept: false,
        }
    }
}

/// A module checked at its declared interval while the actions run.
struct Watch {
    module: String,
    interval: Duration,
    timeout: Duration,
    /// The step its health calls are journaled under (its ready step).
    step: u64,
    started: Arc<StartedModule>,
    next: std::time::Instant,
    /// Its process is gone: not checked again.
    gone: bool,
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
    let run = Run {
        doc,
        prepared,
        options,
        ctx,
        failed: AtomicBool::new(false),
        slots: Mutex::new(HashMap::new()),
    };
    let halted = run.start_up();

    // While the actions run, modules that declare a health check interval are
    // checked on a thread of their own, which waits on a channel until the next
    // check is due (or the channel closes: the actions are done).
    let (done, checks_stop) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let watches = run.watches();
        if !watches.is_empty() {
            // Without a thread the run goes on unwatched, as before.
            let _ = std::thread::Builder::new()
                .name("health".into())
                .spawn_scoped(scope, || run.watch(watches, checks_stop));
        }
        // A workflow: its steps run by their needs and conditions, then its
        // compensations, all before shutdown.
        if doc.workflow.is_some() {
            if !run_workflow(doc, prepared, options, &run.slots, halted.as_deref(), ctx) {
                run.failed.store(true, Ordering::SeqCst);
            }
        } else if !doc.actions.is_empty() {
            run.run_actions(halted.as_deref());
        }
        drop(done);
    });

    // Shutdown: the exact reverse of startup, whatever happened before. An interrupt
    // that brought it forward is on record first.
    ctx.note_interrupts();
    let failed = run.shut_down();
    let interrupted = ctx.stop.is_set() || ctx.kill.is_set();
    let succeeded = !failed && !interrupted;
    ctx.sink.emit(&Event::RunFinished {
        at: ctx.ids.now(),
        succeeded,
        duration_ms: watch.reported_ms(),
    });
    succeeded
}

/// One run of a plan document: what its phases share.
struct Run<'r, 'a> {
    doc: &'r PlanDocument,
    prepared: &'r Prepared<'r>,
    options: &'r Options,
    ctx: &'r Context<'a>,
    /// Set by anything that did not succeed.
    failed: AtomicBool,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Run<'_, '_> {
    /// The startup waves in order; why nothing more may start, when a module
    /// failed to start and rollback is on.
    fn start_up(&self) -> Option<String> {
        // Set when a module failed to start and rollback is on: nothing new starts.
        let mut halted: Option<String> = None;
        for wave in &self.doc.startup {
            if let Some(why) = skip_reason(self.ctx, halted.as_deref()) {
                self.skip_wave(wave, &why);
                continue;
            }
            let mut failed_names = self.start_wave(wave);
            failed_names.sort();
            if self.options.rollback && !failed_names.is_empty() {
                let failed = failed_names.join(", ");
                self.roll_back(&failed);
                halted = Some(format!("rolled back: {failed} did not start"));
            }
        }
        halted
    }

    /// A wave that does not start: each module is skipped, or unavailable when a
    /// module it requires is.
    fn skip_wave(&self, wave: &StartupWave, why: &str) {
        let ctx = self.ctx;
        for m in &wave.modules {
            // A module that requires one that failed (or one that is unavailable
            // for that reason) is unavailable itself, not merely not started.
            let missing: Vec<String> = self
                .prepared
                .modules
                .get(&m.module)
                .map(|spec| {
                    let slots = lock(&self.slots);
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
                skip_steps(ctx, &m.module, &m.steps, why, None);
                continue;
            }
            let because = format!("a module it requires did not start: {}", missing.join(", "));
            ctx.state(
                &m.module,
                ModuleState::Discovered,
                ModuleState::Unavailable,
                &because,
            );
            self.unavailable(m, &because, &missing);
        }
    }

    /// Record `m` as unavailable because `missing` did not start: each of its
    /// steps skipped with a dependency error.
    fn unavailable(&self, m: &StartupModule, why: &str, missing: &[String]) {
        for step in &m.steps {
            let eps = Eps::new(
                Kind::DependencyUnsatisfied,
                format!("`{}` was not started: {why}", m.module),
                self.ctx.origin(step.id, &m.module, step.phase.as_str()),
            )
            .with_data(json!({ "missing": missing }));
            self.ctx.skipped(
                step.id,
                &m.module,
                Some(step.phase.as_str()),
                None,
                why,
                Some(eps),
            );
        }
        lock(&self.slots).insert(
            m.module.clone(),
            Slot::new(ModuleState::Unavailable, None, Vec::new()),
        );
    }

    /// Start the modules of `wave` in parallel; the modules that failed, with
    /// their error codes.
    fn start_wave(&self, wave: &StartupWave) -> Vec<String> {
        self.ctx.sink.emit(&Event::WaveStarted {
            at: self.ctx.ids.now(),
            stage: "startup".to_string(),
            wave: wave.wave,
            members: wave.modules.iter().map(|m| m.module.clone()).collect(),
        });
        let failed_in_wave = Mutex::new(Vec::new());
        parallel(&wave.modules, self.options.parallelism, |m| {
            if let Err(name) = self.start_module(m) {
                lock(&failed_in_wave).push(name);
            }
        });
        failed_in_wave.into_inner().unwrap_or_default()
    }

    /// Start one module of a wave; `Err` names it with its error code when it
    /// failed to start.
    fn start_module(&self, m: &StartupModule) -> Result<(), String> {
        let ctx = self.ctx;
        let Some(spec) = self.prepared.modules.get(&m.module) else {
            return Ok(());
        };
        if let Some(why) = skip_reason(ctx, None) {
            skip_steps(ctx, &m.module, &m.steps, &why, None);
            return Ok(());
        }
        let missing: Vec<String> = {
            let slots = lock(&self.slots);
            spec.requires
                .iter()
                .filter(|r| {
                    self.prepared.modules.contains_key(*r)
                        && slots.get(*r).is_none_or(|s| s.running.is_none())
                })
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            self.failed.store(true, Ordering::SeqCst);
            let why = format!("a module it requires did not start: {}", missing.join(", "));
            ctx.state(
                &m.module,
                ModuleState::Discovered,
                ModuleState::Unavailable,
                &why,
            );
            self.unavailable(m, &why, &missing);
            return Ok(());
        }
        let (slot, result) = match lifecycle::start(spec, &m.steps, ctx) {
            Ok((running, state)) => (
                Slot::new(
                    state,
                    Some(Arc::new(StartedModule::new(running))),
                    spec.requires.clone(),
                ),
                Ok(()),
            ),
            Err(lifecycle::StartFailed(eps)) => {
                self.failed.store(true, Ordering::SeqCst);
                (
                    Slot::new(ModuleState::Unavailable, None, Vec::new()),
                    Err(format!("{} ({})", m.module, eps.code())),
                )
            }
        };
        let started = slot.running.clone();
        lock(&self.slots).insert(m.module.clone(), slot);
        // What it reported of its health while starting counts from now.
        if let Some(started) = started {
            take_reports(&self.slots, ctx, &m.module, &started);
        }
        result
    }

    /// A module failed to start and rollback is on: each started module is rolled
    /// back (taken out of service now, shut down with the rest) unless its
    /// `lifecycle.rollback` keeps it in service, which the report says.
    fn roll_back(&self, failed: &str) {
        let mut changes = Vec::new();
        {
            let mut slots = lock(&self.slots);
            let mut names: Vec<&String> = slots.keys().collect();
            names.sort();
            let names: Vec<String> = names.into_iter().cloned().collect();
            for name in names {
                let Some(slot) = slots.get_mut(&name) else {
                    continue;
                };
                if slot.running.is_none() || slot.state == ModuleState::Unavailable {
                    continue;
                }
                let kept = self
                    .prepared
                    .modules
                    .get(&name)
                    .and_then(|spec| spec.rollback.kept_because());
                let from = slot.state;
                match kept {
                    Some(because) => {
                        slot.kept = true;
                        changes.push((
                            name,
                            from,
                            from,
                            format!("not rolled back: {because}; it stays in service"),
                        ));
                    }
                    None => {
                        slot.state = ModuleState::Unavailable;
                        let why = format!("rolled back: {failed} did not start");
                        slot.unavailable_because = Some(why.clone());
                        changes.push((name, from, ModuleState::Unavailable, why));
                    }
                }
            }
        }
        for (name, from, to, why) in changes {
            self.ctx.state(&name, from, to, &why);
        }
    }

    /// The modules to check at their declared interval: started process modules
    /// with a `health_check_endpoint.check_interval_seconds`.
    fn watches(&self) -> Vec<Watch> {
        let slots = lock(&self.slots);
        let now = std::time::Instant::now();
        let mut watches: Vec<Watch> = self
            .doc
            .startup_modules()
            .filter_map(|m| {
                let spec = self.prepared.modules.get(&m.module)?;
                // Only a module process has a health to check.
                if spec.runtime != crate::registry::Runtime::Process {
                    return None;
                }
                let interval = spec.health_interval?;
                let started = slots.get(&m.module)?.running.clone()?;
                let step = m
                    .steps
                    .iter()
                    .find(|s| s.phase == crate::plan::Phase::Ready)
                    .or(m.steps.last())?
                    .id;
                Some(Watch {
                    module: m.module.clone(),
                    interval,
                    timeout: spec.health_timeout,
                    step,
                    started,
                    next: now + interval,
                    gone: false,
                })
            })
            .collect();
        watches.sort_by(|a, b| a.module.cmp(&b.module));
        watches
    }

    /// Check each watched module when it is due until `stop` closes: a wait on
    /// the channel with the next check's deadline, never a poll.
    fn watch(&self, mut watches: Vec<Watch>, stop: std::sync::mpsc::Receiver<()>) {
        let ctx = self.ctx;
        loop {
            let Some(due) = watches.iter().map(|w| w.next).min() else {
                return;
            };
            let wait = due.saturating_duration_since(std::time::Instant::now());
            match stop.recv_timeout(wait) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            if ctx.stop.is_set() || ctx.kill.is_set() {
                return;
            }
            let now = std::time::Instant::now();
            for w in watches.iter_mut().filter(|w| w.next <= now) {
                w.next = now + w.interval;
                let trace = super::spi::Trace {
                    step: w.step,
                    ids: ctx.ids,
                    sink: ctx.sink,
                };
                if let Some(seen) = w.started.check_health(w.timeout, &ctx.kill, &trace) {
                    w.gone = matches!(seen, Observation::Gone(_));
                    observe(&self.slots, ctx, &w.module, seen, true);
                }
                take_reports(&self.slots, ctx, &w.module, &w.started);
            }
            // A gone module is not checked again.
            watches.retain(|w| !w.gone);
        }
    }

    /// `--action` steps, in plan order.
    fn run_actions(&self, halted: Option<&str>) {
        let (doc, ctx) = (self.doc, self.ctx);
        // Degraded modules take work; read their state from the events' last word.
        let mut announced = false;
        for (step, prepared_action) in doc.actions.iter().zip(&self.prepared.actions) {
            // A module its rollback kept in service still serves its actions.
            let kept = lock(&self.slots).get(&step.module).is_some_and(|s| s.kept);
            if let Some(why) = skip_reason(ctx, halted.filter(|_| !kept)) {
                self.failed.store(true, Ordering::SeqCst);
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
            if !run_action(step, prepared_action, &self.slots, ctx) {
                self.failed.store(true, Ordering::SeqCst);
            }
        }
    }

    /// The shutdown waves, the exact reverse of startup; whether anything of the
    /// whole run failed.
    fn shut_down(self) -> bool {
        let (ctx, prepared) = (self.ctx, self.prepared);
        let failed = self.failed;
        let mut slots = self.slots.into_inner().unwrap_or_else(|p| p.into_inner());
        for wave in &self.doc.shutdown {
            let mut todo = Vec::new();
            for m in &wave.modules {
                match slots.get_mut(&m.module).and_then(|s| {
                    let state = s.state;
                    s.running.take().map(|r| (state, r.take()))
                }) {
                    Some((state, running)) => todo.push((m, state, Mutex::new(Some(running)))),
                    None => {
                        skip_steps(ctx, &m.module, &m.steps, "the module was not started", None)
                    }
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
            parallel(&todo, self.options.parallelism, |(m, state, running)| {
                let Some(running) = lock(running).take() else {
                    return;
                };
                let Some(spec) = prepared.modules.get(&m.module) else {
                    return;
                };
                if !lifecycle::stop(spec, running, &m.steps, *state, ctx) {
                    failed.store(true, Ordering::SeqCst);
                }
            });
        }
        failed.into_inner()
    }
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
    let result = mediate(
        step,
        "localhost",
        prepared,
        &step.params,
        slots,
        ctx,
        &ctx.stop,
        None,
    );
    result.outcome == Outcome::Succeeded
}

/// One action request through mediation: its plugin, or (without one) its
/// module's SPI `execute`, under the same validation, retries and EPS rules.
/// `kill` ends the attempt in flight; the first Ctrl-C (`ctx.stop`) always stops
/// further attempts.
#[allow(clippy::too_many_arguments)] // one call each for --action and workflow steps
fn mediate(
    step: &ActionStep,
    node: &str,
    prepared: &PreparedAction,
    params: &serde_json::Map<String, serde_json::Value>,
    slots: &Mutex<HashMap<String, Slot>>,
    ctx: &Context,
    kill: &super::process::Cancel,
    schemas: Option<&Schemas>,
) -> ActionResult {
    if let Some(why) = unavailable_need(slots, &step.module) {
        return not_routed(step, ctx, &why);
    }
    let mediator = Mediator {
        ids: ctx.ids,
        sink: ctx.sink,
        stop: ctx.stop.clone(),
        kill: kill.clone(),
    };
    // Cloned out so the map is unlocked while the module is called.
    let module = lock(slots)
        .get(&step.module)
        .and_then(|s| s.running.clone())
        .unwrap_or_else(|| Arc::new(StartedModule::new(Running::InProcess)));
    let via = match &prepared.command {
        Some(command) => Via::Plugin(command),
        None => Via::Module(&module),
    };
    let result = mediator.run_action(&ActionCall {
        step: step.id,
        module: &step.module,
        action: prepared.action,
        via,
        params,
        // An action its module process answers runs where that process runs;
        // a plugin runs where the workflow sends this run of the step
        // (`--action` runs here).
        node: match prepared.command {
            Some(_) => node,
            None => ctx
                .nodes
                .get(&step.module)
                .map_or("localhost", String::as_str),
        },
        timeout: Duration::from_millis(step.timeout_ms.value),
        max_attempts: step.retries.max_attempts,
        backoff_ms: step.retries.backoff_ms,
        retry_on: &step.retries.on,
        schemas,
    });
    // What the module said of its health while it answered counts now.
    take_reports(slots, ctx, &step.module, &module);
    // A module process that ended while it answered is unavailable: nothing more
    // is routed to it (after a second Ctrl-C everything is being killed anyway).
    if prepared.command.is_none() && !ctx.kill.is_set() && module.process_gone() {
        let why = match &result.error {
            Some(eps) => format!("its process is gone: {}", eps.reason()),
            None => "its process is gone".to_string(),
        };
        observe(slots, ctx, &step.module, Observation::Gone(why), false);
    }
    result
}

/// Why an action of `module` cannot be routed: it, or a module it requires,
/// became unavailable while the run went on.
fn unavailable_need(slots: &Mutex<HashMap<String, Slot>>, module: &str) -> Option<String> {
    let slots = lock(slots);
    let mut todo = vec![module.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(slot) = slots.get(&name) else {
            continue;
        };
        if slot.state == ModuleState::Unavailable && slot.running.is_some() {
            let why = slot.unavailable_because.as_deref().unwrap_or("unavailable");
            return Some(if name == module {
                format!("module `{name}` is unavailable ({why})")
            } else {
                format!("module `{name}`, which `{module}` requires, is unavailable ({why})")
            });
        }
        todo.extend(slot.requires.iter().cloned());
    }
    None
}

/// An action step that is not routed because what it needs is unavailable: it
/// fails with RUNE's dependency error, nothing started.
fn not_routed(step: &ActionStep, ctx: &Context, why: &str) -> ActionResult {
    let eps = Eps::new(
        Kind::DependencyUnsatisfied,
        format!("`{}` was not run: {why}", step.action),
        lifecycle_origin(ctx, step),
    )
    .with_data(json!({ "module": step.module }));
    ctx.sink.emit(&Event::StepFinished {
        at: ctx.ids.now(),
        step: step.id,
        module: step.module.clone(),
        action: Some(step.action.clone()),
        phase: None,
        outcome: Outcome::Failed,
        attempts: 0,
        duration_ms: 0,
        reason: Some(why.to_string()),
        output: None,
        stderr: None,
        error: Some(Box::new(eps.clone())),
    });
    ActionResult {
        outcome: Outcome::Failed,
        output: None,
        error: Some(eps),
        attempts: 0,
    }
}

/// Apply what `started` (module `name`) reported of its own health.
fn take_reports(
    slots: &Mutex<HashMap<String, Slot>>,
    ctx: &Context,
    name: &str,
    started: &StartedModule,
) {
    for report in started.take_health_reports() {
        observe(slots, ctx, name, report, false);
    }
}

/// Move module `name` through the lifecycle model's states on what a look at
/// its health found, reporting each change: active → degraded on the first bad
/// word, degraded → unavailable after [`UNAVAILABLE_AFTER`] failed checks in a
/// row (at once when its process is gone), and back to active on a healthy one.
/// A module's own reports move it between active and degraded only: a module
/// that can still speak is not unavailable.
fn observe(
    slots: &Mutex<HashMap<String, Slot>>,
    ctx: &Context,
    name: &str,
    seen: Observation,
    from_check: bool,
) {
    let change = {
        let mut slots = lock(slots);
        let Some(slot) = slots.get_mut(name) else {
            return;
        };
        if slot.running.is_none() || slot.state == ModuleState::Stopped {
            return;
        }
        let from = slot.state;
        let change = match seen {
            Observation::Healthy(why) => {
                if from_check {
                    slot.failures = 0;
                }
                let gone = slot
                    .unavailable_because
                    .as_deref()
                    .is_some_and(|w| w.starts_with("rolled back"));
                match from {
                    ModuleState::Degraded | ModuleState::Unavailable if !gone => {
                        Some((ModuleState::Active, format!("recovered: {why}")))
                    }
                    _ => None,
                }
            }
            Observation::Unhealthy(why) => {
                if from_check {
                    slot.failures += 1;
                }
                match from {
                    ModuleState::Active | ModuleState::Available => {
                        Some((ModuleState::Degraded, why))
                    }
                    ModuleState::Degraded if from_check && slot.failures >= UNAVAILABLE_AFTER => {
                        Some((
                            ModuleState::Unavailable,
                            format!("{why} ({} failed health checks in a row)", slot.failures),
                        ))
                    }
                    _ => None,
                }
            }
            Observation::Gone(why) => {
                (from != ModuleState::Unavailable).then_some((ModuleState::Unavailable, why))
            }
        };
        let Some((to, why)) = change else {
            return;
        };
        slot.state = to;
        slot.unavailable_because = (to == ModuleState::Unavailable).then(|| why.clone());
        (from, to, why)
    };
    let (from, to, why) = change;
    ctx.state(name, from, to, &why);
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
        never_started(doc, &down, halted, interrupted, ctx);
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

/// A workflow that does not start (interrupted, halted, or a module down): every
/// step and compensation is on record as not run, with why.
fn never_started(
    doc: &PlanDocument,
    down: &[String],
    halted: Option<&str>,
    interrupted: bool,
    ctx: &Context,
) {
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
        // Each node of a fan-out is a planned step of its own.
        let runs = super::workflow::planned_runs(undone, decision == CompensationSkipped);
        for (id, node) in runs {
            ctx.sink.emit(&Event::WorkflowStep {
                at: ctx.ids.now(),
                step: id,
                // A compensation is named by the step it undoes.
                id: super::workflow::step_name(undone),
                decision,
                reason: Some(why.clone()),
                node: node.map(str::to_string),
            });
            ctx.skipped(id, &planned.module, None, Some(&planned.action), &why, None);
        }
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
        node: &str,
        runnable: &PreparedAction,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> ActionResult {
        // The first Ctrl-C lets a running step end (or time out); the second
        // kills it.
        let schemas = self.schemas.get(&key(runnable.action));
        mediate(
            step,
            node,
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
