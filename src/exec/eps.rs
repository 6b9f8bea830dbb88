//! EPS: every failure that leaves a plugin or a module process, as one envelope.
//!
//! An EPS envelope is a JSON-RPC 2.0 error object (`code`, `message`, `data`) plus
//! `error_context` (classification, severity, whether it is recoverable and worth a
//! retry, what an operator can do, what it affects) and the ids of the request it
//! belongs to. [`Kind`] is the closed list of failures rune mediates; each has one
//! code in the range DESIGN gives its class, so the code alone says what went wrong.
//! ErrorHandler's job (a readable summary, structured records, recovery hints) is
//! the report stage rendering these.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// What kind of failure; decides the code and the error context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The process could not be started (missing, not executable).
    SpawnFailed,
    /// The process exited or was killed before it answered.
    Crashed,
    /// The output is not what the protocol allows: not UTF-8, not exactly one JSON
    /// object, not a valid BPCS or JSON-RPC message.
    InvalidOutput,
    /// The output is larger than rune reads.
    OutputTooLarge,
    /// A JSON-RPC answer that breaks the protocol (wrong id, missing result, a
    /// trust token not echoed).
    ProtocolViolation,
    /// Parameters do not match the action's input_schema (nothing was started).
    InvalidParams,
    /// The plugin said its input was invalid (exit code 1).
    PluginRejectedInput,
    /// The output does not match the action's output_schema.
    InvalidResult,
    /// The module's `describe` answer disagrees with the catalog.
    DescribeMismatch,
    /// The module and rune share no SPI version.
    SpiVersionMismatch,
    /// Policy denied the request.
    PolicyDenied,
    /// A module did not echo the per-run trust token: a stray process on the pipe.
    TokenMismatch,
    /// A resource or dependency the plugin needs failed (exit code 2).
    ResourceError,
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
}

/// The class of a failure, which decides its code range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// -32100..: talking to the process failed.
    Communication,
    /// -32200..: something did not match its schema or contract.
    Validation,
    /// -32300..: policy or trust.
    Security,
    /// -32400..: time, resources, the machine.
    System,
    /// -32500..: the operation itself failed.
    Business,
}

/// How bad it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational; nothing is broken.
    Low,
    /// One step failed.
    Medium,
    /// A module or the run is affected.
    High,
    /// The system may be left in a bad state.
    Critical,
}

impl Kind {
    /// The EPS code.
    pub fn code(self) -> i32 {
        match self {
            Kind::SpawnFailed => -32100,
            Kind::Crashed => -32101,
            Kind::InvalidOutput => -32102,
            Kind::OutputTooLarge => -32103,
            Kind::ProtocolViolation => -32104,
            Kind::InvalidParams => -32210,
            Kind::PluginRejectedInput => -32211,
            Kind::InvalidResult => -32212,
            Kind::DescribeMismatch => -32213,
            Kind::SpiVersionMismatch => -32214,
            Kind::PolicyDenied => -32300,
            Kind::TokenMismatch => -32301,
            Kind::ResourceError => -32400,
            Kind::Timeout => -32401,
            Kind::NotReady => -32402,
            Kind::Interrupted => -32403,
            Kind::ConfigurationError => -32404,
            Kind::Unhandled => -32405,
            Kind::BusinessFailure => -32500,
            Kind::DependencyUnsatisfied => -32503,
            Kind::Unhealthy => -32504,
        }
    }

    /// The class, matching the code range.
    pub fn classification(self) -> Classification {
        match self.code() {
            -32199..=-32100 => Classification::Communication,
            -32299..=-32200 => Classification::Validation,
            -32399..=-32300 => Classification::Security,
            -32499..=-32400 => Classification::System,
            _ => Classification::Business,
        }
    }

    /// Default severity.
    pub fn severity(self) -> Severity {
        match self {
            Kind::InvalidParams | Kind::PluginRejectedInput | Kind::PolicyDenied => Severity::Low,
            Kind::NotReady
            | Kind::DescribeMismatch
            | Kind::SpiVersionMismatch
            | Kind::TokenMismatch
            | Kind::DependencyUnsatisfied => Severity::High,
            Kind::Unhealthy => Severity::Medium,
            _ => Severity::Medium,
        }
    }

    /// Whether trying again may succeed without changing anything.
    pub fn retry_recommended(self) -> bool {
        matches!(
            self,
            Kind::Timeout | Kind::Crashed | Kind::ResourceError | Kind::NotReady
        )
    }

    /// Whether the system can recover from it (by retrying, or by an operator fix).
    pub fn recoverable(self) -> bool {
        !matches!(self, Kind::Unhandled)
    }

    /// What the failure affects.
    pub fn system_impact(self) -> &'static str {
        match self {
            Kind::NotReady
            | Kind::DescribeMismatch
            | Kind::SpiVersionMismatch
            | Kind::Unhealthy => "module",
            Kind::Interrupted => "run",
            _ => "step",
        }
    }

    /// What an operator can do about it.
    pub fn recovery_actions(self) -> &'static [&'static str] {
        match self {
            Kind::SpawnFailed => &[
                "check that the exec path exists and is executable",
                "relative exec paths resolve against the directory of the catalog file",
            ],
            Kind::Crashed => &["read the process's stderr in the report or the journal"],
            Kind::InvalidOutput | Kind::OutputTooLarge | Kind::ProtocolViolation => &[
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
        }
    }
}

/// A JSON-RPC 2.0 error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorObject {
    /// The EPS code.
    pub code: i32,
    /// One line for people.
    pub message: String,
    /// Structured details: what the plugin or module said, exit status, stderr tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Json>,
}

/// `error_context` of an EPS envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorContext {
    /// The failure's kind, stable for programs.
    pub kind: Kind,
    /// Its class (and code range).
    pub error_classification: Classification,
    /// How bad it is.
    pub severity: Severity,
    /// Whether the system can recover.
    pub recoverable: bool,
    /// Whether trying again may succeed.
    pub retry_recommended: bool,
    /// What an operator can do.
    pub recovery_actions: Vec<String>,
    /// What it affects: `step`, `module` or `run`.
    pub system_impact: String,
}

/// Where a failure happened and the ids of its request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
}

/// An EPS envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Eps {
    /// Always "2.0".
    pub jsonrpc: String,
    /// The JSON-RPC error object.
    pub error: ErrorObject,
    /// Classification and recovery.
    pub error_context: ErrorContext,
    /// Where it happened.
    pub origin: Origin,
}

impl Eps {
    /// An envelope of this kind with its default context.
    pub fn new(kind: Kind, message: impl Into<String>, origin: Origin) -> Self {
        Eps {
            jsonrpc: "2.0".to_string(),
            error: ErrorObject {
                code: kind.code(),
                message: message.into(),
                data: None,
            },
            error_context: ErrorContext {
                kind,
                error_classification: kind.classification(),
                severity: kind.severity(),
                recoverable: kind.recoverable(),
                retry_recommended: kind.retry_recommended(),
                recovery_actions: kind
                    .recovery_actions()
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                system_impact: kind.system_impact().to_string(),
            },
            origin,
        }
    }

    /// Attach structured details.
    pub fn with_data(mut self, data: Json) -> Self {
        self.error.data = Some(data);
        self
    }

    /// The failure's kind.
    pub fn kind(&self) -> Kind {
        self.error_context.kind
    }

    /// Whether a retry policy with these `on` names retries this failure:
    /// `any` retries everything, `timeout` timeouts, `retryable` what EPS marks
    /// retry_recommended.
    pub fn retried_by(&self, on: &[String]) -> bool {
        on.iter().any(|name| match name.as_str() {
            "any" => self.kind() != Kind::Interrupted,
            "timeout" => self.kind() == Kind::Timeout,
            "retryable" => self.error_context.retry_recommended,
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Kind; 21] = [
        Kind::SpawnFailed,
        Kind::Crashed,
        Kind::InvalidOutput,
        Kind::OutputTooLarge,
        Kind::ProtocolViolation,
        Kind::InvalidParams,
        Kind::PluginRejectedInput,
        Kind::InvalidResult,
        Kind::DescribeMismatch,
        Kind::SpiVersionMismatch,
        Kind::PolicyDenied,
        Kind::TokenMismatch,
        Kind::ResourceError,
        Kind::Timeout,
        Kind::NotReady,
        Kind::Interrupted,
        Kind::ConfigurationError,
        Kind::Unhandled,
        Kind::BusinessFailure,
        Kind::DependencyUnsatisfied,
        Kind::Unhealthy,
    ];

    #[test]
    fn codes_are_unique_and_in_their_class_range() {
        let mut codes: Vec<i32> = ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        for kind in ALL {
            let range = match kind.classification() {
                Classification::Communication => -32199..=-32100,
                Classification::Validation => -32299..=-32200,
                Classification::Security => -32399..=-32300,
                Classification::System => -32499..=-32400,
                Classification::Business => -32599..=-32500,
            };
            assert!(range.contains(&kind.code()), "{kind:?}");
        }
        assert_eq!(Kind::Timeout.code(), -32401);
        assert_eq!(Kind::DependencyUnsatisfied.code(), -32503);
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
