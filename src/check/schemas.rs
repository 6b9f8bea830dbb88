//! Embedded JSON Schemas (input, configuration and event data schemas): valid
//! schemas, and the data in the catalog that they validate.

use std::collections::HashMap;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::location::{display_path, pointer_segments};
use crate::registry::{Module, Registry};
use crate::schema::Locator;
use crate::yaml::Node;

/// Check that `schema` is a valid JSON Schema; compile and return its validator
/// when `compile` is set (only schemas that validate data here need one: compiling
/// is the expensive part, and a catalog holds tens of thousands of schemas).
pub(super) fn embedded_schema(
    schema: &Node,
    what: &str,
    owner: &str,
    compile: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<Validator> {
    let json = schema.to_json();
    // Beyond the meta-schema, only regular expressions and references can make a
    // schema unusable; schemas without them need no compiling to be checked, and
    // checking against the meta-schema is cheap.
    if !compile && !needs_compiling(&json) {
        if !jsonschema::meta::is_valid(&json) {
            out.extend(meta_schema_error(schema, &json, what, owner));
        }
        return None;
    }
    // A schema that needs compiling only for its `pattern`s (input schemas often
    // have one, and the same few patterns recur across a catalog) is usable when it
    // meets the meta-schema and each pattern compiles; patterns are checked once
    // each. Anything else, or any failure, takes the full compile below, which
    // gives the located diagnostic.
    if !compile && jsonschema::meta::is_valid(&json) && only_valid_patterns(&json) {
        return None;
    }
    // Compiling checks the schema against the meta-schema too; only a failure
    // needs the slower look at which rule it breaks.
    match jsonschema::validator_for(&json) {
        Ok(validator) => Some(validator),
        Err(error) => {
            if let Some(d) = meta_schema_error(schema, &json, what, owner) {
                out.push(d);
                return None;
            }
            let relative = pointer_segments(error.instance_path().as_str());
            let (node, _) = schema.pointer_lookup(relative.iter().map(String::as_str));
            out.push(
                Diagnostic::new(
                    Code::InvalidEmbeddedSchema,
                    format!("the {what} of `{owner}` cannot be used: {}", error.masked()),
                )
                .with_label(node.span, match (error.kind(), node.as_str()) {
                    (ValidationErrorKind::Format { format }, Some(text)) if format == "regex" => {
                        format!("`{text}` is not a valid regular expression")
                    }
                    _ => error.masked().to_string(),
                })
                .with_help("embedded schemas must be self-contained: local `$ref`s only, valid regular expressions"),
            );
            None
        }
    }
}

/// The diagnostic for a schema that breaks the JSON Schema meta-schema, if it does.
fn meta_schema_error(
    schema: &Node,
    json: &serde_json::Value,
    what: &str,
    owner: &str,
) -> Option<Diagnostic> {
    let error = jsonschema::meta::validate(json).err()?;
    let relative = pointer_segments(error.instance_path().as_str());
    let (node, entry) = schema.pointer_lookup(relative.iter().map(String::as_str));
    let span = match (&error.kind(), entry) {
        (ValidationErrorKind::AdditionalProperties { .. }, Some(e)) => e.key.span,
        _ => node.span,
    };
    const TYPES: [&str; 7] = [
        "array", "boolean", "integer", "null", "number", "object", "string",
    ];
    let bad_type = (relative.last().map(String::as_str) == Some("type"))
        .then(|| node.as_str())
        .flatten();
    let label = match bad_type {
        Some(t) => match did_you_mean(t, TYPES) {
            Some(hint) => format!("`{t}` is not a JSON Schema type; did you mean `{hint}`?"),
            None => format!("`{t}` is not a JSON Schema type ({})", TYPES.join(", ")),
        },
        None => error.masked().to_string(),
    };
    Some(
        Diagnostic::new(
            Code::InvalidEmbeddedSchema,
            format!("the {what} of `{owner}` is not a valid JSON Schema"),
        )
        .with_label(span, label)
        .with_help("embedded schemas follow JSON Schema 2020-12; see https://json-schema.org/understanding-json-schema"),
    )
}

/// Whether a schema has keywords whose values only compiling can check.
fn needs_compiling(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            matches!(
                k.as_str(),
                "pattern" | "patternProperties" | "$ref" | "$dynamicRef"
            ) || needs_compiling(v)
        }),
        serde_json::Value::Array(items) => items.iter().any(needs_compiling),
        _ => false,
    }
}

/// Whether the only keywords of `json` that need compiling are `pattern`s whose
/// regular expressions compile. Conservative: any `$`-keyword or
/// `patternProperties` answers no, and so does a `pattern` string in a data
/// position (`const`, `default`, ...) that is not a valid regex.
fn only_valid_patterns(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(map) => map.iter().all(|(k, v)| {
            if k.starts_with('$') || k == "patternProperties" {
                return false;
            }
            match (k.as_str(), v) {
                ("pattern", serde_json::Value::String(p)) => pattern_compiles(p),
                _ => only_valid_patterns(v),
            }
        }),
        serde_json::Value::Array(items) => items.iter().all(only_valid_patterns),
        _ => true,
    }
}

/// Whether `pattern` compiles as a JSON Schema `pattern`, remembered per thread.
fn pattern_compiles(pattern: &str) -> bool {
    thread_local! {
        static KNOWN: std::cell::RefCell<HashMap<String, bool>> = Default::default();
    }
    KNOWN.with(|known| {
        if let Some(&ok) = known.borrow().get(pattern) {
            return ok;
        }
        let ok = jsonschema::validator_for(&serde_json::json!({ "pattern": pattern })).is_ok();
        known.borrow_mut().insert(pattern.to_string(), ok);
        ok
    })
}

/// Validate `data` against `validator`, one diagnostic per error, located in `data`;
/// `field` is where the data sits in its module (`lifecycle.config`).
fn validate_data(
    validator: &Validator,
    data: &Node,
    schema: &Node,
    code: Code,
    (message, field): (&str, &str),
    out: &mut Vec<Diagnostic>,
) {
    validate_data_except(
        validator,
        data,
        schema,
        code,
        (message, field),
        |_, _| false,
        out,
    );
}

/// [`validate_data`], leaving out errors for which `skip(instance path, kind)` holds.
pub(super) fn validate_data_except(
    validator: &Validator,
    data: &Node,
    schema: &Node,
    code: Code,
    (message, field): (&str, &str),
    skip: impl Fn(&[String], &ValidationErrorKind) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    let json = data.to_json();
    let (data, schema) = (Locator::new(data), Locator::new(schema));
    for error in validator.iter_errors(&json) {
        let relative = pointer_segments(error.instance_path().as_str());
        if skip(&relative, error.kind()) {
            continue;
        }
        let (node, _) = data.lookup(relative.iter().map(String::as_str));
        // An unexpected key is shown where it is written, not on its whole mapping.
        let span = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
                .first()
                .and_then(|k| data.entry(node, k))
                .map_or(node.span, |e| e.key.span),
            _ => node.span,
        };
        // The rule that failed, located in the embedded schema: the keyword's
        // parent, so the label sits on e.g. `max_connections: { type: integer }`.
        // At the schema's root that would be the whole schema; use the keyword there.
        let mut rule_path = pointer_segments(error.schema_path().as_str());
        if rule_path.len() > 1 {
            rule_path.pop();
        }
        let (rule, rule_entry) = schema.lookup(rule_path.iter().map(String::as_str));
        let rule_span = rule_entry.map_or(rule.span, |e| e.key.span);
        let path: Vec<String> = field
            .split('.')
            .map(str::to_string)
            .chain(relative.iter().cloned())
            .collect();
        let found = crate::schema::describe_mismatch(
            &error,
            crate::schema::Found::Node(node),
            &display_path(&path),
            None,
        );
        let mut d = Diagnostic::new(code, format!("{message}: {}", found.message))
            .with_label(span, found.label)
            .with_label(rule_span, "required by this part of the schema");
        if let Some(help) = found.help {
            d = d.with_help(help);
        }
        out.push(d);
    }
}

fn check_module_schemas(module: &Module) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let owner = module.name.value.as_str();
    for event in &module.provides_events {
        let Some(schema) = &event.data_schema else {
            continue;
        };
        let what = format!("data_schema of event `{}`", event.event_type.value);
        let compile = event.example_data.is_some();
        if let Some(validator) = embedded_schema(schema, &what, owner, compile, &mut out) {
            if let Some(example) = &event.example_data {
                validate_data(
                    &validator,
                    example,
                    schema,
                    Code::ExampleDataMismatch,
                    (
                        &format!(
                            "example_data of event `{}` does not match its data_schema",
                            event.event_type.value
                        ),
                        "example_data",
                    ),
                    &mut out,
                );
            }
        }
    }
    for action in &module.actions {
        for (schema, kind) in [
            (&action.input_schema, "input_schema"),
            (&action.output_schema, "output_schema"),
        ] {
            if let Some(schema) = schema {
                embedded_schema(
                    schema,
                    &format!("{kind} of action `{}`", action.name.value),
                    owner,
                    false,
                    &mut out,
                );
            }
        }
    }
    if let Some(schema) = &module.configuration_schema {
        let compile = module.lifecycle.config.is_some();
        if let Some(validator) =
            embedded_schema(schema, "configuration_schema", owner, compile, &mut out)
        {
            if let Some(config) = &module.lifecycle.config {
                validate_data(
                    &validator,
                    config,
                    schema,
                    Code::ConfigMismatch,
                    (
                        &format!(
                            "lifecycle.config of `{owner}` does not match its configuration_schema"
                        ),
                        "lifecycle.config",
                    ),
                    &mut out,
                );
            }
        }
    }
    out
}

/// Every module's embedded schemas, and the catalog data they validate, in parallel.
pub(super) fn check_embedded_schemas(registry: &Registry) -> Vec<Diagnostic> {
    crate::parallel::map_indexed(&registry.modules, 64, |_, m| check_module_schemas(m))
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_diagnostics(text: &str) -> Vec<String> {
        let node = crate::yaml::parse(crate::source::FileId(0), text)
            .document
            .unwrap();
        let mut out = Vec::new();
        embedded_schema(&node, "input_schema", "m", false, &mut out);
        out.into_iter().map(|d| d.message).collect()
    }

    /// Schemas with `pattern`s skip compiling only when they are sure to compile.
    #[test]
    fn pattern_shortcut_agrees_with_compiling() {
        let ok = "type: object\nproperties: { n: { type: string, pattern: '^[a-z]+$' } }\n";
        assert!(schema_diagnostics(ok).is_empty());
        assert!(schema_diagnostics(ok).is_empty(), "cached the second time");
        let bad_regex = "properties: { n: { type: string, pattern: '^[a-z' } }\n";
        assert_eq!(
            schema_diagnostics(bad_regex),
            ["the input_schema of `m` cannot be used: value is not a \"regex\""]
        );
        let bad_type = "properties: { n: { type: strnig, pattern: x } }\n";
        assert_eq!(
            schema_diagnostics(bad_type),
            ["the input_schema of `m` is not a valid JSON Schema"]
        );
        let bad_ref = "properties: { n: { $ref: '#/nope', pattern: x } }\n";
        assert_eq!(schema_diagnostics(bad_ref).len(), 1);
        // A `pattern` key in data is not a regex: compiling accepts it.
        let data = "pattern: x\nconst: { pattern: '(' }\n";
        assert!(schema_diagnostics(data).is_empty());
    }
}
