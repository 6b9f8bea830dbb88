//! Module lifecycle: the phases of one module, as steps with events.
//!
//! A `builtin` module runs in rune's process: its phases succeed at once and are
//! recorded like any other. A `process` module is a long-running child spoken to
//! over the module SPI ([`super::spi`]): register spawns it and checks its
//! `describe` answer against the catalog and negotiates the SPI version (a mismatch
//! fails the module before any other traffic); initialize hands over its config and
//! the per-run token, which it must echo; ready is probed until ready or its
//! timeout (fail closed: NotReady); one health check follows, and anything but
//! `ready` marks the module degraded (reported, not fatal). Drain and shutdown ask
//! it to stop; a module that does not exit by itself within its shutdown timeout
//! has its process group killed. A module that fails at any phase is killed at once
//! and its remaining phases are skipped. A `none` module has nothing to run and no
//! steps.

// An EPS envelope is returned at most once per phase of a module, on the failure
// path; boxing it would cost more code than the copy it saves.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::eps::{Eps, Kind, Origin};
use super::event::{Event, ModuleState, Outcome, Sink};
use super::ids::RunIds;
use super::mediation::ModuleAnswer;
use super::process::{Cancel, Spec, KILL_GRACE};
use super::spi::{self, CallError, Client, Trace};
use super::spi_message::{Empty, ExecuteParams, InitializeParams, Method, TraceParent};
use crate::plan::document::PhaseStep;
use crate::plan::Phase;
use crate::registry::Runtime;

/// How long between two `ready` probes of a module that is not ready yet.
const READY_PROBE: Duration = Duration::from_millis(50);

/// What the executor knows of one module.
#[derive(Debug, Clone)]
pub(crate) struct ModuleSpec {
    /// The module's name.
    pub name: String,
    /// Its version, as the catalog declares it.
    pub version: Option<String>,
    /// How it runs.
    pub runtime: Runtime,
    /// Its command line (process modules).
    pub command: Option<Spec>,
    /// `lifecycle.config`, or `{}`.
    pub config: Json,
    /// `lifecycle.spi_versions` (empty: what rune speaks).
    pub spi_versions: Vec<String>,
    /// How long register waits for `describe` (`lifecycle.timeouts.describe_ms`).
    pub describe_timeout: Duration,
    /// Modules it requires (criticality required).
    pub requires: Vec<String>,
    /// `lifecycle.rollback`: whether an automatic rollback takes it out of service.
    pub rollback: crate::registry::Rollback,
    /// `lifecycle.deny_paths`: what it must confirm it denies before it is ready.
    pub deny_paths: Vec<String>,
    /// `health_check_endpoint.check_interval_seconds`: how often it is checked
    /// while the run goes on (None: once after ready).
    pub health_interval: Option<Duration>,
    /// `health_check_endpoint.timeout_ms` (default 5,000 ms).
    pub health_timeout: Duration,
    /// The node its process runs on (None: this machine).
    pub node: Option<String>,
    /// Files shipped with its program to that node, absolute.
    pub ship: Vec<std::path::PathBuf>,
    /// Its command line on that node where it is installed.
    pub remote_exec: Vec<String>,
    /// How long it may take to exit once its stdin is closed (its shutdown
    /// timeout): on a node, the wrapper ends it after that.
    pub exit_wait: Duration,
}

/// A health check answer's timeout when the catalog gives none.
pub(crate) const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_millis(5_000);

/// What every step of a run shares.
pub(crate) struct Context<'a> {
    /// Ids and clock.
    pub ids: &'a RunIds,
    /// Where events go.
    pub sink: &'a dyn Sink,
    /// The per-run trust token modules must echo in initialize.
    pub token: &'a str,
    /// Set by the first Ctrl-C: startup calls give up.
    pub stop: Cancel,
    /// Set by the second Ctrl-C: everything is killed.
    pub kill: Cancel,
    /// Span id of each plan step, assigned in plan order so deterministic runs
    /// read the same whatever the scheduling.
    pub spans: &'a std::collections::HashMap<u64, String>,
    /// The run's signal flags, so an interrupt is recorded before the wind-down it
    /// causes (None in tests and when handlers could not be installed).
    pub interrupts: Option<&'a super::interrupt::Interrupts>,
    /// The node of each module whose process runs on another machine, by name.
    pub nodes: &'a std::collections::HashMap<String, String>,
}

impl Context<'_> {
    /// Report signals received and not yet reported (each is reported once).
    pub(crate) fn note_interrupts(&self) {
        if let Some(interrupts) = self.interrupts {
            interrupts.emit_pending(self.sink, self.ids);
        }
    }

    fn span(&self, step: u64) -> String {
        self.spans
            .get(&step)
            .cloned()
            .unwrap_or_else(|| self.ids.span_for(step))
    }

    pub(crate) fn state(&self, module: &str, from: ModuleState, to: ModuleState, why: &str) {
        self.sink.emit(&Event::StateChanged {
            at: self.ids.now(),
            module: module.to_string(),
            from,
            to,
            reason: (!why.is_empty()).then(|| why.to_string()),
        });
    }

    pub(crate) fn origin(&self, step: u64, module: &str, phase: &str) -> Origin {
        Origin {
            step: Some(step),
            module: Some(module.to_string()),
            action: None,
            phase: Some(phase.to_string()),
            correlation_id: self.ids.correlation_id.clone(),
            trace_id: self.ids.trace_id.clone(),
            span_id: self.span(step),
            at: self.ids.now(),
        }
    }

    /// Record a step that was not run.
    pub(crate) fn skipped(
        &self,
        step: u64,
        module: &str,
        phase: Option<&str>,
        action: Option<&str>,
        reason: &str,
        error: Option<Eps>,
    ) {
        self.sink.emit(&Event::StepFinished {
            at: self.ids.now(),
            step,
            module: module.to_string(),
            action: action.map(str::to_string),
            phase: phase.map(str::to_string),
            outcome: Outcome::Skipped,
            attempts: 0,
            duration_ms: 0,
            reason: Some(reason.to_string()),
            output: None,
            stderr: None,
            error: error.map(Box::new),
        });
    }
}

/// A started module.
pub(crate) enum Running {
    /// In rune's process (builtin) or nothing to run (none).
    InProcess,
    /// A module process.
    Process(Box<Client>),
}

/// A started module shared by the steps that call it. Each module has a lock of
/// its own, held only across a call to that module: actions in different modules
/// run at once, and a hung `execute` holds up only its own module.
pub(crate) struct StartedModule(std::sync::Mutex<Running>);

impl StartedModule {
    /// Share `running`.
    pub(crate) fn new(running: Running) -> StartedModule {
        StartedModule(std::sync::Mutex::new(running))
    }

    /// Take the module back for its shutdown (what is left is a module with
    /// nothing to call).
    pub(crate) fn take(&self) -> Running {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *running, Running::InProcess)
    }

    /// One SPI `execute` call, for mediation (which built the request and
    /// judges the answer).
    pub(crate) fn execute(
        &self,
        params: ExecuteParams,
        timeout: Duration,
        cancel: &Cancel,
        trace: &Trace,
    ) -> ModuleAnswer {
        let mut running = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *running {
            Running::Process(client) => {
                let result = client.call(Method::Execute(Box::new(params)), timeout, cancel, trace);
                ModuleAnswer {
                    result,
                    request: client.last_call(),
                    stderr: client.stderr_tail(),
                }
            }
            Running::InProcess => ModuleAnswer {
                request: None,
                result: Err(CallError {
                    request: None,
                    kind: Kind::ConfigurationError,
                    message: format!(
                        "`{}` has no plugin and its module `{}` has no process to run it",
                        params.action, params.context.module
                    ),
                    data: None,
                }),
                stderr: None,
            },
        }
    }
}

/// What a look at a running module's health found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observation {
    /// It answered (or reported) healthy.
    Healthy(String),
    /// It answered (or reported) something else, or its check failed.
    Unhealthy(String),
    /// Its process is gone: it cannot come back in this run.
    Gone(String),
}

impl StartedModule {
    /// The health reports the module sent since they were last taken; none while
    /// another call holds the module (they are taken after it).
    pub(crate) fn take_health_reports(&self) -> Vec<Observation> {
        let Ok(mut running) = self.0.try_lock() else {
            return Vec::new();
        };
        match &mut *running {
            Running::Process(client) => client
                .take_health_reports()
                .into_iter()
                .map(|r| {
                    if r.healthy {
                        Observation::Healthy(r.said)
                    } else {
                        Observation::Unhealthy(r.said)
                    }
                })
                .collect(),
            Running::InProcess => Vec::new(),
        }
    }

    /// Whether the module's process is gone (exited, or killed for breaking the
    /// protocol); false while another call holds it.
    pub(crate) fn process_gone(&self) -> bool {
        let Ok(running) = self.0.try_lock() else {
            return false;
        };
        matches!(&*running, Running::Process(client) if client.exited())
    }

    /// One `health` call, unless another call holds the module (None: a module
    /// busy answering a call is checked at the next interval) or it runs in
    /// rune's process.
    pub(crate) fn check_health(
        &self,
        timeout: Duration,
        cancel: &Cancel,
        trace: &Trace,
    ) -> Option<Observation> {
        let Ok(mut running) = self.0.try_lock() else {
            return None;
        };
        let Running::Process(client) = &mut *running else {
            return None;
        };
        if client.exited() {
            return Some(Observation::Gone("its process is gone".to_string()));
        }
        Some(
            match client.call(Method::Health(Empty {}), timeout, cancel, trace) {
                Ok(answer) => {
                    let status = answer.get("status").and_then(Json::as_str);
                    match status {
                        Some(s) if spi::HEALTHY_STATUSES.contains(&s) => {
                            Observation::Healthy(format!("health answered {s}"))
                        }
                        _ => Observation::Unhealthy(format!(
                            "health answered {}",
                            answer.get("status").map_or("no status".to_string(), |s| {
                                crate::escape::untrusted(&s.to_string()).into_owned()
                            })
                        )),
                    }
                }
                Err(e) if client.exited() => Observation::Gone(e.message),
                Err(e) => Observation::Unhealthy(format!("health check failed: {}", e.message)),
            },
        )
    }
}

/// A module that did not start: its EPS error (already reported).
#[derive(Debug)]
pub(crate) struct StartFailed(pub Eps);

/// A new per-run trust token (32 hex digits; fixed in the deterministic setting).
pub(crate) fn token(deterministic: bool) -> String {
    if deterministic {
        return format!("{:032x}", 0x7e57_u64);
    }
    super::ids::nonzero_hex::<16>()
}

fn timeout_of(step: &PhaseStep, fallback: u64) -> Duration {
    Duration::from_millis(step.timeout_ms.unwrap_or(fallback))
}

/// One running step: emits StepStarted now and StepFinished when done.
struct StepRun<'c, 'a> {
    ctx: &'c Context<'a>,
    step: u64,
    module: String,
    phase: &'static str,
    watch: super::ids::Stopwatch,
}

impl<'c, 'a> StepRun<'c, 'a> {
    fn start(ctx: &'c Context<'a>, step: &PhaseStep, module: &str) -> Self {
        if let Some(node) = ctx.nodes.get(module) {
            // Every event of the step happened there.
            ctx.sink.emit(&Event::NodeAssigned {
                at: ctx.ids.now(),
                step: step.id,
                node: node.clone(),
                transport: super::remote::transport(node)
                    .map_or("ssh", |t| t.kind())
                    .to_string(),
            });
        }
        ctx.sink.emit(&Event::StepStarted {
            at: ctx.ids.now(),
            step: step.id,
            module: module.to_string(),
            action: None,
            phase: Some(step.phase.as_str().to_string()),
            attempt: 1,
            span_id: ctx.span(step.id),
        });
        StepRun {
            ctx,
            step: step.id,
            module: module.to_string(),
            phase: step.phase.as_str(),
            watch: ctx.ids.stopwatch(),
        }
    }

    fn trace(&self) -> Trace<'_> {
        Trace {
            step: self.step,
            ids: self.ctx.ids,
            sink: self.ctx.sink,
        }
    }

    fn eps(&self, e: CallError) -> Eps {
        let eps = Eps::new(
            e.kind,
            e.message,
            self.ctx.origin(self.step, &self.module, self.phase),
        );
        let eps = match e.data {
            Some(data) => eps.with_data(data),
            None => eps,
        };
        match e.request {
            Some(id) => eps.with_request(spi::request_name(&self.module, id)),
            None => eps,
        }
    }

    fn finish(self, output: Option<Json>, error: Option<&Eps>, stderr: Option<String>) {
        if error.is_some_and(|e| e.kind() == Kind::Interrupted) {
            self.ctx.note_interrupts();
        }
        self.ctx.sink.emit(&Event::StepFinished {
            at: self.ctx.ids.now(),
            step: self.step,
            module: self.module,
            action: None,
            phase: Some(self.phase.to_string()),
            outcome: if error.is_some() {
                Outcome::Failed
            } else {
                Outcome::Succeeded
            },
            attempts: 1,
            duration_ms: self.watch.reported_ms(),
            reason: None,
            output,
            stderr,
            error: error.cloned().map(Box::new),
        });
    }
}

/// Start `module` through its startup `steps` (register, initialize, ready).
pub(crate) fn start(
    module: &ModuleSpec,
    steps: &[PhaseStep],
    ctx: &Context,
) -> Result<(Running, ModuleState), StartFailed> {
    match module.runtime {
        Runtime::None => {
            ctx.state(
                &module.name,
                ModuleState::Discovered,
                ModuleState::Available,
                "runtime none: registered, nothing to run",
            );
            Ok((Running::InProcess, ModuleState::Available))
        }
        Runtime::Builtin => {
            for step in steps {
                let run = StepRun::start(ctx, step, &module.name);
                run.finish(Some(json!({"runtime": "builtin"})), None, None);
                match step.phase {
                    Phase::Register => ctx.state(
                        &module.name,
                        ModuleState::Discovered,
                        ModuleState::Available,
                        "",
                    ),
                    Phase::Ready => ctx.state(
                        &module.name,
                        ModuleState::Available,
                        ModuleState::Active,
                        "",
                    ),
                    _ => {}
                }
            }
            Ok((Running::InProcess, ModuleState::Active))
        }
        Runtime::Process => {
            start_process(module, steps, ctx).map(|(c, state)| (Running::Process(c), state))
        }
    }
}

fn start_process(
    module: &ModuleSpec,
    steps: &[PhaseStep],
    ctx: &Context,
) -> Result<(Box<Client>, ModuleState), StartFailed> {
    let mut client: Option<Box<Client>> = None;
    let mut state = ModuleState::Discovered;
    // The deny paths the module confirmed in its initialize answer.
    let mut confirmed: Vec<String> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let run = StepRun::start(ctx, step, &module.name);
        let result = match step.phase {
            Phase::Register => register(module, &run, ctx).map(|(c, out)| {
                client = Some(c);
                out
            }),
            Phase::Initialize => match client.as_mut() {
                Some(c) => initialize(module, c, step, &run, ctx).inspect(|answer| {
                    confirmed = deny_paths_of(answer);
                }),
                None => Err(run.eps(not_running())),
            },
            Phase::Ready => match client.as_mut() {
                Some(c) => ready(module, c, step, &run, ctx, &confirmed),
                None => Err(run.eps(not_running())),
            },
            Phase::Drain | Phase::Shutdown => Ok(Json::Null),
        };
        match result {
            Ok(output) => {
                let degraded = output.get("degraded").cloned();
                run.finish(Some(output), None, None);
                match step.phase {
                    Phase::Register => {
                        ctx.state(&module.name, state, ModuleState::Available, "");
                        state = ModuleState::Available;
                    }
                    Phase::Ready => {
                        ctx.state(&module.name, state, ModuleState::Active, "");
                        state = ModuleState::Active;
                        if let Some(Json::String(why)) = degraded {
                            ctx.state(&module.name, state, ModuleState::Degraded, &why);
                            state = ModuleState::Degraded;
                        }
                    }
                    _ => {}
                }
            }
            Err(eps) => {
                // Fail closed: the process goes now, before anything is routed to it.
                let stderr = client.as_mut().map(|c| {
                    c.kill();
                    c.stderr_tail()
                });
                run.finish(None, Some(&eps), stderr.flatten());
                ctx.state(
                    &module.name,
                    state,
                    ModuleState::Unavailable,
                    &format!("{} failed: {}", step.phase.as_str(), eps.reason()),
                );
                for later in &steps[i + 1..] {
                    ctx.skipped(
                        later.id,
                        &module.name,
                        Some(later.phase.as_str()),
                        None,
                        &format!("the module failed at {}", step.phase.as_str()),
                        None,
                    );
                }
                return Err(StartFailed(eps));
            }
        }
    }
    client.map(|c| (c, state)).ok_or_else(|| {
        StartFailed(Eps::new(
            Kind::ProtocolViolation,
            "the plan has no register step for this process module",
            ctx.origin(0, &module.name, "register"),
        ))
    })
}

fn not_running() -> CallError {
    CallError {
        request: None,
        kind: Kind::Crashed,
        message: "the module process is not running".to_string(),
        data: None,
    }
}

/// Spawn, `describe`, check name and version, negotiate the SPI version.
fn register(module: &ModuleSpec, run: &StepRun, ctx: &Context) -> Result<(Box<Client>, Json), Eps> {
    let Some(command) = &module.command else {
        return Err(run.eps(CallError {
            request: None,
            kind: Kind::SpawnFailed,
            message: "the process module has no command (`lifecycle.exec`)".to_string(),
            data: None,
        }));
    };
    let node = module.node.as_deref().unwrap_or("localhost");
    let process = super::remote::Process {
        spec: command,
        ship: &module.ship,
        remote_exec: &module.remote_exec,
        exit_wait: module.exit_wait,
        out_cap: Client::READ_AHEAD,
    };
    let started = super::remote::transport(node)
        .and_then(|transport| Client::start(&*transport, &process, &ctx.stop));
    let mut client = match started {
        Ok(client) => Box::new(client),
        Err(failure) => {
            return Err(run
                .eps(CallError {
                    request: None,
                    kind: failure.kind,
                    message: failure.message,
                    data: None,
                })
                .with_data(failure.data))
        }
    };
    let timeout = module.describe_timeout;
    let fail = |client: &mut Client, e: CallError| {
        client.kill();
        run.eps(e)
    };
    let described = match client.call(Method::Describe(Empty {}), timeout, &ctx.stop, &run.trace())
    {
        Ok(r) => r,
        Err(e) => return Err(fail(&mut client, e)),
    };
    match check_described(module, &described) {
        Ok(version) => Ok((
            client,
            json!({"describe": described, "spi_version": version}),
        )),
        Err(e) => Err(fail(&mut client, e)),
    }
}

/// The `describe` answer against the catalog: name and version agree, and an SPI
/// version all three sides speak, which is returned.
fn check_described(module: &ModuleSpec, described: &Json) -> Result<String, CallError> {
    let name = described.get("module_name").and_then(Json::as_str);
    let version = described.get("module_version").and_then(Json::as_str);
    let mismatch = |what: &str, said: Option<&str>, want: &str| CallError {
        request: None,
        kind: Kind::DescribeMismatch,
        message: format!(
            "describe says module {what} {}, the catalog says `{want}`",
            said.map_or("(none)".to_string(), |s| format!(
                "`{}`",
                crate::escape::untrusted(s)
            ))
        ),
        data: Some(json!({"describe": described.clone()})),
    };
    if name != Some(module.name.as_str()) {
        return Err(mismatch("name", name, &module.name));
    }
    if let Some(want) = &module.version {
        if version != Some(want.as_str()) {
            return Err(mismatch("version", version, want));
        }
    }
    let offered: Vec<String> = match described.get("spi_versions").and_then(Json::as_array) {
        Some(list) if list.iter().all(Json::is_string) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => {
            return Err(CallError {
                request: None,
                kind: Kind::ProtocolViolation,
                message: "describe has no `spi_versions` list of strings".to_string(),
                data: Some(json!({"describe": described.clone()})),
            })
        }
    };
    let catalog: Vec<String> = if module.spi_versions.is_empty() {
        spi::SUPPORTED_VERSIONS
            .iter()
            .map(|v| v.to_string())
            .collect()
    } else {
        module.spi_versions.clone()
    };
    let Some(version) = spi::negotiate(&catalog, &offered) else {
        return Err(CallError {
            request: None,
            kind: Kind::SpiVersionMismatch,
            message: format!(
                "no common SPI version: the catalog allows {catalog:?}, the module speaks {:?}, rune speaks {:?}",
                offered.iter().map(|v| crate::escape::untrusted(v).into_owned()).collect::<Vec<_>>(),
                spi::SUPPORTED_VERSIONS
            ),
            data: Some(json!({"describe": described.clone()})),
        });
    };
    Ok(version)
}

fn initialize(
    module: &ModuleSpec,
    client: &mut Client,
    step: &PhaseStep,
    run: &StepRun,
    ctx: &Context,
) -> Result<Json, Eps> {
    let params = Method::Initialize(Box::new(InitializeParams {
        spi_version: spi::SUPPORTED_VERSIONS[0].to_string(),
        config: module.config.clone(),
        token: ctx.token.to_string(),
        trace: TraceParent {
            trace_id: ctx.ids.trace_id.clone(),
            parent_span_id: ctx.span(step.id),
            sampled: true,
        },
        correlation_id: ctx.ids.correlation_id.clone(),
        deployment_mode: "local".to_string(),
        fallback: "fail_closed".to_string(),
        deny_paths: module.deny_paths.clone(),
    }));
    let timeout = timeout_of(step, crate::plan::DEFAULT_INITIALIZE_MS);
    let result = client
        .call(params, timeout, &ctx.stop, &run.trace())
        .map_err(|e| run.eps(e))?;
    if result.get("token").and_then(Json::as_str) != Some(ctx.token) {
        // Not the module rune started, or one that does not follow the SPI: either
        // way nothing may be routed to it.
        return Err(run.eps(CallError {
            request: None,
            kind: Kind::TokenMismatch,
            message: "the module did not echo the trust token it was given in initialize"
                .to_string(),
            data: None,
        }));
    }
    Ok(result)
}

/// The deny paths an initialize or ready answer says the module enforces.
fn deny_paths_of(answer: &Json) -> Vec<String> {
    answer
        .get("deny_paths")
        .and_then(Json::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The required deny paths neither answer confirmed: ready also means "the
/// module can enforce required deny paths safely" (the lifecycle seed).
fn unconfirmed_deny_paths(module: &ModuleSpec, confirmed: &[String], ready: &Json) -> Vec<String> {
    let said = deny_paths_of(ready);
    module
        .deny_paths
        .iter()
        .filter(|p| !confirmed.contains(p) && !said.contains(p))
        .cloned()
        .collect()
}

fn ready(
    module: &ModuleSpec,
    client: &mut Client,
    step: &PhaseStep,
    run: &StepRun,
    ctx: &Context,
    confirmed: &[String],
) -> Result<Json, Eps> {
    let timeout = timeout_of(step, crate::plan::DEFAULT_READY_MS);
    let deadline = Instant::now() + timeout;
    let mut last = Json::Null;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let not_ready = |last: &Json| CallError {
            request: None,
            kind: Kind::NotReady,
            message: format!(
                "`{}` did not become ready within {} ms",
                module.name,
                timeout.as_millis()
            ),
            data: Some(json!({"last_answer": last})),
        };
        if left.is_zero() {
            return Err(run.eps(not_ready(&last)));
        }
        match client.call(Method::Ready(Empty {}), left, &ctx.stop, &run.trace()) {
            Ok(answer) if answer.get("ready") == Some(&Json::Bool(true)) => {
                last = answer;
                break;
            }
            // Not ready yet, or an error answer: probe again until the deadline.
            Ok(answer) => last = answer,
            Err(e) if e.kind == Kind::BusinessFailure => last = e.data.unwrap_or(Json::Null),
            Err(e) if e.kind == Kind::Timeout => return Err(run.eps(not_ready(&last))),
            Err(e) => return Err(run.eps(e)),
        }
        let pause = READY_PROBE.min(deadline.saturating_duration_since(Instant::now()));
        // Woken early by a Ctrl-C: the next call reports the interruption.
        Cancel::wait_any(&[&ctx.stop], pause);
    }
    let missing = unconfirmed_deny_paths(module, confirmed, &last);
    if !missing.is_empty() {
        // Fail closed: a module that cannot say it enforces what must be denied
        // is not ready, whatever else it says.
        return Err(run.eps(CallError {
            request: None,
            kind: Kind::NotReady,
            message: format!(
                "`{}` said ready without confirming that it enforces the required deny paths: {}",
                module.name,
                missing.join(", ")
            ),
            data: Some(
                json!({"required": module.deny_paths, "unconfirmed": missing, "last_answer": last}),
            ),
        }));
    }
    // One health check; anything but `ready` is reported, not fatal.
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    let (health, degraded) =
        match client.call(Method::Health(Empty {}), left, &ctx.stop, &run.trace()) {
            Ok(h) => {
                let status = h.get("status").and_then(Json::as_str).unwrap_or("");
                let degraded = (status != "ready").then(|| {
                    format!(
                        "health check answered {}",
                        h.get("status").map_or("no status".to_string(), |s| {
                            crate::escape::untrusted(&s.to_string()).into_owned()
                        })
                    )
                });
                (h, degraded)
            }
            Err(e) if e.kind == Kind::Interrupted => return Err(run.eps(e)),
            Err(e) => {
                let eps = run.eps(CallError {
                    request: None,
                    kind: Kind::Unhealthy,
                    message: format!("health check failed: {}", e.message),
                    data: e.data,
                });
                let why = eps.reason().to_string();
                (json!({"error": eps}), Some(why))
            }
        };
    let mut output = json!({"ready": last, "health": health});
    if let Some(why) = degraded {
        output["degraded"] = Json::String(why);
    }
    Ok(output)
}

/// Drain and shut down a started module through its shutdown `steps`. Returns
/// whether every step succeeded.
pub(crate) fn stop(
    module: &ModuleSpec,
    running: Running,
    steps: &[PhaseStep],
    from: ModuleState,
    ctx: &Context,
) -> bool {
    match running {
        Running::InProcess => {
            for step in steps {
                StepRun::start(ctx, step, &module.name).finish(
                    Some(json!({"runtime": "builtin"})),
                    None,
                    None,
                );
            }
            ctx.state(&module.name, from, ModuleState::Stopped, "");
            true
        }
        Running::Process(mut client) => {
            let mut ok = true;
            for step in steps {
                let run = StepRun::start(ctx, step, &module.name);
                if ctx.kill.is_set() {
                    client.kill();
                    let eps = run.eps(CallError {
                        request: None,
                        kind: Kind::Interrupted,
                        message: "killed by a second interrupt".to_string(),
                        data: None,
                    });
                    run.finish(None, Some(&eps), client.stderr_tail());
                    ok = false;
                    continue;
                }
                let result = match step.phase {
                    Phase::Drain => client
                        .call(
                            Method::Drain(Empty {}),
                            timeout_of(step, crate::plan::DEFAULT_DRAIN_MS),
                            &ctx.kill,
                            &run.trace(),
                        )
                        .map_err(|e| run.eps(e))
                        .and_then(|answer| {
                            draining(answer, client.last_call()).map_err(|e| run.eps(e))
                        }),
                    Phase::Shutdown => shutdown(module, &mut client, step, &run, ctx),
                    _ => Ok(Json::Null),
                };
                match result {
                    Ok(output) => run.finish(Some(output), None, None),
                    Err(eps) => {
                        if eps.kind() == Kind::Interrupted {
                            client.kill();
                        }
                        run.finish(None, Some(&eps), client.stderr_tail());
                        ok = false;
                    }
                }
            }
            // Whatever happened above, nothing of the module is left.
            client.kill();
            ctx.state(&module.name, from, ModuleState::Stopped, "");
            ok
        }
    }
}

/// A drain answer must say `{"status": "draining"}` (the seed: "expose a clear
/// draining status to the core"); anything else breaks the protocol.
fn draining(answer: Json, request: Option<u64>) -> Result<Json, CallError> {
    if answer.get("status").and_then(Json::as_str) == Some("draining") {
        return Ok(answer);
    }
    let said = answer.get("status").map_or("no status".to_string(), |s| {
        crate::escape::untrusted(&s.to_string()).into_owned()
    });
    Err(CallError {
        request,
        kind: Kind::ProtocolViolation,
        message: format!("the drain answer says {said}, not \"draining\""),
        data: Some(json!({"method": "drain", "answer": answer})),
    })
}

fn shutdown(
    module: &ModuleSpec,
    client: &mut Client,
    step: &PhaseStep,
    run: &StepRun,
    ctx: &Context,
) -> Result<Json, Eps> {
    let timeout = timeout_of(step, crate::plan::DEFAULT_SHUTDOWN_MS);
    let started = Instant::now();
    let answer = client.call(Method::Shutdown(Empty {}), timeout, &ctx.kill, &run.trace());
    if let Err(e) = &answer {
        if e.kind == Kind::Interrupted {
            return Err(run.eps(e.clone()));
        }
    }
    let left = timeout.saturating_sub(started.elapsed());
    let exited = client.finish(left, KILL_GRACE);
    match answer {
        Err(e) => Err(run.eps(e)),
        Ok(_) if !exited => Err(run.eps(CallError {
            request: None,
            kind: Kind::Timeout,
            message: format!(
                "`{}` answered shutdown but did not exit within {} ms; its process group was killed",
                module.name,
                timeout.as_millis()
            ),
            data: None,
        })),
        Ok(result) => Ok(result),
    }
}
