//! Diagnostic renderers: human (miette), JSON, GitHub annotations, SARIF 2.1.0.
//!
//! Every renderer takes the same sorted diagnostics and returns text; none of them
//! looks at the clock or the environment, so output is byte-identical for the same
//! input (colour is decided by the caller).

use super::plural;
use std::fmt;
use std::io::Write;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use serde::Serialize;

use super::excerpt::Excerpt;
use crate::diagnostic::{Code, Diagnostic, Label, Severity};
use crate::escape::untrusted;
use crate::source::{SourceMap, Span};

/// Counts shown at the end of a validation report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Catalog files read.
    pub files: usize,
    /// Modules registered.
    pub modules: usize,
    /// Actions declared.
    pub actions: usize,
    /// Workflows declared.
    pub workflows: usize,
}

/// A resolved position range, 1-based lines and columns (the JSON form's
/// `location`, keys in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Location<'a> {
    /// The file's display name.
    pub file: &'a str,
    /// Start line.
    pub line: usize,
    /// Start column (characters).
    pub column: usize,
    /// End line.
    pub end_line: usize,
    /// End column (exclusive, characters).
    pub end_column: usize,
}

/// Resolve a span to lines and columns.
pub(crate) fn locate(sources: &SourceMap, span: Span) -> Location<'_> {
    let file = sources.get(span.file);
    let (line, column) = file.line_col(span.start);
    let (end_line, end_column) = file.line_col(span.end);
    Location {
        file: &file.name,
        line,
        column,
        end_line,
        end_column,
    }
}

fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

/// Labels shown per diagnostic in the human format; JSON and SARIF list every one.
/// A cycle through 20,000 modules is read from its message and help, not from
/// 20,000 snippets, and miette's cost grows with labels times snippets.
pub(crate) const MAX_HUMAN_LABELS: usize = 12;

/// A diagnostic adapted to miette, with an excerpt of its primary file attached.
/// Labels in other files become related diagnostics with their own excerpt.
struct Rendered {
    code: Code,
    show_code: bool,
    severity: Severity,
    message: String,
    help: Option<String>,
    source: Option<Excerpt>,
    labels: Vec<LabeledSpan>,
    related: Vec<Rendered>,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.show_code
            .then(|| Box::new(self.code.as_str()) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning if !self.show_code => miette::Severity::Advice,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

fn label_text(label: &Label) -> Option<String> {
    (!label.message.is_empty()).then(|| untrusted(&label.message).into_owned())
}

fn to_rendered(d: &Diagnostic, sources: &SourceMap) -> Rendered {
    let shown = &d.labels[..d.labels.len().min(MAX_HUMAN_LABELS)];
    let primary_file = shown.first().map(|l| l.span.file);
    let in_primary: Vec<&Label> = shown
        .iter()
        .filter(|l| Some(l.span.file) == primary_file)
        .collect();
    let (source, labels) = match primary_file {
        Some(file) => {
            let ranges: Vec<(usize, usize)> = in_primary
                .iter()
                .map(|l| (l.span.start as usize, l.span.end as usize))
                .collect();
            let (excerpt, spans) = Excerpt::new(sources.get(file), &ranges);
            let labels = in_primary
                .iter()
                .zip(spans)
                .enumerate()
                .map(|(i, (label, span))| {
                    if i == 0 {
                        LabeledSpan::new_primary_with_span(label_text(label), span)
                    } else {
                        LabeledSpan::new_with_span(label_text(label), span)
                    }
                })
                .collect();
            (Some(excerpt), labels)
        }
        None => (None, Vec::new()),
    };
    let related = shown
        .iter()
        .filter(|l| Some(l.span.file) != primary_file)
        .map(|label| {
            let file = sources.get(label.span.file);
            let (excerpt, spans) = Excerpt::new(
                file,
                &[(label.span.start as usize, label.span.end as usize)],
            );
            Rendered {
                code: d.code,
                show_code: false,
                severity: Severity::Warning,
                message: format!("see also {}", untrusted(&file.name)),
                help: None,
                source: Some(excerpt),
                labels: vec![LabeledSpan::new_primary_with_span(
                    label_text(label),
                    spans[0],
                )],
                related: Vec::new(),
            }
        })
        .collect();
    Rendered {
        code: d.code,
        show_code: true,
        severity: d.severity,
        message: untrusted(&d.message).into_owned(),
        help: d.help.as_deref().map(|h| untrusted(h).into_owned()),
        source,
        labels,
        related,
    }
}

/// Render diagnostics with miette's graphical handler, without a summary.
pub(crate) fn render_diagnostics(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    color: bool,
) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for d in diagnostics {
        let rendered = to_rendered(d, sources);
        // Miette prints the code as a header; it renders into a String, so the
        // only possible error is a formatting bug, which we show as plain text.
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&format!(
                "{}: {} [{}]\n",
                d.severity.as_str(),
                d.message,
                d.code
            ));
        }
        let hidden = d.labels.len().saturating_sub(MAX_HUMAN_LABELS);
        if hidden > 0 {
            out.push_str(&format!(
                "  note: {} not shown; `--format json` lists every one\n",
                plural(hidden, "more location")
            ));
        }
        out.push('\n');
    }
    out
}

/// Whether the catalog passes: no errors, and no warnings either when they are denied
/// (`validate --deny-warnings`). Every format's verdict and the exit code use this.
pub fn passes(diagnostics: &[Diagnostic], deny_warnings: bool) -> bool {
    diagnostics
        .iter()
        .all(|d| d.severity == Severity::Warning && !deny_warnings)
}

/// Render diagnostics with miette's graphical handler, then a summary line.
pub fn render_human(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    summary: Summary,
    color: bool,
) -> String {
    render_human_report(diagnostics, sources, summary, color, false)
}

/// [`render_human`], the summary line saying "invalid" when warnings are denied too.
pub(crate) fn render_human_report(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    summary: Summary,
    color: bool,
    deny_warnings: bool,
) -> String {
    let mut out = render_diagnostics(diagnostics, sources, color);
    let errors = count(diagnostics, Severity::Error);
    let warnings = count(diagnostics, Severity::Warning);
    let mut what = format!(
        "{}, {}, {}",
        plural(summary.files, "file"),
        plural(summary.modules, "module"),
        plural(summary.actions, "action")
    );
    if summary.workflows > 0 {
        what.push_str(&format!(", {}", plural(summary.workflows, "workflow")));
    }
    if passes(diagnostics, deny_warnings) {
        let extra = if warnings > 0 {
            format!(" with {}", plural(warnings, "warning"))
        } else {
            String::new()
        };
        out.push_str(&format!("valid: {what}{extra}\n"));
    } else {
        out.push_str(&format!(
            "invalid: {}, {} in {what}{}\n",
            plural(errors, "error"),
            plural(warnings, "warning"),
            if errors == 0 {
                " (warnings denied by --deny-warnings)"
            } else {
                ""
            }
        ));
    }
    out
}

/// A label of the JSON form: its location, then its message.
#[derive(Serialize)]
struct LabelJson<'a> {
    #[serde(flatten)]
    location: Location<'a>,
    message: &'a str,
}

/// One diagnostic of the JSON form, keys in this order.
#[derive(Serialize)]
struct DiagnosticJson<'a> {
    code: &'static str,
    protocol_code: Option<i32>,
    severity: &'static str,
    message: &'a str,
    location: Option<Location<'a>>,
    labels: Vec<LabelJson<'a>>,
    help: Option<&'a str>,
}

/// The summary of the JSON form: the catalog's counts, then the verdict's.
#[derive(Serialize)]
struct SummaryJson {
    #[serde(flatten)]
    catalog: Summary,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    format_version: u32,
    valid: bool,
    summary: SummaryJson,
    diagnostics: Vec<DiagnosticJson<'a>>,
}

/// The JSON document for `validate --format json` (format version 1).
pub fn render_json(diagnostics: &[Diagnostic], sources: &SourceMap, summary: Summary) -> String {
    render_json_report(diagnostics, sources, summary, false)
}

/// Write the JSON report to `out` as it is serialised; `valid` is false when
/// warnings are denied and there are some.
pub(crate) fn write_json_report(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    summary: Summary,
    deny_warnings: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let items = diagnostics
        .iter()
        .map(|d| DiagnosticJson {
            code: d.code.as_str(),
            protocol_code: d.code.protocol_code(),
            severity: d.severity.as_str(),
            message: &d.message,
            location: d.primary_span().map(|s| locate(sources, s)),
            labels: d
                .labels
                .iter()
                .map(|l| LabelJson {
                    location: locate(sources, l.span),
                    message: &l.message,
                })
                .collect(),
            help: d.help.as_deref(),
        })
        .collect();
    let doc = ReportJson {
        format_version: 1,
        valid: passes(diagnostics, deny_warnings),
        summary: SummaryJson {
            catalog: summary,
            errors: count(diagnostics, Severity::Error),
            warnings: count(diagnostics, Severity::Warning),
        },
        diagnostics: items,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// [`render_json`], `valid` false when warnings are denied and there are some.
pub(crate) fn render_json_report(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    summary: Summary,
    deny_warnings: bool,
) -> String {
    let mut out = Vec::new();
    write_json_report(diagnostics, sources, summary, deny_warnings, &mut out)
        .expect("writing to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Escape a workflow command's message.
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command's property value.
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands, one `::error` or `::warning` line per diagnostic.
pub fn render_github(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!("title={}", escape_property(d.code.as_str()))];
        if let Some(span) = d.primary_span() {
            let l = locate(sources, span);
            props.insert(0, format!("file={}", escape_property(&untrusted(l.file))));
            props.insert(1, format!("line={}", l.line));
            props.insert(2, format!("col={}", l.column));
            props.insert(3, format!("endLine={}", l.end_line));
            if l.end_line == l.line {
                props.insert(4, format!("endColumn={}", l.end_column));
            }
        }
        // GitHub shows annotations and the raw log to people: catalog text quoted in
        // a message must not carry terminal controls or line breaks of its own.
        let mut message = untrusted(&d.message).into_owned();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(&untrusted(help));
        }
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            escape_data(&message)
        ));
    }
    out
}

/// Characters kept as they are in a SARIF artifact URI: RFC 3986 unreserved ones and
/// the path separator. Everything else (spaces, `#`, `%`, `?`, `:`, non-ASCII) is
/// percent-encoded, so the URI names the file and only the file.
const URI_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// A file's display name as a relative (or absolute-path) URI reference.
pub(crate) fn artifact_uri(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, URI_KEEP).to_string()
}

/// SARIF's `{"text": ...}` message object.
#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    short_description: Text<'static>,
    full_description: Text<'static>,
    help: HelpText,
    default_configuration: Level,
}

#[derive(Serialize)]
struct HelpText {
    text: String,
}

#[derive(Serialize)]
struct Level {
    level: &'static str,
}

#[derive(Serialize)]
struct Uri {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: Uri,
    region: Region,
}

/// A SARIF location; `id` and `message` only on related locations.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation<'a> {
    physical_location: Physical,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: Option<usize>,
    level: &'static str,
    message: HelpText,
    locations: Vec<SarifLocation<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation<'a>>,
}

#[derive(Serialize)]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct SarifLog<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

/// Write a SARIF 2.1.0 log with one run, a rule per code used, a result per
/// diagnostic, to `out` as it is serialised.
pub(crate) fn write_sarif(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    let rules = codes.iter().map(|&c| sarif_rule(c)).collect();
    let results = diagnostics
        .iter()
        .map(|d| sarif_result(d, &codes, sources))
        .collect();
    let log = SarifLog {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "rune",
                    version: env!("CARGO_PKG_VERSION"),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

/// The SARIF rule of a code: its summary, its explanation, how to read more.
fn sarif_rule(c: Code) -> SarifRule {
    SarifRule {
        id: c.as_str(),
        short_description: Text { text: c.summary() },
        full_description: Text {
            text: crate::explain::explanation(c),
        },
        help: HelpText {
            text: format!("rune explain {}", c.as_str()),
        },
        default_configuration: Level {
            level: c.severity().as_str(),
        },
    }
}

/// Where `span` is, as SARIF says it.
fn physical(sources: &SourceMap, span: Span) -> Physical {
    let l = locate(sources, span);
    Physical {
        artifact_location: Uri {
            uri: artifact_uri(l.file),
        },
        region: Region {
            start_line: l.line,
            start_column: l.column,
            end_line: l.end_line,
            end_column: l.end_column,
        },
    }
}

/// The SARIF result of one diagnostic; `codes` are the rules, sorted.
fn sarif_result<'a>(d: &'a Diagnostic, codes: &[Code], sources: &SourceMap) -> SarifResult<'a> {
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    SarifResult {
        rule_id: d.code.as_str(),
        rule_index: codes.binary_search(&d.code).ok(),
        level: d.severity.as_str(),
        message: HelpText { text },
        locations: d
            .primary_span()
            .map(|s| SarifLocation {
                physical_location: physical(sources, s),
                id: None,
                message: None,
            })
            .into_iter()
            .collect(),
        related_locations: d
            .labels
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, l)| SarifLocation {
                physical_location: physical(sources, l.span),
                id: Some(i),
                message: Some(Text { text: &l.message }),
            })
            .collect(),
    }
}

/// The SARIF log as text (see [`write_sarif`]).
pub fn render_sarif(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = Vec::new();
    write_sarif(diagnostics, sources, &mut out).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
