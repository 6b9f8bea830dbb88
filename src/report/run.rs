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
pub enum RunOutcome {
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
pub struct CommandLine {
    /// Program and arguments (never through a shell).
    pub argv: Vec<String>,
    /// The directory it runs in: the declaring catalog file's.
    pub working_dir: String,
}

/// The policy decision that let the request run.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    /// The rule that decided.
    pub rule: String,
    /// Why, for people.
    pub reason: String,
}

/// The outcome of `rune run`: the document `--output json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
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
    /// The EPS error, on failure.
    pub error: Option<Eps>,
    /// The kept tail of the plugin's stderr, raw (escaped where shown).
    pub stderr: Option<String>,
}

impl RunReport {
    /// Write the document as pretty JSON and a newline.
    pub fn write_json(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
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
        serde_json::to_writer_pretty(&mut *w, &doc)?;
        w.write_all(b"\n")
    }
}

/// How many lines of a plugin's stderr the readable view shows.
const STDERR_LINES: usize = 20;

/// What the readable view writes where.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// For stdout.
    pub out: String,
    /// For stderr.
    pub err: String,
}

/// The readable view: the result on stdout, a failure on stderr.
pub fn render_human(report: &RunReport) -> Rendered {
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
