//! Action parameters from the command line: `--param KEY=VALUE` and `--params-file`.
//!
//! Values are typed with the action's `input_schema` in mind: a value is JSON when it
//! parses as JSON (`count=3` is a number, `tags=["a"]` a list), except that a property
//! the schema declares as a string keeps the text as written (`version=1.10` stays
//! `"1.10"`, not the number 1.1). A parameters file is a JSON or YAML mapping read
//! with the catalog parser (same limits on size, nesting and aliases); `--param`
//! values given on the command line win over the file's. Checking the result
//! against the schema happens here too, so a bad parameter fails the dry run with a
//! diagnostic that points at the schema rule in the catalog.

use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::registry::Action;
use jsonschema::error::ValidationErrorKind;

use crate::schema::{describe_mismatch, display_path, pointer_segments, Found};
use crate::source::{FileId, SourceFile, SourceMap, Span};
use crate::yaml::Node;

/// Largest parameters file rune reads.
pub(crate) const MAX_PARAMS_FILE_BYTES: u64 = 1024 * 1024;

/// Split `KEY=VALUE`; the key must be non-empty. The error is a usage diagnostic.
pub(crate) fn split_assignment(arg: &str) -> Result<(&str, &str), Diagnostic> {
    split_assignment_of(arg, Flag::PARAM)
}

/// Where values come from on the command line, for messages: `--param` and
/// `--params-file` for action parameters, `--input` and `--inputs-file` for
/// workflow inputs. Both are typed and checked the same way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    /// `--param` or `--input`.
    pub assign: &'static str,
    /// `--params-file` or `--inputs-file`.
    pub file: &'static str,
    /// `parameter` or `input`.
    pub noun: &'static str,
    /// An example assignment, `node=worker-1`.
    pub example: &'static str,
}

impl Flag {
    /// Action parameters.
    pub(crate) const PARAM: Flag = Flag {
        assign: "--param",
        file: "--params-file",
        noun: "parameter",
        example: "node=worker-1",
    };
    /// Workflow inputs.
    pub(crate) const INPUT: Flag = Flag {
        assign: "--input",
        file: "--inputs-file",
        noun: "input",
        example: "path=/var/log",
    };
}

/// [`split_assignment`] for `flag`.
pub(crate) fn split_assignment_of(arg: &str, flag: Flag) -> Result<(&str, &str), Diagnostic> {
    let invalid = |why: &str| {
        Diagnostic::new(
            Code::InvalidParam,
            format!(
                "invalid {} {}: {why}",
                flag.assign,
                crate::schema::quote(arg)
            ),
        )
        .with_help(format!(
            "write KEY=VALUE, e.g. `{} {}`",
            flag.assign, flag.example
        ))
    };
    match arg.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim(), value)),
        Some(_) => Err(invalid("the key before `=` is empty")),
        None => Err(invalid("expected KEY=VALUE")),
    }
}

/// Whether the property schema says the value is text, so it must not be parsed as
/// JSON: `type: string` (alone or among others), an enum/const of strings only, or
/// any branch of `anyOf`/`oneOf`/`allOf` or local `$ref` (resolved in `root`) that
/// says so. Nesting is followed a few levels only: a schema is untrusted input.
fn wants_string(property: Option<&Json>, root: &Json) -> bool {
    fn walk(schema: &Json, root: &Json, depth: usize) -> bool {
        if depth > 8 {
            return false;
        }
        let direct = match schema.get("type") {
            Some(Json::String(t)) => t == "string",
            Some(Json::Array(types)) => types.iter().any(|t| t == "string"),
            _ => match (schema.get("enum"), schema.get("const")) {
                (Some(Json::Array(values)), _) => {
                    !values.is_empty() && values.iter().all(Json::is_string)
                }
                (None, Some(value)) => value.is_string(),
                _ => false,
            },
        };
        let branches = ["anyOf", "oneOf", "allOf"]
            .iter()
            .filter_map(|k| schema.get(k).and_then(Json::as_array))
            .flatten()
            .any(|b| walk(b, root, depth + 1));
        let reference = schema
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
            .is_some_and(|target| walk(target, root, depth + 1));
        direct || branches || reference
    }
    property.is_some_and(|p| walk(p, root, 0))
}

/// Whether the property schema types the value as something other than text (a
/// number, a boolean, null, an object or an array, by `type`, or an enum/const
/// with a value that is not a string), directly or in a branch or local `$ref`.
fn wants_json(property: Option<&Json>, root: &Json) -> bool {
    fn walk(schema: &Json, root: &Json, depth: usize) -> bool {
        if depth > 8 {
            return false;
        }
        let direct = match schema.get("type") {
            Some(Json::String(t)) => t != "string",
            Some(Json::Array(types)) => types.iter().any(|t| t != "string"),
            _ => false,
        };
        let values = match (schema.get("enum"), schema.get("const")) {
            (Some(Json::Array(values)), _) => values.iter().any(|v| !v.is_string()),
            (None, Some(value)) => !value.is_string(),
            _ => false,
        };
        let branches = ["anyOf", "oneOf", "allOf"]
            .iter()
            .filter_map(|k| schema.get(k).and_then(Json::as_array))
            .flatten()
            .any(|b| walk(b, root, depth + 1));
        let reference = schema
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer))
            .is_some_and(|target| walk(target, root, depth + 1));
        direct || values || branches || reference
    }
    property.is_some_and(|p| walk(p, root, 0))
}

/// Type one `--param` value. It stays the text it was, as RUNE passes
/// `--param` values, unless the property schema types it otherwise: then it is
/// JSON when it parses (`--param retries=3` for an integer property, `fail=false`
/// for a boolean one). A string type anywhere among the property's types keeps it
/// text. `root` is the whole input_schema, for resolving `$ref`s.
pub(crate) fn typed_value(raw: &str, property: Option<&Json>, root: &Json) -> Json {
    if wants_string(property, root) || !wants_json(property, root) {
        return Json::String(raw.to_string());
    }
    match serde_json::from_str(raw) {
        // An integer beyond 64 bits would come back as a rounded float; it stays the
        // text it was, so the schema check reports it instead of passing on a
        // different number.
        Ok(Json::Number(n)) if n.is_f64() && is_integer_literal(raw) => {
            Json::String(raw.to_string())
        }
        Ok(value) => value,
        Err(_) => Json::String(raw.to_string()),
    }
}

/// `-?[0-9]+`, with the spaces JSON allows around it.
fn is_integer_literal(raw: &str) -> bool {
    let digits = raw.trim();
    let digits = digits.strip_prefix('-').unwrap_or(digits);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A parameters file, read and parsed.
#[derive(Debug)]
pub(crate) struct ParamsFile {
    /// The parameters, as JSON.
    pub values: Map<String, Json>,
    /// The parsed mapping, with spans into the file (added to the caller's
    /// [`SourceMap`]), so a bad value can be labelled where it is written.
    pub document: Node,
}

/// Read a parameters file: a JSON or YAML mapping of parameter names to values.
/// It goes through the loader's guards (regular files only, size cap, UTF-8, BOM)
/// and parsers (`.json` is strict JSON), and every problem is said in terms of
/// parameters, not catalogs. The file is added to `sources`, so the diagnostics
/// (and later ones about its values) can point into it.
pub(crate) fn read_params_file(
    path: &Path,
    sources: &mut SourceMap,
) -> Result<ParamsFile, Diagnostic> {
    read_values_file(path, sources, Flag::PARAM)
}

/// [`read_params_file`] for `flag` (`--inputs-file` reads workflow inputs).
pub(crate) fn read_values_file(
    path: &Path,
    sources: &mut SourceMap,
    flag: Flag,
) -> Result<ParamsFile, Diagnostic> {
    let name = crate::source::display_name(path);
    let expected = if flag.assign == Flag::PARAM.assign {
        "a parameters file holds a mapping of parameter names to values, e.g. `node: worker-1`"
            .to_string()
    } else {
        format!(
            "an {noun}s file holds a mapping of {noun} names to values, e.g. `{}`",
            flag.example.replacen('=', ": ", 1),
            noun = flag.noun
        )
    };
    let file_flag = flag.file;
    let unusable = |message: String| {
        Diagnostic::new(Code::UnusableParamsFile, message).with_help(expected.clone())
    };
    let bytes = match crate::loader::read_limited(path, MAX_PARAMS_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(unusable(format!(
                "{file_flag} `{name}` is larger than {} KiB",
                MAX_PARAMS_FILE_BYTES / 1024
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(unusable(format!(
                "{file_flag} `{name}` is not a regular file (a device, FIFO or socket is not read)"
            )))
        }
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            return Err(unusable(format!(
                "cannot read {file_flag} `{name}`: {reason}"
            )));
        }
    };
    if bytes.contains(&0) {
        return Err(unusable(format!(
            "{file_flag} `{name}` is a binary file, not YAML or JSON"
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| unusable(format!("{file_flag} `{name}` is not UTF-8 text")))?;
    let text = crate::loader::without_bom(text);
    let file: FileId = sources.add(SourceFile::new(path, text.as_str().into()));
    let parsed = crate::loader::parse_text(file, path, &text);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if errors.iter().any(|d| d.code == Code::EmptyFile) {
        return Err(unusable(format!("{file_flag} `{name}` is empty")));
    }
    if let Some(first) = errors.into_iter().next() {
        // The parser's own diagnostic, labelled in the file; one is enough to fix.
        return Err(first);
    }
    match parsed.document {
        Some(document) => match document.to_json() {
            Json::Object(values) => Ok(ParamsFile { values, document }),
            _ => Err(
                unusable(format!("{file_flag} `{name}` does not hold a mapping"))
                    .with_label(document.span, "not a mapping"),
            ),
        },
        None => Err(unusable(format!("{file_flag} `{name}` is empty"))),
    }
}

/// Merge file parameters with `--param` assignments (the command line wins; a key
/// given twice on it is an error), typing each assignment with the action's input_schema. Errors are usage diagnostics.
pub(crate) fn collect(
    assignments: &[String],
    from_file: Map<String, Json>,
    action: &Action,
) -> Result<Map<String, Json>, Diagnostic> {
    collect_for(
        assignments,
        from_file,
        action.input_schema.as_ref(),
        Flag::PARAM,
    )
}

/// [`collect`] against any schema (a workflow's inputs), for `flag`.
pub(crate) fn collect_for(
    assignments: &[String],
    from_file: Map<String, Json>,
    schema: Option<&Node>,
    flag: Flag,
) -> Result<Map<String, Json>, Diagnostic> {
    let schema = schema.map(Node::to_json);
    let properties = schema.as_ref().and_then(|s| s.get("properties"));
    let mut params = from_file;
    // The command line overrides the file, but not itself: of `-p node=a -p node=b`
    // neither is obviously meant, as of a key written twice in a params file.
    let mut given = std::collections::HashSet::new();
    for arg in assignments {
        let (key, raw) = split_assignment_of(arg, flag)?;
        if !given.insert(key) {
            return Err(Diagnostic::new(
                Code::InvalidParam,
                format!(
                    "{} {} is given more than once",
                    flag.assign,
                    crate::schema::quote(key)
                ),
            )
            .with_help(format!("give each {} once", flag.noun)));
        }
        let value = typed_value(
            raw,
            properties.and_then(|p| p.get(key)),
            schema.as_ref().unwrap_or(&Json::Null),
        );
        params.insert(key.to_string(), value);
    }
    Ok(params)
}

/// One parameter as the input_schema describes it (for help texts and list-actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParameterInfo {
    /// Property name.
    pub name: String,
    /// `type` (alternatives joined with `|`), `enum` values, or `any`.
    pub kind: String,
    /// Whether `required` lists it.
    pub required: bool,
    /// `description`, or empty.
    pub description: String,
}

/// The parameters an input_schema declares, in declaration order.
pub(crate) fn describe_parameters(input_schema: Option<&Node>) -> Vec<ParameterInfo> {
    let Some(schema) = input_schema else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .map(|r| r.as_seq().iter().filter_map(Node::as_str).collect())
        .unwrap_or_default();
    // From the tree, not its JSON form: a JSON object's keys come out sorted, and
    // parameters are listed in the order the catalog declares them.
    let Some(properties) = schema.get("properties") else {
        return Vec::new();
    };
    properties
        .as_map()
        .iter()
        .map(|e| {
            let property = e.value.to_json();
            ParameterInfo {
                name: e.key.value.to_string(),
                kind: kind_of(&property),
                required: required.contains(&e.key.value.as_str()),
                description: property
                    .get("description")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            }
        })
        .collect()
}

fn kind_of(property: &Json) -> String {
    match property.get("type") {
        Some(Json::String(t)) => t.clone(),
        Some(Json::Array(types)) => types
            .iter()
            .filter_map(Json::as_str)
            .collect::<Vec<_>>()
            .join("|"),
        _ => match property.get("enum").and_then(Json::as_array) {
            Some(values) => values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("|"),
            None => "any".to_string(),
        },
    }
}

/// Check `params` against the action's input_schema; one diagnostic per problem,
/// labelled at the schema rule in the catalog that the value breaks.
pub(crate) fn validate(params: &Map<String, Json>, action: &Action) -> Vec<Diagnostic> {
    validate_from(params, action, None)
}

/// [`validate`], labelling first, where a parameter came from a parameters file,
/// the value (or key) in `file`: the file's mapping without the keys `--param`
/// replaced.
pub(crate) fn validate_from(
    params: &Map<String, Json>,
    action: &Action,
    file: Option<&Node>,
) -> Vec<Diagnostic> {
    let Some(schema) = &action.input_schema else {
        return Vec::new();
    };
    validate_against(
        params,
        schema,
        &Subject::action(&action.name.value),
        file,
        &[],
    )
}

/// What a set of values belongs to, for messages: an action's parameters or a
/// workflow's inputs.
#[derive(Debug, Clone)]
pub(crate) struct Subject<'a> {
    /// `action` or `workflow`.
    pub kind: &'static str,
    /// Its name.
    pub name: &'a str,
    /// `parameter` or `input`.
    pub noun: &'static str,
    /// `input_schema` or `inputs schema`.
    pub schema: &'static str,
    /// The code of a value the schema rejects.
    pub code: Code,
}

impl<'a> Subject<'a> {
    /// The parameters of action `name`.
    pub(crate) fn action(name: &'a str) -> Self {
        Subject {
            kind: "action",
            name,
            noun: "parameter",
            schema: "input_schema",
            code: Code::InvalidParameter,
        }
    }

    /// The run inputs of workflow `name`.
    pub(crate) fn workflow(name: &'a str) -> Self {
        Subject {
            kind: "workflow",
            name,
            noun: "input",
            schema: "inputs schema",
            code: Code::InvalidWorkflowInput,
        }
    }
}

/// Check `values` against `schema`; one diagnostic per problem, labelled at the
/// schema rule in the catalog that the value breaks (and first, where a value came
/// from a file, at the value in `file`). Errors at or under a JSON pointer in
/// `skip` are not reported: those values are filled in later (workflow step
/// references) and checked then.
pub(crate) fn validate_against(
    values: &Map<String, Json>,
    schema: &Node,
    subject: &Subject<'_>,
    file: Option<&Node>,
    skip: &[String],
) -> Vec<Diagnostic> {
    validate_with(&Compiled::new(schema), values, schema, subject, file, skip)
}

/// A schema compiled once, for checking many values against it (the steps of a
/// workflow that run the same action).
pub(crate) struct Compiled {
    schema_json: Json,
    validator: Result<jsonschema::Validator, String>,
}

impl Compiled {
    /// Compile `schema`; a schema that does not compile is reported when used.
    pub(crate) fn new(schema: &Node) -> Self {
        let schema_json = schema.to_json();
        let validator = jsonschema::validator_for(&schema_json).map_err(|e| e.masked().to_string());
        Compiled {
            schema_json,
            validator,
        }
    }
}

/// [`validate_against`] with `schema` compiled beforehand as `compiled`.
pub(crate) fn validate_with(
    compiled: &Compiled,
    values: &Map<String, Json>,
    schema: &Node,
    subject: &Subject<'_>,
    file: Option<&Node>,
    skip: &[String],
) -> Vec<Diagnostic> {
    let name = subject.name;
    let kind = subject.kind;
    let noun = subject.noun;
    let schema_json = &compiled.schema_json;
    let validator = match &compiled.validator {
        Ok(v) => v,
        // The check stage reports a broken schema; planning fails closed on it.
        Err(error) => {
            return vec![Diagnostic::new(
                subject.code,
                format!("the {} of `{name}` cannot be used: {error}", subject.schema,),
            )
            .with_label(schema.span, "this schema")]
        }
    };
    let instance = Json::Object(values.clone());
    // The common case, without building the labelling machinery.
    if validator.is_valid(&instance) {
        return Vec::new();
    }
    let declared = describe_parameters(Some(schema));
    let known: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
    let mut out = Vec::new();
    let rules = crate::schema::Locator::new(schema);
    let suggester = Suggester::new(known.iter().copied());
    for error in validator.iter_errors(&instance) {
        let pointer = error.instance_path().as_str();
        if skip.iter().any(|s| {
            pointer == s
                || pointer
                    .strip_prefix(s.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }) {
            continue;
        }
        let at = pointer_segments(pointer);
        let schema_at = pointer_segments(error.schema_path().as_str());
        let (rule, entry) = rules.lookup(schema_at.iter().map(String::as_str));
        let span = entry.map_or(rule.span, |e| e.key.span);
        let subject_text = if at.is_empty() {
            format!("the {noun}s of {kind} `{name}`")
        } else {
            format!("{noun} {} of {kind} `{name}`", display_path(&at))
        };
        let value = instance.pointer(pointer).unwrap_or(&instance);
        let mut mismatch = describe_mismatch(&error, Found::Json(value), &subject_text, None);
        // At the top level the keys are parameters (inputs): say so.
        match (error.kind(), at.is_empty()) {
            (ValidationErrorKind::Required { property }, true) => {
                mismatch.message = format!(
                    "{kind} `{name}` is missing the required {noun} {}",
                    property
                        .as_str()
                        .map_or_else(|| property.to_string(), crate::schema::quote)
                );
            }
            (ValidationErrorKind::AdditionalProperties { unexpected }, true) => {
                let noun = if unexpected.len() == 1 {
                    noun.to_string()
                } else {
                    format!("{noun}s")
                };
                mismatch.message = format!(
                    "{kind} `{name}` takes no {noun} {}",
                    crate::schema::quote_all(unexpected)
                );
            }
            _ => {}
        }
        let mut d = Diagnostic::new(subject.code, mismatch.message);
        for (written, label) in file
            .map(|f| in_file(f, error.kind(), &at, subject))
            .unwrap_or_default()
        {
            d = d.with_label(written, label);
        }
        d = d.with_label(
            span,
            format!("required by this rule of the {}", subject.schema),
        );
        let hint = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                .iter()
                .find_map(|u| suggester.suggest(u, None))
                .map(|h| format!("did you mean `{h}`? ")),
            _ => {
                let property = match at.as_slice() {
                    [key] => schema_json.get("properties").and_then(|p| p.get(key)),
                    _ => None,
                };
                match wants_string(property, schema_json) {
                    true => unquoted_hint(value, &at, subject),
                    false => None,
                }
                .or(mismatch.help.map(|h| format!("{h}. ")))
            }
        };
        d = d.with_help(format!(
            "{}`{name}` takes {}",
            hint.unwrap_or_default(),
            parameter_summary(&declared)
        ));
        out.push(d);
    }
    out
}

/// Where a schema error's subject is written in the parameters file: the value at
/// `at`, or for unexpected parameters their keys. Nothing for what the file does not
/// hold (a missing parameter, one given with `--param`).
fn in_file(
    file: &Node,
    kind: &ValidationErrorKind,
    at: &[String],
    subject: &Subject<'_>,
) -> Vec<(Span, String)> {
    if at.is_empty() {
        return match kind {
            ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                .iter()
                .filter_map(|key| file.entry(key))
                .map(|e| {
                    (
                        e.key.span,
                        format!(
                            "not a{} {} of this {}",
                            if subject.noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
                                "n"
                            } else {
                                ""
                            },
                            subject.noun,
                            subject.kind
                        ),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
    }
    let mut node = file;
    for segment in at {
        node = match node.as_map() {
            [] => match segment
                .parse::<usize>()
                .ok()
                .and_then(|i| node.as_seq().get(i))
            {
                Some(item) => item,
                None => return Vec::new(),
            },
            _ => match node.entry(segment) {
                Some(e) => &e.value,
                None => return Vec::new(),
            },
        };
    }
    vec![(
        node.span,
        format!("this value, in the {}s file", subject.noun),
    )]
}

/// Text was expected but a number or boolean arrived: a params file value written
/// without quotes, or a `-p` value typed as JSON because the schema did not say
/// string where rune looks.
fn unquoted_hint(value: &Json, at: &[String], subject: &Subject<'_>) -> Option<String> {
    let kind = match value {
        Json::Number(_) => "number",
        Json::Bool(_) => "boolean",
        _ => return None,
    };
    let key = at.last().map_or("NAME", String::as_str);
    Some(format!(
        "the value was read as the {kind} {value}, not as text (an unquoted `1.10` reads as the number 1.1); quote it: `{key}: \"...\"` in {}, `{} '{key}=\"...\"'` on the command line. ",
        if subject.noun == "input" { "an inputs file" } else { "a params file" },
        if subject.noun == "input" { "--input" } else { "-p" }
    ))
}

/// `node (string, required), count (integer)` or `no parameters`.
pub(crate) fn parameter_summary(declared: &[ParameterInfo]) -> String {
    if declared.is_empty() {
        return "no declared parameters".to_string();
    }
    declared
        .iter()
        .map(|p| {
            format!(
                "{} ({}{})",
                p.name,
                p.kind,
                if p.required { ", required" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_beyond_64_bits_is_not_rounded_into_another_number() {
        let root = serde_json::json!({});
        let number = serde_json::json!({"type": "number"});
        let number = Some(&number);
        assert_eq!(
            typed_value("123456789012345678901234567890", number, &root),
            Json::String("123456789012345678901234567890".into())
        );
        assert_eq!(typed_value("-42", number, &root), serde_json::json!(-42));
        assert_eq!(
            typed_value("18446744073709551615", number, &root),
            serde_json::json!(u64::MAX)
        );
        assert_eq!(
            typed_value("1.5e3", number, &root),
            serde_json::json!(1500.0)
        );
    }

    #[test]
    fn values_stay_text_unless_the_schema_types_them() {
        let root = serde_json::json!({"$defs": {"flag": {"type": "boolean"}}});
        let typed = |raw: &str, property: Json| typed_value(raw, Some(&property), &root);
        // Undeclared or untyped: text, as RUNE passes it.
        assert_eq!(
            typed_value("false", None, &root),
            Json::String("false".into())
        );
        assert_eq!(typed("3", serde_json::json!({"description": "n"})), "3");
        assert_eq!(
            typed("false", serde_json::json!({"type": "string"})),
            "false"
        );
        assert_eq!(
            typed("1", serde_json::json!({"type": ["string", "integer"]})),
            "1"
        );
        // Typed: JSON when it parses, else the text (the schema check reports it).
        assert_eq!(
            typed("false", serde_json::json!({"type": "boolean"})),
            false
        );
        assert_eq!(
            typed("3", serde_json::json!({"type": ["integer", "null"]})),
            3
        );
        assert_eq!(typed("2", serde_json::json!({"enum": [1, 2]})), 2);
        assert_eq!(
            typed("true", serde_json::json!({"$ref": "#/$defs/flag"})),
            true
        );
        assert_eq!(
            typed("[1]", serde_json::json!({"anyOf": [{"type": "array"}]})),
            serde_json::json!([1])
        );
        assert_eq!(typed("yes", serde_json::json!({"type": "boolean"})), "yes");
    }
}
