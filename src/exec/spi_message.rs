//! The module SPI's messages as types: what rune writes to a module
//! ([`RuneMessage`]: its calls and its answers to the module's own requests) and
//! what it reads back ([`ModuleMessage`]). `rune schema spi-request` and
//! `rune schema spi-response` print their JSON Schemas, generated from these types
//! like the BPCS ones.
//!
//! A module's line is untrusted: it is parsed refusing duplicate keys at any depth
//! (as plugin answers are, [`super::bpcs::parse_unique`]), then read into
//! [`ModuleMessage`]; fields the SPI does not name are ignored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::bpcs::ActionContext;

/// The `jsonrpc` member: always `"2.0"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) enum JsonRpc {
    /// JSON-RPC 2.0.
    #[serde(rename = "2.0")]
    V2,
}

/// A JSON-RPC id as a module may write it: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Id {
    /// A number (rune's own calls use whole numbers counting up from 1).
    Number(serde_json::Number),
    /// A string.
    String(String),
}

impl Id {
    /// Whether this is rune's call `id`.
    pub(crate) fn is(&self, id: u64) -> bool {
        matches!(self, Id::Number(n) if n.as_u64() == Some(id))
    }
}

/// Everything rune writes to a module.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "SPI request")]
pub(crate) enum RuneMessage {
    /// A call of one of the SPI's methods.
    Call(Call),
    /// The answer to a request the module sent.
    Answer(Answer),
}

/// One call: its id and the method with its params.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(crate) struct Call {
    /// Always "2.0".
    pub jsonrpc: JsonRpc,
    /// Counts up from 1 per module process.
    pub id: u64,
    /// The method and its params.
    #[serde(flatten)]
    pub method: Method,
}

/// An SPI method and its params.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub(crate) enum Method {
    /// Who the module is: answered with module_name, module_version, spi_versions.
    Describe(Empty),
    /// Config, trust token, trace context; the module echoes the token.
    Initialize(Box<InitializeParams>),
    /// Whether the module is ready: answered with `{"ready": bool}`.
    Ready(Empty),
    /// One action the module provides itself: answered with `{"output_data": {…}}`.
    Execute(Box<ExecuteParams>),
    /// The module's health: answered with `{"status": "ready"|"degraded"|"draining"}`.
    Health(Empty),
    /// Stop taking work; let work in flight finish.
    Drain(Empty),
    /// Release resources; the module exits by itself after answering.
    Shutdown(Empty),
}

impl Method {
    /// The method's name on the wire.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Method::Describe(_) => "describe",
            Method::Initialize(_) => "initialize",
            Method::Ready(_) => "ready",
            Method::Execute(_) => "execute",
            Method::Health(_) => "health",
            Method::Drain(_) => "drain",
            Method::Shutdown(_) => "shutdown",
        }
    }
}

/// Params of a method that takes none: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct Empty {}

/// `initialize` params.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(crate) struct InitializeParams {
    /// The negotiated SPI version.
    pub spi_version: String,
    /// The module's `lifecycle.config` from the catalog, or `{}`.
    pub config: Json,
    /// The per-run trust token the module must echo as `result.token`.
    pub token: String,
    /// Where the module's own spans belong.
    pub trace: TraceParent,
    /// The command's correlation id.
    pub correlation_id: String,
    /// Always `local` (rune runs the module on this machine).
    pub deployment_mode: String,
    /// Always `fail_closed`: nothing is routed to a module that failed to start.
    pub fallback: String,
    /// The paths the module must deny (`lifecycle.deny_paths`); present only when
    /// the catalog requires some. The module confirms it enforces them by listing
    /// them under `deny_paths` in its initialize or ready answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_paths: Vec<String>,
}

/// The trace context handed over in `initialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub(crate) struct TraceParent {
    /// The command's trace id (32 hex digits).
    pub trace_id: String,
    /// The initialize step's span id (16 hex digits).
    pub parent_span_id: String,
    /// Always true.
    pub sampled: bool,
}

/// `execute` params: the action request, with the same context a plugin gets.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(crate) struct ExecuteParams {
    /// The action.
    pub action: String,
    /// The parameters, already validated against the action's input_schema.
    pub input_parameters: Map<String, Json>,
    /// Where and why the action runs (the BPCS `payload.context` too).
    pub context: ActionContext,
}

/// rune's answer to a module's request.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub(crate) struct Answer {
    /// Always "2.0".
    pub jsonrpc: JsonRpc,
    /// The id of the module's request.
    pub id: Id,
    /// `result` (for `report_health`, `emit_event`) or `error` (-32601 otherwise).
    #[serde(flatten)]
    pub outcome: AnswerOutcome,
}

/// What an [`Answer`] says.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AnswerOutcome {
    /// Taken: `{}`.
    Result(Empty),
    /// Not a method rune knows.
    Error(RpcError),
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub(crate) struct RpcError {
    /// The error's code.
    pub code: i64,
    /// One line for people.
    pub message: String,
    /// Anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
}

/// Anything a module writes: an answer to rune's call (`id` with `result` or
/// `error`), a request of its own (`method` with an `id`, answered), or a
/// notification (`method` without an `id`, never answered). Fields the SPI does not
/// name are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "SPI response")]
pub(crate) struct ModuleMessage {
    /// Always "2.0".
    pub jsonrpc: JsonRpc,
    /// The call answered, or the id of the module's own request; absent (or null)
    /// on a notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// The module's own request or notification (`report_health`, `emit_event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Its params.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Json>,
    /// The call's result (null is a result).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub result: Option<Json>,
    /// The call's failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

/// A member that is there, even as null, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}
