//! What a value breaks, said in the value's own terms.
//!
//! JSON and SARIF readers see no source snippet, so a message has to name the
//! offending value itself ("must be one of `info`, `warn`, `error`, found
//! `verbose`"), and the help has to name the YAML typing trap when there is one
//! (`1.10` read as the number 1.1, `yes` read as a string). Shared by the schema
//! stage, the data checks against embedded schemas and the parameter check, so
//! every place that validates data says it the same way.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::ValidationError;
use serde_json::Value as Json;

use crate::yaml::{Node, Value};

/// Longest value, in characters, quoted in a message before it is shortened.
const MAX_QUOTED_CHARS: usize = 40;
/// Most allowed values listed in one message.
const MAX_CHOICES: usize = 12;

/// The value a validation error is about: a catalog node or a plain JSON value.
#[derive(Clone, Copy)]
pub enum Found<'a> {
    /// A value read from a catalog file.
    Node(&'a Node),
    /// A value built elsewhere (command-line parameters).
    Json(&'a Json),
}

/// The scalar content of a value, or the size of a collection.
enum Shape<'a> {
    Null,
    Bool(bool),
    Integer(String),
    Float(String),
    Text(&'a str),
    List(usize),
    Mapping(usize),
}

impl<'a> Found<'a> {
    fn shape(self) -> Shape<'a> {
        match self {
            Found::Node(node) => match &node.value {
                Value::Null => Shape::Null,
                Value::Bool(b) => Shape::Bool(*b),
                Value::Number(n) if n.is_f64() => Shape::Float(n.to_string()),
                Value::Number(n) => Shape::Integer(n.to_string()),
                Value::String(s) => Shape::Text(s),
                Value::Seq(items) => Shape::List(items.len()),
                Value::Map(entries) => Shape::Mapping(entries.len()),
            },
            Found::Json(json) => match json {
                Json::Null => Shape::Null,
                Json::Bool(b) => Shape::Bool(*b),
                Json::Number(n) if n.is_f64() => Shape::Float(n.to_string()),
                Json::Number(n) => Shape::Integer(n.to_string()),
                Json::String(s) => Shape::Text(s),
                Json::Array(items) => Shape::List(items.len()),
                Json::Object(entries) => Shape::Mapping(entries.len()),
            },
        }
    }

    /// The value with its kind, for "found ...": ``the string `verbose` ``.
    pub fn describe(self) -> String {
        match self.shape() {
            Shape::Null => "nothing (null)".to_string(),
            Shape::Bool(b) => format!("the boolean `{b}`"),
            Shape::Integer(n) => format!("the integer `{n}`"),
            Shape::Float(n) => format!("the number `{n}`"),
            Shape::Text(s) => format!("the string {}", quote(s)),
            Shape::List(0) => "an empty list".to_string(),
            Shape::List(1) => "a list of 1 item".to_string(),
            Shape::List(n) => format!("a list of {n} items"),
            Shape::Mapping(0) => "an empty mapping".to_string(),
            Shape::Mapping(1) => "a mapping with 1 key".to_string(),
            Shape::Mapping(n) => format!("a mapping with {n} keys"),
        }
    }

    /// The value alone, quoted, where its kind is clear from the sentence: a
    /// string as `` `verbose` ``, anything else as [`Found::describe`] says it.
    fn brief(self) -> String {
        match self.shape() {
            Shape::Text(s) => quote(s),
            _ => self.describe(),
        }
    }

    fn text(self) -> Option<&'a str> {
        match self.shape() {
            Shape::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The length of a string in characters, of a list in items, of a mapping in keys.
    fn length(self) -> Option<usize> {
        match self.shape() {
            Shape::Text(s) => Some(s.chars().count()),
            Shape::List(n) | Shape::Mapping(n) => Some(n),
            _ => None,
        }
    }
}

/// A value inside backticks, on one line and short: control characters (and the
/// invisible characters that reorder text) are escaped so a catalog cannot forge
/// what a terminal shows, and long values keep their start and end.
pub fn quote(text: &str) -> String {
    format!("`{}`", clip(text))
}

/// A value as [`quote`] shows it, without the backticks: for text that goes inside
/// other quoting (`` `"1.10"` ``).
pub fn clip(text: &str) -> String {
    let count = text.chars().count();
    let mut out = String::with_capacity(text.len().min(4 * MAX_QUOTED_CHARS));
    if count <= MAX_QUOTED_CHARS {
        escape_into(text.chars(), &mut out);
    } else {
        let keep = MAX_QUOTED_CHARS / 2;
        escape_into(text.chars().take(keep), &mut out);
        out.push('…');
        escape_into(text.chars().skip(count - keep + 4), &mut out);
    }
    out
}

/// Values quoted and joined with commas, at most [`MAX_CHOICES`] of them (then
/// "and N more"), so that a mapping of ten thousand unknown keys still makes a
/// one-line message.
pub fn quote_all(values: &[impl AsRef<str>]) -> String {
    let mut shown: Vec<String> = values
        .iter()
        .take(MAX_CHOICES)
        .map(|v| quote(v.as_ref()))
        .collect();
    if values.len() > MAX_CHOICES {
        shown.push(format!("and {} more", values.len() - MAX_CHOICES));
    }
    shown.join(", ")
}

fn escape_into(chars: impl Iterator<Item = char>, out: &mut String) {
    for c in chars {
        if crate::escape::needs_escape(c) {
            crate::escape::push_escaped(out, c);
        } else {
            out.push(c);
        }
    }
}

/// A JSON value from a schema (an `enum` member, a `const`) as a message shows
/// it: strings without JSON quotes, unless the value found is not a string (then
/// `"1"` versus `1` is the whole point).
fn schema_value(value: &Json, found_text: bool) -> String {
    match value {
        Json::String(s) if found_text => quote(s),
        other => {
            let text = other.to_string();
            if text.chars().count() > MAX_QUOTED_CHARS {
                quote(&text)
            } else {
                format!("`{text}`")
            }
        }
    }
}

/// `a string`, `an integer or a string`. A `null` beside other types is left out:
/// the value found is not null (or it would match), and in the catalog schema null
/// only spells "absent" for optional MRS fields, which is not worth suggesting.
pub(super) fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => article(&t.to_string()),
        TypeKind::Multiple(ts) => {
            let all: Vec<String> = ts.into_iter().map(|t| t.to_string()).collect();
            let names: Vec<String> = all
                .iter()
                .filter(|t| *t != "null" || all.len() == 1)
                .map(|t| article(t))
                .collect();
            names.join(" or ")
        }
    }
}

fn article(kind: &str) -> String {
    match kind {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "integer" => "an integer".to_string(),
        "null" => "null".to_string(),
        other => format!("a {other}"),
    }
}

/// What to say about one failed leaf rule: the sentence (starting with `subject`),
/// the label for the value's span, and a hint when the value falls into a YAML
/// typing trap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// One sentence naming the value and what was expected.
    pub message: String,
    /// Short text for the label on the value.
    pub label: String,
    /// What to write instead, when rune can tell.
    pub help: Option<String>,
}

/// Describe a validation error about `found`, whose path is `subject` (already
/// quoted, e.g. `` `modules[0].lifecycle.timeouts.ready_ms` ``); `written` is the
/// value's source text when it is known, so a hint can quote what the user typed.
/// Keywords without a leaf meaning (`oneOf`, `not`, ...) get the validator's own
/// wording, with the value masked and named separately.
pub fn describe_mismatch(
    error: &ValidationError<'_>,
    found: Found<'_>,
    subject: &str,
    written: Option<&str>,
) -> Mismatch {
    let value = found.describe();
    let plain = |message: String, label: &str| Mismatch {
        message,
        label: label.to_string(),
        help: None,
    };
    match error.kind() {
        ValidationErrorKind::Type { kind } => {
            let expected = type_names(kind);
            let wants = |name: &str| match kind {
                TypeKind::Single(t) => t.to_string() == name,
                TypeKind::Multiple(ts) => ts.into_iter().any(|t| t.to_string() == name),
            };
            let help = if wants("string") {
                quote_hint(found, written)
            } else if wants("boolean") {
                boolean_hint(found)
            } else if wants("number") || wants("integer") {
                unquote_hint(found, wants("integer"))
            } else {
                None
            };
            Mismatch {
                message: format!("{subject} must be {expected}, found {value}"),
                label: format!("expected {expected}"),
                help,
            }
        }
        ValidationErrorKind::Enum { options } => {
            let choices = options.as_array().map(Vec::as_slice).unwrap_or_default();
            let strings_only = !choices.is_empty() && choices.iter().all(Json::is_string);
            // Quoting helps only when the quoted text is one of the choices.
            let mut help = match meant_text(found, written) {
                Some(text) if strings_only && choices.iter().any(|c| *c == *text) => {
                    quote_hint(found, written)
                }
                _ => None,
            };
            if help.is_none() {
                help = found
                    .text()
                    .and_then(|text| {
                        crate::diagnostic::did_you_mean(
                            text,
                            choices.iter().filter_map(Json::as_str),
                        )
                    })
                    .map(|hint| format!("did you mean {}?", quote(hint)));
            }
            Mismatch {
                message: format!(
                    "{subject} must be one of {}, found {}",
                    list_choices(choices, found.text().is_some()),
                    found.brief()
                ),
                label: "not an allowed value".to_string(),
                help,
            }
        }
        ValidationErrorKind::Constant { expected_value } => {
            let expected = schema_value(expected_value, found.text().is_some());
            Mismatch {
                message: format!("{subject} must be {expected}, found {}", found.brief()),
                label: format!("expected {expected}"),
                help: match (expected_value.as_str(), meant_text(found, written)) {
                    (Some(want), Some(text)) if want == text => quote_hint(found, written),
                    // `catalog_version: 1.0` for "1": quoting alone would not do.
                    (Some(want), _) if found.text().is_none() => Some(format!(
                        "write `{}`, in quotes",
                        serde_json::Value::String(want.to_string())
                    )),
                    _ => None,
                },
            }
        }
        ValidationErrorKind::Minimum { limit } => plain(
            format!("{subject} must be at least {limit}, found {value}"),
            "too small",
        ),
        ValidationErrorKind::Maximum { limit } => plain(
            format!("{subject} must be at most {limit}, found {value}"),
            "too large",
        ),
        ValidationErrorKind::ExclusiveMinimum { limit } => plain(
            format!("{subject} must be greater than {limit}, found {value}"),
            "too small",
        ),
        ValidationErrorKind::ExclusiveMaximum { limit } => plain(
            format!("{subject} must be less than {limit}, found {value}"),
            "too large",
        ),
        ValidationErrorKind::MultipleOf { multiple_of } => plain(
            format!("{subject} must be a multiple of {multiple_of}, found {value}"),
            "not a multiple",
        ),
        ValidationErrorKind::MinLength { limit } => plain(
            format!(
                "{subject} must be at least {} long, found {value}{}",
                count(*limit, "character"),
                length_note(found, "character")
            ),
            "too short",
        ),
        ValidationErrorKind::MaxLength { limit } => plain(
            format!(
                "{subject} must be at most {} long, found {value}{}",
                count(*limit, "character"),
                length_note(found, "character")
            ),
            "too long",
        ),
        ValidationErrorKind::MinItems { limit } => plain(
            format!(
                "{subject} must have at least {}, found {value}",
                count(*limit, "item")
            ),
            "too few items",
        ),
        ValidationErrorKind::MaxItems { limit } => plain(
            format!(
                "{subject} must have at most {}, found {value}",
                count(*limit, "item")
            ),
            "too many items",
        ),
        ValidationErrorKind::MinProperties { limit } => plain(
            format!(
                "{subject} must have at least {}, found {value}",
                count(*limit, "key")
            ),
            "too few keys",
        ),
        ValidationErrorKind::MaxProperties { limit } => plain(
            format!(
                "{subject} must have at most {}, found {value}",
                count(*limit, "key")
            ),
            "too many keys",
        ),
        ValidationErrorKind::Pattern { pattern } => Mismatch {
            message: format!(
                "{subject} does not have the required format, found {}",
                found.brief()
            ),
            label: format!("does not match {}", quote(pattern)),
            help: None,
        },
        ValidationErrorKind::Format { format } => Mismatch {
            message: format!("{subject} must be a valid {format}, found {}", found.brief()),
            label: format!("expected a {format}"),
            help: match format.as_str() {
                "uuid" => Some(
                    "write a UUID such as `550e8400-e29b-41d4-a716-446655440000` \
                     (8-4-4-4-12 hexadecimal digits)"
                        .to_string(),
                ),
                "date-time" => Some(
                    "write an RFC 3339 instant in UTC such as `2025-07-31T17:47:53.123Z`"
                        .to_string(),
                ),
                _ => None,
            },
        },
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), quote);
            Mismatch {
                message: format!("{subject} is missing the required field {name}"),
                label: format!("{name} is required here"),
                help: None,
            }
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let noun = if unexpected.len() == 1 {
                "unknown key"
            } else {
                "unknown keys"
            };
            plain(
                format!("{noun} {} in {subject}", quote_all(unexpected)),
                "not a known key here",
            )
        }
        // A key breaks the rule for key names: say so in the key's own terms.
        ValidationErrorKind::PropertyNames { error } => {
            let key = error.instance();
            let inner = describe_mismatch(error, Found::Json(key), "the key", None);
            Mismatch {
                message: format!(
                    "{subject} has a key that is not allowed: {}",
                    inner.message
                ),
                label: inner.label,
                help: inner.help,
            }
        }
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => plain(
            format!("{subject} matches none of the forms its schema allows, found {value}"),
            "does not match the schema",
        ),
        ValidationErrorKind::OneOfMultipleValid { .. } => plain(
            format!(
                "{subject} matches more than one of the forms its schema allows (`oneOf` needs exactly one), found {value}"
            ),
            "does not match the schema",
        ),
        _ => plain(
            format!("{subject} is invalid: {}; found {value}", error.masked()),
            "does not match the schema",
        ),
    }
}

fn count(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// ` (3 characters)` after a quoted string, whose length is not obvious.
fn length_note(found: Found<'_>, unit: &str) -> String {
    match (found.text(), found.length()) {
        (Some(_), Some(n)) => format!(" ({})", count(n as u64, unit)),
        _ => String::new(),
    }
}

fn list_choices(choices: &[Json], found_text: bool) -> String {
    let mut shown: Vec<String> = choices
        .iter()
        .take(MAX_CHOICES)
        .map(|c| schema_value(c, found_text))
        .collect();
    if choices.len() > MAX_CHOICES {
        shown.push(format!("and {} more", choices.len() - MAX_CHOICES));
    }
    shown.join(", ")
}

/// A number or boolean where text is expected: YAML read an unquoted scalar as
/// something else (`1.10` is the number 1.1, `1.0` the number 1).
fn quote_hint(found: Found<'_>, written: Option<&str>) -> Option<String> {
    let (read, kind, exact) = match found.shape() {
        Shape::Integer(n) => (n, "number", true),
        Shape::Float(n) => (n, "number", false),
        Shape::Bool(b) => (b.to_string(), "boolean", true),
        Shape::Null => ("null".to_string(), "null", true),
        _ => return None,
    };
    // What the user typed, shortened like any quoted value.
    let written = written.map(str::trim).filter(|w| !w.is_empty()).map(clip);
    let read = clip(&read);
    Some(match written.as_deref() {
        Some(w) if w != read => format!(
            "`{w}` is unquoted, so it was read as the {kind} {read}, not as text; quote it: `\"{w}\"`"
        ),
        Some(w) => format!("`{w}` is unquoted, so it was read as a {kind}; quote it: `\"{w}\"`"),
        // Without the source text, an integer or a boolean still reads back as written.
        None if exact => format!("`{read}` is unquoted, so it was read as a {kind}; quote it: `\"{read}\"`"),
        None => format!(
            "the unquoted value was read as the number {read}, and a number does not keep how it was written (`1.10` reads as 1.1); quote the value to keep it as text"
        ),
    })
}

/// The text an unquoted scalar was written as: its source text when known, else
/// what it reads back as when that is exact (integers, booleans, null).
fn meant_text(found: Found<'_>, written: Option<&str>) -> Option<String> {
    if let Some(w) = written.map(str::trim).filter(|w| !w.is_empty()) {
        return Some(w.to_string());
    }
    match found.shape() {
        Shape::Integer(n) => Some(n),
        Shape::Bool(b) => Some(b.to_string()),
        Shape::Null => Some("null".to_string()),
        _ => None,
    }
}

/// `yes`, `on`, ... where a boolean is expected: YAML 1.1 read them as booleans,
/// YAML 1.2 (and rune) reads them as strings.
fn boolean_hint(found: Found<'_>) -> Option<String> {
    let text = found.text()?;
    let meant = match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "on" => "true",
        "no" | "n" | "off" => "false",
        "true" | "false" => {
            return Some(format!(
                "{} is quoted, so it is a string; remove the quotes",
                quote(text)
            ))
        }
        _ => return None,
    };
    Some(format!(
        "YAML 1.2 booleans are `true` and `false`; {} is read as a string: write `{meant}`",
        quote(text)
    ))
}

/// A quoted number where a number is expected.
fn unquote_hint(found: Found<'_>, integer: bool) -> Option<String> {
    let text = found.text()?.trim();
    let number = if integer {
        text.parse::<i128>().is_ok()
    } else {
        text.parse::<f64>().is_ok_and(f64::is_finite)
    };
    number.then(|| {
        format!(
            "{} is quoted, so it is a string; remove the quotes",
            quote(text)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_control_characters_and_shortens_long_values() {
        assert_eq!(quote("info"), "`info`");
        assert_eq!(quote("a\u{1b}[2K\rb"), "`a\\e[2K\\rb`");
        assert_eq!(quote("x\u{202e}y"), "`x\\u{202e}y`");
        let long = "abcdefghij".repeat(10);
        let quoted = quote(&long);
        assert_eq!(quoted, "`abcdefghijabcdefghij…efghijabcdefghij`");
        assert!(quoted.chars().count() <= MAX_QUOTED_CHARS + 2);
        let wide = "é".repeat(100);
        assert_eq!(quote(&wide).chars().count(), 39);
    }
}
