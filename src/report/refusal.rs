//! What a command prints when it stops short of its output: the one error channel.
//!
//! Usage errors, unreadable inputs, invalid catalogs, invalid requests and policy
//! denials are all diagnostics. In the human format they render like `validate`'s
//! on stderr, with a closing line that says what kind of failure it was (an input
//! that could not be read is never summarised as "invalid"). With `--format json`
//! stdout carries `validate`'s JSON report instead of the document the command
//! would have printed, so a script can always parse stdout: the document on
//! success, the report (it has a `diagnostics` key) on failure.

use super::plural;
use crate::diagnostic::{self, Diagnostic};
use crate::report::diagnostics::{
    render_diagnostics, render_human_report, write_json_report, Summary,
};
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// Why a command refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The command line is wrong (flags, `--at`, `--param`, `--params-file`,
    /// `--out`, unknown names): exit 2.
    Usage,
    /// A catalog path could not be read: exit 2.
    Unreadable,
    /// The catalog has errors: exit 1.
    InvalidCatalog,
    /// The request is understood but invalid (parameters, a cycle): exit 1.
    InvalidRequest,
    /// Policy denied a planned step: exit 1.
    Denied,
}

impl Refused {
    /// The exit status of a command refused this way.
    pub(crate) fn status(self) -> ExitStatus {
        match self {
            Refused::Usage | Refused::Unreadable => ExitStatus::Error,
            Refused::InvalidCatalog | Refused::InvalidRequest | Refused::Denied => {
                ExitStatus::Failure
            }
        }
    }
}

/// A refusal with everything needed to report it.
#[derive(Debug)]
pub(crate) struct Refusal<'a> {
    /// Why.
    pub kind: Refused,
    /// What to report (sorted and deduplicated when rendered).
    pub diagnostics: Vec<Diagnostic>,
    /// The files the diagnostics point into.
    pub sources: &'a SourceMap,
    /// The catalog's counts, when one was read (zero otherwise).
    pub summary: Summary,
}

/// How the caller wants a refusal shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Channel {
    /// `--format json`: the JSON report on stdout.
    pub json: bool,
    /// Colour on stderr.
    pub color: bool,
}

/// Refuse a command line (exit 2): its flag problems, before any file was read.
pub(crate) fn usage(
    printer: &mut Printer,
    diagnostics: Vec<Diagnostic>,
    channel: Channel,
) -> ExitStatus {
    let nothing_read = SourceMap::default();
    report(
        printer,
        Refusal {
            kind: Refused::Usage,
            diagnostics,
            sources: &nothing_read,
            summary: Summary::default(),
        },
        channel,
    )
}

/// Report `refusal` and return the command's exit status.
pub(crate) fn report(printer: &mut Printer, refusal: Refusal<'_>, channel: Channel) -> ExitStatus {
    let status = refusal.kind.status();
    let diagnostics = diagnostic::finish(refusal.diagnostics, refusal.sources);
    if channel.json {
        printer.out_with(|w| {
            write_json_report(&diagnostics, refusal.sources, refusal.summary, false, w)
        });
        return status;
    }
    let text = match refusal.kind {
        Refused::Unreadable | Refused::InvalidCatalog => render_validation(
            &diagnostics,
            refusal.sources,
            refusal.summary,
            channel.color,
            false,
        ),
        Refused::InvalidRequest => {
            let mut text = diagnostics_only(&diagnostics, refusal.sources, channel.color);
            text.push_str("no plan: the request is invalid\n");
            text
        }
        Refused::Usage | Refused::Denied => {
            diagnostics_only(&diagnostics, refusal.sources, channel.color)
        }
    };
    printer.err(&text);
    status
}

/// `validate`'s human report, except that when an input could not be read the
/// closing line says so instead of calling the catalog invalid: nothing can be said
/// about a catalog rune could not read.
pub(crate) fn render_validation(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    summary: Summary,
    color: bool,
    deny_warnings: bool,
) -> String {
    let unreadable = diagnostics.iter().filter(|d| d.is_io()).count();
    if unreadable == 0 {
        return render_human_report(diagnostics, sources, summary, color, deny_warnings);
    }
    let mut text = render_diagnostics(diagnostics, sources, color);
    let others = diagnostics
        .iter()
        .filter(|d| d.is_error() && !d.is_io())
        .count();
    text.push_str(&format!(
        "unreadable: could not read {}",
        plural(unreadable, "catalog path")
    ));
    if others > 0 {
        text.push_str(&format!(
            "; {} in what could be read",
            plural(others, "more error")
        ));
    }
    text.push('\n');
    text
}

/// Diagnostics without a summary line.
fn diagnostics_only(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut text = render_diagnostics(diagnostics, sources, color);
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}
