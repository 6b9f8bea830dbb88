//! YAML text to a spanned document tree.
//!
//! We build our own tree from `saphyr-parser` events rather than deserialising with
//! serde, because every later stage needs the source span of every key and value,
//! and because untrusted input needs limits the serde path does not give: duplicate
//! keys are reported (not silently overwritten), alias expansion is bounded (alias
//! bombs), nesting depth is bounded, and a file holds exactly one document.
//! Plain scalars are resolved with the YAML 1.2 core schema.

pub mod json;

use compact_str::CompactString;
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span, Spanned};

/// Deepest nesting of collections accepted in a catalog file.
pub const MAX_DEPTH: usize = 128;
/// Most nodes that aliases may add by expansion, per file.
pub const MAX_ALIAS_EXPANSION: usize = 100_000;

/// A YAML value with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value was written.
    pub span: Span,
    /// The value.
    pub value: Value,
}

/// A mapping entry: a string key with its own span, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key. Keys and strings are compact strings: most are short, and keeping
    /// them inline roughly halves the memory of a large catalog's tree.
    pub key: Spanned<CompactString>,
    /// The value.
    pub value: Node,
}

/// The data model of a catalog document (JSON's, plus spans).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (integer or float).
    Number(serde_json::Number),
    /// A string.
    String(CompactString),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, without duplicate keys.
    Map(Vec<Entry>),
}

impl Node {
    /// The entry with this key, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The value with this key, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|e| e.key.value == key)
                .map(|e| &mut e.value),
            _ => None,
        }
    }

    /// Move the value with this key out, leaving `null` (with its span) behind.
    pub fn take(&mut self, key: &str) -> Option<Node> {
        let node = self.get_mut(key)?;
        let span = node.span;
        Some(std::mem::replace(
            node,
            Node {
                span,
                value: Value::Null,
            },
        ))
    }

    /// The items, mutably, if this is a sequence.
    pub fn as_seq_mut(&mut self) -> &mut [Node] {
        match &mut self.value {
            Value::Seq(items) => items,
            _ => &mut [],
        }
    }

    /// The mapping entry with this key.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key.value == key),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The string value with its span.
    pub fn as_spanned_str(&self) -> Option<Spanned<String>> {
        self.as_str()
            .map(|s| Spanned::new(s.to_string(), self.span))
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The value as an unsigned integer, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match &self.value {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The value as a boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Follow a JSON pointer (`/a/0/b`) as far as it goes; returns the deepest node
    /// reached and, when the last step was a mapping key, that key's entry.
    pub fn pointer_lookup<'a>(
        &'a self,
        segments: impl IntoIterator<Item = &'a str>,
    ) -> (&'a Node, Option<&'a Entry>) {
        let mut node = self;
        let mut entry = None;
        for segment in segments {
            match &node.value {
                Value::Map(entries) => match entries.iter().find(|e| e.key.value == segment) {
                    Some(e) => {
                        entry = Some(e);
                        node = &e.value;
                    }
                    None => break,
                },
                Value::Seq(items) => match segment.parse::<usize>().ok().and_then(|i| items.get(i))
                {
                    Some(item) => {
                        entry = None;
                        node = item;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        (node, entry)
    }

    /// Convert to a JSON value (spans dropped), for JSON Schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            // `String::from(&str)`, not `to_string()`: that goes through `Display`,
            // which costs more than the copy on a large catalog.
            Value::String(s) => serde_json::Value::String(String::from(s.as_str())),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|e| (String::from(e.key.value.as_str()), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Number of nodes in this subtree (for alias expansion accounting).
    fn size(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|e| 1 + e.value.size()).sum(),
            _ => 0,
        }
    }
}

/// The result of parsing one file: the document (absent on a fatal error) and every
/// problem found on the way.
#[derive(Debug)]
pub struct Parsed {
    /// The document, unless the file could not be parsed.
    pub document: Option<Node>,
    /// Problems found while parsing (fatal or not).
    pub diagnostics: Vec<Diagnostic>,
}

/// Maps the parser's character offsets to byte offsets.
struct Offsets<'a> {
    text: &'a str,
    /// Byte offset of every char; empty when the text is ASCII (identity mapping).
    char_to_byte: Vec<u32>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let char_to_byte = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i as u32).collect()
        };
        Offsets { text, char_to_byte }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.char_to_byte.is_empty() {
            char_index.min(self.text.len())
        } else {
            self.char_to_byte
                .get(char_index)
                .map_or(self.text.len(), |&b| b as usize)
        }
    }

    fn span(&self, file: FileId, span: &YamlSpan) -> Span {
        Span::new(
            file,
            self.byte(span.start.index()),
            self.byte(span.end.index()),
        )
    }
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<Spanned<CompactString>>,
        /// Set when the pending key is unusable (complex key, duplicate): its value is dropped.
        skip_value: bool,
    },
}

/// Parse one catalog file's text.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let offsets = Offsets::new(text);
    let mut diagnostics = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut document: Option<Node> = None;
    let mut documents = 0usize;
    let mut expanded = 0usize;
    let mut parser = Parser::new_from_str(text);

    let fatal = |diagnostics: &mut Vec<Diagnostic>, d: Diagnostic| {
        diagnostics.push(d);
        Parsed {
            document: None,
            diagnostics: std::mem::take(diagnostics),
        }
    };

    loop {
        let (event, yspan) = match parser.next_event() {
            None => break,
            Some(Ok(pair)) => pair,
            Some(Err(err)) => {
                let at = last_content_before(text, offsets.byte(err.marker().index()));
                let span = Span::new(file, at, (at + 1).min(text.len()).max(at));
                let d = Diagnostic::new(
                    Code::YamlSyntax,
                    format!("YAML syntax error: {}", err.info()),
                )
                .with_label(span, err.info().to_string())
                .with_help("fix the YAML syntax; `rune explain yaml_syntax` shows common mistakes");
                return fatal(&mut diagnostics, d);
            }
        };
        let span = offsets.span(file, &yspan);
        let node = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    let d = Diagnostic::new(
                        Code::MultipleDocuments,
                        "a catalog file holds one YAML document, this file has more",
                    )
                    .with_label(span, "a second document starts here")
                    .with_help(
                        "split the documents into separate files, or merge them into one document",
                    );
                    return fatal(&mut diagnostics, d);
                }
                continue;
            }
            Event::SequenceStart(anchor, tag) => {
                if let Some(d) = check_tag(tag.as_deref(), span, "!!seq") {
                    return fatal(&mut diagnostics, d);
                }
                if stack.len() >= MAX_DEPTH {
                    return fatal(&mut diagnostics, too_deep(span));
                }
                stack.push(Frame::Seq {
                    start: span,
                    anchor,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                if let Some(d) = check_tag(tag.as_deref(), span, "!!map") {
                    return fatal(&mut diagnostics, d);
                }
                if stack.len() >= MAX_DEPTH {
                    return fatal(&mut diagnostics, too_deep(span));
                }
                stack.push(Frame::Map {
                    start: span,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    skip_value: false,
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) => {
                    let end = collection_end(text, span, items.last().map(|n| n.span));
                    let node = Node {
                        span: Span::new(file, start.start as usize, end),
                        value: Value::Seq(items),
                    };
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => return fatal(&mut diagnostics, unbalanced(span)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) => {
                    let end = collection_end(text, span, entries.last().map(|e| e.value.span));
                    let node = Node {
                        span: Span::new(file, start.start as usize, end),
                        value: Value::Map(entries),
                    };
                    remember(&mut anchors, anchor, &node);
                    node
                }
                _ => return fatal(&mut diagnostics, unbalanced(span)),
            },
            Event::Alias(id) => match anchors.iter().rev().find(|(a, _)| *a == id) {
                Some((_, target)) => {
                    expanded += target.size();
                    if expanded > MAX_ALIAS_EXPANSION {
                        let d = Diagnostic::new(
                            Code::AliasLimit,
                            format!(
                                "aliases in this file expand to more than {MAX_ALIAS_EXPANSION} nodes"
                            ),
                        )
                        .with_label(span, "expansion limit reached at this alias")
                        .with_help("catalogs rarely need aliases; write the values out, or alias smaller parts");
                        return fatal(&mut diagnostics, d);
                    }
                    let mut node = target.clone();
                    node.span = span;
                    node
                }
                None => {
                    let d = Diagnostic::new(Code::UnsupportedYaml, "alias to an unknown anchor")
                        .with_label(span, "no anchor with this name precedes it");
                    return fatal(&mut diagnostics, d);
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                let value = match resolve_scalar(&text, style, tag.as_deref()) {
                    Ok(v) => v,
                    Err(message) => {
                        let d = Diagnostic::new(Code::UnsupportedYaml, message.clone())
                            .with_label(span, message);
                        return fatal(&mut diagnostics, d);
                    }
                };
                let node = Node { span, value };
                remember(&mut anchors, anchor, &node);
                node
            }
        };
        // Attach the finished node to its parent (or make it the document).
        match stack.last_mut() {
            None => {
                if document.is_none() {
                    document = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                skip_value,
                ..
            }) => match pending_key.take() {
                None if *skip_value => *skip_value = false,
                Some(key) => {
                    if !*skip_value {
                        entries.push(Entry { key, value: node });
                    }
                    *skip_value = false;
                }
                None => {
                    let key_text = match &node.value {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(CompactString::from(n.to_string())),
                        Value::Bool(b) => Some(CompactString::from(b.to_string())),
                        Value::Null => Some(CompactString::const_new("null")),
                        Value::Seq(_) | Value::Map(_) => None,
                    };
                    match key_text {
                        None => {
                            diagnostics.push(
                                Diagnostic::new(
                                    Code::UnsupportedYaml,
                                    "a mapping key must be a plain value, not a sequence or mapping",
                                )
                                .with_label(node.span, "complex key"),
                            );
                            *skip_value = true;
                        }
                        Some(key) => {
                            if let Some(first) = entries.iter().find(|e| e.key.value == key) {
                                diagnostics.push(
                                    Diagnostic::new(
                                        Code::DuplicateKey,
                                        format!("duplicate key `{key}` in one mapping"),
                                    )
                                    .with_label(node.span, "duplicate key")
                                    .with_label(first.key.span, "first defined here")
                                    .with_help("remove one of the two; YAML does not allow a key twice in one mapping"),
                                );
                                *skip_value = true;
                            }
                            *pending_key = Some(Spanned::new(key, node.span));
                        }
                    }
                }
            },
        }
    }

    match document {
        Some(doc) if doc.value != Value::Null => Parsed {
            document: Some(doc),
            diagnostics,
        },
        _ => {
            let span = Span::new(file, 0, 0);
            fatal(
                &mut diagnostics,
                Diagnostic::new(Code::EmptyFile, "the catalog file is empty")
                    .with_label(span, "no YAML document here")
                    .with_help("a catalog starts with `catalog_version: \"1\"`; delete the file if it is not a catalog"),
            )
        }
    }
}

/// The event stream closed a collection that was never opened; saphyr-parser never
/// does this, but a bad event stream must not panic us.
fn unbalanced(span: Span) -> Diagnostic {
    Diagnostic::new(Code::YamlSyntax, "YAML syntax error: unbalanced collection")
        .with_label(span, "unexpected end of collection")
}

/// Where a collection ends: at its closing bracket for flow style, else at the end
/// of its last child. (For block style the parser's end event sits on the next
/// token, often lines later, which would make labels cover trailing lines.)
fn collection_end(text: &str, end_event: Span, last_child: Option<Span>) -> usize {
    let closing = text.as_bytes().get(end_event.start as usize);
    match (closing, last_child) {
        (Some(b'}' | b']'), _) | (_, None) => end_event.end as usize,
        (_, Some(child)) => child.end as usize,
    }
}

/// The parser often notices a mistake only at the next token, which can be at the
/// end of the file or after blank lines; point at the last character written
/// before that instead, so the label lands on a visible line.
fn last_content_before(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    let before = text[..at].trim_end();
    if before.len() == at || before.is_empty() {
        return at;
    }
    before.char_indices().next_back().map_or(at, |(i, _)| i)
}

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::NestingLimit,
        format!("nesting deeper than {MAX_DEPTH} levels"),
    )
    .with_label(span, "limit reached here")
    .with_help("catalog documents are shallow; this is likely generated or malicious input")
}

fn remember(anchors: &mut Vec<(usize, Node)>, anchor: usize, node: &Node) {
    if anchor != 0 {
        anchors.push((anchor, node.clone()));
    }
}

fn check_tag(tag: Option<&saphyr_parser::Tag>, span: Span, expected: &str) -> Option<Diagnostic> {
    let tag = tag?;
    let name = format!("{}{}", tag.handle, tag.suffix);
    let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
    let suffix_ok = format!("!!{}", tag.suffix) == expected;
    if core && suffix_ok {
        return None;
    }
    Some(
        Diagnostic::new(
            Code::UnsupportedYaml,
            format!("unsupported YAML tag `{name}`"),
        )
        .with_label(span, "tag not allowed here")
        .with_help("catalogs use plain YAML; remove the tag"),
    )
}

/// Resolve a scalar with the YAML 1.2 core schema.
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
) -> Result<Value, String> {
    if let Some(tag) = tag {
        let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
        if !core {
            return Err(format!(
                "unsupported YAML tag `{}{}`",
                tag.handle, tag.suffix
            ));
        }
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(CompactString::from(text))),
            "null" => Ok(Value::Null),
            "bool" => parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("`{text}` is not a boolean")),
            "int" => parse_int(text)
                .map(Value::Number)
                .ok_or_else(|| format!("`{text}` is not an integer")),
            "float" => parse_float(text)
                .or_else(|| parse_int(text))
                .map(Value::Number)
                .ok_or_else(|| format!("`{text}` is not a finite number")),
            other => Err(format!("unsupported YAML tag `!!{other}`")),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(CompactString::from(text)));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        _ => {
            if let Some(b) = parse_bool(text) {
                Value::Bool(b)
            } else if let Some(n) = parse_int(text) {
                Value::Number(n)
            } else if let Some(n) = parse_float(text) {
                Value::Number(n)
            } else if matches!(
                text,
                ".inf"
                    | ".Inf"
                    | ".INF"
                    | "+.inf"
                    | "+.Inf"
                    | "+.INF"
                    | "-.inf"
                    | "-.Inf"
                    | "-.INF"
                    | ".nan"
                    | ".NaN"
                    | ".NAN"
            ) {
                // JSON has no infinities or NaN; keep the text so the schema reports a
                // type error at the right place instead of us inventing a number.
                Value::String(CompactString::from(text))
            } else {
                Value::String(CompactString::from(text))
            }
        }
    })
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<serde_json::Number> {
    let bytes = text.as_bytes();
    let (neg, digits) = match bytes.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = digits.strip_prefix("0o") {
        (8, o)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i64::try_from(magnitude).ok()?.checked_neg()?;
        Some(v.into())
    } else {
        Some(magnitude.into())
    }
}

fn parse_float(text: &str) -> Option<serde_json::Number> {
    // The core schema's float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    serde_json::Number::from_f64(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Parsed {
        parse(FileId(0), text)
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let p = doc("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 0x1F\ng: hello\nh: -3\n");
        let json = p.document.unwrap().to_json();
        assert_eq!(
            json,
            serde_json::json!({"a":1,"b":1.5,"c":true,"d":null,"e":"1","f":31,"g":"hello","h":-3})
        );
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_spans() {
        let p = doc("a: 1\nb: 2\na: 3\n");
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].code, Code::DuplicateKey);
        assert_eq!(p.diagnostics[0].labels.len(), 2);
        assert_eq!(
            p.document.unwrap().to_json(),
            serde_json::json!({"a":1,"b":2})
        );
    }

    #[test]
    fn spans_are_byte_offsets_even_after_multibyte_text() {
        let text = "é: ü\nkey: value\n";
        let p = doc(text);
        let node = p.document.unwrap();
        let entry = node.entry("key").unwrap();
        assert_eq!(
            &text[entry.key.span.start as usize..entry.key.span.end as usize],
            "key"
        );
        assert_eq!(
            &text[entry.value.span.start as usize..entry.value.span.end as usize],
            "value"
        );
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let p = doc(&text);
        assert!(p.document.is_none());
        assert_eq!(p.diagnostics[0].code, Code::AliasLimit);
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Flow collections: the parser itself refuses very deep nesting.
        let p = doc(&"[".repeat(10_000));
        assert!(p.document.is_none());
        assert!(matches!(
            p.diagnostics[0].code,
            Code::NestingLimit | Code::YamlSyntax
        ));
        // Block collections: our own limit.
        let mut text = String::new();
        for depth in 0..(MAX_DEPTH + 10) {
            text.push_str(&" ".repeat(depth));
            text.push_str("a:\n");
        }
        let p = doc(&text);
        assert!(p.document.is_none());
        assert_eq!(p.diagnostics[0].code, Code::NestingLimit);
    }

    #[test]
    fn second_document_is_refused() {
        let p = doc("a: 1\n---\nb: 2\n");
        assert_eq!(p.diagnostics[0].code, Code::MultipleDocuments);
    }

    #[test]
    fn empty_file_is_refused() {
        assert_eq!(doc("").diagnostics[0].code, Code::EmptyFile);
        assert_eq!(
            doc("# only a comment\n").diagnostics[0].code,
            Code::EmptyFile
        );
    }
}
