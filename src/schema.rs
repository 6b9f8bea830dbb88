//! Schema stage: check parsed catalog documents against the embedded JSON Schemas.
//!
//! `schemas/` is the single source of truth for the catalog format; the files are
//! embedded into the binary, printed by `rune schema`, and compiled once per run.
//! Each module entry is validated on its own (in parallel) so a 10,000-module file
//! does not serialise on one core, and so every error maps back to the span of the
//! exact key or value it is about.

mod locate;
mod mismatch;

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use rayon::prelude::*;
use serde_json::Value as Json;

use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::location::{key_span_or_head, scalar_text};
use crate::source::Span;
use crate::yaml::json::YamlJson;
use crate::yaml::{Node, Value};

pub use locate::Locator;
// `params` and `schema::locate` still name these through `schema`.
pub use crate::location::{display_path, pointer_segments};
pub use mismatch::{clip, describe_mismatch, quote, quote_all, Found, Mismatch};

/// An embedded schema: its name for `rune schema NAME` and its text.
pub struct EmbeddedSchema {
    /// Short name, e.g. `catalog`.
    pub name: &'static str,
    /// File name under `schemas/`.
    pub file: &'static str,
    /// The JSON text.
    pub text: &'static str,
}

/// Every schema shipped in the binary.
pub const SCHEMAS: &[EmbeddedSchema] = &[
    EmbeddedSchema {
        name: "catalog",
        file: "catalog.schema.json",
        text: include_str!("../schemas/catalog.schema.json"),
    },
    EmbeddedSchema {
        name: "plan",
        file: "plan.schema.json",
        text: include_str!("../schemas/plan.schema.json"),
    },
    EmbeddedSchema {
        name: "bpcs-request",
        file: "bpcs-request.schema.json",
        text: include_str!("../schemas/bpcs-request.schema.json"),
    },
    EmbeddedSchema {
        name: "bpcs-response",
        file: "bpcs-response.schema.json",
        text: include_str!("../schemas/bpcs-response.schema.json"),
    },
    EmbeddedSchema {
        name: "eps",
        file: "eps.schema.json",
        text: include_str!("../schemas/eps.schema.json"),
    },
    EmbeddedSchema {
        name: "journal",
        file: "journal.schema.json",
        text: include_str!("../schemas/journal.schema.json"),
    },
];

/// Look an embedded schema up by name (`catalog`) or file name (`catalog.schema.json`).
pub fn find(name: &str) -> Option<&'static EmbeddedSchema> {
    SCHEMAS.iter().find(|s| s.name == name || s.file == name)
}

/// The catalog schema as JSON.
pub static CATALOG_SCHEMA: LazyLock<Json> = LazyLock::new(|| {
    serde_json::from_str(SCHEMAS[0].text).expect("embedded catalog schema is valid JSON")
});

fn compile(schema: &Json) -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("embedded catalog schema compiles")
}

/// Validates a whole catalog document (with its module list emptied).
static CATALOG_VALIDATOR: LazyLock<Validator> = LazyLock::new(|| compile(&CATALOG_SCHEMA));

/// Validates one module entry: the catalog schema with `#/$defs/module` as its root.
/// It takes the YAML tree directly: converting every module to `serde_json` first
/// cost more than validating it.
static MODULE_VALIDATOR: LazyLock<Validator<YamlJson>> = LazyLock::new(|| {
    let mut root = CATALOG_SCHEMA.clone();
    if let Some(obj) = root.as_object_mut() {
        let defs = obj.get("$defs").cloned().unwrap_or(Json::Null);
        let schema = obj.get("$schema").cloned().unwrap_or(Json::Null);
        obj.clear();
        obj.insert("$schema".into(), schema);
        obj.insert("$defs".into(), defs);
        obj.insert("$ref".into(), Json::String("#/$defs/module".into()));
    }
    jsonschema::options_for::<YamlJson>()
        .should_validate_formats(true)
        .build(&root)
        .expect("embedded catalog schema compiles")
});

/// Check one parsed document against the catalog schema.
pub fn check_document(document: &Node) -> Vec<Diagnostic> {
    check_file(document, "")
}

/// Check one parsed document against the catalog schema; `text` is the file's
/// text, so hints can quote a value as it was written (`1.10`, not 1.1).
pub fn check_file(document: &Node, text: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    // The top level without its modules, so module entries can be checked apart.
    let modules = match (&document.value, document.get("modules")) {
        (Value::Map(_), Some(m)) if matches!(m.value, Value::Seq(_)) => m.as_seq(),
        _ => &[],
    };
    let top = match &document.value {
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|e| {
                    let v = if e.key.value == "modules" && matches!(e.value.value, Value::Seq(_)) {
                        Json::Array(Vec::new())
                    } else {
                        e.value.to_json()
                    };
                    (e.key.value.to_string(), v)
                })
                .collect(),
        ),
        _ => document.to_json(),
    };
    let locator = Locator::new(document);
    for error in CATALOG_VALIDATOR.iter_errors(&top) {
        diagnostics.extend(to_diagnostic(&error, &locator, &[], text));
    }
    let per_module: Vec<Vec<Diagnostic>> = modules
        .par_iter()
        .enumerate()
        .map(|(i, module)| {
            let prefix = ["modules".to_string(), i.to_string()];
            let locator = Locator::new(module);
            MODULE_VALIDATOR
                .iter_errors(module)
                .flat_map(|error| to_diagnostic(&error, &locator, &prefix, text))
                .collect()
        })
        .collect();
    diagnostics.extend(per_module.into_iter().flatten());
    merge_missing_fields(diagnostics)
}

/// One diagnostic per mapping that lacks required fields, naming all of them: a
/// module entry missing three identity fields is one problem to fix, not three.
fn merge_missing_fields(diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    let mut missing: Vec<(Span, String, Vec<String>)> = Vec::new();
    // Where each span's entry is in `missing`: many mappings may lack fields.
    let mut by_span: std::collections::HashMap<Span, usize> = std::collections::HashMap::new();
    for d in diagnostics {
        let field = d.message.rsplit_once(" is missing the required field `");
        match (d.code, d.primary_span(), field) {
            (Code::MissingField, Some(span), Some((at, name))) => {
                let name = name.trim_end_matches('`').to_string();
                match by_span.get(&span) {
                    Some(&i) => missing[i].2.push(name),
                    None => {
                        by_span.insert(span, missing.len());
                        missing.push((span, at.to_string(), vec![name]));
                    }
                }
            }
            _ => out.push(d),
        }
    }
    for (span, at, names) in missing {
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let (message, label) = if names.len() == 1 {
            (
                format!("{at} is missing the required field {list}"),
                format!("{list} is required here"),
            )
        } else {
            (
                format!("{at} is missing the required fields {list}"),
                format!("{list} are required here"),
            )
        };
        out.push(
            Diagnostic::new(Code::MissingField, message)
                .with_label(span, label)
                .with_help(format!(
                    "add {list}; `rune schema catalog` shows the format"
                )),
        );
    }
    out
}

/// Fields whose format the `check` stage reports with a friendlier message; schema
/// pattern errors on them would only repeat it.
fn owned_by_check(path: &[String]) -> bool {
    let last = path.last().map(String::as_str);
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    matches!(
        (parent, last),
        (
            Some("module_identity"),
            Some("module_name" | "module_version")
        ) | (_, Some("version_requirement"))
    ) || (path.len() >= 2
        && path[path.len() - 2].parse::<usize>().is_ok()
        && matches!(last, Some("module_name" | "action")))
}

/// Map one validation error to diagnostics located in `root` (the node the
/// validated JSON came from); `prefix` is the path of `root` in its document.
fn to_diagnostic(
    error: &ValidationError<'_>,
    root: &Locator<'_>,
    prefix: &[String],
    text: &str,
) -> Vec<Diagnostic> {
    let relative = pointer_segments(error.instance_path().as_str());
    let (node, entry) = root.lookup(relative.iter().map(String::as_str));
    let path: Vec<String> = prefix
        .iter()
        .cloned()
        .chain(relative.iter().cloned())
        .collect();
    let at = display_path(&path);
    // Values are labelled where they are; a key's problem is labelled at the key.
    let value_span = node.span;
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let allowed = allowed_properties(error.schema_path().as_str());
            let suggester = Suggester::new(allowed.iter().map(String::as_str));
            unexpected
                .iter()
                .map(|key| {
                    let span = root.entry(node, key).map_or(value_span, |e| e.key.span);
                    let mut d = Diagnostic::new(
                        Code::UnknownKey,
                        format!("unknown key {} in {at}", quote(key)),
                    )
                    .with_label(span, "not a known key here");
                    let hint = suggester.suggest(key, None);
                    d = match hint {
                        Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                        None if !allowed.is_empty() => d.with_help(format!(
                            "the keys allowed here are: {}",
                            allowed
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        None => d,
                    };
                    d
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![Diagnostic::new(
                Code::MissingField,
                format!("{at} is missing the required field `{name}`"),
            )
            .with_label(
                key_span_or_head(entry, node),
                format!("`{name}` is required here"),
            )
            .with_help(format!(
                "add `{name}`; `rune schema catalog` shows the format"
            ))]
        }
        ValidationErrorKind::Pattern { .. } if owned_by_check(&path) => Vec::new(),
        ValidationErrorKind::UniqueItems => {
            // Point at the repeated item and at its first occurrence.
            let items = node.as_seq();
            let repeat = first_repeat(items);
            match repeat {
                Some((first, again)) => vec![Diagnostic::new(
                    Code::SchemaViolation,
                    format!("{at} lists {} twice", Found::Node(&items[again]).describe()),
                )
                .with_label(items[again].span, "listed again here")
                .with_label(items[first].span, "first listed here")
                .with_help("each entry may appear once; remove the repeated one")],
                None => vec![Diagnostic::new(
                    Code::SchemaViolation,
                    format!("{at} has repeated entries"),
                )
                .with_label(value_span, "entries must be unique")],
            }
        }
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. }
            if one_of_required(error.schema_path().as_str()).is_some() =>
        {
            // `oneOf` whose branches each require one field: "exactly one of these".
            let fields = one_of_required(error.schema_path().as_str()).unwrap_or_default();
            let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
            let present: Vec<&String> = names
                .iter()
                .zip(&fields)
                .filter(|(_, f)| root.entry(node, f).is_some())
                .map(|(n, _)| n)
                .collect();
            let (message, label) = if present.is_empty() {
                (
                    format!("{at} needs one of {}", names.join(" or ")),
                    format!("add one of {}", names.join(" or ")),
                )
            } else {
                (
                    format!(
                        "{at} may have only one of {}, it has {}",
                        names.join(" or "),
                        present
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                    "keep only one of them".to_string(),
                )
            };
            let span = match entry {
                Some(e) => e.key.span,
                None => value_span,
            };
            vec![Diagnostic::new(Code::SchemaViolation, message).with_label(span, label)]
        }
        kind => {
            let code = match kind {
                ValidationErrorKind::Type { .. } => Code::WrongType,
                ValidationErrorKind::Minimum { .. }
                | ValidationErrorKind::Maximum { .. }
                | ValidationErrorKind::ExclusiveMinimum { .. }
                | ValidationErrorKind::ExclusiveMaximum { .. }
                | ValidationErrorKind::MinLength { .. }
                | ValidationErrorKind::MaxLength { .. }
                | ValidationErrorKind::MinItems { .. }
                | ValidationErrorKind::MaxItems { .. }
                | ValidationErrorKind::MinProperties { .. }
                | ValidationErrorKind::MaxProperties { .. }
                | ValidationErrorKind::MultipleOf { .. } => Code::OutOfRange,
                ValidationErrorKind::Pattern { .. }
                | ValidationErrorKind::Format { .. }
                | ValidationErrorKind::Enum { .. }
                | ValidationErrorKind::Constant { .. } => Code::InvalidFormat,
                _ => Code::SchemaViolation,
            };
            let written = scalar_text(node, text);
            let m = describe_mismatch(error, Found::Node(node), &at, written);
            let mut d = Diagnostic::new(code, m.message).with_label(value_span, m.label);
            if let Some(help) = m.help {
                d = d.with_help(help);
            }
            vec![d]
        }
    }
}

/// The first item equal to an earlier one, with that earlier one's index: in one
/// pass, as a long list may repeat only its last item.
fn first_repeat(items: &[Node]) -> Option<(usize, usize)> {
    // Items compared by their JSON text, which is equal exactly when the values
    // are: a JSON object's keys come out sorted (numbers aside: `1` and `1.0` are
    // equal to JSON Schema, and the message then falls back to "repeated entries").
    let mut seen = std::collections::HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match seen.entry(item.to_json().to_string()) {
            std::collections::hash_map::Entry::Occupied(first) => return Some((*first.get(), i)),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
    None
}

/// The catalog schema at a canonical schema path (`/$defs/step/properties/when`).
fn schema_at(segments: &[String]) -> Option<&'static Json> {
    let mut schema = &*CATALOG_SCHEMA;
    for s in segments {
        schema = match schema {
            Json::Object(o) => o.get(s)?,
            Json::Array(a) => a.get(s.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(schema)
}

/// For a `oneOf` whose every branch is `{ "required": [FIELD] }`, the fields.
fn one_of_required(schema_path: &str) -> Option<Vec<String>> {
    let branches = schema_at(&pointer_segments(schema_path))?.as_array()?;
    branches
        .iter()
        .map(|b| {
            let o = b.as_object()?;
            let required = o.get("required")?.as_array()?;
            match (o.len(), required.as_slice()) {
                (1, [Json::String(field)]) => Some(field.clone()),
                _ => None,
            }
        })
        .collect()
}

/// The property names a schema location allows, for "did you mean" hints.
fn allowed_properties(schema_path: &str) -> Vec<String> {
    let mut segments = pointer_segments(schema_path);
    // The error points at `.../additionalProperties`; its siblings hold `properties`.
    segments.pop();
    let Some(schema) = schema_at(&segments) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = schema
        .get("properties")
        .and_then(Json::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}
