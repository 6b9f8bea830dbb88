//! Mediation (LMM): the one way an action request reaches a plugin.
//!
//! [`Mediator::run_action`] checks the parameters against the action's
//! input_schema before anything starts, writes the BPCS request, runs the plugin
//! through [`super::process::run_once`] (deadline, bounded output, the whole
//! process group killed at the end), parses what it wrote as untrusted input
//! ([`super::bpcs::parse_response`]), checks `output_data` against the
//! output_schema, retries with backoff the failures the action's `retries.on`
//! names, and turns every failure into one EPS envelope. It reports each attempt,
//! message and outcome as [`Event`]s; it never prints.
//!
//! An action its module provides itself (no plugin) goes through the same rules:
//! [`Via::Module`] hands each attempt's request, with the same [`ActionContext`] a
//! plugin gets, to the module's SPI `execute` on that module's own connection,
//! and validation, retries, the output_schema check and EPS errors stay here, so
//! a module action and a plugin action are judged alike.
//!
//! Two signals reach a request: `stop` (the first Ctrl-C) starts no new attempt
//! and ends a backoff wait, while the attempt in flight finishes or times out;
//! `kill` (the second) ends the attempt in flight at once.
//!
//! Where a plugin runs is a node's [`Transport`] (this machine, or a node of the
//! inventory over OpenSSH: [`super::remote`]); everything above the transport
//! (validation, parsing, retries, EPS) stays here, alike for every node.

use std::time::Duration;

use serde_json::{json, Map, Value as Json};

use super::bpcs::{self, ActionContext, BadOutput, Reply};
use super::eps::{Eps, Kind, Origin};
use super::event::{Direction, Event, Outcome, Protocol, Sink};
use super::ids::RunIds;
use super::process::{self, Cancel, Ending, Finished, Spec};
use super::rcs;
use super::remote::Transport;
use super::spi::CallError;
use super::spi_message::ExecuteParams;

/// Longest wait between two attempts, however the backoff doubles.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// At most this many output_schema violations are reported for one result.
const MAX_VIOLATIONS: usize = 10;

/// How much of an unparseable stdout is quoted in the EPS error.
const STDOUT_EXCERPT: usize = 200;

/// One action request to mediate.
pub(crate) struct ActionCall<'a> {
    /// Plan step id.
    pub step: u64,
    /// The providing module.
    pub module: &'a str,
    /// The action, with its schemas.
    pub action: &'a crate::registry::Action,
    /// What runs each attempt: a plugin, or the module's SPI `execute`.
    pub via: Via<'a>,
    /// Parameters (validated again here: mediation trusts no caller).
    pub params: &'a Map<String, Json>,
    /// Where to run it: `local` or `localhost`.
    pub node: &'a str,
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts in all, including the first (0 counts as 1).
    pub max_attempts: u64,
    /// Wait before the second attempt; it doubles for each further one.
    pub backoff_ms: u64,
    /// Which failures are retried (`any`, `timeout`, `retryable`).
    pub retry_on: &'a [String],
    /// The action's schemas compiled once for the run (a workflow runs the same
    /// action many times); None compiles them for this request.
    pub schemas: Option<&'a Schemas>,
}

/// What runs an action's attempts.
#[derive(Clone, Copy)]
pub(crate) enum Via<'a> {
    /// A one-shot plugin process (BPCS): its resolved command line.
    Plugin(&'a Spec),
    /// The providing module's SPI `execute`, on its own connection.
    Module(&'a super::lifecycle::StartedModule),
}

/// What one module `execute` call gave.
pub(crate) struct ModuleAnswer {
    /// The JSON-RPC result, or why there is none.
    pub result: Result<Json, CallError>,
    /// The JSON-RPC id of the `execute` call, when one was sent.
    pub request: Option<u64>,
    /// The module's stderr tail, lossily decoded.
    pub stderr: Option<String>,
}

/// An action's input and output schemas, compiled once.
pub(crate) struct Schemas {
    input: Option<crate::params::Compiled>,
    output: Option<Result<jsonschema::Validator, String>>,
}

impl Schemas {
    /// Compile `action`'s schemas (one that does not compile is reported when used).
    pub(crate) fn compile(action: &crate::registry::Action) -> Schemas {
        Schemas {
            input: action
                .input_schema
                .as_ref()
                .map(crate::params::Compiled::new),
            output: action.output_schema.as_ref().map(|schema| {
                jsonschema::validator_for(&schema.to_json()).map_err(|e| e.masked().to_string())
            }),
        }
    }
}

/// Runs action requests for one command.
pub(crate) struct Mediator<'a> {
    /// Ids and clock of the run.
    pub ids: &'a RunIds,
    /// Where events go.
    pub sink: &'a dyn Sink,
    /// The first Ctrl-C: no new attempt starts and a backoff wait ends; the
    /// attempt in flight finishes or times out.
    pub stop: Cancel,
    /// The second Ctrl-C: the attempt in flight is killed (a plugin's process
    /// group) or abandoned (a module's `execute`) at once.
    pub kill: Cancel,
}

/// How an action request ended.
#[derive(Debug, Clone)]
pub(crate) struct ActionResult {
    /// Succeeded or failed (never skipped: a request that starts runs).
    pub outcome: Outcome,
    /// `output_data`, on success.
    pub output: Option<Json>,
    /// The last attempt's failure.
    pub error: Option<Eps>,
    /// Attempts made (0 when nothing was started).
    pub attempts: u64,
}

/// What the attempts of one request came to so far.
#[derive(Default)]
struct Tally {
    /// Attempts started.
    attempts: u64,
    /// The last attempt's stderr tail.
    stderr: Option<String>,
}

/// What one attempt gave.
struct Attempt {
    output: Result<Json, Eps>,
    stderr: Option<String>,
}

impl Mediator<'_> {
    /// Run `call` to its end: validate, run, parse, check, retry. Emits
    /// `StepStarted` per attempt, `Message` per request and parsed response,
    /// `Retrying` before each retry, and one `StepFinished`.
    pub(crate) fn run_action(&self, call: &ActionCall) -> ActionResult {
        let watch = self.ids.stopwatch();
        let mut tally = Tally::default();
        let result = self.run_attempts(call, &mut tally);
        let (outcome, output, error) = match result {
            Ok(output) => (Outcome::Succeeded, Some(output), None),
            Err(eps) => (Outcome::Failed, None, Some(eps)),
        };
        self.sink.emit(&Event::StepFinished {
            at: self.ids.now(),
            step: call.step,
            module: call.module.to_string(),
            action: Some(call.action.name.value.clone()),
            phase: None,
            outcome,
            attempts: tally.attempts,
            duration_ms: watch.reported_ms(),
            reason: None,
            output: output.clone(),
            stderr: tally.stderr,
            error: error.clone().map(Box::new),
        });
        ActionResult {
            outcome,
            output,
            error,
            attempts: tally.attempts,
        }
    }

    /// Check the request, then run attempts until one succeeds, a failure is not
    /// retried, or the run is stopped.
    // One envelope per request, moved once: its size costs nothing worth a box.
    #[allow(clippy::result_large_err)]
    fn run_attempts(&self, call: &ActionCall, tally: &mut Tally) -> Result<Json, Eps> {
        let action = call.action.name.value.as_str();
        let origin = Origin {
            step: Some(call.step),
            module: Some(call.module.to_string()),
            action: Some(action.to_string()),
            phase: None,
            correlation_id: self.ids.correlation_id.clone(),
            trace_id: self.ids.trace_id.clone(),
            span_id: self.ids.span_for(call.step),
            at: self.ids.now(),
        };
        let node = super::remote::transport(call.node)
            .map_err(|f| Eps::new(f.kind, f.message, origin.clone()).with_data(f.data))?;
        let node = &*node;
        if !super::remote::is_local(call.node) {
            self.sink.emit(&Event::NodeAssigned {
                at: self.ids.now(),
                step: call.step,
                node: node.name().to_string(),
                transport: node.kind().to_string(),
            });
        }
        if let Some(eps) = invalid_params(call, &origin) {
            return Err(eps);
        }
        // The request as LOM sends it to the module (RCS): every attempt is
        // derived from it.
        let rcs = self.rcs_request(call, node, &origin);
        self.sink.emit(&Event::Message {
            at: self.ids.now(),
            step: call.step,
            direction: Direction::Request,
            protocol: Protocol::Rcs,
            message: serde_json::to_value(&rcs).unwrap_or(Json::Null),
        });
        loop {
            tally.attempts += 1;
            let attempt = tally.attempts;
            if self.stop.is_set() || self.kill.is_set() {
                return Err(interrupted(&origin, attempt));
            }
            self.sink.emit(&Event::StepStarted {
                at: self.ids.now(),
                step: call.step,
                module: call.module.to_string(),
                action: Some(action.to_string()),
                phase: None,
                attempt,
                span_id: origin.span_id.clone(),
            });
            // One context for either way the action runs: a plugin and a module
            // see the same request.
            let context = rcs.context_for(attempt);
            let outcome = match call.via {
                Via::Plugin(command) => self.attempt(call, command, node, &rcs, context, &origin),
                Via::Module(module) => self.execute(call, module, &rcs, context, &origin),
            };
            tally.stderr = outcome.stderr;
            let eps = match outcome.output {
                Ok(output) => return Ok(output),
                Err(eps) => eps,
            };
            if attempt >= call.max_attempts.max(1)
                || !eps.retried_by(call.retry_on)
                || self.stop.is_set()
                || self.kill.is_set()
            {
                return Err(eps);
            }
            let wait = backoff(call.backoff_ms, attempt);
            self.sink.emit(&Event::Retrying {
                at: self.ids.now(),
                step: call.step,
                attempt,
                backoff_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error: Box::new(eps.clone()),
            });
            if !self.sleep(wait) {
                // The attempt that failed is why the step did not succeed:
                // the interruption must not hide its error.
                return Err(interrupted_retry(&origin, attempt, &eps));
            }
        }
    }

    /// The RCS action execution request of `call`, with the first attempt's
    /// context.
    fn rcs_request(
        &self,
        call: &ActionCall,
        node: &dyn Transport,
        origin: &Origin,
    ) -> rcs::Message {
        rcs::Message::new(rcs::Parts {
            target: call.module,
            data: rcs::RequestData {
                input_parameters: call.params.clone(),
                context: self.context(call, node, origin, 1),
            },
            timeout_ms: u64::try_from(call.timeout.as_millis()).unwrap_or(u64::MAX),
            max_attempts: call.max_attempts,
            backoff_ms: call.backoff_ms,
            max_backoff_ms: u64::try_from(MAX_BACKOFF.as_millis()).unwrap_or(u64::MAX),
            retry_on: call.retry_on,
            created_at: super::eps::rfc3339_ms(origin.at),
        })
    }

    /// Where and why attempt `attempt` of `call` runs.
    fn context(
        &self,
        call: &ActionCall,
        node: &dyn Transport,
        origin: &Origin,
        attempt: u64,
    ) -> ActionContext {
        ActionContext {
            node: node.name().to_string(),
            action: call.action.name.value.clone(),
            module: call.module.to_string(),
            step: call.step,
            attempt,
            timeout_ms: u64::try_from(call.timeout.as_millis()).unwrap_or(u64::MAX),
            requested_by: requested_by(),
            dry_run: false,
            correlation_id: self.ids.correlation_id.clone(),
            trace_id: self.ids.trace_id.clone(),
            span_id: origin.span_id.clone(),
        }
    }

    /// One plugin process: request out, response in, judged. The BPCS request is
    /// the RCS request's, for this attempt: its parameters and context, its
    /// correlation and trace ids, and the RCS message as its parent.
    fn attempt(
        &self,
        call: &ActionCall,
        command: &Spec,
        node: &dyn Transport,
        rcs: &rcs::Message,
        context: ActionContext,
        origin: &Origin,
    ) -> Attempt {
        let attempt = context.attempt;
        let request = bpcs::Request {
            message_metadata: bpcs::MessageMetadata {
                version: bpcs::VERSION.to_string(),
                message_id: self.ids.message_id_for(call.step, attempt),
                correlation_id: rcs.message_metadata.correlation_id.clone(),
                parent_message_id: Some(rcs.message_metadata.message_id.clone()),
                created_at: self.ids.now(),
            },
            payload: bpcs::RequestPayload {
                input_parameters: rcs.payload.data.input_parameters.clone(),
                context,
            },
            observability: bpcs::Observability {
                trace_id: rcs.observability.trace_id.clone(),
                span_id: rcs.observability.span_id.clone(),
            },
        };
        let request_id = request.message_metadata.message_id.clone();
        let message = serde_json::to_value(&request).unwrap_or(Json::Null);
        let mut input = serde_json::to_vec(&request).unwrap_or_default();
        input.push(b'\n');
        self.sink.emit(&Event::Message {
            at: self.ids.now(),
            step: call.step,
            direction: Direction::Request,
            protocol: Protocol::Bpcs,
            message,
        });
        let origin = origin.clone();
        let plugin = super::remote::Plugin {
            spec: command,
            action: call.action,
        };
        let finished = match node.run_plugin(&plugin, &input, call.timeout, &self.kill) {
            Ok(finished) => finished,
            Err(failure) => {
                let mut data = failure.data;
                data["attempt"] = json!(attempt);
                return Attempt {
                    output: Err(Eps::new(failure.kind, failure.message, origin).with_data(data)),
                    stderr: None,
                };
            }
        };
        let stderr = stderr_text(&finished);
        let parsed = bpcs::parse_response(&finished.stdout);
        if let Ok(Some((response, _))) = &parsed {
            self.sink.emit(&Event::Message {
                at: self.ids.now(),
                step: call.step,
                direction: Direction::Response,
                protocol: Protocol::Bpcs,
                message: response.clone(),
            });
        }
        let output = match stopped_by_limit(call, command, &finished) {
            Some(failure) => Err(failure),
            None => verdict(call, &finished, parsed),
        };
        let output = judge(output, &finished, origin, attempt, stderr.as_deref())
            .map_err(|eps| eps.with_request(request_id));
        Attempt { output, stderr }
    }

    /// One SPI `execute` call to the providing module, judged like a plugin's
    /// answer: `output_data` must be an object matching the output_schema.
    fn execute(
        &self,
        call: &ActionCall,
        module: &super::lifecycle::StartedModule,
        rcs: &rcs::Message,
        context: ActionContext,
        origin: &Origin,
    ) -> Attempt {
        let action = &call.action.name.value;
        let attempt = context.attempt;
        // The RCS request's parameters and context, as a plugin would get them.
        let params = ExecuteParams {
            action: action.clone(),
            input_parameters: rcs.payload.data.input_parameters.clone(),
            context,
        };
        let trace = super::spi::Trace {
            step: call.step,
            ids: self.ids,
            sink: self.sink,
        };
        // The first Ctrl-C lets the call finish (or time out) as it lets a plugin;
        // only the second abandons it.
        let answer = module.execute(params, call.timeout, &self.kill, &trace);
        let fail = |kind: Kind, message: String, data: Json| {
            let mut data = match data {
                Json::Object(map) => map,
                Json::Null => Map::new(),
                other => Map::from_iter([("details".to_string(), other)]),
            };
            data.insert("attempt".into(), json!(attempt));
            let eps = Eps::new(kind, message, origin.clone()).with_data(Json::Object(data));
            // Named like a plugin's failed request: the execute call that failed.
            match answer.request {
                Some(id) => eps.with_request(super::spi::request_name(call.module, id)),
                None => eps,
            }
        };
        let output = match answer.result {
            Err(e) => Err(fail(e.kind, e.message, e.data.unwrap_or(Json::Null))),
            Ok(result) => match result.get("output_data") {
                Some(output @ Json::Object(_)) => {
                    match output_violations(call.action, call.schemas, output) {
                        Ok(()) => Ok(output.clone()),
                        Err(violations) => Err(fail(
                            Kind::InvalidResult,
                            format!(
                                "the output_data of `{action}` does not match its output_schema: {}",
                                violations.join("; ")
                            ),
                            json!({ "violations": violations }),
                        )),
                    }
                }
                _ => Err(fail(
                    Kind::ProtocolViolation,
                    "the execute answer has no `output_data` object".to_string(),
                    json!({ "result": result }),
                )),
            },
        };
        // A module's stderr tail covers its whole life, not this call: it is
        // evidence for a failure, noise beside a success.
        let stderr = answer.stderr.filter(|_| output.is_err());
        Attempt { output, stderr }
    }

    /// Wait `wait`, or less when stopped; whether the whole wait passed.
    fn sleep(&self, wait: Duration) -> bool {
        !Cancel::wait_any(&[&self.stop, &self.kill], wait)
    }
}

/// The wait after failed attempt `attempt`: `backoff_ms`, doubling per attempt,
/// at most [`MAX_BACKOFF`].
pub(crate) fn backoff(backoff_ms: u64, attempt: u64) -> Duration {
    let factor = 1u64 << attempt.saturating_sub(1).min(20);
    Duration::from_millis(backoff_ms.saturating_mul(factor)).min(MAX_BACKOFF)
}

fn requested_by() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "operator".to_string())
}

fn interrupted(origin: &Origin, attempt: u64) -> Eps {
    Eps::new(
        Kind::Interrupted,
        "interrupted before the action finished",
        origin.clone(),
    )
    .with_data(json!({ "attempt": attempt }))
}

/// Ctrl-C during the backoff after `attempt` failed with `previous`: the step ends
/// interrupted, and the report keeps that attempt's error (its message in ours,
/// the whole envelope under `data.previous_error`).
fn interrupted_retry(origin: &Origin, attempt: u64, previous: &Eps) -> Eps {
    Eps::new(
        Kind::Interrupted,
        format!(
            "interrupted before retrying; attempt {attempt} had failed: {}",
            previous.reason()
        ),
        origin.clone(),
    )
    .with_data(json!({
        "attempt": attempt + 1,
        "previous_error": previous,
    }))
}

/// The parameters against the input_schema: nothing starts when they do not fit.
fn invalid_params(call: &ActionCall, origin: &Origin) -> Option<Eps> {
    let problems = match (call.schemas, &call.action.input_schema) {
        (
            Some(Schemas {
                input: Some(compiled),
                ..
            }),
            Some(schema),
        ) => crate::params::validate_with(
            compiled,
            call.params,
            schema,
            &crate::params::Subject::action(&call.action.name.value),
            None,
            &[],
        ),
        _ => crate::params::validate(call.params, call.action),
    };
    if problems.is_empty() {
        return None;
    }
    let messages: Vec<String> = problems.iter().map(|d| d.message.clone()).collect();
    Some(
        Eps::new(
            Kind::InvalidParams,
            format!(
                "the parameters of `{}` do not match its input_schema: {}",
                call.action.name.value,
                messages.join("; ")
            ),
            origin.clone(),
        )
        .with_data(json!({ "problems": messages })),
    )
}

/// The kind an exit code means under the BPCS conventions.
fn kind_of_exit(code: i64) -> Kind {
    match code {
        1 => Kind::PluginRejectedInput,
        2 => Kind::ResourceError,
        3 => Kind::BusinessFailure,
        4 => Kind::ConfigurationError,
        _ => Kind::Unhandled,
    }
}

/// How the process ended, for EPS data and messages.
fn ended(finished: &Finished) -> String {
    match (finished.code(), finished.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended".to_string(),
    }
}

fn stderr_text(finished: &Finished) -> Option<String> {
    if finished.stderr_tail.is_empty() {
        return None;
    }
    // Raw (bounded, lossily decoded) for the JSON report and the journal, where
    // JSON's own escaping is enough; src/report/ escapes it where people see it.
    let mut shown = String::from_utf8_lossy(&finished.stderr_tail).into_owned();
    if finished.stderr_truncated {
        shown.insert_str(0, "[earlier stderr dropped] ");
    }
    Some(shown)
}

/// An excerpt of stdout that did not parse, escaped, for the EPS data.
fn stdout_excerpt(stdout: &[u8]) -> String {
    let cut = &stdout[..stdout.len().min(STDOUT_EXCERPT)];
    let text = String::from_utf8_lossy(cut);
    let mut shown = crate::escape::untrusted(&text).into_owned();
    if stdout.len() > STDOUT_EXCERPT {
        shown.push('…');
    }
    shown
}

/// Why a plugin attempt failed, before it becomes an EPS envelope.
struct Failure {
    kind: Kind,
    message: String,
    /// Added to the envelope's data (an object, or null for nothing).
    extra: Json,
}

impl Failure {
    fn new(kind: Kind, message: String, extra: Json) -> Failure {
        Failure {
            kind,
            message,
            extra,
        }
    }
}

/// Decide what one finished plugin process means.
// One envelope per plugin run, moved once: its size costs nothing worth a box.
#[allow(clippy::result_large_err)]
fn judge(
    verdict: Result<Json, Failure>,
    finished: &Finished,
    origin: Origin,
    attempt: u64,
    stderr: Option<&str>,
) -> Result<Json, Eps> {
    verdict.map_err(|failure| {
        let mut data = Map::new();
        data.insert("attempt".into(), json!(attempt));
        data.insert("exit_code".into(), json!(finished.code()));
        data.insert("signal".into(), json!(finished.signal()));
        if let Some(stderr) = stderr {
            data.insert("stderr_tail".into(), json!(stderr));
        }
        if let Json::Object(extra) = failure.extra {
            data.extend(extra);
        }
        Eps::new(failure.kind, failure.message, origin).with_data(Json::Object(data))
    })
}

/// A plugin that a declared resource limit stopped (see [`super::limits`]): it is
/// judged by the limit, whatever it wrote or exited with.
fn stopped_by_limit(call: &ActionCall, command: &Spec, finished: &Finished) -> Option<Failure> {
    if finished.ending != Ending::Exited {
        return None;
    }
    let (limit, said) = super::limits::limit_hit(
        &command.limits,
        finished.code(),
        finished.signal(),
        &finished.stderr_tail,
    )?;
    Some(Failure::new(
        Kind::ResourceExhausted,
        format!(
            "`{}` {} after reaching {said}",
            call.action.name.value,
            ended(finished)
        ),
        json!({ "limit": limit }),
    ))
}

/// The output_data of a plugin that ended well, or why it did not.
fn verdict(
    call: &ActionCall,
    finished: &Finished,
    parsed: Result<Option<(Json, Reply)>, BadOutput>,
) -> Result<Json, Failure> {
    let action = &call.action.name.value;
    if let Some(failure) = cut_short(call, finished.ending) {
        return Err(failure);
    }
    let how = ended(finished);
    let reply = match parsed {
        Err(bad) => {
            return Err(Failure::new(
                if bad.not_json {
                    Kind::InvalidOutput
                } else {
                    Kind::InvalidMessage
                },
                format!(
                    "`{action}` {how} and its output is not one BPCS response: {}",
                    bad.message
                ),
                json!({ "stdout_excerpt": stdout_excerpt(&finished.stdout) }),
            ))
        }
        Ok(None) => {
            let kind = match (finished.code(), finished.signal()) {
                (Some(0), _) => Kind::InvalidMessage,
                (Some(code @ 1..=4), _) | (Some(code @ 100), _) => kind_of_exit(code.into()),
                _ => Kind::Crashed,
            };
            return Err(Failure::new(
                kind,
                format!("`{action}` {how} without writing a response"),
                Json::Null,
            ));
        }
        Ok(Some((_, reply))) => reply,
    };
    match reply {
        Reply::Failure(error) => Err(reported_failure(action, finished, error)),
        Reply::Success(output) => {
            if finished.code() != Some(0) {
                let kind = match finished.code() {
                    Some(code) => kind_of_exit(code.into()),
                    None => Kind::Crashed,
                };
                return Err(Failure::new(
                    kind,
                    format!("`{action}` {how} although its response says success"),
                    Json::Null,
                ));
            }
            let output = Json::Object(output);
            match output_violations(call.action, call.schemas, &output) {
                Ok(()) => Ok(output),
                Err(violations) => Err(Failure::new(
                    Kind::InvalidResult,
                    format!(
                        "the output_data of `{action}` does not match its output_schema: {}",
                        violations.join("; ")
                    ),
                    json!({ "violations": violations }),
                )),
            }
        }
    }
}

/// A plugin rune ended before it finished: timed out, interrupted, or too much
/// output.
fn cut_short(call: &ActionCall, ending: Ending) -> Option<Failure> {
    let action = &call.action.name.value;
    let timeout_ms = u64::try_from(call.timeout.as_millis()).unwrap_or(u64::MAX);
    match ending {
        Ending::TimedOut => Some(Failure::new(
            Kind::Timeout,
            format!(
                "`{action}` ran past its timeout of {timeout_ms} ms; its process group was killed"
            ),
            json!({ "timeout_ms": timeout_ms }),
        )),
        Ending::Cancelled => Some(Failure::new(
            Kind::Interrupted,
            format!("`{action}` was interrupted; its process group was killed"),
            Json::Null,
        )),
        Ending::OutputTooLarge => Some(Failure::new(
            Kind::OutputTooLarge,
            format!(
                "`{action}` wrote more than {} bytes to stdout; its process group was killed",
                process::STDOUT_LIMIT
            ),
            json!({ "limit_bytes": process::STDOUT_LIMIT }),
        )),
        Ending::Exited => None,
    }
}

/// A response that says failure: its kind from the exit code, or from the code
/// in the error when the plugin exited 0.
fn reported_failure(
    action: &str,
    finished: &Finished,
    error: Option<bpcs::PluginError>,
) -> Failure {
    let exit = finished.code().map(i64::from);
    let said = error.as_ref().and_then(|e| e.code.as_i64());
    // The exit code decides; a plugin that exits 0 with an error object is
    // judged by the code it put in the error (the bash library repeats its
    // exit code there), else as a business failure.
    let kind = match (exit, said) {
        (Some(0), Some(code @ 1..=4)) => kind_of_exit(code),
        (Some(0), _) => Kind::BusinessFailure,
        (Some(code), _) => kind_of_exit(code),
        (None, _) => Kind::Crashed,
    };
    let message = match &error {
        Some(e) => format!("`{action}` failed: {}", e.message),
        None => format!("`{action}` reported a failure without an error object"),
    };
    Failure::new(kind, message, json!({ "plugin_error": error }))
}

/// output_data against the output_schema: what is wrong, by JSON pointer.
fn output_violations(
    action: &crate::registry::Action,
    schemas: Option<&Schemas>,
    output: &Json,
) -> Result<(), Vec<String>> {
    let Some(schema) = &action.output_schema else {
        return Ok(());
    };
    let unusable = |e: &str| vec![format!("the output_schema cannot be used: {e}")];
    let compiled;
    let validator = match schemas.and_then(|s| s.output.as_ref()) {
        Some(Ok(validator)) => validator,
        Some(Err(e)) => return Err(unusable(e)),
        None => {
            compiled = jsonschema::validator_for(&schema.to_json())
                .map_err(|e| unusable(&e.masked().to_string()))?;
            &compiled
        }
    };
    let violations: Vec<String> = validator
        .iter_errors(output)
        .take(MAX_VIOLATIONS)
        .map(|e| {
            let at = e.instance_path().as_str().to_string();
            // The masked message names the rule, never the (untrusted) value.
            let what = e.masked().to_string();
            if at.is_empty() {
                what
            } else {
                format!("at {at}: {what}")
            }
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(100, 1), Duration::from_millis(100));
        assert_eq!(backoff(100, 2), Duration::from_millis(200));
        assert_eq!(backoff(100, 3), Duration::from_millis(400));
        assert_eq!(backoff(u64::MAX, 9), MAX_BACKOFF);
        assert_eq!(backoff(0, 5), Duration::ZERO);
    }

    #[test]
    fn local_names_need_no_inventory_and_others_do() {
        assert_eq!(
            super::super::remote::transport("local")
                .map(|t| t.name().to_string())
                .ok()
                .as_deref(),
            Some("localhost")
        );
        assert_eq!(
            super::super::remote::transport("localhost")
                .map(|t| t.name().to_string())
                .ok()
                .as_deref(),
            Some("localhost")
        );
        assert!(super::super::remote::transport("web-1").is_err());
    }

    #[test]
    fn exit_codes_map_to_the_bpcs_conventions() {
        assert_eq!(kind_of_exit(1), Kind::PluginRejectedInput);
        assert_eq!(kind_of_exit(2), Kind::ResourceError);
        assert_eq!(kind_of_exit(3), Kind::BusinessFailure);
        assert_eq!(kind_of_exit(4), Kind::ConfigurationError);
        assert_eq!(kind_of_exit(100), Kind::Unhandled);
        assert_eq!(kind_of_exit(7), Kind::Unhandled);
    }
}
