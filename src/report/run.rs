//! What `rune run` prints: the outcome of one action request.
//!
//! [`RunReport`] is the document (`--output json` writes it to stdout, success or
//! failure); the readable view renders from the same value: the output_data on
//! stdout when the action succeeded, the EPS error on stderr when it failed.
//! Everything a plugin wrote (output_data, error messages, stderr) is untrusted and
//! shown escaped.

use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::escape::untrusted;
use crate::exec::eps::Eps;

/// How the request ended, as the report says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunOutcome {
    /// The plugin succeeded and its output matched the output_schema.
    Succeeded,
    /// The request failed; `error` says how.
    Failed,
    /// The operator interrupted it (Ctrl-C).
    Interrupted,
    /// `--dry-run`: validated and allowed, nothing started.
    DryRun,
}

/// The plugin command line as rune runs it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CommandLine {
    /// Program and arguments (never through a shell).
    pub argv: Vec<String>,
    /// The directory it runs in: the declaring catalog file's.
    pub working_dir: String,
}

/// The policy decision that let the request run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DecisionRecord {
    /// The rule that decided.
    pub rule: String,
    /// Why, for people.
    pub reason: String,
}

/// The outcome of `rune run`: the document `--output json` prints.
///
/// RUNE's quick start fields come first, named as RUNE names them: `payload`
/// (`result` and `output_data`, the plugin's own on success, `result: dry_run` for
/// a dry run, null on failure) and `error` (on failure the plugin's BPCS
/// `{code, message, details}` whole, or, when rune judged the failure itself, the
/// same three fields of its EPS error). rune's own fields follow; its EPS
/// envelope is `eps`. [`RunReport::fill_bpcs_answer`] sets the first two.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunReport {
    /// RUNE's `payload`: set by [`RunReport::fill_bpcs_answer`].
    pub payload: Option<Json>,
    /// RUNE's `error`: set by [`RunReport::fill_bpcs_answer`].
    #[serde(rename = "error")]
    pub bpcs_error: Option<Json>,
    /// The action.
    pub action: String,
    /// Its module.
    pub module: String,
    /// Where it ran.
    pub node: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Attempts made.
    pub attempts: u64,
    /// Wall time in milliseconds (0 in the deterministic setting).
    pub duration_ms: u64,
    /// The command's correlation id.
    pub correlation_id: String,
    /// The command's W3C trace id.
    pub trace_id: String,
    /// The plugin command line.
    pub command: CommandLine,
    /// The validated parameters.
    pub params: Map<String, Json>,
    /// Timeout per attempt.
    pub timeout_ms: u64,
    /// Attempts allowed.
    pub max_attempts: u64,
    /// The policy decision.
    pub decision: DecisionRecord,
    /// output_data, on success.
    pub output: Option<Json>,
    /// The EPS error, on failure (`eps` in the document: `error` is RUNE's).
    #[serde(rename = "eps")]
    pub error: Option<Eps>,
    /// The kept tail of the plugin's stderr, raw (escaped where shown).
    pub stderr: Option<String>,
    /// The plugin's last BPCS response as it wrote it (untrusted), with its
    /// `message_metadata` and `observability`; null when it wrote none.
    pub plugin_response: Option<Json>,
}

impl RunReport {
    /// Set RUNE's `payload` and `error` from the outcome, the plugin's response
    /// and the EPS error, so that a reader of RUNE's quick start finds them where
    /// it shows them.
    pub(crate) fn fill_bpcs_answer(&mut self) {
        let said = |key: &str| {
            self.plugin_response
                .as_ref()
                .and_then(|r| r.get(key))
                .filter(|v| v.is_object())
                .cloned()
        };
        let (payload, error) = match self.outcome {
            RunOutcome::DryRun => (
                Some(serde_json::json!({
                    "result": "dry_run",
                    "output_data": {
                        "action": self.action,
                        "node": self.node,
                        "input_parameters": self.params,
                    },
                })),
                None,
            ),
            RunOutcome::Succeeded => (
                said("payload").or_else(|| {
                    Some(serde_json::json!({ "result": "success", "output_data": self.output }))
                }),
                None,
            ),
            RunOutcome::Failed | RunOutcome::Interrupted => (
                None,
                said("error").or_else(|| self.error.as_ref().map(eps_as_bpcs_error)),
            ),
        };
        self.payload = payload;
        self.bpcs_error = error;
    }

    /// Write the document, indented or on one line, and a newline.
    pub(crate) fn write_json(
        &self,
        indented: bool,
        w: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        /// The document with its format version first.
        #[derive(Serialize)]
        struct Versioned<'a> {
            format_version: u64,
            #[serde(flatten)]
            report: &'a RunReport,
        }
        let doc = Versioned {
            format_version: super::execution::FORMAT_VERSION,
            report: self,
        };
        if indented {
            serde_json::to_writer_pretty(&mut *w, &doc)?;
        } else {
            serde_json::to_writer(&mut *w, &doc)?;
        }
        w.write_all(b"\n")
    }
}

/// An EPS error as BPCS's `{code, message, details}`: for failures rune judged
/// itself (a timeout, output that is not BPCS), where the plugin wrote no error.
/// Read from the serialized envelope so it does not depend on where the envelope
/// keeps its JSON-RPC error object.
pub(crate) fn eps_as_bpcs_error(eps: &Eps) -> Json {
    let envelope = serde_json::to_value(eps).unwrap_or(Json::Null);
    let object = envelope
        .pointer("/error_payload/error_data/error")
        .or_else(|| envelope.get("error"));
    let field = |key: &str| {
        object
            .and_then(|o| o.get(key))
            .cloned()
            .unwrap_or(Json::Null)
    };
    serde_json::json!({
        "code": field("code"),
        // The specific reason, not the code's short title: BPCS's message is what
        // went wrong with this request.
        "message": object
            .and_then(|o| o.pointer("/data/reason"))
            .cloned()
            .unwrap_or_else(|| field("message")),
        "details": field("data"),
    })
}

/// How many lines of a plugin's stderr the readable view shows.
const STDERR_LINES: usize = 20;

/// What the readable view writes where.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// For stdout.
    pub out: String,
    /// For stderr.
    pub err: String,
}

/// The readable view: the result on stdout, a failure on stderr.
pub(crate) fn render_human(report: &RunReport) -> Rendered {
    let mut r = Rendered::default();
    let attempts = super::plural(report.attempts as usize, "attempt");
    match report.outcome {
        RunOutcome::DryRun => {
            r.out.push_str(&format!(
                "dry run: `{}` (module {}) would run on {}; nothing was started\n",
                report.action, report.module, report.node
            ));
            r.out.push_str(&format!(
                "  command:   {}\n",
                report
                    .command
                    .argv
                    .iter()
                    .map(|a| untrusted(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            r.out.push_str(&format!(
                "  directory: {}\n",
                untrusted(&report.command.working_dir)
            ));
            r.out.push_str(&format!(
                "  params:    {}\n",
                untrusted(&Json::Object(report.params.clone()).to_string())
            ));
            r.out.push_str(&format!(
                "  timeout:   {} ms per attempt, at most {}\n",
                report.timeout_ms,
                super::plural(report.max_attempts as usize, "attempt")
            ));
            r.out.push_str(&format!(
                "  policy:    allowed by {}: {}\n",
                report.decision.rule, report.decision.reason
            ));
        }
        RunOutcome::Succeeded => {
            r.out.push_str(&format!(
                "`{}` succeeded (module {}, node {}, {attempts}, {} ms)\n",
                report.action, report.module, report.node, report.duration_ms
            ));
            if let Some(output) = &report.output {
                r.out.push_str("output_data:\n");
                let pretty = serde_json::to_string_pretty(output).unwrap_or_default();
                for line in pretty.lines() {
                    r.out.push_str("  ");
                    r.out.push_str(&untrusted(line));
                    r.out.push('\n');
                }
            }
            if let Some(stderr) = &report.stderr {
                r.err.push_str("plugin stderr:\n");
                push_block(&mut r.err, stderr);
            }
        }
        RunOutcome::Failed | RunOutcome::Interrupted => {
            if let Some(eps) = &report.error {
                render_eps(&mut r.err, report, eps);
            }
        }
    }
    r
}

/// The failed request for people: which action where, then its EPS error as
/// every report shows one, then the ids to look it up by.
fn render_eps(out: &mut String, report: &RunReport, eps: &Eps) {
    out.push_str(&format!(
        "`{}` failed (module {}, node {}, {}, {} ms)\n",
        report.action,
        report.module,
        report.node,
        super::plural(report.attempts as usize, "attempt"),
        report.duration_ms
    ));
    super::eps::render(
        out,
        eps,
        report.stderr.as_deref(),
        "  ",
        super::execution::Paint(false),
    );
    out.push_str(&format!(
        "  ids: correlation {}, trace {}, span {}\n",
        eps.message_metadata.correlation_id, eps.observability.trace_id, eps.observability.span_id
    ));
}

/// The last [`STDERR_LINES`] stderr lines, each escaped, indented; the rest is in
/// the JSON report and the journal.
fn push_block(out: &mut String, raw: &str) {
    let lines: Vec<&str> = raw.lines().collect();
    let skip = lines.len().saturating_sub(STDERR_LINES);
    if skip > 0 {
        out.push_str(&format!(
            "    | ({} before these; --output json or --journal has the kept tail)\n",
            super::plural(skip, "more line")
        ));
    }
    for line in &lines[skip..] {
        out.push_str("    | ");
        out.push_str(&untrusted(line));
        out.push('\n');
    }
}

/// `rune run --json` for a request that names an action or a node rune does not
/// know: the same document shape as a failed run (RUNE's `payload: null` and
/// `error`, the EPS envelope in `eps`), so automation reads one shape.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunRefusal {
    /// Always null: nothing ran.
    pub payload: Option<Json>,
    /// BPCS's `{code, message, details}` of the EPS error.
    pub error: Json,
    /// The action as asked.
    pub action: String,
    /// The node as asked.
    pub node: String,
    /// Always `failed`.
    pub outcome: RunOutcome,
    /// Attempts made: none.
    pub attempts: u64,
    /// The command's correlation id.
    pub correlation_id: String,
    /// The command's W3C trace id.
    pub trace_id: String,
    /// The EPS envelope.
    pub eps: Eps,
}

impl RunRefusal {
    /// The document for this EPS error.
    pub(crate) fn new(action: &str, node: &str, ids: (&str, &str), eps: Eps) -> Self {
        RunRefusal {
            payload: None,
            error: eps_as_bpcs_error(&eps),
            action: action.to_string(),
            node: node.to_string(),
            outcome: RunOutcome::Failed,
            attempts: 0,
            correlation_id: ids.0.to_string(),
            trace_id: ids.1.to_string(),
            eps,
        }
    }

    /// Write the document, indented or on one line, and a newline.
    pub(crate) fn write_json(
        &self,
        indented: bool,
        w: &mut impl std::io::Write,
    ) -> std::io::Result<()> {
        if indented {
            serde_json::to_writer_pretty(&mut *w, self)?;
        } else {
            serde_json::to_writer(&mut *w, self)?;
        }
        w.write_all(b"\n")
    }
}
