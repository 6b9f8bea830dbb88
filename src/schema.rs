//! Schema stage: check parsed catalog documents against the embedded JSON Schemas.
//!
//! `schemas/` is the single source of truth for the catalog format; the files are
//! embedded into the binary, printed by `rune schema`, and compiled once per run.
//! Each module entry is validated on its own (in parallel) so a 10,000-module file
//! does not serialise on one core, and so every error maps back to the span of the
//! exact key or value it is about.

mod locate;
mod mismatch;
pub(crate) mod verdicts;

use std::sync::{LazyLock, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
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
pub(crate) const SCHEMAS: &[EmbeddedSchema] = &[
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
        name: "spi-request",
        file: "spi-request.schema.json",
        text: include_str!("../schemas/spi-request.schema.json"),
    },
    EmbeddedSchema {
        name: "spi-response",
        file: "spi-response.schema.json",
        text: include_str!("../schemas/spi-response.schema.json"),
    },
    EmbeddedSchema {
        name: "eps",
        file: "eps.schema.json",
        text: include_str!("../schemas/eps.schema.json"),
    },
    EmbeddedSchema {
        name: "rcs",
        file: "rcs.schema.json",
        text: include_str!("../schemas/rcs.schema.json"),
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

/// The catalog schema as JSON, as `rune schema catalog` prints it: what diagnostics
/// look property names and `oneOf` branches up in. Parsed only when one needs it.
pub(crate) static CATALOG_SCHEMA: LazyLock<Json> = LazyLock::new(|| {
    serde_json::from_str(SCHEMAS[0].text).expect("embedded catalog schema is valid JSON")
});

/// The draft the catalog schema is compiled as. The schema says 2020-12 for
/// editors, but uses only keywords Draft 7 has with the same meaning (`$defs` is
/// reached by JSON pointer, and no `$ref` has siblings), and Draft 7's meta-schema
/// costs a fraction of 2020-12's vocabularies to compile: on a small catalog that
/// compilation was a third of the whole command.
const CATALOG_DRAFT: jsonschema::Draft = jsonschema::Draft::Draft7;

/// Where the compiled catalog schema is registered, for the `$ref`s into it.
const CATALOG_URI: &str = "urn:rune:catalog";

/// Schema locations whose `pattern` errors [`to_diagnostic`] drops because the check
/// stage reports the same rule with its own message ([`owned_by_check`]): module
/// names and versions, action names and dependency module names. The compiled
/// schema leaves these patterns out, so no regex is built only to have its errors
/// thrown away (the name and semantic-version regexes were most of what compiling
/// the module schema cost); `rune schema catalog` still prints them.
const OWNED_BY_CHECK: &[&str] = &[
    "/$defs/module_identity/properties/module_name",
    "/$defs/module_identity/properties/module_version",
    "/$defs/action/properties/action",
    "/$defs/dependency/properties/module_name",
];

/// The catalog schema as it is compiled: [`CATALOG_SCHEMA`] without the patterns at
/// [`OWNED_BY_CHECK`]. A `$ref` to a definition there is replaced by that
/// definition's other keywords, so its type is still checked.
static COMPILED_SCHEMA: LazyLock<Json> = LazyLock::new(|| {
    let mut schema: Json =
        serde_json::from_str(SCHEMAS[0].text).expect("embedded catalog schema is valid JSON");
    without_owned_patterns(&mut schema);
    schema
});

fn without_owned_patterns(schema: &mut Json) {
    for at in OWNED_BY_CHECK {
        let target = schema
            .pointer(at)
            .and_then(|s| s.get("$ref"))
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| schema.pointer(pointer))
            .and_then(Json::as_object)
            .cloned();
        let Some(property) = schema.pointer_mut(at).and_then(Json::as_object_mut) else {
            continue;
        };
        if let Some(target) = target {
            property.remove("$ref");
            for (keyword, value) in target {
                if keyword != "description" {
                    property.entry(keyword).or_insert(value);
                }
            }
        }
        property.remove("pattern");
    }
}

/// The compiled catalog schema as a resource the validators below refer into, so
/// each compiles just the part it validates from the one parsed copy.
static REGISTRY: LazyLock<jsonschema::Registry<'static>> = LazyLock::new(|| {
    jsonschema::Registry::new()
        .draft(CATALOG_DRAFT)
        .add(
            CATALOG_URI,
            CATALOG_DRAFT.create_resource_ref(&COMPILED_SCHEMA),
        )
        .and_then(jsonschema::RegistryBuilder::prepare)
        .expect("embedded catalog schema registers")
});

/// Regexes compiled once for every validator below (`name` is used by several).
static PATTERNS: LazyLock<jsonschema::PatternCache> = LazyLock::new(Default::default);

fn options(
) -> jsonschema::ValidationOptions<'static, std::sync::Arc<dyn jsonschema::Retrieve>, YamlJson> {
    jsonschema::options_for::<YamlJson>()
        .with_draft(CATALOG_DRAFT)
        .should_validate_formats(true)
        // Draft 7 has no `uuid` format, so the catalog's registration ids would go
        // unchecked: MRS types them as UUIDs, and rune asserts it.
        .with_format("uuid", is_uuid)
        .with_pattern_cache(PATTERNS.clone())
}

/// Whether `text` is a UUID in RFC 9562's text form (`8-4-4-4-12` hex digits, any case).
pub(crate) fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A validator for the catalog schema at `pointer` (`/$defs/module`): its errors
/// carry the same schema locations as the whole schema's would.
fn compile_at(pointer: &str) -> Validator<YamlJson> {
    options()
        .with_registry(&REGISTRY)
        .build(&serde_json::json!({ "$ref": format!("{CATALOG_URI}#{pointer}") }))
        .expect("embedded catalog schema compiles")
}

/// The top level of a catalog document, validated in parts so that each part's
/// schema is compiled only when a document has that part: `shell` holds the
/// top-level keywords and the small properties; each property that refers into
/// the definitions (`policy`, `workflows`) has a validator of its own, built the
/// first time a document has the property; module entries are
/// [`MODULE_VALIDATOR`]'s. Together they report exactly what the whole schema
/// would: `properties` applies each subschema to its own value and nothing else,
/// and `additionalProperties` looks only at the property names, which `shell` keeps.
struct TopLevel {
    shell: OnceLock<Validator<YamlJson>>,
    /// The property name and its validator.
    parts: Vec<(String, OnceLock<Validator<YamlJson>>)>,
}

static TOP: LazyLock<TopLevel> = LazyLock::new(|| {
    let parts = COMPILED_SCHEMA
        .get("properties")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter(|(name, schema)| name.as_str() != "modules" && has_ref(schema))
        .map(|(name, _)| (name.clone(), OnceLock::new()))
        .collect();
    TopLevel {
        shell: OnceLock::new(),
        parts,
    }
});

impl TopLevel {
    fn shell(&self) -> &Validator<YamlJson> {
        self.shell.get_or_init(|| {
            let mut shell = serde_json::Map::new();
            for (keyword, value) in COMPILED_SCHEMA.as_object().into_iter().flatten() {
                match keyword.as_str() {
                    "$defs" => {}
                    "properties" => {
                        let properties = value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(name, schema)| {
                                let schema = if name == "modules" {
                                    // The items are module entries, checked one by one.
                                    let mut modules = schema.clone();
                                    if let Some(m) = modules.as_object_mut() {
                                        m.remove("items");
                                    }
                                    modules
                                } else if self.part(name).is_some() {
                                    Json::Bool(true)
                                } else {
                                    schema.clone()
                                };
                                (name.clone(), schema)
                            })
                            .collect();
                        shell.insert(keyword.clone(), Json::Object(properties));
                    }
                    _ => {
                        shell.insert(keyword.clone(), value.clone());
                    }
                }
            }
            options()
                .build(&Json::Object(shell))
                .expect("embedded catalog schema compiles")
        })
    }

    /// The validator of a top-level property checked on its own, if `name` is one.
    fn part(&self, name: &str) -> Option<&OnceLock<Validator<YamlJson>>> {
        self.parts.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn part_validator(&self, name: &str) -> Option<&Validator<YamlJson>> {
        let slot = self.part(name)?;
        Some(slot.get_or_init(|| compile_at(&format!("/properties/{}", escape_pointer(name)))))
    }
}

/// Whether a schema refers anywhere into the definitions.
fn has_ref(schema: &Json) -> bool {
    match schema {
        Json::Object(o) => o.iter().any(|(k, v)| k == "$ref" || has_ref(v)),
        Json::Array(a) => a.iter().any(has_ref),
        _ => false,
    }
}

/// A property name as a JSON pointer segment inside a URI fragment.
fn escape_pointer(name: &str) -> String {
    let escaped = name.replace('~', "~0").replace('/', "~1");
    percent_encoding::utf8_percent_encode(&escaped, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Compile the validators every catalog needs (the top level's own keywords and
/// module entries), side by side. Compiling them is most of what a small catalog
/// costs, so the loader starts this while it reads the files.
///
/// Every build first checks its root against the Draft 7 meta-schema, whose own
/// validator jsonschema compiles once per process (about as long as the module
/// schema takes): one side has that compiled (by building a trivial schema) while
/// the other parses and registers the catalog schema, instead of one after the other.
pub(crate) fn warm(parallel: bool) {
    crate::parallel::join(
        parallel,
        || {
            let _ = jsonschema::options()
                .with_draft(CATALOG_DRAFT)
                .build(&serde_json::json!({ "type": "object" }));
            TOP.shell();
        },
        || LazyLock::force(&MODULE_VALIDATOR),
    );
}

/// Module entries in one document worth validating on several threads.
const PARALLEL_MODULES: usize = 64;

/// Validates one module entry: the catalog schema at the `modules` items, which is
/// `#/$defs/module`. It takes the YAML tree directly: converting every module to
/// `serde_json` first cost more than validating it.
static MODULE_VALIDATOR: LazyLock<Validator<YamlJson>> =
    LazyLock::new(|| compile_at("/properties/modules/items"));

/// Check one parsed document against the catalog schema.
pub fn check_document(document: &Node) -> Vec<Diagnostic> {
    check_file(document, "")
}

/// Check one parsed document against the catalog schema; `text` is the file's
/// text, so hints can quote a value as it was written (`1.10`, not 1.1).
pub(crate) fn check_file(document: &Node, text: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    // The top level without its modules, so module entries can be checked apart.
    let modules = match (&document.value, document.get("modules")) {
        (Value::Map(_), Some(m)) if matches!(m.value, Value::Seq(_)) => m.as_seq(),
        _ => &[],
    };
    let locator = Locator::new(document);
    for error in TOP.shell().iter_errors(document) {
        diagnostics.extend(to_diagnostic(&error, &locator, &[], text));
    }
    if let Value::Map(entries) = &document.value {
        for entry in entries {
            let Some(validator) = TOP.part_validator(&entry.key.value) else {
                continue;
            };
            let prefix = [entry.key.value.to_string()];
            let locator = Locator::new(&entry.value);
            for error in validator.iter_errors(&entry.value) {
                diagnostics.extend(to_diagnostic(&error, &locator, &prefix, text));
            }
        }
    }
    let per_module: Vec<Vec<Diagnostic>> =
        crate::parallel::map_indexed(modules, PARALLEL_MODULES, |i, module| {
            let prefix = ["modules".to_string(), i.to_string()];
            let locator = Locator::new(module);
            MODULE_VALIDATOR
                .iter_errors(module)
                .flat_map(|error| to_diagnostic(&error, &locator, &prefix, text))
                .collect()
        });
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
                key_span_or_head(entry, node, text),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    /// Every pattern left out of the compiled schema is one whose errors
    /// `to_diagnostic` drops: each location is reached only at an instance path
    /// `owned_by_check` holds for, and keeps its type check.
    #[test]
    fn patterns_left_out_are_owned_by_check() {
        for path in [
            &["modules", "0", "module_identity", "module_name"][..],
            &["modules", "0", "module_identity", "module_version"],
            &[
                "modules",
                "0",
                "capability_declaration",
                "actions",
                "3",
                "action",
            ],
            &[
                "modules",
                "0",
                "technical_requirements",
                "dependencies",
                "1",
                "module_name",
            ],
        ] {
            let path: Vec<String> = path.iter().map(ToString::to_string).collect();
            assert!(owned_by_check(&path), "{path:?}");
        }
        // The definitions holding them are each referred to once, from those places.
        for (definition, from) in [
            (
                "module_identity",
                "/$defs/module/properties/module_identity/$ref",
            ),
            (
                "action",
                "/$defs/capability_declaration/properties/actions/items/$ref",
            ),
            (
                "dependency",
                "/$defs/technical_requirements/properties/dependencies/items/$ref",
            ),
        ] {
            let reference = format!("\"#/$defs/{definition}\"");
            assert_eq!(
                SCHEMAS[0].text.matches(&reference).count(),
                1,
                "{definition}"
            );
            assert_eq!(
                CATALOG_SCHEMA.pointer(from).and_then(Json::as_str),
                Some(&reference[1..reference.len() - 1])
            );
        }
        for at in OWNED_BY_CHECK {
            let compiled = COMPILED_SCHEMA.pointer(at).expect("location exists");
            assert!(compiled.get("pattern").is_none() && compiled.get("$ref").is_none());
            assert_eq!(compiled.get("type").and_then(Json::as_str), Some("string"));
        }
    }

    /// The top level checked in parts, module entries apart, reports what the whole
    /// catalog schema compiled as one reports.
    #[test]
    fn parts_report_what_the_whole_schema_reports() {
        let whole = jsonschema::options_for::<YamlJson>()
            .with_draft(CATALOG_DRAFT)
            .should_validate_formats(true)
            .build(&CATALOG_SCHEMA)
            .expect("catalog schema compiles");
        let documents = [
            "catalog_version: \"1\"\nmodules: []\n",
            "- 1\n- 2\n",
            "just text\n",
            "catalog_version: \"1\"\nmodules: {a: 1}\npolicy: []\nworkflows: []\n",
            "catalog_version: 2\nmodulez: []\npolcy: {}\n",
            r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: 5
      module_class: X
      module_type: t
      module_version: 7
      description: d
      extra: 1
    capability_declaration:
      actions:
        - {action: 9, description: x, category: bogus, impact: low}
        - {action: "-bad", description: x, category: diagnostic, impact: low}
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - {module_name: "-x", version_requirement: "not a req"}
        - module_name: 12
  - module_identity: {module_name: "-bad name", module_version: "1.0"}
  - 7
policy:
  maintenance: 3
  defaults: {timeout_ms: -1, retries: {max_attempts: "x"}}
  overrides:
    "bad name!": {timeout_ms: 5}
  change_windows:
    - {name: "-w", start: "25:00", end: "x", zone: Mars/Base}
    - {}
workflows:
  "-wf":
    steps:
      - id: "s 1"
        action: "-a"
        needs: ["-n"]
        when: {from: "other.x", equals: 1}
  wf2: 5
  wf3:
    steps: "x"
"#,
        ];
        for text in documents {
            let document = crate::yaml::parse(FileId(0), text)
                .document
                .expect("document parses");
            let locator = Locator::new(&document);
            let expected: Vec<Diagnostic> = whole
                .iter_errors(&document)
                .flat_map(|error| to_diagnostic(&error, &locator, &[], text))
                .collect();
            let render = |diagnostics: Vec<Diagnostic>| {
                let mut all: Vec<String> = merge_missing_fields(diagnostics)
                    .iter()
                    .map(|d| format!("{d:?}"))
                    .collect();
                all.sort();
                all
            };
            let got = check_file(&document, text);
            assert!(!text.contains("modulez") || !got.is_empty());
            assert_eq!(render(got), render(expected), "{text}");
        }
    }
}

#[cfg(test)]
mod uuid_tests {
    use super::is_uuid;

    #[test]
    fn uuids_are_8_4_4_4_12_hex_digits_in_any_case() {
        assert!(is_uuid("550e8400-e29b-41d4-a716-446655440000"));
        assert!(is_uuid("550E8400-E29B-41D4-A716-446655440000"));
        for bad in [
            "abc",
            "",
            "550e8400e29b41d4a716446655440000",
            "550e8400-e29b-41d4-a716-44665544000g",
            "550e8400-e29b-41d4-a716-4466554400000",
            "{550e8400-e29b-41d4-a716-446655440000}",
            "550e8400_e29b-41d4-a716-446655440000",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }
}
