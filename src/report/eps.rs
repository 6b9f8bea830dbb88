//! The one view of an EPS envelope for people, shared by every report that shows
//! errors (`apply`, `run`, progress lines use its headline parts): the code and
//! kind with the reason, the classification, the details, the stderr tail, the
//! recovery actions and the fingerprint. Everything a plugin or a module wrote is
//! untrusted and shown escaped.

use std::fmt::Write as _;

use serde_json::Value as Json;

use super::execution::{is_empty_json, shorten, Paint, DETAILS_SHOWN, STDERR_LINES_SHOWN};
use crate::escape::untrusted;
use crate::exec::eps::{Eps, SystemImpact};

/// How much of the system a failure affects, in words.
pub(crate) fn impact_words(impact: SystemImpact) -> &'static str {
    match impact {
        SystemImpact::SingleRequest => "this request",
        SystemImpact::Module => "the module",
        SystemImpact::MultipleModules => "several modules",
        SystemImpact::SystemWide => "the whole system",
    }
}

/// Write `eps` for people, each line starting with `indent`.
pub(crate) fn render(
    out: &mut String,
    eps: &Eps,
    stderr: Option<&str>,
    indent: &str,
    paint: Paint,
) {
    let context = eps.context();
    let class = context.error_classification.as_str();
    let severity = context.severity.as_str();
    let _ = writeln!(
        out,
        "{indent}{} {}: {}",
        paint.red(&format!("error[{}]", eps.code())),
        eps.kind().name(),
        untrusted(eps.reason())
    );
    let retry = if context.retry_recommended {
        "retrying may help"
    } else {
        "retrying will not help"
    };
    let _ = writeln!(
        out,
        "{indent}{} {class} · severity {severity} · affects {} · {retry}",
        paint.dim("│"),
        impact_words(context.system_impact)
    );
    if let Some(data) = eps.details().map(|d| Json::Object(d.clone())) {
        if !is_empty_json(&data) {
            let text = serde_json::to_string(&data).unwrap_or_default();
            let _ = writeln!(
                out,
                "{indent}{} details: {}",
                paint.dim("│"),
                shorten(&text, DETAILS_SHOWN)
            );
        }
    }
    if let Some(stderr) = stderr.filter(|s| !s.trim().is_empty()) {
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        let skipped = lines.len().saturating_sub(STDERR_LINES_SHOWN);
        let _ = writeln!(
            out,
            "{indent}{} stderr{}:",
            paint.dim("│"),
            if skipped > 0 {
                format!(" (last {STDERR_LINES_SHOWN} of {} lines)", lines.len())
            } else {
                String::new()
            }
        );
        for line in &lines[skipped..] {
            let _ = writeln!(
                out,
                "{indent}{}   {}",
                paint.dim("│"),
                shorten(line, DETAILS_SHOWN)
            );
        }
    }
    let _ = writeln!(
        out,
        "{indent}{} fingerprint {}",
        paint.dim("│"),
        untrusted(&eps.observability.error_fingerprint)
    );
    for action in &context.recovery_actions {
        let _ = writeln!(
            out,
            "{indent}{} {}",
            paint.dim("= help:"),
            untrusted(action)
        );
    }
}
