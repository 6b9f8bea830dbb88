//! RCS: the action execution request as RUNE's Runtime Communication Specification
//! shapes it, from the orchestrator (LOM) to the module that provides the action.
//!
//! Mediation builds one [`Message`] per action request, after the parameters
//! passed the input_schema, journals it (a `message` event, protocol `rcs`), and
//! derives every attempt from it: a plugin's BPCS request takes its correlation
//! id, its `parent_message_id` (the RCS `message_id`), its parameters and context
//! (`payload.data`) and its trace ids; a module's SPI `execute` takes the same
//! parameters and context. RCS's own sections are kept as RCS names them;
//! rune's additions (`routing.target_module` and `routing.timeout_ms`, as RUNE's
//! JSON appendix writes them, and the retry schedule under `quality_of_service`)
//! are extra fields, which RCS allows in every section.

use data_encoding::HEXLOWER;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use super::bpcs::ActionContext;

/// RCS's protocol version (`message_metadata.version`).
pub(crate) const VERSION: &str = "1.0";

/// The payload schema version RCS defines (`payload.schema_version`).
pub(crate) const SCHEMA_VERSION: &str = "rcs_v2";

/// Who sends every request: the orchestrator.
pub(crate) const SOURCE_MODULE: &str = "LOM";

/// The event type of an action execution request.
pub(crate) const EVENT_TYPE: &str = "ACTION_EXECUTE_REQUEST";

/// One action execution request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "RCS action execution request")]
pub(crate) struct Message {
    /// Ids, times and priority of the message.
    pub message_metadata: MessageMetadata,
    /// From the orchestrator to the module that provides the action.
    pub routing: Routing,
    /// The request itself, with its size and checksum.
    pub payload: Payload,
    /// Timeout and retry policy.
    pub quality_of_service: QualityOfService,
    /// W3C trace context of the step.
    pub observability: Observability,
}

/// `message_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct MessageMetadata {
    /// RCS version, "1.0".
    pub version: String,
    /// A UUID derived from the run's correlation id and the plan step: unique in a
    /// run, repeated by `--deterministic`.
    pub message_id: String,
    /// The command's correlation id.
    pub correlation_id: String,
    /// Null: an action request starts a thread of messages.
    pub parent_message_id: Option<String>,
    /// RFC 3339 in UTC with milliseconds.
    pub created_at: String,
    /// `normal`.
    pub priority: String,
    /// `at_most_once` without retries, `at_least_once` with them.
    pub delivery_mode: String,
}

/// `routing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Routing {
    /// `ACTION_EXECUTE_REQUEST`.
    pub event_type: String,
    /// `orchestration`.
    pub event_category: String,
    /// `LOM`.
    pub source_module: String,
    /// The module that provides the action.
    pub target_module: String,
    /// `action:NAME`, `node:NODE`, `step:N`.
    pub routing_tags: Vec<String>,
    /// The expected answer.
    pub reply_to: ReplyTo,
    /// Per attempt, in milliseconds.
    pub timeout_ms: u64,
}

/// `routing.reply_to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ReplyTo {
    /// `ACTION_EXECUTE_RESPONSE`.
    pub event_type: String,
    /// Per attempt, in milliseconds.
    pub timeout_ms: u64,
}

/// `payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Payload {
    /// `rcs_v2`.
    pub schema_version: String,
    /// `application/json`.
    pub content_type: String,
    /// `utf-8`.
    pub encoding: String,
    /// The length of `data` written as compact JSON (as this message writes it).
    pub size_bytes: u64,
    /// The sha256 (hex) of the same bytes.
    pub checksum: String,
    /// The validated parameters and the context of the first attempt (later
    /// attempts differ in `context.attempt` only).
    pub data: RequestData,
}

/// `payload.data`: what a plugin gets as its BPCS `payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestData {
    /// The parameters, validated against the action's input_schema.
    pub input_parameters: Map<String, Json>,
    /// Where and why the action runs.
    pub context: ActionContext,
}

/// `quality_of_service`: RCS's retry fields, and rune's schedule beside them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct QualityOfService {
    /// Attempts after the first.
    pub max_retries: u64,
    /// The wait before the first retry; it doubles for each further one.
    pub retry_delay_ms: u64,
    /// The longest wait between two attempts (rune's).
    pub max_retry_delay_ms: u64,
    /// Which failures are retried: `timeout`, `retryable`, `any` (rune's).
    pub retry_on: Vec<String>,
    /// False: the answer is the acknowledgment.
    pub acknowledgment_required: bool,
    /// False: a request that fails is reported, not queued.
    pub dead_letter_queue: bool,
}

/// `observability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Observability {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits: the step's span.
    pub span_id: String,
}

/// What a request is made of.
pub(crate) struct Parts<'a> {
    /// The module that provides the action.
    pub target: &'a str,
    /// The first attempt's parameters and context.
    pub data: RequestData,
    /// Per attempt.
    pub timeout_ms: u64,
    /// Attempts in all (0 counts as 1).
    pub max_attempts: u64,
    /// Before the second attempt.
    pub backoff_ms: u64,
    /// Longest wait.
    pub max_backoff_ms: u64,
    /// Which failures are retried.
    pub retry_on: &'a [String],
    /// RFC 3339 in UTC with milliseconds.
    pub created_at: String,
}

impl Message {
    /// The request of `parts`.
    pub(crate) fn new(parts: Parts) -> Message {
        let context = &parts.data.context;
        let bytes = serde_json::to_value(&parts.data)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default();
        let retries = parts.max_attempts.max(1) - 1;
        Message {
            message_metadata: MessageMetadata {
                version: VERSION.to_string(),
                message_id: message_uuid(&context.correlation_id, &context.trace_id, context.step),
                correlation_id: context.correlation_id.clone(),
                parent_message_id: None,
                created_at: parts.created_at,
                priority: "normal".to_string(),
                delivery_mode: if retries == 0 {
                    "at_most_once"
                } else {
                    "at_least_once"
                }
                .to_string(),
            },
            routing: Routing {
                event_type: EVENT_TYPE.to_string(),
                event_category: "orchestration".to_string(),
                source_module: SOURCE_MODULE.to_string(),
                target_module: parts.target.to_string(),
                routing_tags: vec![
                    format!("action:{}", context.action),
                    format!("node:{}", context.node),
                    format!("step:{}", context.step),
                ],
                reply_to: ReplyTo {
                    event_type: "ACTION_EXECUTE_RESPONSE".to_string(),
                    timeout_ms: parts.timeout_ms,
                },
                timeout_ms: parts.timeout_ms,
            },
            observability: Observability {
                trace_id: context.trace_id.clone(),
                span_id: context.span_id.clone(),
            },
            payload: Payload {
                schema_version: SCHEMA_VERSION.to_string(),
                content_type: "application/json".to_string(),
                encoding: "utf-8".to_string(),
                size_bytes: bytes.len() as u64,
                checksum: crate::digest::sha256_hex(&bytes),
                data: parts.data,
            },
            quality_of_service: QualityOfService {
                max_retries: retries,
                retry_delay_ms: parts.backoff_ms,
                max_retry_delay_ms: parts.max_backoff_ms,
                retry_on: parts.retry_on.to_vec(),
                acknowledgment_required: false,
                dead_letter_queue: false,
            },
        }
    }

    /// The context of attempt `attempt`: the request's, counted on.
    pub(crate) fn context_for(&self, attempt: u64) -> ActionContext {
        ActionContext {
            attempt,
            ..self.payload.data.context.clone()
        }
    }
}

/// A UUID (RFC 9562 version 8, variant 10) from a sha256 of the run's ids and
/// the plan step.
fn message_uuid(correlation_id: &str, trace_id: &str, step: u64) -> String {
    let mut hash = Sha256::new();
    for part in [correlation_id, trace_id, "rcs", &step.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    let h = HEXLOWER.encode(&hash.finalize());
    let variant = ["8", "9", "a", "b"][usize::from(h.as_bytes()[16]) % 4];
    format!(
        "{}-{}-8{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(step: u64) -> ActionContext {
        ActionContext {
            node: "localhost".into(),
            action: "noop".into(),
            module: "examples".into(),
            step,
            attempt: 1,
            timeout_ms: 1000,
            requested_by: "alice".into(),
            dry_run: false,
            correlation_id: "00000000-0000-4000-8000-000000000000".into(),
            trace_id: "00000000000000000000000000000001".into(),
            span_id: "0000000000000007".into(),
        }
    }

    fn message(step: u64) -> Message {
        Message::new(Parts {
            target: "examples",
            data: RequestData {
                input_parameters: Map::new(),
                context: context(step),
            },
            timeout_ms: 1000,
            max_attempts: 3,
            backoff_ms: 100,
            max_backoff_ms: 30_000,
            retry_on: &["any".to_string()],
            created_at: "1970-01-01T00:00:00.000Z".into(),
        })
    }

    #[test]
    fn size_and_checksum_are_of_the_data_as_written() {
        let m = message(7);
        let bytes = serde_json::to_vec(&serde_json::to_value(&m.payload.data).unwrap()).unwrap();
        assert_eq!(m.payload.size_bytes, bytes.len() as u64);
        assert_eq!(m.payload.checksum, crate::digest::sha256_hex(&bytes));
        assert_eq!(m.quality_of_service.max_retries, 2);
    }

    #[test]
    fn message_ids_are_uuids_per_step() {
        let (a, b) = (message(7), message(8));
        let id = &a.message_metadata.message_id;
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert_ne!(id, &b.message_metadata.message_id);
        assert_eq!(id, &message(7).message_metadata.message_id);
    }
}
