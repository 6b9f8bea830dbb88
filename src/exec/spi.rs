//! The module SPI client: JSON-RPC 2.0, one message per line, to a long-running
//! module process.
//!
//! [`Client::spawn`] spawns the module under the supervisor
//! ([`super::supervisor::Child`]), which cuts its stdout into lines of at most
//! [`LINE_LIMIT`] bytes (a longer line is a protocol violation, and nothing past
//! the limit is buffered) and drains stderr keeping its tail whenever rune waits on
//! the module, all on the calling thread. [`Client::call`] writes one request under
//! the call's deadline (a module that stops reading is killed at it, like one that
//! stops answering)
//! ([`super::spi_message`] types) and waits for the answer with the same id under a
//! deadline, answering the module's own requests on the way (at most
//! [`MODULE_REQUESTS_PER_CALL`]), letting its notifications through at a bounded
//! rate, and reporting every message as an [`Event`]. Everything the module writes
//! is untrusted (a key twice is refused as in plugin answers): each failure becomes
//! a [`CallError`], which the lifecycle turns into an EPS envelope.

use std::collections::VecDeque;
use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::eps::Kind;
use super::event::{Direction, Event, Protocol, Sink};
use super::ids::RunIds;
#[cfg(test)]
use super::process::Spec;
use super::process::{Cancel, KILL_GRACE};
use super::spi_message::{
    Answer, AnswerOutcome, Call, Empty, Id, JsonRpc, Method, ModuleMessage, RpcError, RuneMessage,
};
use super::supervisor::{self, LineWait, SendError};

/// The longest line rune reads from a module (1 MiB); longer is a protocol violation.
pub(crate) const LINE_LIMIT: usize = 1 << 20;

/// The SPI versions this rune speaks.
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &["1"];

/// stdout read ahead of the caller at most: a module that writes faster than rune
/// reads waits on its pipe instead of filling rune's memory.
const READ_AHEAD: usize = 4 * LINE_LIMIT;

/// Requests of its own a module may send while rune waits for one answer. More is
/// a flood: the call fails rather than answer forever (and the answers, which a
/// module that does not read would never take, stay below a pipe's buffer).
const MODULE_REQUESTS_PER_CALL: usize = 256;

/// The longest string id of a module's request rune answers: each answer echoes
/// the id, and [`MODULE_REQUESTS_PER_CALL`] answers must stay below a pipe's
/// buffer (64 KiB) for a module that does not read them.
const MODULE_ID_LIMIT: usize = 128;

/// Module requests rune answers with an empty result; others get -32601.
const KNOWN_MODULE_METHODS: &[&str] = &["report_health", "emit_event"];

/// Calls given up on (timed out, interrupted) whose late answers are still
/// recognised and discarded. A module that answers later than that many newer
/// abandoned calls has its answer judged as one with another id.
const ABANDONED_REMEMBERED: usize = 64;

/// Notifications (`emit_event`, `report_health` without an id) a module may send
/// at once; they need no answer, so they are not held to
/// [`MODULE_REQUESTS_PER_CALL`], but each is journaled: past this burst they are
/// allowed at [`NOTIFICATIONS_PER_SECOND`], and a module that sends them faster
/// breaks the protocol (its call fails, the module is not called again).
pub(crate) const NOTIFICATION_BURST: u32 = 1_000;

/// The sustained rate of notifications allowed after [`NOTIFICATION_BURST`].
pub(crate) const NOTIFICATIONS_PER_SECOND: u32 = 100;

/// One call in flight: what its answer is matched against.
struct Pending<'c> {
    method: &'static str,
    id: u64,
    timeout: Duration,
    deadline: Instant,
    cancel: &'c Cancel,
    /// Requests of the module's own answered while this call waits.
    answered: usize,
}

/// A token bucket for a module's notifications: [`NOTIFICATION_BURST`] at once,
/// then [`NOTIFICATIONS_PER_SECOND`].
struct Allowance {
    tokens: f64,
    at: Instant,
}

impl Allowance {
    fn new() -> Allowance {
        Allowance {
            tokens: f64::from(NOTIFICATION_BURST),
            at: Instant::now(),
        }
    }

    /// Whether one more notification is allowed `now`.
    fn take(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.at).as_secs_f64()
            * f64::from(NOTIFICATIONS_PER_SECOND);
        self.tokens = (self.tokens + earned).min(f64::from(NOTIFICATION_BURST));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The step a call belongs to and where its messages are reported.
pub(crate) struct Trace<'a> {
    /// Plan step id.
    pub step: u64,
    /// Ids and clock of the run.
    pub ids: &'a RunIds,
    /// Where messages are reported.
    pub sink: &'a dyn Sink,
}

/// Why a call failed; the caller turns it into an EPS envelope with its origin.
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    /// The failure's kind.
    pub kind: Kind,
    /// One line for people.
    pub message: String,
    /// Structured details (the module's error object, the stderr tail).
    pub data: Option<Json>,
    /// The JSON-RPC id of the call that failed, when one was sent: EPS names it
    /// as the failed request (`MODULE:ID`).
    pub request: Option<u64>,
}

/// A running module process and its SPI conversation.
pub(crate) struct Client {
    child: supervisor::Child,
    next_id: u64,
    /// Ids of calls rune stopped waiting for (a timeout, an interrupt), oldest
    /// first: the module may still answer them, and that answer must not be taken
    /// for the answer of a later call.
    abandoned: VecDeque<u64>,
    /// Why no further call can succeed (stdout closed or unusable, the protocol
    /// broken), once that is so, with the kind every later call fails with.
    broken: Option<(Kind, String)>,
    /// What notifications the module may still send.
    notifications: Allowance,
    /// The limits it runs under, to tell a process one of them stopped.
    limits: crate::registry::ResourceLimits,
    /// The id of the call in flight or last made.
    calling: Option<u64>,
    /// What the module reported of its own health (`report_health`) since they
    /// were last taken, oldest first.
    health_reports: Vec<HealthReport>,
    /// How the end of the child is read: the module's own exit, or a failure of
    /// the node it runs on (see [`super::remote::Transport::spawn_process`]).
    verdict: super::remote::Verdict,
    /// The node it runs on, when another machine.
    node: Option<String>,
}

/// A module's own word on its health (`report_health` params `{status, reason}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthReport {
    /// Whether the status it gave means healthy (`ready`, `healthy`, `active`,
    /// `ok`, `recovered`) or not (anything else, e.g. `degraded`).
    pub healthy: bool,
    /// The status and the reason it gave, escaped, for the state change.
    pub said: String,
}

/// How an EPS envelope names a failed SPI call (`error_data.id`,
/// `parent_message_id`): the module and the call's JSON-RPC id, which counts
/// per module (`exec-mod:4`).
pub(crate) fn request_name(module: &str, id: u64) -> String {
    format!("{module}:{id}")
}

/// The statuses of a health answer or report that mean healthy.
pub(crate) const HEALTHY_STATUSES: &[&str] = &["ready", "healthy", "active", "ok", "recovered"];

impl Client {
    /// Spawn `spec` under the supervisor.
    #[cfg(test)]
    pub(crate) fn spawn(spec: &Spec) -> io::Result<Client> {
        Ok(Client::of(
            super::remote::Spawned {
                child: supervisor::Child::spawn(spec, false, READ_AHEAD)?,
                verdict: Box::new(|status, _| Ok(status)),
            },
            spec.limits,
            None,
        ))
    }

    /// Start `process` on `node` through its transport (this machine's too), and
    /// speak the SPI with it.
    pub(crate) fn start(
        node: &dyn super::remote::Transport,
        process: &super::remote::Process<'_>,
        cancel: &Cancel,
    ) -> Result<Client, super::remote::NodeFailure> {
        let spawned = node.spawn_process(process, cancel)?;
        let remote = (!super::remote::is_local(node.name())).then(|| node.name().to_string());
        Ok(Client::of(spawned, process.spec.limits, remote))
    }

    /// The stdout a module may have written ahead of rune's reading.
    pub(crate) const READ_AHEAD: usize = READ_AHEAD;

    fn of(
        spawned: super::remote::Spawned,
        limits: crate::registry::ResourceLimits,
        node: Option<String>,
    ) -> Client {
        Client {
            child: spawned.child,
            next_id: 1,
            abandoned: VecDeque::new(),
            broken: None,
            notifications: Allowance::new(),
            limits,
            health_reports: Vec::new(),
            calling: None,
            verdict: spawned.verdict,
            node,
        }
    }

    /// The exit status of the module itself once the child has exited, or the
    /// failure of its node (a dropped connection) that ended it.
    fn own_status(&self) -> Option<Result<ExitStatus, super::remote::NodeFailure>> {
        let status = self.child.status()?;
        let (stderr, _) = self.child.stderr_tail();
        Some((self.verdict)(status, stderr))
    }

    /// The failure of the call in flight when the node, not the module, ended it
    /// (the connection dropped, the program is not on the node).
    fn node_failure(&mut self, method: &str) -> Option<CallError> {
        let failure = self.own_status()?.err()?;
        let (kind, message) = match failure.kind {
            // The module's process went with its connection (the node's wrapper
            // ends it): for the lifecycle, a crash like a local one.
            Kind::ConnectionLost => (
                Kind::Crashed,
                format!(
                    "the connection to node `{}` was lost while the module was to answer `{method}`; its process there was ended",
                    self.node.as_deref().unwrap_or_default()
                ),
            ),
            kind => (
                kind,
                format!("{}, while the module was to answer `{method}`", failure.message),
            ),
        };
        self.broken = Some((kind, message.clone()));
        let mut data = failure.data;
        data["method"] = json!(method);
        if failure.kind == Kind::ConnectionLost {
            data["connection_lost"] = json!(true);
        }
        Some(self.fail(kind, message, data))
    }

    /// The kept tail of the module's stderr, lossily decoded.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let (kept, _) = self.child.stderr_tail();
        (!kept.is_empty()).then(|| String::from_utf8_lossy(kept).into_owned())
    }

    /// Call `method` and wait at most `timeout` for its result; `cancel` abandons
    /// the wait at once.
    pub(crate) fn call(
        &mut self,
        method: Method,
        timeout: Duration,
        cancel: &Cancel,
        trace: &Trace,
    ) -> Result<Json, CallError> {
        let name = method.name();
        // A call refused before it is sent names no request.
        self.calling = None;
        if let Some((kind, why)) = &self.broken {
            let (kind, message) = (*kind, format!("the module cannot answer `{name}`: {why}"));
            return Err(self.fail(kind, message, json!({"method": name})));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.calling = Some(id);
        let request = RuneMessage::Call(Call {
            jsonrpc: JsonRpc::V2,
            id,
            method,
        });
        self.journal(trace, Direction::Request, to_json(&request));
        let deadline = Instant::now() + timeout;
        // Not cut short by a Ctrl-C: a request goes out whole or not at all (the
        // second Ctrl-C kills the module from the signal side, which ends it).
        match self.write_message(&request, deadline) {
            Ok(()) => {}
            Err(SendError::Closed(e)) => {
                self.broken = Some((Kind::Crashed, "it is gone".to_string()));
                let status = self.exit_status_soon();
                if let Some(lost) = self.node_failure(name) {
                    return Err(lost);
                }
                if let Some(stopped) = self.stopped_by_limit(name) {
                    return Err(stopped);
                }
                return Err(self.fail(
                    Kind::Crashed,
                    format!("the module is gone: writing `{name}` failed ({e}){status}"),
                    json!({"method": name}),
                ));
            }
            // Half a request went out: the stream is no longer whole, so the
            // module cannot be talked to again; it is killed like a hung one.
            Err(SendError::Deadline | SendError::Cancelled) => {
                self.broken = Some((
                    Kind::Timeout,
                    "it stopped reading its stdin and was killed".to_string(),
                ));
                self.child.stop(KILL_GRACE);
                let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                return Err(self.fail(
                    Kind::Timeout,
                    format!(
                        "the module did not take `{name}` within {ms} ms (it stopped reading its stdin) and was killed"
                    ),
                    json!({"method": name, "timeout_ms": ms}),
                ));
            }
        }
        let mut pending = Pending {
            method: name,
            id,
            timeout,
            deadline,
            cancel,
            answered: 0,
        };
        loop {
            let text = self.next_line(&pending)?;
            if let Some(result) = self.take_line(&text, &mut pending, trace)? {
                return Ok(result);
            }
        }
    }

    /// Record a `report_health` the module sent (a request or a notification). One
    /// without a string `status` says nothing and is only journaled.
    fn note_health_report(&mut self, params: Option<&Json>) {
        let Some(status) = params.and_then(|p| p.get("status")).and_then(Json::as_str) else {
            return;
        };
        let reason = params
            .and_then(|p| p.get("reason").or_else(|| p.get("message")))
            .and_then(Json::as_str);
        let mut said = format!("it reported {}", crate::escape::untrusted(status));
        if let Some(reason) = reason {
            let reason: String = reason.chars().take(200).collect();
            said.push_str(&format!(": {}", crate::escape::untrusted(&reason)));
        }
        // A module flooding reports keeps only the latest ones.
        if self.health_reports.len() >= 16 {
            self.health_reports.remove(0);
        }
        self.health_reports.push(HealthReport {
            healthy: HEALTHY_STATUSES.contains(&status),
            said,
        });
    }

    /// The id of the call in flight or last made (None when the last call was
    /// refused before it was sent).
    pub(crate) fn last_call(&self) -> Option<u64> {
        self.calling
    }

    /// The health reports received since the last take.
    pub(crate) fn take_health_reports(&mut self) -> Vec<HealthReport> {
        std::mem::take(&mut self.health_reports)
    }

    /// Whether the module process has exited (without waiting).
    pub(crate) fn exited(&self) -> bool {
        self.child.status().is_some() || self.broken.is_some()
    }

    /// A failure of the call in flight, with the module's stderr tail.
    fn fail(&self, kind: Kind, message: String, mut data: Json) -> CallError {
        if let (Some(node), Some(map)) = (&self.node, data.as_object_mut()) {
            map.entry("node")
                .or_insert_with(|| Json::String(node.clone()));
        }
        if let (Some(tail), Some(map)) = (self.stderr_tail(), data.as_object_mut()) {
            // Raw: the report escapes it where people see it.
            map.insert("stderr_tail".into(), Json::String(tail));
        }
        CallError {
            kind,
            message,
            data: Some(data),
            request: self.calling,
        }
    }

    /// Report one message as it went over the wire.
    fn journal(&self, trace: &Trace, direction: Direction, message: Json) {
        trace.sink.emit(&Event::Message {
            at: trace.ids.now(),
            step: trace.step,
            direction,
            protocol: Protocol::Spi,
            message,
        });
    }

    /// Write one message as one line to the module's stdin by `deadline`.
    fn write_message(&mut self, message: &RuneMessage, deadline: Instant) -> Result<(), SendError> {
        let mut line =
            serde_json::to_vec(message).map_err(|e| SendError::Closed(io::Error::other(e)))?;
        line.push(b'\n');
        self.child.send(&line, deadline, None)
    }

    /// The next line the module wrote while `pending` waits: fails at its deadline,
    /// on cancel, and when the module is gone or wrote a line too long.
    fn next_line(&mut self, pending: &Pending) -> Result<Vec<u8>, CallError> {
        let method = pending.method;
        loop {
            if pending.cancel.is_set() {
                self.abandon(pending.id);
                let message = format!("`{method}` was interrupted");
                return Err(self.fail(Kind::Interrupted, message, json!({"method": method})));
            }
            let now = Instant::now();
            if now >= pending.deadline {
                self.abandon(pending.id);
                let ms = u64::try_from(pending.timeout.as_millis()).unwrap_or(u64::MAX);
                return Err(self.fail(
                    Kind::Timeout,
                    format!("the module did not answer `{method}` within {ms} ms"),
                    json!({"method": method, "timeout_ms": ms}),
                ));
            }
            match self
                .child
                .read_line(LINE_LIMIT, pending.deadline, pending.cancel)
            {
                LineWait::Text(text) => return Ok(text),
                // Looked at again at the top of the loop.
                LineWait::Deadline | LineWait::Cancelled => {}
                // A module that died while something it started still holds its
                // stdout never closes the pipe: its death is noticed itself. An
                // answer written just before exiting was read first.
                LineWait::Exited => return Err(self.died_before_answering(method)),
                LineWait::TooLong => {
                    self.broken =
                        Some((Kind::OutputTooLarge, "it wrote a line too long".to_string()));
                    return Err(self.fail(
                        Kind::OutputTooLarge,
                        format!("the module wrote a line longer than {LINE_LIMIT} bytes while answering `{method}`"),
                        json!({"method": method, "limit": LINE_LIMIT}),
                    ));
                }
                LineWait::Closed => {
                    self.broken = Some((Kind::Crashed, "its stdout is closed".to_string()));
                    let status = self.exit_status_soon();
                    if let Some(lost) = self.node_failure(method) {
                        return Err(lost);
                    }
                    if let Some(stopped) = self.stopped_by_limit(method) {
                        return Err(stopped);
                    }
                    return Err(self.fail(
                        Kind::Crashed,
                        format!("the module closed its stdout before answering `{method}`{status}"),
                        json!({"method": method}),
                    ));
                }
            }
        }
    }

    /// The module exited with no whole line left: the call fails as a crash, and
    /// what it left running goes with it.
    fn died_before_answering(&mut self, method: &str) -> CallError {
        self.broken = Some((Kind::Crashed, "it exited".to_string()));
        let status = self
            .child
            .finish_exited()
            .map(|s| (self.verdict)(s, self.child.stderr_tail().0).unwrap_or(s))
            .map_or_else(|| "ended".to_string(), describe_status);
        if let Some(lost) = self.node_failure(method) {
            return lost;
        }
        if let Some(stopped) = self.stopped_by_limit(method) {
            return stopped;
        }
        self.fail(
            Kind::Crashed,
            format!("the module exited ({status}) before answering `{method}`"),
            json!({"method": method}),
        )
    }

    /// Read one line the module wrote while `pending` waits: its result
    /// (`Some`), or nothing yet (a request or notification of the module's own, a
    /// late answer, a blank line).
    fn take_line(
        &mut self,
        text: &[u8],
        pending: &mut Pending,
        trace: &Trace,
    ) -> Result<Option<Json>, CallError> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let method = pending.method;
        let value = self.parse_line(text, method)?;
        self.journal(trace, Direction::Response, value.clone());
        if value.get("jsonrpc") != Some(&json!("2.0")) {
            return Err(self.fail(
                Kind::ProtocolViolation,
                format!("the module answered `{method}` without \"jsonrpc\": \"2.0\""),
                json!({"method": method}),
            ));
        }
        let message: ModuleMessage = serde_json::from_value(value).map_err(|e| {
            self.fail(
                Kind::ProtocolViolation,
                format!("the module wrote a message that is not an SPI message while answering `{method}`: {e}"),
                json!({"method": method}),
            )
        })?;
        match &message.method {
            Some(asked) => {
                let asked = asked.clone();
                if asked == "report_health" {
                    self.note_health_report(message.params.as_ref());
                }
                self.their_message(&asked, message.id, pending, trace)?;
                Ok(None)
            }
            None => self.answer_of(message, pending),
        }
    }

    /// One line as JSON, refusing duplicate keys at any depth and integers beyond 64
    /// bits as plugin answers are refused; anything but an object is not a message.
    fn parse_line(&self, text: &[u8], method: &str) -> Result<Json, CallError> {
        // Not JSON at all is a parse error; JSON rune will not read (a key twice,
        // an integer beyond 64 bits, not an object) is an invalid message.
        let parsed = std::str::from_utf8(text)
            .map_err(|e| {
                (
                    Kind::InvalidOutput,
                    format!("it is not valid UTF-8 (at byte {})", e.valid_up_to()),
                )
            })
            .and_then(|s| {
                // A number beyond 64 bits would be rounded: refused, as in plugin output.
                if let Some(wide) = super::bpcs::wide_integer(s) {
                    let shown: String = wide.chars().take(60).collect();
                    return Err((
                        Kind::InvalidMessage,
                        format!("it holds the integer {shown}, beyond 64 bits"),
                    ));
                }
                super::bpcs::parse_unique(s).map_err(|e| {
                    let kind = if e.is_data() {
                        Kind::InvalidMessage
                    } else {
                        Kind::InvalidOutput
                    };
                    (kind, e.to_string())
                })
            });
        let (kind, why) = match parsed {
            Ok(value @ Json::Object(_)) => return Ok(value),
            Ok(_) => (Kind::InvalidMessage, "it is not a JSON object".to_string()),
            Err((kind, e)) => (kind, crate::escape::untrusted(&e).into_owned()),
        };
        let excerpt =
            crate::escape::untrusted(&String::from_utf8_lossy(&text[..text.len().min(200)]))
                .into_owned();
        Err(self.fail(
            kind,
            format!("the module wrote something that is not a JSON-RPC message while answering `{method}`: {why}"),
            json!({"method": method, "stdout_excerpt": excerpt}),
        ))
    }

    /// A request (with an id: answered) or a notification (without: bounded by
    /// [`NOTIFICATION_BURST`] and [`NOTIFICATIONS_PER_SECOND`]) of the module's own.
    fn their_message(
        &mut self,
        asked: &str,
        their_id: Option<Id>,
        pending: &mut Pending,
        trace: &Trace,
    ) -> Result<(), CallError> {
        let method = pending.method;
        let Some(their_id) = their_id else {
            if self.notifications.take(Instant::now()) {
                return Ok(());
            }
            self.broken = Some((
                Kind::ProtocolViolation,
                "it flooded rune with notifications".to_string(),
            ));
            return Err(self.fail(
                Kind::ProtocolViolation,
                format!(
                    "the module sent notifications faster than {NOTIFICATIONS_PER_SECOND} a second (after a burst of {NOTIFICATION_BURST}) while rune waited for `{method}`"
                ),
                json!({"method": method, "burst": NOTIFICATION_BURST, "per_second": NOTIFICATIONS_PER_SECOND}),
            ));
        };
        if matches!(&their_id, Id::String(s) if s.len() > MODULE_ID_LIMIT) {
            self.broken = Some((
                Kind::ProtocolViolation,
                "it sent an overlong request id".to_string(),
            ));
            return Err(self.fail(
                Kind::ProtocolViolation,
                format!(
                    "the module sent a request with an id longer than {MODULE_ID_LIMIT} bytes while rune waited for `{method}`"
                ),
                json!({"method": method, "limit": MODULE_ID_LIMIT}),
            ));
        }
        pending.answered += 1;
        if pending.answered > MODULE_REQUESTS_PER_CALL {
            self.broken = Some((
                Kind::ProtocolViolation,
                "it flooded rune with requests".to_string(),
            ));
            return Err(self.fail(
                Kind::ProtocolViolation,
                format!(
                    "the module sent more than {MODULE_REQUESTS_PER_CALL} requests of its own while rune waited for `{method}`"
                ),
                json!({"method": method, "limit": MODULE_REQUESTS_PER_CALL}),
            ));
        }
        let outcome = if KNOWN_MODULE_METHODS.contains(&asked) {
            AnswerOutcome::Result(Empty {})
        } else {
            AnswerOutcome::Error(RpcError {
                code: -32601,
                message: "method not found".to_string(),
                data: None,
            })
        };
        let answer = RuneMessage::Answer(Answer {
            jsonrpc: JsonRpc::V2,
            id: their_id,
            outcome,
        });
        self.journal(trace, Direction::Request, to_json(&answer));
        // A module that does not read its answers meets the cap above, not a
        // blocked rune; a failed write shows at the next call.
        if self.write_message(&answer, pending.deadline).is_err() {
            // Half an answer may have gone out: the stream is broken.
            self.broken = Some((
                Kind::ProtocolViolation,
                "it stopped reading its answers".to_string(),
            ));
        }
        Ok(())
    }

    /// An answer: the result of the call in flight, the late answer of a call
    /// given up on (dropped: `Ok(None)`), or a protocol violation.
    fn answer_of(
        &mut self,
        message: ModuleMessage,
        pending: &Pending,
    ) -> Result<Option<Json>, CallError> {
        let (method, id) = (pending.method, pending.id);
        if !message.id.as_ref().is_some_and(|their| their.is(id)) {
            // The late answer of a call given up on: the module did that work
            // after all; the answer was journaled and is dropped here.
            let late = match &message.id {
                Some(Id::Number(n)) => n.as_u64(),
                _ => None,
            };
            if let Some(at) = late.and_then(|l| self.abandoned.iter().position(|&a| a == l)) {
                self.abandoned.remove(at);
                return Ok(None);
            }
            return Err(self.fail(
                Kind::ProtocolViolation,
                format!("the module answered `{method}` (id {id}) with another id"),
                json!({"method": method, "expected_id": id, "id": message.id}),
            ));
        }
        if let Some(error) = message.error {
            let text = crate::escape::untrusted(&error.message).into_owned();
            return Err(self.fail(
                Kind::BusinessFailure,
                format!("the module answered `{method}` with an error: {text}"),
                json!({"method": method, "module_error": error}),
            ));
        }
        match message.result {
            Some(result) => Ok(Some(result)),
            None => Err(self.fail(
                Kind::ProtocolViolation,
                format!("the module answered `{method}` with neither result nor error"),
                json!({"method": method}),
            )),
        }
    }

    /// Remember that call `id` was given up on, so its late answer is recognised.
    fn abandon(&mut self, id: u64) {
        if self.abandoned.len() == ABANDONED_REMEMBERED {
            self.abandoned.pop_front();
        }
        self.abandoned.push_back(id);
    }

    /// After a broken pipe, the exit status if the module is gone within a
    /// moment, as text for messages.
    /// The failure of a module process one of its declared limits stopped (see
    /// [`super::limits`]), once it has exited; None for any other ending.
    fn stopped_by_limit(&mut self, method: &str) -> Option<CallError> {
        use std::os::unix::process::ExitStatusExt;
        let exit = self.own_status()?.ok()?;
        let (stderr, _) = self.child.stderr_tail();
        let (limit, said) =
            super::limits::limit_hit(&self.limits, exit.code(), exit.signal(), stderr)?;
        self.broken = Some((Kind::ResourceExhausted, format!("it reached {said}")));
        Some(self.fail(
            Kind::ResourceExhausted,
            format!(
                "the module ended ({}) after reaching {said}, before answering `{method}`",
                describe_status(exit)
            ),
            json!({"method": method, "limit": limit}),
        ))
    }

    fn exit_status_soon(&mut self) -> String {
        if self
            .child
            .wait_exit(Some(Instant::now() + Duration::from_millis(100)))
        {
            if let Some(status) = self.child.finish_exited() {
                let status = (self.verdict)(status, self.child.stderr_tail().0).unwrap_or(status);
                return format!(" ({})", describe_status(status));
            }
        }
        String::new()
    }

    /// Close stdin, give the module `wait` to exit by itself, then SIGTERM its
    /// group and SIGKILL after `grace`. Always reaps it and kills anything left in
    /// its group or escaped from it.
    /// Returns whether it exited by itself within `wait`.
    pub(crate) fn finish(&mut self, wait: Duration, grace: Duration) -> bool {
        if self.child.status().is_some() {
            return true;
        }
        self.child.close_stdin();
        if self.child.wait_exit(Some(Instant::now() + wait)) {
            self.child.finish_exited();
            return true;
        }
        self.child.stop(grace);
        false
    }

    /// Kill the module's whole process group now and reap it (the second Ctrl-C,
    /// a failed start). Harmless once the module is gone.
    pub(crate) fn kill(&mut self) {
        self.child.kill_now();
    }
}

fn to_json(message: &RuneMessage) -> Json {
    serde_json::to_value(message).unwrap_or(Json::Null)
}

/// Words for an exit status.
pub(crate) fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_string(),
    }
}

/// The SPI version to speak: the highest in all three lists, compared as numbers
/// where they are numbers.
pub(crate) fn negotiate(catalog: &[String], module: &[String]) -> Option<String> {
    SUPPORTED_VERSIONS
        .iter()
        .filter(|v| catalog.iter().any(|c| c == *v) && module.iter().any(|m| m == *v))
        .max_by_key(|v| v.parse::<u64>().unwrap_or(0))
        .map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::event::Collect;
    use std::path::PathBuf;

    fn sh(script: &str) -> Spec {
        Spec {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            working_dir: PathBuf::from("."),
            env: crate::exec::environment::compute(&Default::default()),
            limits: Default::default(),
        }
    }

    #[test]
    fn a_round_trip_answers_module_requests_on_the_way() {
        let ids = RunIds::new(true, jiff::Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        let cx = Trace {
            step: 1,
            ids: &ids,
            sink: &sink,
        };
        // The module hands back, in its result, the answer it read to its own
        // request: the result is the event that proves the answer arrived.
        let mut client = Client::spawn(
            &sh(r#"read -r l; echo '{"jsonrpc":"2.0","id":9,"method":"nope"}'; read -r a; echo "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true,\"got\":$a}}"; read -r l"#),
        )
        .unwrap();
        let got = client
            .call(
                Method::Describe(Empty {}),
                Duration::from_secs(5),
                &Cancel::new(),
                &cx,
            )
            .unwrap();
        assert_eq!(got["ok"], true);
        assert_eq!(got["got"]["id"], 9);
        assert_eq!(got["got"]["error"]["code"], -32601);
        client.finish(Duration::from_secs(1), Duration::from_millis(200));
    }

    #[test]
    fn a_silent_module_times_out_and_a_dead_one_crashed() {
        let ids = RunIds::new(true, jiff::Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        let cx = Trace {
            step: 1,
            ids: &ids,
            sink: &sink,
        };
        let mut quiet = Client::spawn(&sh("sleep 5")).unwrap();
        let e = quiet
            .call(
                Method::Ready(Empty {}),
                Duration::from_millis(100),
                &Cancel::new(),
                &cx,
            )
            .unwrap_err();
        assert_eq!(e.kind, Kind::Timeout);
        drop(quiet);
        let mut dead = Client::spawn(&sh("echo bye >&2; exit 3")).unwrap();
        let e = dead
            .call(
                Method::Ready(Empty {}),
                Duration::from_secs(5),
                &Cancel::new(),
                &cx,
            )
            .unwrap_err();
        assert_eq!(e.kind, Kind::Crashed);
    }

    #[test]
    fn the_late_answer_of_a_call_given_up_on_is_discarded() {
        let ids = RunIds::new(true, jiff::Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        let cx = Trace {
            step: 1,
            ids: &ids,
            sink: &sink,
        };
        // Answers each request late, in order, with the id it was given.
        let mut client = Client::spawn(&sh(
            r#"while read -r l; do id=${l#*\"id\":}; id=${id%%,*}; sleep 0.3; echo "{\"jsonrpc\":\"2.0\",\"id\":$id,\"result\":{\"id\":$id}}"; done"#,
        ))
        .unwrap();
        let short = Duration::from_millis(50);
        let e = client
            .call(Method::Ready(Empty {}), short, &Cancel::new(), &cx)
            .unwrap_err();
        assert_eq!(e.kind, Kind::Timeout);
        let got = client
            .call(
                Method::Drain(Empty {}),
                Duration::from_secs(5),
                &Cancel::new(),
                &cx,
            )
            .unwrap();
        assert_eq!(got, json!({"id": 2}));
        client.finish(Duration::from_secs(1), Duration::from_millis(200));
    }

    #[test]
    fn notifications_are_allowed_in_a_burst_then_at_a_rate() {
        let start = Instant::now();
        let mut allowance = Allowance::new();
        for _ in 0..NOTIFICATION_BURST {
            assert!(allowance.take(start));
        }
        assert!(!allowance.take(start), "the burst is spent");
        // One more is earned every 1/NOTIFICATIONS_PER_SECOND of a second.
        let later = start + Duration::from_millis(1000 / u64::from(NOTIFICATIONS_PER_SECOND));
        assert!(allowance.take(later));
        assert!(!allowance.take(later));
        // A long quiet spell earns the burst back, never more.
        let much_later = later + Duration::from_secs(3600);
        for _ in 0..NOTIFICATION_BURST {
            assert!(allowance.take(much_later));
        }
        assert!(!allowance.take(much_later));
    }

    #[test]
    fn a_key_twice_at_any_depth_is_invalid_output() {
        let ids = RunIds::new(true, jiff::Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        let cx = Trace {
            step: 1,
            ids: &ids,
            sink: &sink,
        };
        for answer in [
            r#"{"jsonrpc":"2.0","id":1,"id":1,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"a":[{"b":1,"b":2}]}}"#,
        ] {
            let mut client =
                Client::spawn(&sh(&format!("read -r l; echo '{answer}'; read -r l"))).unwrap();
            let e = client
                .call(
                    Method::Describe(Empty {}),
                    Duration::from_secs(5),
                    &Cancel::new(),
                    &cx,
                )
                .unwrap_err();
            assert_eq!(e.kind, Kind::InvalidMessage, "{answer}");
            assert!(e.message.contains("duplicate key"), "{}", e.message);
            client.kill();
        }
    }

    #[test]
    fn a_request_id_too_long_to_echo_is_a_protocol_violation() {
        let ids = RunIds::new(true, jiff::Timestamp::UNIX_EPOCH);
        let sink = Collect::default();
        let cx = Trace {
            step: 1,
            ids: &ids,
            sink: &sink,
        };
        let long = "i".repeat(MODULE_ID_LIMIT + 1);
        let script = format!(
            r#"read -r l; echo '{{"jsonrpc":"2.0","id":"{long}","method":"emit_event"}}'; read -r l"#
        );
        let mut client = Client::spawn(&sh(&script)).unwrap();
        let e = client
            .call(
                Method::Ready(Empty {}),
                Duration::from_secs(5),
                &Cancel::new(),
                &cx,
            )
            .unwrap_err();
        assert_eq!(e.kind, Kind::ProtocolViolation);
        assert!(e.message.contains("longer than 128 bytes"), "{}", e.message);
        client.kill();
    }

    #[test]
    fn versions_negotiate_to_the_highest_common_one() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(negotiate(&s(&["1"]), &s(&["1", "2"])), Some("1".into()));
        assert_eq!(negotiate(&s(&["1"]), &s(&["2"])), None);
    }
}
