//! Plan drift as people and CI read it: a short readable list, a JSON document,
//! or GitHub Actions annotations on the catalog lines that caused each change.
//!
//! The comparison is `plan::drift`; this module only words and places it. Every
//! value quoted comes from a plan file or a catalog: it goes through
//! [`untrusted`] so no terminal control or line break of its own reaches a log.

use serde::Serialize;
use serde_json::Value as Json;

use crate::escape::untrusted;
use crate::plan::drift::{Change, Drift, Kind, Location, Places};

/// The drift report document's format version.
pub const FORMAT_VERSION: u32 = 1;

/// What was compared: the two plans' names as the user gave them.
pub struct Compared<'a> {
    /// The first plan (the golden file).
    pub before: &'a str,
    /// The second plan (`the plan now` for `--check`).
    pub after: &'a str,
}

/// The JSON document `--format json` prints.
#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    before: &'a str,
    after: &'a str,
    drift: bool,
    changes: Vec<JsonChange<'a>>,
    moved_with: u64,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    #[serde(flatten)]
    change: &'a Change,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
}

/// The drift as one JSON document (pretty, with a final newline).
pub fn render_json(drift: &Drift, compared: &Compared, places: &Places) -> String {
    let doc = Document {
        format_version: FORMAT_VERSION,
        before: compared.before,
        after: compared.after,
        drift: !drift.is_empty(),
        changes: drift
            .changes
            .iter()
            .map(|c| JsonChange {
                change: c,
                message: describe(c),
                location: places.locate(&c.place),
            })
            .collect(),
        moved_with: drift.moved_with,
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// The drift as readable text: one line per change, with where it is.
pub fn render_human(drift: &Drift, compared: &Compared, places: &Places) -> String {
    let (before, after) = (untrusted(compared.before), untrusted(compared.after));
    if drift.is_empty() {
        return format!("no drift: {after} means the same as {before}\n");
    }
    let mut out = format!(
        "drift: {} between {before} and {after}\n",
        super::plural(drift.changes.len(), "change")
    );
    for c in &drift.changes {
        out.push_str(&format!("  - {}\n", describe(c)));
        if let Some(at) = places.locate(&c.place) {
            out.push_str(&format!("      at {}\n", where_(&at)));
        }
    }
    if drift.moved_with > 0 {
        out.push_str(&format!("  ({})\n", moved_with(drift.moved_with)));
    }
    out
}

/// The drift as GitHub Actions workflow commands: one `::error` per change, on
/// the catalog line that caused it where it has one.
pub fn render_github(drift: &Drift, places: &Places) -> String {
    use super::diagnostics::{escape_data, escape_property};
    let mut out = String::new();
    for c in &drift.changes {
        let mut props = Vec::new();
        if let Some(at) = places.locate(&c.place) {
            props.push(format!("file={}", escape_property(&untrusted(&at.file))));
            if let Some(line) = at.line {
                props.push(format!("line={line}"));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("plan drift: {}", kind_name(c.kind)))
        ));
        out.push_str(&format!(
            "::error {}::{}\n",
            props.join(","),
            escape_data(&describe(c))
        ));
    }
    if drift.moved_with > 0 {
        out.push_str(&format!(
            "::notice title=plan drift::{}\n",
            moved_with(drift.moved_with)
        ));
    }
    out
}

/// The consequences counted, in one clause.
fn moved_with(n: u64) -> String {
    let what = if n == 1 {
        "1 more module or step".to_string()
    } else {
        format!("{n} more modules or steps")
    };
    format!("{what} moved to another wave only because of the changes above")
}

fn where_(at: &Location) -> String {
    match at.line {
        Some(line) => format!("{}:{line}", untrusted(&at.file)),
        None => untrusted(&at.file).into_owned(),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "request",
        Kind::Input => "input",
        Kind::ModuleAdded => "module added",
        Kind::ModuleRemoved => "module removed",
        Kind::ModuleMoved => "module moved",
        Kind::StartupOrder => "startup order",
        Kind::ModuleChanged => "module changed",
        Kind::PhaseTimeout => "phase timeout",
        Kind::StepAdded => "step added",
        Kind::StepRemoved => "step removed",
        Kind::StepMoved => "step moved",
        Kind::StepChanged => "step changed",
        Kind::Decision => "policy decision",
        Kind::CriticalPath => "critical path",
    }
}

/// A JSON value in one line.
fn compact(value: &Json) -> String {
    match value {
        Json::Null => "none".to_string(),
        Json::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

/// `name` list as `` `a`, `b` ``.
fn names(value: &Json) -> Vec<String> {
    value
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(Json::as_str)
                .map(|s| format!("`{s}`"))
                .collect()
        })
        .unwrap_or_default()
}

/// What changed in a list of names: `now X; no longer Y`.
fn list_change(verb: &str, before: &Json, after: &Json) -> String {
    let (a, b) = (names(before), names(after));
    let added: Vec<&String> = b.iter().filter(|x| !a.contains(x)).collect();
    let removed: Vec<&String> = a.iter().filter(|x| !b.contains(x)).collect();
    let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("now {verb} {}", join(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("no longer {verb} {}", join(&removed)));
    }
    parts.join("; ")
}

fn short_digest(value: &Json) -> String {
    value
        .as_str()
        .map(|s| format!("{}…", s.chars().take(12).collect::<String>()))
        .unwrap_or_default()
}

fn timeout(value: &Json) -> String {
    match (value.get("ms"), value.get("source")) {
        (Some(Json::Number(ms)), Some(Json::String(source))) => format!("{ms} ms ({source})"),
        _ => "none".to_string(),
    }
}

fn setting(value: &Json) -> String {
    match (value.get("value"), value.get("source")) {
        (Some(v), Some(Json::String(source))) => format!("{v} ms ({source})"),
        _ => compact(value),
    }
}

fn retries(value: &Json) -> String {
    let get = |k: &str| value.get(k).map(Json::to_string).unwrap_or_default();
    format!(
        "{} attempts, {} ms apart, on {} ({})",
        get("max_attempts"),
        get("backoff_ms"),
        get("on"),
        value.get("source").and_then(Json::as_str).unwrap_or("")
    )
}

fn command(value: &Json) -> String {
    match value.get("argv").and_then(Json::as_array) {
        Some(argv) => {
            let words: Vec<String> = argv
                .iter()
                .filter_map(Json::as_str)
                .map(|w| {
                    if w.is_empty() || w.contains(char::is_whitespace) {
                        format!("{w:?}")
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            format!("`{}`", words.join(" "))
        }
        None => compact(value),
    }
}

fn decided(value: &Json) -> String {
    let rule = value.get("rule").and_then(Json::as_str).unwrap_or("");
    if value.get("allowed") == Some(&Json::Bool(true)) {
        format!("allowed by `{rule}`")
    } else {
        format!("denied by `{rule}`")
    }
}

/// One change in one sentence.
pub fn describe(c: &Change) -> String {
    let (x, y) = (&c.before, &c.after);
    let field = c.field.as_deref().unwrap_or("");
    let subject = &c.subject;
    let text = match c.kind {
        Kind::Request => format!("request {field}: {} → {}", compact(x), compact(y)),
        Kind::Input => {
            let what = if field == "program" {
                "program"
            } else {
                "catalog file"
            };
            match (x.is_null(), y.is_null()) {
                (true, _) => format!("{what} `{subject}` is new"),
                (_, true) => format!("{what} `{subject}` is gone"),
                _ => format!(
                    "{what} `{subject}` changed (sha256 {} → {})",
                    short_digest(x),
                    short_digest(y)
                ),
            }
        }
        Kind::ModuleAdded => format!("module `{subject}` added (wave {})", y["wave"]),
        Kind::ModuleRemoved => format!("module `{subject}` removed (was in wave {})", x["wave"]),
        Kind::ModuleMoved => {
            let why = list_change("depends on", &x["depends_on"], &y["depends_on"]);
            let mut text = format!(
                "module `{subject}` moved from wave {} to wave {}",
                x["wave"], y["wave"]
            );
            if !why.is_empty() {
                text.push_str(&format!(": {why}"));
            }
            text
        }
        Kind::StartupOrder => format!(
            "module `{subject}` starts in another order: {}",
            list_change("depends on", x, y)
        ),
        Kind::ModuleChanged if field == "command" => {
            format!(
                "module `{subject}`: command {} → {}",
                command(x),
                command(y)
            )
        }
        Kind::ModuleChanged => {
            format!(
                "module `{subject}`: {field} {} → {}",
                compact(x),
                compact(y)
            )
        }
        Kind::PhaseTimeout => {
            let phase = field.strip_suffix("_ms").unwrap_or(field);
            format!(
                "module `{subject}`: {phase} timeout {} → {}",
                timeout(x),
                timeout(y)
            )
        }
        Kind::StepAdded => format!(
            "step `{subject}` added (action `{}` of module `{}`){}",
            y["action"].as_str().unwrap_or(""),
            y["module"].as_str().unwrap_or(""),
            // A new step that policy denies says so: its decision is news too.
            if y["allowed"] == Json::Bool(false) {
                format!(", {}", decided(y))
            } else {
                String::new()
            }
        ),
        Kind::StepRemoved => format!(
            "step `{subject}` removed (was action `{}` of module `{}`)",
            x["action"].as_str().unwrap_or(""),
            x["module"].as_str().unwrap_or("")
        ),
        Kind::StepMoved => {
            let why = list_change("needs", &x["needs"], &y["needs"]);
            format!(
                "step `{subject}` moved from wave {} to wave {}: {why}",
                x["wave"], y["wave"]
            )
        }
        Kind::StepChanged => match field {
            "timeout_ms" => format!("step `{subject}`: timeout {} → {}", setting(x), setting(y)),
            "retries" => format!("step `{subject}`: retries {} → {}", retries(x), retries(y)),
            "command" => format!("step `{subject}`: command {} → {}", command(x), command(y)),
            "needs" => format!("step `{subject}`: {}", list_change("needs", x, y)),
            _ => format!("step `{subject}`: {field} {} → {}", compact(x), compact(y)),
        },
        Kind::Decision => {
            let (was, now) = (decided(x), decided(y));
            if was == now {
                format!("step `{subject}`: the policy rules that apply changed (still {now})")
            } else {
                let why = y["reason"].as_str().unwrap_or_default();
                format!("step `{subject}`: now {now} (was {was}): {why}")
            }
        }
        Kind::CriticalPath => {
            let chain = |v: &Json| {
                let chain: Vec<&str> = v["modules"]
                    .as_array()
                    .map(|m| m.iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                chain.join(" → ")
            };
            if chain(x) == chain(y) {
                format!(
                    "critical path: {} ms → {} ms ({})",
                    x["total_ms"],
                    y["total_ms"],
                    chain(y)
                )
            } else {
                format!(
                    "critical path: {} ms ({}) → {} ms ({})",
                    x["total_ms"],
                    chain(x),
                    y["total_ms"],
                    chain(y)
                )
            }
        }
    };
    untrusted(&text).into_owned()
}
