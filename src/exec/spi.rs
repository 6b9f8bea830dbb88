//! The module SPI client: JSON-RPC 2.0, one message per line, to a long-running
//! module process.
//!
//! [`Client::spawn`] spawns the module under the supervisor
//! ([`super::supervisor::Child`]), which cuts its stdout into lines of at most
//! [`LINE_LIMIT`] bytes (a longer line is a protocol violation, and nothing past
//! the limit is buffered) and drains stderr keeping its tail whenever rune waits on
//! the module, all on the calling thread. [`Client::call`] writes one request
//! under the call's deadline (a module that stops reading is killed at it, like
//! one that stops answering) and waits for the answer with the same id, answering the module's
//! own requests on the way and reporting every message as an [`Event`]. Everything
//! the module writes is untrusted: each failure becomes a [`CallError`], which the
//! lifecycle turns into an EPS envelope.

use std::collections::VecDeque;
use std::io;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::eps::Kind;
use super::event::{Direction, Event, Protocol, Sink};
use super::ids::RunIds;
use super::process::{Cancel, Spec, KILL_GRACE};
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

/// Module requests rune answers with an empty result; others get -32601.
const KNOWN_MODULE_METHODS: &[&str] = &["report_health", "emit_event"];

/// Calls given up on (timed out, interrupted) whose late answers are still
/// recognised and discarded. A module that answers later than that many newer
/// abandoned calls has its answer judged as one with another id.
const ABANDONED_REMEMBERED: usize = 64;

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
}

/// A running module process and its SPI conversation.
pub(crate) struct Client {
    child: supervisor::Child,
    next_id: u64,
    /// Ids of calls rune stopped waiting for (a timeout, an interrupt), oldest
    /// first: the module may still answer them, and that answer must not be taken
    /// for the answer of a later call.
    abandoned: VecDeque<u64>,
    /// Set once stdout is closed or unusable: no further call can succeed.
    broken: bool,
}

impl Client {
    /// Spawn `spec` under the supervisor.
    pub(crate) fn spawn(spec: &Spec) -> io::Result<Client> {
        Ok(Client {
            child: supervisor::Child::spawn(spec, false, READ_AHEAD)?,
            next_id: 1,
            abandoned: VecDeque::new(),
            broken: false,
        })
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
        method: &str,
        params: Json,
        timeout: Duration,
        cancel: &Cancel,
        trace: &Trace,
    ) -> Result<Json, CallError> {
        let fail = |this: &Client, kind: Kind, message: String, data: Json| {
            let mut data = data;
            if let (Some(tail), Some(map)) = (this.stderr_tail(), data.as_object_mut()) {
                // Raw: the report escapes it where people see it.
                map.insert("stderr_tail".into(), Json::String(tail));
            }
            CallError {
                kind,
                message,
                data: Some(data),
            }
        };
        let step = trace.step;
        let cx = trace;
        if self.broken {
            return Err(fail(
                self,
                Kind::Crashed,
                format!("the module cannot answer `{method}`: its stdout is closed"),
                json!({}),
            ));
        }
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        cx.sink.emit(&Event::Message {
            at: cx.ids.now(),
            step,
            direction: Direction::Request,
            protocol: Protocol::Spi,
            message: request.clone(),
        });
        let mut line = serde_json::to_vec(&request).expect("a JSON value serializes");
        line.push(b'\n');
        let deadline = Instant::now() + timeout;
        // Not cut short by a Ctrl-C: a request goes out whole or not at all (the
        // second Ctrl-C kills the module from the signal side, which ends it).
        match self.child.send(&line, deadline, None) {
            Ok(()) => {}
            Err(SendError::Closed(e)) => {
                self.broken = true;
                let status = self.exit_status_soon();
                return Err(fail(
                    self,
                    Kind::Crashed,
                    format!("the module is gone: writing `{method}` failed ({e}){status}"),
                    json!({"method": method}),
                ));
            }
            // Half a request went out: the stream is no longer whole, so the
            // module cannot be talked to again; it is killed like a hung one.
            Err(SendError::Deadline | SendError::Cancelled) => {
                self.broken = true;
                self.child.stop(KILL_GRACE);
                return Err(fail(
                    self,
                    Kind::Timeout,
                    format!(
                        "the module did not take `{method}` within {} ms (it stopped reading its stdin) and was killed",
                        timeout.as_millis()
                    ),
                    json!({"method": method, "timeout_ms": u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)}),
                ));
            }
        }
        let mut module_requests = 0usize;
        loop {
            if cancel.is_set() {
                self.abandon(id);
                return Err(fail(
                    self,
                    Kind::Interrupted,
                    format!("`{method}` was interrupted"),
                    json!({"method": method}),
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                self.abandon(id);
                return Err(fail(
                    self,
                    Kind::Timeout,
                    format!(
                        "the module did not answer `{method}` within {} ms",
                        timeout.as_millis()
                    ),
                    json!({"method": method, "timeout_ms": u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)}),
                ));
            }
            let text = match self.child.read_line(LINE_LIMIT, deadline, cancel) {
                // Looked at again at the top of the loop.
                LineWait::Deadline | LineWait::Cancelled => continue,
                LineWait::Text(text) => text,
                // A module that died while something it started still holds its
                // stdout never closes the pipe: its death is noticed itself. An
                // answer written just before exiting was read first.
                LineWait::Exited => {
                    self.broken = true;
                    let status = self
                        .child
                        .finish_exited()
                        .map_or_else(|| "ended".to_string(), describe_status);
                    return Err(fail(
                        self,
                        Kind::Crashed,
                        format!("the module exited ({status}) before answering `{method}`"),
                        json!({"method": method}),
                    ));
                }
                LineWait::TooLong => {
                    self.broken = true;
                    return Err(fail(
                        self,
                        Kind::OutputTooLarge,
                        format!("the module wrote a line longer than {LINE_LIMIT} bytes while answering `{method}`"),
                        json!({"method": method, "limit": LINE_LIMIT}),
                    ));
                }
                LineWait::Closed => {
                    self.broken = true;
                    let status = self.exit_status_soon();
                    return Err(fail(
                        self,
                        Kind::Crashed,
                        format!("the module closed its stdout before answering `{method}`{status}"),
                        json!({"method": method}),
                    ));
                }
            };
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let message = match std::str::from_utf8(&text)
                .ok()
                .and_then(|s| serde_json::from_str::<Json>(s).ok())
            {
                Some(Json::Object(map)) => map,
                _ => {
                    let excerpt = crate::escape::untrusted(&String::from_utf8_lossy(
                        &text[..text.len().min(200)],
                    ))
                    .into_owned();
                    return Err(fail(
                        self,
                        Kind::InvalidOutput,
                        format!("the module wrote something that is not a JSON-RPC message while answering `{method}`"),
                        json!({"method": method, "stdout_excerpt": excerpt}),
                    ));
                }
            };
            let message = Json::Object(message);
            cx.sink.emit(&Event::Message {
                at: cx.ids.now(),
                step,
                direction: Direction::Response,
                protocol: Protocol::Spi,
                message: message.clone(),
            });
            if message.get("jsonrpc") != Some(&json!("2.0")) {
                return Err(fail(
                    self,
                    Kind::ProtocolViolation,
                    format!("the module answered `{method}` without \"jsonrpc\": \"2.0\""),
                    json!({"method": method}),
                ));
            }
            if let Some(asked) = message.get("method").and_then(Json::as_str) {
                module_requests += 1;
                if module_requests > MODULE_REQUESTS_PER_CALL {
                    self.broken = true;
                    return Err(fail(
                        self,
                        Kind::ProtocolViolation,
                        format!(
                            "the module sent more than {MODULE_REQUESTS_PER_CALL} requests of its own while rune waited for `{method}`"
                        ),
                        json!({"method": method, "limit": MODULE_REQUESTS_PER_CALL}),
                    ));
                }
                // The module's own request or notification: answered, not ours.
                if let Some(their_id) = message.get("id").filter(|v| !v.is_null()) {
                    let answer = if KNOWN_MODULE_METHODS.contains(&asked) {
                        json!({"jsonrpc": "2.0", "id": their_id, "result": {}})
                    } else {
                        json!({"jsonrpc": "2.0", "id": their_id,
                               "error": {"code": -32601, "message": "method not found"}})
                    };
                    cx.sink.emit(&Event::Message {
                        at: cx.ids.now(),
                        step,
                        direction: Direction::Request,
                        protocol: Protocol::Spi,
                        message: answer.clone(),
                    });
                    let mut out = serde_json::to_vec(&answer).expect("a JSON value serializes");
                    out.push(b'\n');
                    // Under the call's deadline; a module that does not take it is
                    // dealt with when its own answer fails to come.
                    if self.child.send(&out, deadline, None).is_err() {
                        // Half an answer may have gone out: the stream is broken.
                        self.broken = true;
                    }
                }
                continue;
            }
            if message.get("id") != Some(&json!(id)) {
                // The late answer of a call given up on: the module did that work
                // after all; the answer was journaled above and is dropped here.
                if let Some(late) = message.get("id").and_then(Json::as_u64) {
                    if let Some(at) = self.abandoned.iter().position(|&a| a == late) {
                        self.abandoned.remove(at);
                        continue;
                    }
                }
                return Err(fail(
                    self,
                    Kind::ProtocolViolation,
                    format!("the module answered `{method}` (id {id}) with another id"),
                    json!({"method": method, "expected_id": id, "id": message.get("id")}),
                ));
            }
            if let Some(error) = message.get("error") {
                let text = error
                    .get("message")
                    .and_then(Json::as_str)
                    .map(|m| crate::escape::untrusted(m).into_owned())
                    .unwrap_or_else(|| "no message".to_string());
                return Err(fail(
                    self,
                    Kind::BusinessFailure,
                    format!("the module answered `{method}` with an error: {text}"),
                    json!({"method": method, "module_error": error}),
                ));
            }
            return match message.get("result") {
                Some(result) => Ok(result.clone()),
                None => Err(fail(
                    self,
                    Kind::ProtocolViolation,
                    format!("the module answered `{method}` with neither result nor error"),
                    json!({"method": method}),
                )),
            };
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
    fn exit_status_soon(&mut self) -> String {
        if self
            .child
            .wait_exit(Some(Instant::now() + Duration::from_millis(100)))
        {
            if let Some(status) = self.child.finish_exited() {
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
        let mut client = Client::spawn(
            &sh(r#"read -r l; echo '{"jsonrpc":"2.0","id":9,"method":"nope"}'; read -r a; echo "$a" >&2; echo '{"jsonrpc":"2.0","id":1,"result":{"ok":true}}'; read -r l"#),
        )
        .unwrap();
        let got = client
            .call(
                "describe",
                json!({}),
                Duration::from_secs(5),
                &Cancel::new(),
                &cx,
            )
            .unwrap();
        assert_eq!(got, json!({"ok": true}));
        assert!(
            client.stderr_tail().unwrap_or_default().contains("-32601") || {
                client.finish(Duration::from_secs(1), Duration::from_millis(200));
                client.stderr_tail().unwrap_or_default().contains("-32601")
            }
        );
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
                "ready",
                json!({}),
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
                "ready",
                json!({}),
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
            .call("execute", json!({}), short, &Cancel::new(), &cx)
            .unwrap_err();
        assert_eq!(e.kind, Kind::Timeout);
        let got = client
            .call(
                "drain",
                json!({}),
                Duration::from_secs(5),
                &Cancel::new(),
                &cx,
            )
            .unwrap();
        assert_eq!(got, json!({"id": 2}));
        client.finish(Duration::from_secs(1), Duration::from_millis(200));
    }

    #[test]
    fn versions_negotiate_to_the_highest_common_one() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(negotiate(&s(&["1"]), &s(&["1", "2"])), Some("1".into()));
        assert_eq!(negotiate(&s(&["1"]), &s(&["2"])), None);
    }
}
