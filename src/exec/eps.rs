//! EPS: every failure that leaves a plugin, a module process or rune's own checks,
//! as one envelope in the shape of RUNE's EPS document.
//!
//! An envelope has four sections: `message_metadata` (ids, time, priority),
//! `routing` (who detected it, whose request caused it, tags), `error_payload`
//! (`error_data`: a JSON-RPC 2.0 error object with the request's id;
//! `error_context`: classification and recovery) and `observability` (trace, span,
//! fingerprint). rune's own facts (the failure's [`Kind`], plan step, module, action,
//! phase) sit under a fifth key, `rune`, so RUNE's sections keep RUNE's fields only.
//!
//! [`Kind`] is the closed list of failures rune mediates. Each kind's code means what
//! RUNE's code table says; kinds RUNE has no code for use JSON-RPC's
//! implementation-defined range -32000..-32099. Classification, severity and
//! priority follow from the code the way RUNE's classifier assigns them, so a
//! consumer that reads codes by RUNE's table reads rune's envelopes right. This
//! module is the only place envelopes are built.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

/// The EPS version rune writes (`message_metadata.version`, `error_payload.schema_version`).
pub(crate) const EPS_VERSION: &str = "1.0";

/// Who detects and reports every failure: rune's mediator (`routing.source_module`).
pub(crate) const SOURCE_MODULE: &str = "rune";

/// What kind of failure; decides the code and the error context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The process could not be started (missing, not executable), or the node
    /// it should run on is not one rune can reach.
    SpawnFailed,
    /// The request names an action (or module) no catalog declares.
    NotFound,
    /// The request names a node rune cannot route it to.
    RoutingFailure,
    /// The process exited or was killed before it answered.
    Crashed,
    /// The output is not JSON at all (not UTF-8, not parseable, more than one value).
    InvalidOutput,
    /// The output is JSON but not a valid BPCS response or JSON-RPC message.
    InvalidMessage,
    /// The output is larger than rune reads.
    OutputTooLarge,
    /// A JSON-RPC answer that breaks the protocol (wrong id, missing result, an
    /// answer out of turn).
    ProtocolViolation,
    /// Parameters do not match the action's input_schema (nothing was started).
    InvalidParams,
    /// The plugin said its input was invalid (exit code 1).
    PluginRejectedInput,
    /// The output does not match the action's output_schema.
    InvalidResult,
    /// The module's `describe` answer disagrees with the catalog.
    DescribeMismatch,
    /// The module and rune share no SPI or protocol version.
    SpiVersionMismatch,
    /// Policy denied the request.
    PolicyDenied,
    /// A module did not echo the per-run trust token: a stray process on the pipe.
    TokenMismatch,
    /// A resource or dependency the plugin needs failed (exit code 2).
    ResourceError,
    /// A declared resource limit (memory, CPU time, open files) stopped the process.
    ResourceExhausted,
    /// The step ran out of time; the process group was killed.
    Timeout,
    /// The module did not become ready before its ready timeout.
    NotReady,
    /// The operator interrupted the run (Ctrl-C).
    Interrupted,
    /// The plugin's configuration is wrong (exit code 4).
    ConfigurationError,
    /// The plugin failed unexpectedly (exit code 100 or another code).
    Unhandled,
    /// The plugin reported a business logic failure (exit code 3 or a failure result).
    BusinessFailure,
    /// A required module is not running, so the step could not run.
    DependencyUnsatisfied,
    /// A module answered a health check with something other than ready.
    Unhealthy,
    /// A node could not be reached over ssh (refused, no route, no such host).
    NodeUnreachable,
    /// The node refused ssh authentication (no key it accepts).
    NodeAuthFailed,
    /// The node's host key does not match known_hosts (changed, or unknown).
    HostKeyChanged,
    /// The ssh connection dropped before the plugin answered.
    ConnectionLost,
    /// The plugin is not installed on the node (`remote_exec`, or a bare name).
    RemotePluginMissing,
    /// rune's plugin cache on the node cannot be written (or a shipped bundle
    /// arrived damaged).
    NodeCacheUnwritable,
}

/// Every kind, in code order within each class (for tables, tests and `rune explain`).
pub const ALL_KINDS: [Kind; 31] = [
    Kind::InvalidOutput,
    Kind::InvalidMessage,
    Kind::InvalidParams,
    Kind::PluginRejectedInput,
    Kind::Unhandled,
    Kind::SpawnFailed,
    Kind::ProtocolViolation,
    Kind::DescribeMismatch,
    Kind::Interrupted,
    Kind::Unhealthy,
    Kind::NotFound,
    Kind::RemotePluginMissing,
    Kind::Crashed,
    Kind::ConnectionLost,
    Kind::RoutingFailure,
    Kind::OutputTooLarge,
    Kind::SpiVersionMismatch,
    Kind::InvalidResult,
    Kind::TokenMismatch,
    Kind::NodeAuthFailed,
    Kind::PolicyDenied,
    Kind::HostKeyChanged,
    Kind::ResourceExhausted,
    Kind::Timeout,
    Kind::NotReady,
    Kind::ConfigurationError,
    Kind::NodeCacheUnwritable,
    Kind::NodeUnreachable,
    Kind::BusinessFailure,
    Kind::ResourceError,
    Kind::DependencyUnsatisfied,
];

/// The class of a failure, named as RUNE's EPS names it; decided by the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// JSON-RPC base codes (but -32602) and -32000..-32099: the message or protocol.
    ProtocolError,
    /// -32100..-32199: routing or delivery to a process failed.
    CommunicationError,
    /// -32200..-32299 and -32602: data did not match its schema or contract.
    ValidationError,
    /// -32300..-32399: authentication or authorization.
    SecurityError,
    /// -32400..-32499: time, resources, configuration, the machine.
    SystemError,
    /// -32500..-32599: the operation itself failed.
    BusinessError,
    /// A code outside every range RUNE classifies.
    UnknownError,
}

/// How bad it is; also the message priority (RUNE maps one to the other 1:1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Minor issue.
    Low,
    /// Partial failure.
    Medium,
    /// A module failed or the impact is significant.
    High,
    /// System-wide failure or risk of data loss.
    Critical,
}

/// How much of the system a failure affects (RUNE's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemImpact {
    /// One request (one step's action or phase).
    SingleRequest,
    /// One module.
    Module,
    /// Several modules (what is left of the run).
    MultipleModules,
    /// The whole system.
    SystemWide,
}

/// How a failure affects the health of the module it concerns (RUNE's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthImpact {
    /// Not at all.
    None,
    /// It still works, worse.
    Degraded,
    /// It is close to failing.
    Critical,
    /// It does not work.
    Failed,
}

/// The class a code belongs to, as RUNE's classifier decides it. -32602 is
/// validation, as RUNE's own complete example classifies it.
pub(crate) fn classify(code: i64) -> Classification {
    match code {
        -32602 => Classification::ValidationError,
        -32700 | -32600 | -32601 | -32603 | -32099..=-32000 => Classification::ProtocolError,
        -32199..=-32100 => Classification::CommunicationError,
        -32299..=-32200 => Classification::ValidationError,
        -32399..=-32300 => Classification::SecurityError,
        -32499..=-32400 => Classification::SystemError,
        -32599..=-32500 => Classification::BusinessError,
        _ => Classification::UnknownError,
    }
}

impl Classification {
    /// The severity RUNE's classifier gives this class.
    pub fn severity(self) -> Severity {
        match self {
            Classification::CommunicationError | Classification::SecurityError => Severity::High,
            Classification::SystemError => Severity::Critical,
            _ => Severity::Medium,
        }
    }

    /// The name as written in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::ProtocolError => "protocol_error",
            Classification::CommunicationError => "communication_error",
            Classification::ValidationError => "validation_error",
            Classification::SecurityError => "security_error",
            Classification::SystemError => "system_error",
            Classification::BusinessError => "business_error",
            Classification::UnknownError => "unknown_error",
        }
    }
}

impl SystemImpact {
    /// The name as written in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemImpact::SingleRequest => "single_request",
            SystemImpact::Module => "module",
            SystemImpact::MultipleModules => "multiple_modules",
            SystemImpact::SystemWide => "system_wide",
        }
    }
}

impl HealthImpact {
    /// The name as written in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthImpact::None => "none",
            HealthImpact::Degraded => "degraded",
            HealthImpact::Critical => "critical",
            HealthImpact::Failed => "failed",
        }
    }
}

impl Severity {
    /// The name as written in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl Kind {
    /// The EPS code: RUNE's code for this failure, or one of rune's own in
    /// -32000..-32099 where RUNE's table has none.
    pub fn code(self) -> i32 {
        match self {
            Kind::InvalidOutput => -32700,
            Kind::InvalidMessage => -32600,
            Kind::InvalidParams | Kind::PluginRejectedInput => -32602,
            Kind::Unhandled => -32603,
            Kind::SpawnFailed => -32001,
            Kind::ProtocolViolation => -32002,
            Kind::DescribeMismatch => -32003,
            Kind::Interrupted => -32004,
            Kind::Unhealthy => -32005,
            Kind::NotFound => -32100,
            Kind::RemotePluginMissing => -32100,
            Kind::ConnectionLost => -32101,
            Kind::NodeAuthFailed => -32300,
            Kind::HostKeyChanged => -32302,
            Kind::NodeCacheUnwritable => -32403,
            Kind::NodeUnreachable => -32405,
            Kind::Crashed => -32101,
            Kind::RoutingFailure => -32102,
            Kind::OutputTooLarge => -32103,
            Kind::SpiVersionMismatch => -32105,
            Kind::InvalidResult => -32200,
            Kind::TokenMismatch => -32300,
            Kind::PolicyDenied => -32301,
            Kind::ResourceExhausted => -32400,
            Kind::Timeout => -32401,
            Kind::NotReady => -32402,
            Kind::ConfigurationError => -32403,
            Kind::BusinessFailure => -32500,
            Kind::ResourceError | Kind::DependencyUnsatisfied => -32503,
        }
    }

    /// The kind's name as written in envelopes and accepted by `rune explain`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SpawnFailed => "spawn_failed",
            Kind::NotFound => "not_found",
            Kind::RoutingFailure => "routing_failure",
            Kind::Crashed => "crashed",
            Kind::InvalidOutput => "invalid_output",
            Kind::InvalidMessage => "invalid_message",
            Kind::OutputTooLarge => "output_too_large",
            Kind::ProtocolViolation => "protocol_violation",
            Kind::InvalidParams => "invalid_params",
            Kind::PluginRejectedInput => "plugin_rejected_input",
            Kind::InvalidResult => "invalid_result",
            Kind::DescribeMismatch => "describe_mismatch",
            Kind::SpiVersionMismatch => "spi_version_mismatch",
            Kind::PolicyDenied => "policy_denied",
            Kind::TokenMismatch => "token_mismatch",
            Kind::ResourceError => "resource_error",
            Kind::ResourceExhausted => "resource_exhausted",
            Kind::Timeout => "timeout",
            Kind::NotReady => "not_ready",
            Kind::Interrupted => "interrupted",
            Kind::ConfigurationError => "configuration_error",
            Kind::Unhandled => "unhandled",
            Kind::BusinessFailure => "business_failure",
            Kind::DependencyUnsatisfied => "dependency_unsatisfied",
            Kind::Unhealthy => "unhealthy",
            Kind::NodeUnreachable => "node_unreachable",
            Kind::NodeAuthFailed => "node_auth_failed",
            Kind::HostKeyChanged => "host_key_changed",
            Kind::ConnectionLost => "connection_lost",
            Kind::RemotePluginMissing => "remote_plugin_missing",
            Kind::NodeCacheUnwritable => "node_cache_unwritable",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Kind> {
        ALL_KINDS.into_iter().find(|k| k.name() == name)
    }

    /// The short title of the code (`error_data.error.message`): RUNE's message
    /// for RUNE's codes, rune's own for its own.
    pub fn title(self) -> &'static str {
        code_title(self.code()).unwrap_or("Unknown error")
    }

    /// The class, decided by the code as RUNE's classifier does.
    pub fn classification(self) -> Classification {
        classify(self.code().into())
    }

    /// The severity (and priority), decided by the class as RUNE's classifier does.
    pub fn severity(self) -> Severity {
        self.classification().severity()
    }

    /// Whether trying again may succeed without changing anything.
    pub fn retry_recommended(self) -> bool {
        matches!(
            self,
            Kind::Timeout
                | Kind::Crashed
                | Kind::ResourceError
                | Kind::NotReady
                | Kind::NodeUnreachable
                | Kind::ConnectionLost
        )
    }

    /// Whether the system can recover from it (by retrying, or by an operator fix).
    pub fn recoverable(self) -> bool {
        !matches!(self, Kind::Unhandled | Kind::InvalidOutput)
    }

    /// Whether a person has to act: RUNE escalates high and critical severities
    /// automatically.
    pub fn escalation_required(self) -> bool {
        self.severity() >= Severity::High
    }

    /// How much of the system it affects.
    pub fn system_impact(self) -> SystemImpact {
        match self {
            Kind::NotReady
            | Kind::DescribeMismatch
            | Kind::SpiVersionMismatch
            | Kind::TokenMismatch
            | Kind::Unhealthy
            | Kind::Crashed => SystemImpact::Module,
            Kind::Interrupted => SystemImpact::MultipleModules,
            _ => SystemImpact::SingleRequest,
        }
    }

    /// How it affects the health of the module it concerns.
    pub fn module_health_impact(self) -> HealthImpact {
        match self {
            Kind::Crashed
            | Kind::NotReady
            | Kind::DescribeMismatch
            | Kind::SpiVersionMismatch
            | Kind::TokenMismatch => HealthImpact::Failed,
            Kind::Unhealthy | Kind::ProtocolViolation | Kind::InvalidMessage => {
                HealthImpact::Degraded
            }
            _ => HealthImpact::None,
        }
    }

    /// What an operator can do about it.
    pub fn recovery_actions(self) -> &'static [&'static str] {
        match self {
            Kind::SpawnFailed => &[
                "check that the exec path exists and is executable",
                "relative exec paths resolve against the directory of the catalog file",
            ],
            Kind::NotFound => &["`rune list-actions` shows the actions the catalogs declare"],
            Kind::RoutingFailure => &["name a node rune can reach (`localhost`)"],
            Kind::Crashed => &["read the process's stderr in the report or the journal"],
            Kind::InvalidOutput
            | Kind::InvalidMessage
            | Kind::OutputTooLarge
            | Kind::ProtocolViolation => &[
                "fix the plugin or module so it writes exactly one JSON message per answer",
                "write diagnostics to stderr, never to stdout",
            ],
            Kind::InvalidParams => &["fix the parameters; `rune list-actions` shows the schema"],
            Kind::PluginRejectedInput => &["check the parameters against what the plugin expects"],
            Kind::InvalidResult => &["fix the plugin's output_data or the action's output_schema"],
            Kind::DescribeMismatch => &["make the module's describe answer and the catalog agree"],
            Kind::SpiVersionMismatch => {
                &["align lifecycle.spi_versions with what the module speaks"]
            }
            Kind::PolicyDenied => &["see the plan for the rule that decided"],
            Kind::TokenMismatch => &["make the module echo the token it was given in initialize"],
            Kind::ResourceError => {
                &["check the resource or dependency the plugin names, then retry"]
            }
            Kind::ResourceExhausted => &[
                "raise the limit the error names in the module's resource_requirements, or make the plugin use less",
            ],
            Kind::Timeout => &["raise the timeout in the catalog or policy if the work is slow"],
            Kind::NotReady => &[
                "read the module's stderr; raise lifecycle.timeouts.ready_ms if warm-up is slow",
            ],
            Kind::Interrupted => &["run the command again to finish"],
            Kind::ConfigurationError => &["fix the plugin's configuration"],
            Kind::Unhandled => &["report the failure to the plugin's authors, with its stderr"],
            Kind::BusinessFailure => &["read the plugin's error message and details"],
            Kind::DependencyUnsatisfied => &["fix the module it depends on first"],
            Kind::Unhealthy => &["inspect the module; it stays in service as degraded"],
            Kind::NodeUnreachable => &[
                "check that the node is up and sshd listens (`ssh -v NODE`), then retry",
                "check host, port and any ProxyJump in the inventory or ssh_config",
            ],
            Kind::NodeAuthFailed => &[
                "add the key rune uses (identity_file, the agent, ssh_config) to the node's authorized_keys",
                "check the user: `ssh -l USER NODE true` must work without a prompt",
            ],
            Kind::HostKeyChanged => &[
                "verify the node's new host key out of band before trusting it",
                "then replace its entry in known_hosts (`ssh-keygen -R HOST`); rune never skips the check",
            ],
            Kind::ConnectionLost => &[
                "the plugin was stopped on the node; check the node and the network, then retry",
            ],
            Kind::RemotePluginMissing => &[
                "install the plugin on the node at its remote_exec path, or drop remote_exec so rune ships it",
            ],
            Kind::NodeCacheUnwritable => &[
                "make ${XDG_CACHE_HOME:-~/.cache}/rune/ship writable by the ssh user on the node, with free space",
            ],
        }
    }
}

/// The short title of every code rune can emit, as RUNE's table gives it (or
/// rune's own, for -32000..-32099).
pub fn code_title(code: i32) -> Option<&'static str> {
    Some(match code {
        -32700 => "Parse error",
        -32600 => "Invalid Request",
        -32602 => "Invalid params",
        -32603 => "Internal error",
        -32001 => "Process could not be started",
        -32002 => "Protocol violation",
        -32003 => "Module description mismatch",
        -32004 => "Interrupted",
        -32005 => "Module unhealthy",
        -32100 => "Module not found",
        -32101 => "Module unavailable",
        -32102 => "Routing failure",
        -32103 => "Message too large",
        -32105 => "Protocol version mismatch",
        -32200 => "Schema validation failed",
        -32300 => "Authentication failed",
        -32301 => "Authorization denied",
        -32302 => "Signature verification failed",
        -32400 => "Resource exhausted",
        -32401 => "Timeout exceeded",
        -32402 => "Service unavailable",
        -32403 => "Configuration error",
        -32405 => "Network error",
        -32500 => "Business rule violation",
        -32503 => "Dependency unsatisfied",
        _ => return None,
    })
}

/// Where a failure happened and the ids of its request: what the builder needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The plan step id, when the failure belongs to a step.
    pub step: Option<u64>,
    /// The module.
    pub module: Option<String>,
    /// The action, for a plugin.
    pub action: Option<String>,
    /// The lifecycle phase or SPI method, for a module.
    pub phase: Option<String>,
    /// The command's correlation id.
    pub correlation_id: String,
    /// W3C trace id.
    pub trace_id: String,
    /// W3C span id of the step.
    pub span_id: String,
    /// When it happened (the fixed instant in the deterministic setting).
    pub at: Timestamp,
}

/// `message_metadata`: ids, time and priority of the error message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageMetadata {
    /// EPS version ("1.0").
    pub version: String,
    /// This error message's id.
    pub message_id: String,
    /// The id of the request (command) the failure belongs to.
    pub correlation_id: String,
    /// The message id of the request that failed, or "unknown".
    pub parent_message_id: String,
    /// When it happened, RFC 3339 in UTC.
    pub created_at: String,
    /// Priority, equal to the severity.
    pub priority: Severity,
}

/// `routing.event_type`: always `EPS_ERROR_RESPONSE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EventType {
    /// The only EPS event type.
    #[serde(rename = "EPS_ERROR_RESPONSE")]
    EpsErrorResponse,
}

/// `routing.event_category`: always `error_handling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EventCategory {
    /// The only EPS event category.
    #[serde(rename = "error_handling")]
    ErrorHandling,
}

/// `routing`: who detected the failure and whose request caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// Always `EPS_ERROR_RESPONSE`.
    pub event_type: EventType,
    /// Always `error_handling`.
    pub event_category: EventCategory,
    /// Who detected and reported it (rune writes "rune").
    pub source_module: String,
    /// The intended error handler; rune's is its own report, so it leaves this out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_module: Option<String>,
    /// The module whose request or process failed, or "unknown".
    pub original_source_module: String,
    /// Tags for routing and filtering: the classification and the kind.
    pub routing_tags: Vec<String>,
}

/// `error_payload.content_type`: always `application/json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ContentType {
    /// The only EPS content type.
    #[serde(rename = "application/json")]
    Json,
}

/// `error_payload`: the JSON-RPC error and its context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorPayload {
    /// Payload structure version ("1.0").
    pub schema_version: String,
    /// Always `application/json`.
    pub content_type: ContentType,
    /// Bytes of `error_data` and `error_context` serialized compactly.
    pub size_bytes: u64,
    /// The JSON-RPC 2.0 error response.
    pub error_data: ErrorData,
    /// Classification and recovery.
    pub error_context: ErrorContext,
}

/// `error_data.jsonrpc`: always "2.0".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum JsonRpcVersion {
    /// JSON-RPC 2.0.
    #[serde(rename = "2.0")]
    V2,
}

/// A JSON-RPC 2.0 error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorData {
    /// Always "2.0".
    pub jsonrpc: JsonRpcVersion,
    /// The error object.
    pub error: ErrorObject,
    /// The id of the request that failed; null when it is not known.
    #[schemars(required, schema_with = "string_or_null")]
    pub id: Option<String>,
}

/// JSON-RPC's id of an error response: a string, or null when the request's id
/// is not known (required either way).
fn string_or_null(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": ["string", "null"]})
}

/// A JSON-RPC 2.0 error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorObject {
    /// The EPS code.
    pub code: i32,
    /// The code's short title.
    pub message: String,
    /// What happened in detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ErrorDetails>,
}

/// `error.data`: the specific reason, when, and whatever else is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetails {
    /// What went wrong, for people.
    pub reason: String,
    /// When, RFC 3339 in UTC.
    pub timestamp: String,
    /// Structured facts: exit status, stderr tail, what the plugin or module said.
    #[serde(flatten)]
    pub details: Map<String, Json>,
}

/// `error_context` of an EPS envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorContext {
    /// The class (decided by the code).
    pub error_classification: Classification,
    /// How bad it is.
    pub severity: Severity,
    /// Whether the system can recover.
    pub recoverable: bool,
    /// Whether trying again may succeed.
    pub retry_recommended: bool,
    /// Whether a person has to act.
    pub escalation_required: bool,
    /// What an operator can do.
    pub recovery_actions: Vec<String>,
    /// Earlier errors this one follows from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_errors: Option<Vec<Json>>,
    /// How much of the system it affects.
    pub system_impact: SystemImpact,
    /// How it affects the module's health.
    pub module_health_impact: HealthImpact,
}

/// `observability`: tracing ids and the failure's fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    /// W3C trace id of the command.
    pub trace_id: String,
    /// W3C span id of the step.
    pub span_id: String,
    /// The same for the same failure: kind, code, module and action or phase,
    /// never ids or times.
    pub error_fingerprint: String,
}

/// `rune`: rune's own facts about the failure, beside RUNE's sections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuneContext {
    /// The failure's kind, stable for programs.
    pub kind: Kind,
    /// The plan step id, when the failure belongs to a step.
    pub step: Option<u64>,
    /// The module.
    pub module: Option<String>,
    /// The action, for a plugin or a module's execute.
    pub action: Option<String>,
    /// The lifecycle phase or SPI method, for a module.
    pub phase: Option<String>,
}

/// An EPS envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Eps {
    /// Ids, time and priority.
    pub message_metadata: MessageMetadata,
    /// Who detected it and whose request caused it.
    pub routing: Routing,
    /// The JSON-RPC error and its context.
    pub error_payload: ErrorPayload,
    /// Tracing ids and fingerprint.
    pub observability: Observability,
    /// rune's kind, step, module, action and phase (always written by rune;
    /// optional so RUNE's own envelopes validate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rune: Option<RuneContext>,
}

/// RFC 3339 in UTC with milliseconds, as RUNE's EPS writes times.
pub(crate) fn rfc3339_ms(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        // A separator that cannot occur in the parts keeps ("a","bc") from ("ab","c").
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    data_encoding::HEXLOWER.encode(&hash.finalize())
}

/// The fingerprint of a failure: its kind name and a sha256 over the code, the
/// module, the action (or phase) and the kind.
pub fn fingerprint(kind: Kind, module: Option<&str>, action_or_phase: Option<&str>) -> String {
    let hex = sha256_hex(&[
        &kind.code().to_string(),
        module.unwrap_or(""),
        action_or_phase.unwrap_or(""),
        kind.name(),
    ]);
    format!("{}_{}", kind.name(), &hex[..16])
}

impl Eps {
    /// An envelope of this kind with its default context; `reason` says what
    /// happened, for people.
    pub fn new(kind: Kind, reason: impl Into<String>, origin: Origin) -> Self {
        let severity = kind.severity();
        let created_at = rfc3339_ms(origin.at);
        let action_or_phase = origin.action.as_deref().or(origin.phase.as_deref());
        let mut eps = Eps {
            message_metadata: MessageMetadata {
                version: EPS_VERSION.to_string(),
                message_id: String::new(),
                correlation_id: origin.correlation_id.clone(),
                parent_message_id: "unknown".to_string(),
                created_at: created_at.clone(),
                priority: severity,
            },
            routing: Routing {
                event_type: EventType::EpsErrorResponse,
                event_category: EventCategory::ErrorHandling,
                source_module: SOURCE_MODULE.to_string(),
                target_module: None,
                original_source_module: origin
                    .module
                    .clone()
                    .unwrap_or_else(|| "unknown".to_string()),
                routing_tags: vec![
                    kind.classification().as_str().to_string(),
                    kind.name().to_string(),
                ],
            },
            error_payload: ErrorPayload {
                schema_version: EPS_VERSION.to_string(),
                content_type: ContentType::Json,
                size_bytes: 0,
                error_data: ErrorData {
                    jsonrpc: JsonRpcVersion::V2,
                    error: ErrorObject {
                        code: kind.code(),
                        message: kind.title().to_string(),
                        data: Some(ErrorDetails {
                            reason: reason.into(),
                            timestamp: created_at,
                            details: Map::new(),
                        }),
                    },
                    id: None,
                },
                error_context: ErrorContext {
                    error_classification: kind.classification(),
                    severity,
                    recoverable: kind.recoverable(),
                    retry_recommended: kind.retry_recommended(),
                    escalation_required: kind.escalation_required(),
                    recovery_actions: kind
                        .recovery_actions()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    related_errors: None,
                    system_impact: kind.system_impact(),
                    module_health_impact: kind.module_health_impact(),
                },
            },
            observability: Observability {
                trace_id: origin.trace_id.clone(),
                span_id: origin.span_id.clone(),
                error_fingerprint: fingerprint(kind, origin.module.as_deref(), action_or_phase),
            },
            rune: Some(RuneContext {
                kind,
                step: origin.step,
                module: origin.module,
                action: origin.action,
                phase: origin.phase,
            }),
        };
        eps.seal();
        eps
    }

    /// Attach structured details: an object's keys join `error.data` (beside
    /// `reason` and `timestamp`, which they cannot replace); anything else goes
    /// under `details`.
    pub fn with_data(mut self, data: Json) -> Self {
        if let Some(details) = self.details_mut() {
            match data {
                Json::Object(map) => {
                    for (key, value) in map {
                        if key != "reason" && key != "timestamp" {
                            details.details.insert(key, value);
                        }
                    }
                }
                Json::Null => {}
                other => {
                    details.details.insert("details".into(), other);
                }
            }
        }
        self.seal();
        self
    }

    /// Name the request that failed: its message id becomes the parent message id
    /// and the JSON-RPC id.
    pub fn with_request(mut self, message_id: impl Into<String>) -> Self {
        let id = message_id.into();
        self.message_metadata.parent_message_id = id.clone();
        self.error_payload.error_data.id = Some(id);
        self.seal();
        self
    }

    fn details_mut(&mut self) -> Option<&mut ErrorDetails> {
        self.error_payload.error_data.error.data.as_mut()
    }

    /// Recompute what depends on the rest: the size and the message id (a UUID
    /// derived from the request's ids and the failure, so the deterministic
    /// setting repeats it and two runs never share it).
    fn seal(&mut self) {
        let payload = &self.error_payload;
        let size = serde_json::to_vec(&payload.error_data).map_or(0, |v| v.len())
            + serde_json::to_vec(&payload.error_context).map_or(0, |v| v.len());
        self.error_payload.size_bytes = size as u64;
        let hex = sha256_hex(&[
            &self.message_metadata.correlation_id,
            &self.observability.span_id,
            &self.message_metadata.parent_message_id,
            &self.code().to_string(),
            self.reason(),
            &self.message_metadata.created_at,
            &self
                .rune
                .as_ref()
                .and_then(|r| r.step)
                .unwrap_or(0)
                .to_string(),
        ]);
        // RFC 9562 version 8 (custom), variant 10.
        let variant = ["8", "9", "a", "b"][usize::from(hex.as_bytes()[16]) % 4];
        self.message_metadata.message_id = format!(
            "{}-{}-8{}-{}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            variant,
            &hex[17..20],
            &hex[20..32]
        );
    }

    /// The failure's kind (for an envelope rune did not write, the kind its code
    /// stands for, else `unhandled`).
    pub fn kind(&self) -> Kind {
        match &self.rune {
            Some(r) => r.kind,
            None => ALL_KINDS
                .into_iter()
                .find(|k| k.code() == self.code())
                .unwrap_or(Kind::Unhandled),
        }
    }

    /// The EPS code.
    pub fn code(&self) -> i32 {
        self.error_payload.error_data.error.code
    }

    /// What happened, for people (`error.data.reason`, else the code's title).
    pub fn reason(&self) -> &str {
        match &self.error_payload.error_data.error.data {
            Some(d) => &d.reason,
            None => &self.error_payload.error_data.error.message,
        }
    }

    /// The structured facts beside the reason and the timestamp.
    pub fn details(&self) -> Option<&Map<String, Json>> {
        self.error_payload
            .error_data
            .error
            .data
            .as_ref()
            .map(|d| &d.details)
    }

    /// Classification and recovery.
    pub fn context(&self) -> &ErrorContext {
        &self.error_payload.error_context
    }

    /// The module, action and phase the failure belongs to.
    pub fn place(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        match &self.rune {
            Some(r) => (r.module.as_deref(), r.action.as_deref(), r.phase.as_deref()),
            None => (
                Some(self.routing.original_source_module.as_str()),
                None,
                None,
            ),
        }
    }

    /// Whether a retry policy with these `on` names retries this failure:
    /// `any` retries everything, `timeout` timeouts, `retryable` what EPS marks
    /// retry_recommended.
    pub fn retried_by(&self, on: &[String]) -> bool {
        on.iter().any(|name| match name.as_str() {
            "any" => self.kind() != Kind::Interrupted,
            "timeout" => self.kind() == Kind::Timeout,
            "retryable" => self.context().retry_recommended,
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> Origin {
        Origin {
            step: Some(3),
            module: Some("web".into()),
            action: Some("restart".into()),
            phase: None,
            correlation_id: "00000000-0000-4000-8000-000000000000".into(),
            trace_id: format!("{:032x}", 1),
            span_id: format!("{:016x}", 3),
            at: "2026-01-05T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn kinds_are_listed_once_and_their_codes_are_classified() {
        let mut names: Vec<&str> = ALL_KINDS.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_KINDS.len());
        for kind in ALL_KINDS {
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
            assert_ne!(
                kind.classification(),
                Classification::UnknownError,
                "{kind:?}"
            );
            assert!(code_title(kind.code()).is_some(), "{kind:?}");
            // The serde name is the name `rune explain` takes.
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.name()));
        }
    }

    #[test]
    fn severity_and_priority_follow_the_code_range() {
        let timeout = Eps::new(Kind::Timeout, "slow", origin());
        assert_eq!(timeout.context().severity, Severity::Critical);
        assert_eq!(timeout.message_metadata.priority, Severity::Critical);
        assert!(timeout.context().escalation_required);
        let params = Eps::new(Kind::InvalidParams, "bad", origin());
        assert_eq!(
            params.context().error_classification,
            Classification::ValidationError
        );
        assert_eq!(params.context().severity, Severity::Medium);
        assert!(!params.context().escalation_required);
        assert_eq!(classify(-32050), Classification::ProtocolError);
        assert_eq!(classify(-32700), Classification::ProtocolError);
        assert_eq!(classify(-31000), Classification::UnknownError);
    }

    #[test]
    fn the_fingerprint_ignores_ids_and_times_but_not_the_place() {
        let a = Eps::new(Kind::Timeout, "slow", origin());
        let mut other = origin();
        other.correlation_id = "x".into();
        other.span_id = "y".into();
        other.step = Some(9);
        other.at = "2027-01-01T00:00:00Z".parse().unwrap();
        let b = Eps::new(Kind::Timeout, "slower", other.clone()).with_request("m-2");
        assert_eq!(
            a.observability.error_fingerprint,
            b.observability.error_fingerprint
        );
        assert_ne!(a.message_metadata.message_id, b.message_metadata.message_id);
        other.action = Some("stop".into());
        let c = Eps::new(Kind::Timeout, "slow", other);
        assert_ne!(
            a.observability.error_fingerprint,
            c.observability.error_fingerprint
        );
        let d = Eps::new(Kind::Crashed, "slow", origin());
        assert_ne!(
            a.observability.error_fingerprint,
            d.observability.error_fingerprint
        );
    }

    #[test]
    fn data_keeps_reason_timestamp_and_size() {
        let eps = Eps::new(Kind::Crashed, "gone", origin())
            .with_data(json!({"exit_code": 9, "reason": "not this"}))
            .with_request("msg-000003-1");
        let data = eps.error_payload.error_data.error.data.as_ref().unwrap();
        assert_eq!(data.reason, "gone");
        assert_eq!(data.timestamp, "2026-01-05T10:00:00.000Z");
        assert_eq!(data.details["exit_code"], 9);
        assert_eq!(
            eps.error_payload.error_data.id.as_deref(),
            Some("msg-000003-1")
        );
        let size = serde_json::to_vec(&eps.error_payload.error_data)
            .unwrap()
            .len()
            + serde_json::to_vec(&eps.error_payload.error_context)
                .unwrap()
                .len();
        assert_eq!(eps.error_payload.size_bytes, size as u64);
        let id = &eps.message_metadata.message_id;
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
    }

    #[test]
    fn retries_follow_the_on_names() {
        let timeout = Eps::new(Kind::Timeout, "slow", Origin::default());
        let business = Eps::new(Kind::BusinessFailure, "no", Origin::default());
        assert!(timeout.retried_by(&["timeout".into()]));
        assert!(timeout.retried_by(&["retryable".into()]));
        assert!(!business.retried_by(&["retryable".into(), "timeout".into()]));
        assert!(business.retried_by(&["any".into()]));
    }
}
