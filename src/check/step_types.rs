//! What a JSON Schema says about a value reached through fields: the type a
//! workflow reference produces (an output_schema, input_schema or inputs schema,
//! followed down the reference's fields) and the type of the parameter it fills
//! (an input_schema followed down the place the reference sits).
//!
//! Only what a schema states plainly counts: `properties`,
//! `additionalProperties`, `items` / `prefixItems` and local `$ref`s are
//! followed; a combinator (`anyOf`, `allOf`, ...) or an open object ends the walk
//! with "unknown", so the checks built on this never refuse a workflow that could
//! be right.

use crate::yaml::{Node, Value};

/// Where a walk down a schema ended.
pub(super) enum Walk<'s> {
    /// The schema of the value reached.
    Schema(&'s Node),
    /// The schema says nothing definite about it.
    Unknown,
    /// The field at this index of the path is ruled out: its object schema lists
    /// `properties` without it and allows no others (`additionalProperties: false`).
    NoField {
        /// Index of the field in the path walked.
        field: usize,
        /// The object schema that rules it out.
        object: &'s Node,
    },
    /// The field at this index of the path is read inside a value whose schema
    /// states only scalar types (`type: string`): it has no fields.
    Scalar {
        /// Index of the field in the path walked.
        field: usize,
        /// The types stated.
        names: Vec<&'s str>,
        /// The `type` that states them.
        types: &'s Node,
    },
}

/// Most `$ref`s followed in a row: a chain longer than this is a loop in practice.
const MAX_REF_HOPS: usize = 16;

/// Keywords next to which `additionalProperties: false` does not close an object
/// on its own (other subschemas may declare or allow more fields).
const OPENING: [&str; 8] = [
    "patternProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "$ref",
    "$dynamicRef",
    "if",
    "dependentSchemas",
];

/// `node`, with a local `$ref` (`#/...`) followed against `root` when the node has
/// nothing else to say; `None` when a reference does not resolve or loops.
fn resolve<'s>(root: &'s Node, mut node: &'s Node) -> Option<&'s Node> {
    for _ in 0..MAX_REF_HOPS {
        let target = match node.get("$ref").and_then(Node::as_str) {
            Some(t) if node.get("type").is_none() && node.get("properties").is_none() => t,
            _ => return Some(node),
        };
        let pointer = target.strip_prefix('#')?;
        let mut at = root;
        for segment in pointer.split('/').skip(1) {
            let segment = segment.replace("~1", "/").replace("~0", "~");
            at = match &at.value {
                Value::Map(_) => at.get(&segment)?,
                Value::Seq(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        node = at;
    }
    None
}

/// Walk `path` (object keys, or array indices) down from `start`, a schema inside
/// the schema document `root`.
pub(super) fn walk<'s, S: AsRef<str>>(root: &'s Node, start: &'s Node, path: &[S]) -> Walk<'s> {
    let Some(mut node) = resolve(root, start) else {
        return Walk::Unknown;
    };
    for (i, segment) in path.iter().enumerate() {
        let segment = segment.as_ref();
        let next = node
            .get("properties")
            .and_then(|p| p.get(segment))
            .or_else(|| {
                let index = segment.parse::<usize>().ok()?;
                node.get("prefixItems")
                    .and_then(|p| p.as_seq().get(index))
                    .or_else(|| {
                        node.get("items")
                            .filter(|s| matches!(s.value, Value::Map(_)))
                    })
            })
            .or_else(|| {
                // A field not listed takes the schema of `additionalProperties`
                // (a map of any keys with values of one schema), unless a pattern
                // may claim it.
                node.get("additionalProperties")
                    .filter(|s| matches!(s.value, Value::Map(_)))
                    .filter(|_| node.get("patternProperties").is_none())
            });
        match next {
            Some(next) => match resolve(root, next) {
                Some(next) => node = next,
                None => return Walk::Unknown,
            },
            None => {
                if let Some((names, types)) = types_of(node) {
                    if !names.iter().any(|t| matches!(*t, "object" | "array")) {
                        return Walk::Scalar {
                            field: i,
                            names,
                            types,
                        };
                    }
                }
                let closed = node.get("additionalProperties").and_then(Node::as_bool)
                    == Some(false)
                    && node.get("properties").is_some()
                    && OPENING.iter().all(|k| node.get(k).is_none());
                return if closed {
                    Walk::NoField {
                        field: i,
                        object: node,
                    }
                } else {
                    Walk::Unknown
                };
            }
        }
    }
    Walk::Schema(node)
}

/// The types a schema states (`type: string` or `type: [string, "null"]`) and the
/// node that states them.
pub(super) fn types_of(schema: &Node) -> Option<(Vec<&str>, &Node)> {
    let node = schema.get("type")?;
    let names = match &node.value {
        Value::String(name) => vec![name.as_str()],
        Value::Seq(items) => items.iter().map(Node::as_str).collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    // A misspelt type is reported as an invalid schema; it states nothing here.
    let known = names.iter().all(|n| TYPES.contains(n));
    (known && !names.is_empty()).then_some((names, node))
}

/// The JSON Schema type names.
const TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// Whether a value of one of the `produced` types can be one of the `taken` types.
/// An integer is a number, and a number may be whole (JSON Schema counts `2.0` as an
/// integer), so those two meet; any other pair must be equal.
pub(super) fn compatible(produced: &[&str], taken: &[&str]) -> bool {
    produced.iter().any(|p| {
        taken
            .iter()
            .any(|t| p == t || matches!((*p, *t), ("integer", "number") | ("number", "integer")))
    })
}

/// The JSON Schema type of a literal value.
pub(super) fn literal_type(node: &Node) -> &'static str {
    match &node.value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Seq(_) => "array",
        Value::Map(_) => "object",
    }
}

/// `types` in prose: "a string", "an integer or null".
pub(super) fn describe(types: &[&str]) -> String {
    let article = |t: &str| {
        if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        }
    };
    match types {
        [] => "a value".to_string(),
        [only] => format!("{} {only}", article(only)),
        [first, middle @ .., last] => {
            let mut text = format!("{} {first}", article(first));
            for t in middle {
                text.push_str(&format!(", {t}"));
            }
            text.push_str(&format!(" or {last}"));
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Node {
        crate::yaml::parse(crate::source::FileId(0), text)
            .document
            .unwrap()
    }

    fn walked(schema: &Node, path: &[&str]) -> String {
        match walk(schema, schema, path) {
            Walk::Schema(s) => types_of(s).map_or("untyped".into(), |(t, _)| t.join("|")),
            Walk::Unknown => "unknown".into(),
            Walk::NoField { field, .. } => format!("no field {}", path[field]),
            Walk::Scalar { field, .. } => format!("scalar at {}", path[field]),
        }
    }

    #[test]
    fn walks_properties_items_and_local_refs() {
        let schema = yaml(
            "type: object\nproperties:\n  a: { type: object, properties: { b: { type: [integer, 'null'] } } }\n  list: { type: array, items: { $ref: '#/$defs/host' } }\n  pair: { prefixItems: [{ type: string }, { type: boolean }] }\n  closed: { type: object, properties: { x: { type: string } }, additionalProperties: false }\n  either: { anyOf: [{ type: string }] }\n  labels: { type: object, additionalProperties: { type: string } }\n$defs:\n  host: { type: object, properties: { name: { type: string } } }\n",
        );
        assert_eq!(walked(&schema, &["a", "b"]), "integer|null");
        assert_eq!(walked(&schema, &["list", "3", "name"]), "string");
        assert_eq!(walked(&schema, &["pair", "1"]), "boolean");
        assert_eq!(walked(&schema, &["closed", "y"]), "no field y");
        assert_eq!(walked(&schema, &["a", "c"]), "unknown");
        assert_eq!(walked(&schema, &["a", "b", "c"]), "scalar at c");
        assert_eq!(walked(&schema, &["either"]), "untyped");
        assert_eq!(walked(&schema, &["labels", "team"]), "string");
        assert_eq!(walked(&schema, &["either", "x"]), "unknown");
        assert_eq!(walked(&schema, &[] as &[&str]), "object");
        let looping = yaml("$ref: '#/$defs/a'\n$defs: { a: { $ref: '#/$defs/a' } }\n");
        assert_eq!(walked(&looping, &["x"]), "unknown");
    }

    #[test]
    fn integers_and_numbers_meet_other_types_must_be_equal() {
        assert!(compatible(&["integer"], &["number"]));
        assert!(compatible(&["number"], &["integer"]));
        assert!(compatible(&["string", "null"], &["null"]));
        assert!(!compatible(&["string"], &["boolean", "integer"]));
        assert_eq!(describe(&["integer"]), "an integer");
        assert_eq!(
            describe(&["string", "integer", "null"]),
            "a string, integer or null"
        );
    }
}
