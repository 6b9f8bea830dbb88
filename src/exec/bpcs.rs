//! BPCS: the one-shot plugin protocol, as rune speaks it.
//!
//! A plugin gets one JSON object on stdin ([`Request`]: message metadata, the
//! validated input parameters, the context of the step, trace ids) and writes one
//! JSON object to stdout ([`Response`]). Everything a plugin writes is untrusted
//! input: [`parse_response`] reads at most what `process::run_once` kept, insists on
//! valid UTF-8 and exactly one JSON object (trailing whitespace allowed), and only
//! then looks at its shape. It decides nothing about success: the exit code and the
//! response together are mediation's to judge ([`super::mediation`]).
//!
//! Responses are read the way the original RUNE bash library writes them
//! (`payload` null on failure, the exit code repeated in `error.code`, ids
//! regenerated when the plugin could not read its input), so its plugins run
//! unmodified. Unknown fields are ignored: a plugin may say more than BPCS asks.

use std::path::Path;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::process::Spec;

/// The BPCS version rune writes in `message_metadata.version`.
pub const VERSION: &str = "1.0";

/// What rune writes to a plugin's stdin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "BPCS request")]
pub struct Request {
    /// Ids of this message.
    pub message_metadata: MessageMetadata,
    /// Parameters and context.
    pub payload: RequestPayload,
    /// W3C trace context of the step.
    pub observability: Observability,
}

/// `message_metadata` of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageMetadata {
    /// BPCS version, "1.0".
    pub version: String,
    /// Unique per message.
    pub message_id: String,
    /// The command's correlation id (one per rune invocation).
    pub correlation_id: String,
    /// The message this one answers or follows; null for a new request.
    pub parent_message_id: Option<String>,
    /// When the message was made (RFC 3339, UTC).
    pub created_at: Timestamp,
}

/// `payload` of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPayload {
    /// The parameters, already validated against the action's input_schema.
    pub input_parameters: Map<String, Json>,
    /// Where and why the plugin runs.
    pub context: ActionContext,
}

/// Where and why an action runs: `payload.context` of a BPCS request and
/// `params.context` of an SPI `execute`, one type so a plugin and a module see the
/// same request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionContext {
    /// The node the action runs on (`localhost`).
    pub node: String,
    /// The action.
    pub action: String,
    /// The module that provides it.
    pub module: String,
    /// The plan step id.
    pub step: u64,
    /// 1-based attempt (retries count up).
    pub attempt: u64,
    /// How long the attempt has: then a plugin's process group is killed, a
    /// module's `execute` abandoned.
    pub timeout_ms: u64,
    /// Who asked: `$USER`, or `operator` when unset.
    pub requested_by: String,
    /// Always false: rune does not start plugins for a dry run.
    pub dry_run: bool,
    /// The command's correlation id (one per rune invocation).
    pub correlation_id: String,
    /// The command's trace id (32 hex digits).
    pub trace_id: String,
    /// The step's span id (16 hex digits).
    pub span_id: String,
}

/// `observability` of a request: W3C trace context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    /// The command's trace id (32 hex digits).
    pub trace_id: String,
    /// The step's span id (16 hex digits).
    pub span_id: String,
}

/// What rune accepts on a plugin's stdout. Fields BPCS does not name are ignored;
/// `message_metadata` and `observability` are read as the plugin wrote them and
/// never trusted for ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "BPCS response")]
pub struct Response {
    /// The plugin's message metadata (the original bash library echoes the request's).
    #[serde(default)]
    pub message_metadata: Option<Map<String, Json>>,
    /// The result; null on failure.
    #[serde(default)]
    pub payload: Option<ResponsePayload>,
    /// The plugin's trace context.
    #[serde(default)]
    pub observability: Option<Map<String, Json>>,
    /// The failure; null (or absent) on success.
    #[serde(default)]
    pub error: Option<PluginError>,
}

/// `payload` of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResponsePayload {
    /// success or failure.
    pub result: ResultKind,
    /// The action's result, checked against its output_schema; absent in BPCS's
    /// minimal message, which is a success with no data (checked as `{}`).
    #[serde(default)]
    pub output_data: Option<Map<String, Json>>,
}

/// `payload.result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// The action did what it was asked.
    Success,
    /// It did not; `error` says why.
    Failure,
}

/// `error` of a response, as the plugin wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PluginError {
    /// The plugin's code (the original bash library repeats its exit code here).
    pub code: serde_json::Number,
    /// One line for people.
    pub message: String,
    /// Anything else the plugin says about it.
    #[serde(default)]
    pub details: Option<Json>,
}

/// What a plugin said, once it is known to be one well-formed BPCS response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// `error` null and `payload.result` success, with its output_data.
    Success(Map<String, Json>),
    /// An error object, or a failure result.
    Failure(Option<PluginError>),
}

/// Why a plugin's stdout is not a BPCS response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadOutput {
    /// For people; says what was wrong and where.
    pub message: String,
    /// Whether it is not JSON at all (a parse error), rather than JSON that is not
    /// a BPCS response.
    pub not_json: bool,
}

/// Parse a plugin's stdout. `Ok(None)`: it wrote nothing (whitespace only).
pub(crate) fn parse_response(stdout: &[u8]) -> Result<Option<(Json, Reply)>, BadOutput> {
    let bad = |message: String| BadOutput {
        message,
        not_json: false,
    };
    let not_json = |message: String| BadOutput {
        message,
        not_json: true,
    };
    let text = std::str::from_utf8(stdout).map_err(|e| {
        not_json(format!(
            "stdout is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Unique>();
    let value = match values.next() {
        Some(Ok(Unique(value))) => value,
        Some(Err(e)) if e.is_data() => {
            return Err(bad(format!("stdout is not one BPCS response: {e}")))
        }
        Some(Err(e)) => return Err(not_json(format!("stdout is not JSON: {e}"))),
        None => return Ok(None),
    };
    let offset = values.byte_offset();
    if !text[offset..].trim().is_empty() {
        return Err(not_json(format!(
            "stdout holds more than one JSON value: a response ends at byte {offset}, and more follows"
        )));
    }
    if !value.is_object() {
        return Err(bad(format!(
            "stdout holds a JSON {}, not an object",
            json_type(&value)
        )));
    }
    if let Some(wide) = wide_integer(text) {
        let shown: String = wide.chars().take(60).collect();
        return Err(bad(format!(
            "stdout holds the integer {shown}, beyond 64 bits: rune would round it; send it as a string"
        )));
    }
    let response: Response = serde_json::from_value(value.clone())
        .map_err(|e| bad(format!("stdout is not a BPCS response: {e}")))?;
    let reply = match (response.error, response.payload) {
        (Some(error), _) => Reply::Failure(Some(error)),
        (
            None,
            Some(ResponsePayload {
                result: ResultKind::Failure,
                ..
            }),
        ) => Reply::Failure(None),
        (
            None,
            Some(ResponsePayload {
                result: ResultKind::Success,
                output_data: Some(data),
            }),
        ) => Reply::Success(data),
        // BPCS's "minimal required communication message" is a success without
        // output_data: no data, judged against the output_schema as `{}`.
        (
            None,
            Some(ResponsePayload {
                result: ResultKind::Success,
                output_data: None,
            }),
        ) => Reply::Success(Map::new()),
        (None, None) => {
            return Err(bad(
                "the response has neither a payload nor an error".to_string()
            ))
        }
    };
    Ok(Some((value, reply)))
}

/// Parse one JSON value whose objects, at any depth, have no key twice (trailing
/// whitespace allowed): how every untrusted answer is read, a plugin's or a
/// module's.
pub(crate) fn parse_unique(text: &str) -> Result<Json, serde_json::Error> {
    serde_json::from_str::<Unique>(text).map(|Unique(value)| value)
}

/// The first integer literal of the JSON `text` that neither an i64 nor a u64
/// holds. serde_json reads such a literal as the nearest f64, silently changing
/// it (an id, a byte count, a balance), so the output is refused instead. A
/// lexical scan of text already known to be JSON: one pass, only on plugin
/// output, so catalogs and plans parse as fast as before (serde_json's
/// `arbitrary_precision` would slow every parse and change `Number` everywhere).
pub(crate) fn wide_integer(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let literal = &text[start..i];
                let integer = !literal.contains(['.', 'e', 'E']);
                if integer && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
                    return Some(literal);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// A JSON value whose objects, at any depth, have no key twice. serde_json's own
/// `Value` keeps the last of two equal keys, so a plugin could show one value to
/// a reader that keeps the first and another to rune: refused as malformed
/// output, as catalogs and plan files refuse it.
struct Unique(Json);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unique(value) = map.next_value()?;
            if object.contains_key(&key) {
                let shown: String = key.chars().take(60).collect();
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key `{shown}` in one object"
                )));
            }
            object.insert(key, value);
        }
        Ok(Json::Object(object))
    }
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// The command line of an action's `exec`, as the catalog file in `catalog_dir`
/// declares it: a program path with a `/` that is relative resolves against that
/// directory (made absolute, so it does not depend on how the child's working
/// directory is applied); a bare name is looked up on `PATH`. The plugin runs in
/// `catalog_dir`. None when `exec` is empty.
pub(crate) fn resolve_command(
    exec: &[String],
    catalog_dir: &Path,
    env: &super::environment::EnvDecl,
) -> Option<Spec> {
    let (program, args) = exec.split_first()?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let dir = cwd.join(catalog_dir);
    let program = if program.contains('/') && !Path::new(program).is_absolute() {
        // `./x.sh` reads as `DIR/x.sh`, not `DIR/./x.sh`; `..` is kept (a symbolic
        // link in DIR makes it mean something a lexical fold would not).
        let joined: std::path::PathBuf = dir
            .join(program)
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect();
        joined.to_string_lossy().into_owned()
    } else {
        program.clone()
    };
    Some(Spec {
        argv: std::iter::once(program)
            .chain(args.iter().cloned())
            .collect(),
        working_dir: dir,
        env: super::environment::compute(env),
        limits: Default::default(),
    })
}

/// The JSON Schema of `T` as `schemas/` holds it (draft 2020-12, descriptions on one
/// line).
fn schema_of<T: JsonSchema>(for_serialize: bool) -> String {
    let settings = schemars::generate::SchemaSettings::draft2020_12();
    let mut settings = if for_serialize {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    settings
        .transforms
        .push(Box::new(schemars::transform::RecursiveTransform(
            |schema: &mut schemars::Schema| {
                if let Some(Json::String(text)) = schema.get_mut("description") {
                    *text = text.replace('\n', " ");
                }
            },
        )));
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of what rune writes to a plugin (`schemas/bpcs-request.schema.json`).
pub fn request_schema() -> String {
    schema_of::<Request>(true)
}

/// The schema of what rune reads from a plugin (`schemas/bpcs-response.schema.json`).
pub fn response_schema() -> String {
    schema_of::<Response>(false)
}

/// The schema of what rune writes to a module (`schemas/spi-request.schema.json`).
pub fn spi_request_schema() -> String {
    schema_of::<super::spi_message::RuneMessage>(true)
}

/// The schema of what rune reads from a module (`schemas/spi-response.schema.json`).
pub fn spi_response_schema() -> String {
    schema_of::<super::spi_message::ModuleMessage>(false)
}

/// The schema of an EPS envelope (`schemas/eps.schema.json`).
pub fn eps_schema() -> String {
    schema_of::<super::eps::Eps>(true)
}

/// The schema of an RCS action execution request (`schemas/rcs.schema.json`).
pub fn rcs_schema() -> String {
    schema_of::<super::rcs::Message>(true)
}

/// The schema of one journal line (`schemas/journal.schema.json`).
pub fn journal_schema() -> String {
    schema_of::<super::event::Event>(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Reply>, String> {
        parse_response(text.as_bytes())
            .map(|r| r.map(|(_, reply)| reply))
            .map_err(|e| e.message)
    }

    #[test]
    fn a_key_twice_in_any_object_is_malformed_output() {
        for text in [
            r#"{"payload":{"result":"success","output_data":{"a":1,"a":2}},"error":null}"#,
            r#"{"payload":{"result":"success","output_data":{"a":1}},"error":null,"error":{"code":3,"message":"x"}}"#,
            r#"{"payload":{"result":"success","output_data":{"l":[{"b":1,"b":1}]}},"error":null}"#,
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains("duplicate key"), "{e}");
        }
        // Equal keys in different objects are fine; numbers read as serde_json does.
        let reply = parse(
            r#"{"payload":{"result":"success","output_data":{"a":{"a":-1},"f":1.5,"u":18446744073709551615}},"error":null}"#,
        )
        .unwrap();
        assert_eq!(
            reply,
            Some(Reply::Success(
                serde_json::from_str(r#"{"a":{"a":-1},"f":1.5,"u":18446744073709551615}"#).unwrap()
            ))
        );
    }

    #[test]
    fn a_success_response_gives_its_output_data() {
        let reply = parse(
            r#"{"message_metadata":{},"payload":{"result":"success","output_data":{"a":1}},"observability":{},"error":null}
"#,
        )
        .unwrap()
        .unwrap();
        let Reply::Success(data) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(data["a"], 1);
    }

    #[test]
    fn the_bash_library_failure_shape_is_a_failure() {
        let reply = parse(r#"{"payload":null,"error":{"code":3,"message":"no","details":{}}}"#)
            .unwrap()
            .unwrap();
        let Reply::Failure(Some(error)) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(error.code.as_i64(), Some(3));
        assert_eq!(error.message, "no");
    }

    #[test]
    fn untrusted_output_is_refused_with_a_reason() {
        assert_eq!(parse("  \n"), Ok(None));
        assert!(parse("{} {}")
            .unwrap_err()
            .contains("more than one JSON value"));
        assert!(parse("[1]").unwrap_err().contains("not an object"));
        assert!(parse("hello").unwrap_err().contains("not JSON"));
        assert!(parse(r#"{"payload":null,"error":null}"#)
            .unwrap_err()
            .contains("neither"));
        assert_eq!(
            parse(r#"{"payload":{"result":"success"}}"#),
            Ok(Some(Reply::Success(Map::new())))
        );
        assert!(parse_response(b"{\"a\":\"\xff\"}")
            .unwrap_err()
            .message
            .contains("UTF-8"));
        // serde_json's recursion limit keeps a deep document from the stack.
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn integers_beyond_64_bits_are_found_outside_strings_only() {
        assert_eq!(
            wide_integer(r#"{"a":18446744073709551616}"#),
            Some("18446744073709551616")
        );
        assert_eq!(
            wide_integer(r#"{"a":-9223372036854775809}"#),
            Some("-9223372036854775809")
        );
        assert_eq!(
            wide_integer(r#"{"a":18446744073709551615,"b":-9223372036854775808}"#),
            None
        );
        assert_eq!(
            wide_integer(r#"{"a":"123456789012345678901234","b\"":1}"#),
            None
        );
        assert_eq!(
            wide_integer(r#"{"a":1.8446744073709551616e19,"b":[1,-2]}"#),
            None
        );
    }

    #[test]
    fn relative_exec_paths_resolve_against_the_catalog_directory() {
        let spec = resolve_command(
            &["../plugins/x.sh".into(), "--flag".into()],
            Path::new("/srv/catalogs"),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(spec.argv, ["/srv/catalogs/../plugins/x.sh", "--flag"]);
        assert_eq!(spec.working_dir, Path::new("/srv/catalogs"));
        let bare = resolve_command(&["jq".into()], Path::new("/srv"), &Default::default()).unwrap();
        assert_eq!(bare.argv, ["jq"]);
        assert!(resolve_command(&[], Path::new("/srv"), &Default::default()).is_none());
    }
}
