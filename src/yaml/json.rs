//! The spanned YAML tree as a JSON representation for `jsonschema`, so documents
//! are validated in place instead of being converted to `serde_json` values first
//! (on a large catalog that conversion cost more than the validation itself).
//!
//! Validators for this representation are built with
//! `jsonschema::options_for::<YamlJson>()` and take `&Node`.

use std::borrow::Cow;

use compact_str::CompactString;
use jsonschema::json::{self, cmp, NodeIdentity};
use jsonschema::types::JsonType;
use serde_json::Value as JsonValue;

use super::{Entry, Node, Value};
use crate::source::{FileId, Span};

/// `yaml::Node` trees as a `jsonschema` JSON representation.
pub(crate) struct YamlJson;

impl json::Json for YamlJson {
    type Node<'a> = &'a Node;
    type PreparedKey = CompactString;
    type StringBuffer = Option<Node>;

    // Mappings are scanned linearly, so a pass over their members is cheap.
    const KEYS_PER_LOOKUP: usize = 4;
    // A tree: aliases are expanded into copies when parsing.
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> CompactString {
        CompactString::from(key)
    }

    fn with_string_node<T>(
        buffer: &mut Option<Node>,
        string: &str,
        f: impl FnOnce(&Node) -> T,
    ) -> T {
        let node = buffer.insert(Node {
            span: Span::new(FileId(0), 0, 0),
            value: Value::String(CompactString::from(string)),
        });
        f(node)
    }
}

impl<'a> json::Node<'a, YamlJson> for &'a Node {
    type Object = &'a [Entry];
    type Array = &'a [Node];
    type Number = &'a serde_json::Number;

    fn as_object(&self) -> Option<&'a [Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match &self.value {
            Value::String(s) => Some(Cow::Borrowed(s.as_str())),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a serde_json::Number> {
        match &self.value {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    fn json_type(&self) -> JsonType {
        match self.value {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Seq(_) => JsonType::Array,
            Value::Map(_) => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &JsonValue) -> bool {
        // Scalars without building a JSON value (`enum` checks run on every module).
        match (&self.value, expected) {
            (Value::String(s), JsonValue::String(e)) => s.as_str() == e.as_str(),
            (Value::String(_), _) => false,
            (Value::Bool(b), JsonValue::Bool(e)) => b == e,
            (Value::Bool(_), _) => false,
            (Value::Null, e) => e.is_null(),
            _ => cmp::equal(&self.to_json(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, JsonValue> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(*self) as usize))
    }
}

/// The members of a mapping as `(key, value)` pairs.
pub(crate) struct Members<'a>(std::slice::Iter<'a, Entry>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (e.key.value.as_str(), &e.value))
    }
}

impl<'a> json::Object<'a, YamlJson> for &'a [Entry] {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[Entry]>::len(self)
    }

    fn get(&self, key: &CompactString) -> Option<&'a Node> {
        self.iter().find(|e| e.key.value == *key).map(|e| &e.value)
    }

    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

impl<'a> json::Array<'a, YamlJson> for &'a [Node] {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        <[Node]>::len(self)
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        crate::yaml::parse(FileId(0), text).document.unwrap()
    }

    /// Every keyword family gives the same verdicts and errors on the tree as on
    /// its `serde_json` conversion.
    #[test]
    fn validates_like_serde_json() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["name", "count"],
            "properties": {
                "name": { "type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$" },
                "count": { "type": "integer", "minimum": 1, "multipleOf": 2 },
                "ratio": { "type": "number", "exclusiveMaximum": 1 },
                "level": { "enum": ["info", 3, true, null, [1], { "a": 1 }] },
                "fixed": { "const": { "k": [1, 2.0] } },
                "tags": { "type": "array", "uniqueItems": true, "items": { "type": "string" }, "maxItems": 3 },
                "map": { "type": "object", "propertyNames": { "pattern": "^[a-z]+$" }, "additionalProperties": { "type": "boolean" } },
                "one": { "oneOf": [{ "required": ["a"] }, { "required": ["b"] }] }
            },
            "additionalProperties": false
        });
        let serde = jsonschema::validator_for(&schema).unwrap();
        let yaml = jsonschema::options_for::<YamlJson>()
            .build(&schema)
            .unwrap();
        for text in [
            "name: abc\ncount: 2\n",
            "name: a\ncount: 3\nratio: 1.5\nlevel: warn\n",
            "name: ABCDE\ncount: 0\nlevel: 3\nfixed: { k: [1, 2] }\n",
            "name: ab\ncount: 2\nlevel: [1]\nfixed: { k: [2, 1] }\n",
            "name: ab\ncount: 2\nlevel: { a: 1.0 }\ntags: [x, y, x, z]\n",
            "name: ab\ncount: 2.0\nlevel: ~\ntags: [1]\nmap: { ok: true, Bad: 1 }\n",
            "name: ab\ncount: 2\nlevel: true\none: { a: 1, b: 2 }\nextra: 1\n",
            "name: 12\ncount: '2'\none: {}\n",
            "- not an object\n",
        ] {
            let node = doc(text);
            let json = node.to_json();
            assert_eq!(yaml.is_valid(&node), serde.is_valid(&json), "{text}");
            // The same errors; their order follows the instance's keys, which the
            // tree keeps in source order and a `serde_json` object sorts.
            let mut mine: Vec<String> = yaml
                .iter_errors(&node)
                .map(|e| format!("{} at {} by {}", e, e.instance_path(), e.schema_path()))
                .collect();
            let mut theirs: Vec<String> = serde
                .iter_errors(&json)
                .map(|e| format!("{} at {} by {}", e, e.instance_path(), e.schema_path()))
                .collect();
            mine.sort();
            theirs.sort();
            assert_eq!(mine, theirs, "{text}");
        }
    }
}
