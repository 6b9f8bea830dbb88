//! YAML text to a spanned document tree.
//!
//! We build our own tree from `saphyr-parser` events rather than deserialising with
//! serde, because every later stage needs the source span of every key and value,
//! and because untrusted input needs limits the serde path does not give: duplicate
//! keys are reported (not silently overwritten), alias expansion is bounded (alias
//! bombs), nesting depth is bounded, and a file holds exactly one document.
//! Plain scalars are resolved with the YAML 1.2 core schema; mapping keys keep
//! their source text. Every shape costs time and memory linear in the file plus
//! the capped expansion: anchors are found by id and copied only when an alias
//! uses them (`anchors`), duplicate keys are found through an index (`keys`).
//! The block subset catalogs are written in is read by a faster reader of our
//! own (`block`) into the same builder; saphyr-parser reads everything else.

mod anchors;
mod block;
pub mod json;
mod keys;
mod split;
pub mod strict_json;

use compact_str::CompactString;
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span, Spanned};
use anchors::Anchors;
pub(crate) use keys::KeyIndex;

/// Deepest nesting of collections accepted in a catalog file.
pub(crate) const MAX_DEPTH: usize = 128;
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
        self.pointer_lookup_by(segments, |node, key| node.entry(key))
    }

    /// [`Node::pointer_lookup`] with the mapping-key lookup supplied, so a caller
    /// with an index of large mappings (`schema::locate`) walks the same way.
    pub fn pointer_lookup_by<'a, 's>(
        &'a self,
        segments: impl IntoIterator<Item = &'s str>,
        mut entry_of: impl FnMut(&'a Node, &str) -> Option<&'a Entry>,
    ) -> (&'a Node, Option<&'a Entry>) {
        let mut node = self;
        let mut entry = None;
        for segment in segments {
            match &node.value {
                Value::Map(_) => match entry_of(node, segment) {
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
}

/// A node serialises as the JSON value it stands for, mappings in source order
/// (spans dropped): a renderer can print catalog values as written without
/// building a `serde_json::Value` first.
impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.value {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for e in entries {
                    map.serialize_entry(e.key.value.as_str(), &e.value)?;
                }
                map.end()
            }
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

/// Maps the parser's character offsets (in the text it was given, which may be a
/// stretch of the file) to byte offsets in the file.
struct Offsets<'a> {
    text: &'a str,
    /// Byte offset of `text` in the file.
    base: usize,
    /// Byte offset of every `CHARS_PER_CHECKPOINT`th char; empty when the text is
    /// ASCII (identity mapping). Sparse, so a large non-ASCII file does not cost
    /// four bytes per character.
    checkpoints: Vec<u32>,
}

const CHARS_PER_CHECKPOINT: usize = 32;

impl<'a> Offsets<'a> {
    fn new(text: &'a str, base: usize) -> Self {
        let checkpoints = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .step_by(CHARS_PER_CHECKPOINT)
                .map(|(i, _)| i as u32)
                .collect()
        };
        Offsets {
            text,
            base,
            checkpoints,
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.base + self.relative(char_index)
    }

    fn relative(&self, char_index: usize) -> usize {
        if self.checkpoints.is_empty() {
            return char_index.min(self.text.len());
        }
        let Some(&from) = self.checkpoints.get(char_index / CHARS_PER_CHECKPOINT) else {
            return self.text.len();
        };
        let from = from as usize;
        self.text[from..]
            .char_indices()
            .nth(char_index % CHARS_PER_CHECKPOINT)
            .map_or(self.text.len(), |(i, _)| from + i)
    }

    fn span(&self, file: FileId, span: &YamlSpan) -> Span {
        Span::new(
            file,
            self.byte(span.start.index()),
            self.byte(span.end.index()),
        )
    }
}

/// An open collection.
struct Frame {
    start: Span,
    anchor: usize,
    /// What this collection costs so far, itself and its keys included, aliases
    /// counted as what they expand to.
    cost: Cost,
    /// Its place in the anchor table, once something inside it is anchored.
    place: Option<u32>,
    kind: Kind,
}

enum Kind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<Entry>,
        keys: KeyIndex,
        pending_key: Option<Spanned<CompactString>>,
        /// Set when the next value is dropped (its key is a duplicate, a complex
        /// key or a merge key).
        skip_value: bool,
    },
}

impl Frame {
    fn new(start: Span, anchor: usize, kind: Kind) -> Self {
        Frame {
            start,
            anchor,
            cost: Cost {
                nodes: 1,
                height: 1,
            },
            place: None,
            kind,
        }
    }

    /// How many children are attached (items, or entries of a mapping).
    fn children(&self) -> usize {
        match &self.kind {
            Kind::Seq(items) => items.len(),
            Kind::Map { entries, .. } => entries.len(),
        }
    }

    /// An attached child by its slot.
    fn child(&self, slot: usize) -> Option<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.get(slot),
            Kind::Map { entries, .. } => entries.get(slot).map(|e| &e.value),
        }
    }
}

/// What the next finished node becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Document,
    Item,
    Key,
    Value,
    /// The value of a key that is not kept.
    Dropped,
}

fn role(stack: &[Frame]) -> Role {
    match stack.last().map(|f| &f.kind) {
        None => Role::Document,
        Some(Kind::Seq(_)) => Role::Item,
        Some(Kind::Map {
            pending_key,
            skip_value,
            ..
        }) => match (pending_key, skip_value) {
            (_, true) => Role::Dropped,
            (Some(_), false) => Role::Value,
            (None, false) => Role::Key,
        },
    }
}

/// A node ready to be attached to its parent.
struct Finished {
    node: Node,
    cost: Cost,
    /// The anchor of a collection (scalars are recorded when read).
    anchor: usize,
    /// The collection's place, if something inside it is anchored.
    place: Option<u32>,
    /// A scalar's source text, when it is a mapping key.
    key_text: Option<CompactString>,
}

/// What a node costs to copy: its nodes, and the levels of collections it holds
/// (an alias must not nest the document deeper than [`MAX_DEPTH`] either).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost {
    nodes: usize,
    height: usize,
}

impl Cost {
    /// Add a child's cost to its parent collection's.
    fn add_child(&mut self, child: Cost) {
        self.nodes = self.nodes.saturating_add(child.nodes);
        self.height = self.height.max(child.height + 1);
    }
}

/// The aliases' share of a scalar: a node, plus one per this many bytes of text,
/// so an alias to a long string is not cheaper than the copy it makes.
const BYTES_PER_NODE: usize = 64;

fn scalar_cost(text: &str) -> Cost {
    Cost {
        nodes: 1 + text.len() / BYTES_PER_NODE,
        height: 0,
    }
}

/// The tree under construction, one method per parser event.
struct Builder<'t> {
    file: FileId,
    /// The whole file's text (spans index it).
    text: &'t str,
    /// Collections open around the text being parsed (1 for a stretch of a
    /// top-level sequence, see [`split`]), counted against [`MAX_DEPTH`].
    outer_depth: usize,
    stack: Vec<Frame>,
    document: Option<Node>,
    anchors: Anchors,
    /// Nodes aliases have copied so far.
    expanded: usize,
    /// Whether any alias was met (a stretch parsed apart must not meter aliases
    /// on its own).
    aliased: bool,
    /// Documents started so far.
    documents: usize,
    diagnostics: Vec<Diagnostic>,
    /// Emptied buffers of closed collections, reused by the next ones to open:
    /// a collection's children gather in a buffer that has already grown, and
    /// are moved once into a vector of their exact size when it closes (one
    /// allocation per collection instead of growing and trimming its own).
    spare_items: Vec<Vec<Node>>,
    spare_entries: Vec<Vec<Entry>>,
}

impl<'t> Builder<'t> {
    fn new(file: FileId, text: &'t str, outer_depth: usize) -> Self {
        Builder {
            file,
            text,
            outer_depth,
            stack: Vec::new(),
            document: None,
            anchors: Anchors::default(),
            expanded: 0,
            aliased: false,
            documents: 0,
            diagnostics: Vec::new(),
            spare_items: Vec::new(),
            spare_entries: Vec::new(),
        }
    }

    /// Open collections, those around the parsed text included.
    fn depth(&self) -> usize {
        self.outer_depth + self.stack.len()
    }

    /// Attach a finished node to the open collection, or make it the document.
    fn attach(&mut self, done: Finished) {
        let Finished {
            node,
            cost,
            anchor,
            place,
            key_text,
        } = done;
        let role = role(&self.stack);
        let slot = self.stack.last().map_or(0, Frame::children);
        if role != Role::Dropped && role != Role::Key && anchor != 0 {
            let at = self.anchors.place_attached(place, &mut self.stack, slot);
            self.anchors.define_collection(anchor, at, cost);
        }
        let Some(frame) = self.stack.last_mut() else {
            if self.document.is_none() {
                self.document = Some(node);
            }
            return;
        };
        match (&mut frame.kind, role) {
            (Kind::Seq(items), _) => {
                frame.cost.add_child(cost);
                items.push(node);
            }
            (
                Kind::Map {
                    entries,
                    pending_key,
                    ..
                },
                Role::Value,
            ) => {
                frame.cost.add_child(cost);
                if let Some(key) = pending_key.take() {
                    entries.push(Entry { key, value: node });
                }
            }
            (
                Kind::Map {
                    entries,
                    keys,
                    pending_key,
                    skip_value,
                },
                Role::Key,
            ) => match key_text {
                Some(key) => {
                    frame.cost.add_child(cost);
                    if let Some(first) = keys.find(entries, &key) {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::DuplicateKey,
                                format!("duplicate key `{key}` in one mapping"),
                            )
                            .with_label(node.span, "duplicate key")
                            .with_label(entries[first].key.span, "first defined here")
                            .with_help(
                                "remove one of the two; YAML does not allow a key twice in one mapping",
                            ),
                        );
                        *skip_value = true;
                    }
                    *pending_key = Some(Spanned::new(key, node.span));
                }
                None => {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::UnsupportedYaml,
                            "a mapping key must be a plain value, not a sequence or mapping",
                        )
                        .with_label(node.span, "complex key"),
                    );
                    *skip_value = true;
                    self.keep_dropped(node, anchor, place, cost);
                }
            },
            (
                Kind::Map {
                    pending_key,
                    skip_value,
                    ..
                },
                _,
            ) => {
                *pending_key = None;
                *skip_value = false;
                self.keep_dropped(node, anchor, place, cost);
            }
        }
    }

    /// A node that is not kept in the tree stays reachable for aliases when it
    /// is anchored or holds anchors.
    fn keep_dropped(&mut self, node: Node, anchor: usize, place: Option<u32>, cost: Cost) {
        if anchor == 0 && place.is_none() {
            return;
        }
        let at = self.anchors.orphan(node, place);
        if anchor != 0 {
            self.anchors.define_collection(anchor, at, cost);
        }
    }

    /// The copy an alias stands for, charged against the expansion cap.
    fn alias(&mut self, id: usize, span: Span) -> Result<Finished, Diagnostic> {
        let Some(cost) = self.anchors.cost(id) else {
            // saphyr-parser refuses names never defined, so the anchor is open:
            // the alias sits inside the node it names.
            return Err(Diagnostic::new(
                Code::UnsupportedYaml,
                "an alias inside the node it refers to",
            )
            .with_label(span, "this alias is inside its own anchor")
            .with_help("a recursive structure has no JSON equivalent; write the value out"));
        };
        self.aliased = true;
        if self.depth() + cost.height > MAX_DEPTH {
            return Err(too_deep(span));
        }
        self.expanded = self.expanded.saturating_add(cost.nodes);
        if self.expanded > MAX_ALIAS_EXPANSION {
            return Err(Diagnostic::new(
                Code::AliasLimit,
                format!("aliases in this file expand to more than {MAX_ALIAS_EXPANSION} nodes"),
            )
            .with_label(span, "expansion limit reached at this alias")
            .with_help(
                "catalogs rarely need aliases; write the values out, or alias smaller parts",
            ));
        }
        if role(&self.stack) == Role::Dropped {
            // Nobody will see the copy.
            return Ok(Finished {
                node: Node {
                    span,
                    value: Value::Null,
                },
                cost,
                anchor: 0,
                place: None,
                key_text: None,
            });
        }
        let resolved = self
            .anchors
            .resolve(id, &self.stack, self.document.as_ref())
            .ok_or_else(|| {
                Diagnostic::new(Code::UnsupportedYaml, "alias to an unknown anchor")
                    .with_label(span, "no anchor with this name precedes it")
            })?;
        let mut node = resolved.node;
        node.span = span;
        Ok(Finished {
            node,
            cost,
            anchor: 0,
            place: None,
            key_text: resolved.text,
        })
    }

    fn fatal(mut self, d: Diagnostic) -> Parsed {
        self.diagnostics.push(d);
        Parsed {
            document: None,
            diagnostics: self.diagnostics,
        }
    }

    /// `---` (or the implicit start): a file holds one document.
    fn document_start(&mut self, span: Span) -> Result<(), Diagnostic> {
        self.documents += 1;
        if self.documents > 1 {
            return Err(Diagnostic::new(
                Code::MultipleDocuments,
                "a catalog file holds one YAML document, this file has more",
            )
            .with_label(span, "a second document starts here")
            .with_help(
                "split the documents into separate files, or merge them into one document",
            ));
        }
        Ok(())
    }

    /// A sequence or mapping opens.
    fn collection_start(
        &mut self,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        span: Span,
        kind: Kind,
    ) -> Result<(), Diagnostic> {
        let expected = match kind {
            Kind::Seq(_) => "!!seq",
            Kind::Map { .. } => "!!map",
        };
        if let Some(d) = check_tag(tag, span, expected) {
            return Err(d);
        }
        if self.depth() >= MAX_DEPTH {
            return Err(too_deep(span));
        }
        self.stack.push(Frame::new(span, anchor, kind));
        Ok(())
    }

    fn sequence_start(
        &mut self,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        span: Span,
    ) -> Result<(), Diagnostic> {
        let items = self.spare_items.pop().unwrap_or_default();
        self.collection_start(anchor, tag, span, Kind::Seq(items))
    }

    fn mapping_start(
        &mut self,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        span: Span,
    ) -> Result<(), Diagnostic> {
        let kind = Kind::Map {
            entries: self.spare_entries.pop().unwrap_or_default(),
            keys: KeyIndex::default(),
            pending_key: None,
            skip_value: false,
        };
        self.collection_start(anchor, tag, span, kind)
    }

    /// The open collection closes and is attached to its parent.
    fn collection_end(&mut self, span: Span) -> Result<(), Diagnostic> {
        let Some(frame) = self.stack.pop() else {
            return Err(unbalanced(span));
        };
        // Exactly sized: most catalog collections hold one to three children,
        // and a vector grows to four at once, which for a large catalog would be
        // a third of the tree.
        let (value, last) = match frame.kind {
            Kind::Seq(mut items) => {
                let last = items.last().map(|n| n.span);
                let mut exact = Vec::with_capacity(items.len());
                exact.append(&mut items);
                self.spare_items.push(items);
                (Value::Seq(exact), last)
            }
            Kind::Map { mut entries, .. } => {
                let last = entries.last().map(|e| e.value.span);
                let mut exact = Vec::with_capacity(entries.len());
                exact.append(&mut entries);
                self.spare_entries.push(entries);
                (Value::Map(exact), last)
            }
        };
        let end = collection_end(self.text, span, last);
        self.attach(Finished {
            node: Node {
                span: Span::new(self.file, frame.start.start as usize, end),
                value,
            },
            cost: frame.cost,
            anchor: frame.anchor,
            place: frame.place,
            key_text: None,
        });
        Ok(())
    }

    /// `*name`: a copy of the anchored node, metered.
    fn alias_event(&mut self, id: usize, span: Span) -> Result<(), Diagnostic> {
        let done = self.alias(id, span)?;
        self.attach(done);
        Ok(())
    }

    /// A scalar: a key's text, or a value resolved with the core schema.
    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&saphyr_parser::Tag>,
        span: Span,
    ) -> Result<(), Diagnostic> {
        let role = role(&self.stack);
        if role == Role::Key && style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
            self.diagnostics.push(merge_key(span));
            if let Some(Frame {
                kind: Kind::Map { skip_value, .. },
                ..
            }) = self.stack.last_mut()
            {
                *skip_value = true;
            }
            return Ok(());
        }
        // A key's value is only its text, unless an alias may use it as a value.
        let value = if role == Role::Key && anchor == 0 && tag.is_none() {
            Value::Null
        } else {
            resolve_scalar(text, style, tag).map_err(|message| {
                Diagnostic::new(Code::UnsupportedYaml, message.clone()).with_label(span, message)
            })?
        };
        let node = Node { span, value };
        let cost = scalar_cost(text);
        if anchor != 0 {
            self.anchors.define_scalar(anchor, &node, text, cost);
        }
        self.attach(Finished {
            node,
            cost,
            anchor: 0,
            place: None,
            // Keys keep their source text: `1.10:` is the key "1.10", not 1.1.
            key_text: (role == Role::Key).then(|| CompactString::from(text)),
        });
        Ok(())
    }

    /// The stream ended: the document, or why there is none.
    fn finish(mut self) -> Parsed {
        match self.document.take() {
            Some(doc) if doc.value != Value::Null => Parsed {
                document: Some(doc),
                diagnostics: self.diagnostics,
            },
            _ => {
                let span = Span::new(self.file, 0, 0);
                self.fatal(
                    Diagnostic::new(Code::EmptyFile, "the catalog file is empty")
                        .with_label(span, "no YAML document here")
                        .with_help("a catalog starts with `catalog_version: \"1\"`; delete the file if it is not a catalog"),
                )
            }
        }
    }
}

/// Parse one catalog file's text.
pub fn parse(file: FileId, text: &str) -> Parsed {
    // JSON is YAML, but saphyr-parser buffers every token of a flow collection
    // that could still turn out to be a key, which for a JSON document is all of
    // it; the JSON parser reads the same tree in one pass. Anything it refuses is
    // read as YAML, which accepts more.
    if text.trim_start().starts_with(['{', '[']) {
        let parsed = strict_json::parse(file, text);
        if parsed.document.is_some() {
            return parsed;
        }
    }
    if text.len() >= SPLIT_MIN_BYTES {
        if let Some(parsed) = split::parse(file, text, STRETCH_BYTES) {
            return parsed;
        }
    }
    parse_yaml(file, text)
}

/// Files at least this large are parsed in stretches in parallel when they can be
/// (`split`); below it, a file is parsed faster than the threads start.
const SPLIT_MIN_BYTES: usize = 2 << 20;
/// About how many bytes of items each stretch holds.
const STRETCH_BYTES: usize = 512 << 10;

/// How far (in indicator characters: separators, brackets, quotes, …) the parser
/// may read past the last event it gave. Every token of a flow collection sits
/// between such characters, so this bounds the tokens saphyr-parser buffers while
/// it cannot yet tell whether a nested flow collection is a key.
const READ_AHEAD_INDICATORS: usize = 250_000;

/// The text's characters for the parser, stopping when it runs more than
/// [`READ_AHEAD_INDICATORS`] past the last event (see [`Meter`]).
struct Metered<'a> {
    chars: std::str::Chars<'a>,
    meter: std::rc::Rc<Meter>,
}

/// Shared between the parser's input and the event loop.
#[derive(Default)]
struct Meter {
    indicators: std::cell::Cell<usize>,
    limit: std::cell::Cell<usize>,
    /// Characters handed out, so a stop can be located.
    read: std::cell::Cell<usize>,
    stopped: std::cell::Cell<bool>,
}

impl Meter {
    /// An event arrived: the parser may read the next stretch.
    fn renew(&self) {
        self.limit
            .set(self.indicators.get().saturating_add(READ_AHEAD_INDICATORS));
    }
}

impl Iterator for Metered<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c.is_ascii() && IS_INDICATOR[c as usize] {
            let n = self.meter.indicators.get() + 1;
            if n > self.meter.limit.get() {
                self.meter.stopped.set(true);
                return None;
            }
            self.meter.indicators.set(n);
        }
        self.meter.read.set(self.meter.read.get() + 1);
        Some(c)
    }
}

/// The indicator characters [`Metered`] counts, as a table: it is asked for
/// every character of every file.
const IS_INDICATOR: [bool; 128] = {
    let mut table = [false; 128];
    let indicators = b",[]{}:?-&*!|>'\"#%@`";
    let mut i = 0;
    while i < indicators.len() {
        table[indicators[i] as usize] = true;
        i += 1;
    }
    table
};

/// The parser stopped reading ahead: refuse the file rather than buffer on.
fn too_far_ahead(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::UnsupportedYaml,
        format!(
            "a flow collection (`[…]` or `{{…}}`) too large to parse: more than \
             {READ_AHEAD_INDICATORS} separators before a value is complete"
        ),
    )
    .with_label(Span::new(file, at, at), "still inside it here")
    .with_help(
        "write large collections in block style (one `- item` or `key: value` per line); \
         a JSON document can be saved as a .json file",
    )
}

/// Parse YAML text (JSON documents included, when the JSON parser refused them).
fn parse_yaml(file: FileId, text: &str) -> Parsed {
    parse_stretch(file, text, 0..text.len(), 0).0
}

/// Parse `text[range]` as a YAML stream, spans counted in the whole `text`, inside
/// `outer_depth` open collections; also says whether an alias was met.
fn parse_stretch(
    file: FileId,
    text: &str,
    range: std::ops::Range<usize>,
    outer_depth: usize,
) -> (Parsed, bool) {
    // The block subset catalogs are written in is read directly; anything else
    // (and any error) is left to saphyr-parser. The fast path meets no aliases.
    if let Some(parsed) = block::parse_stretch(file, text, range.clone(), outer_depth) {
        return (parsed, false);
    }
    saphyr_stretch(file, text, range, outer_depth)
}

/// [`parse_stretch`] through saphyr-parser alone.
fn saphyr_stretch(
    file: FileId,
    text: &str,
    range: std::ops::Range<usize>,
    outer_depth: usize,
) -> (Parsed, bool) {
    let stretch = &text[range.clone()];
    let offsets = Offsets::new(stretch, range.start);
    let mut b = Builder::new(file, text, outer_depth);
    let meter = std::rc::Rc::new(Meter::default());
    meter.renew();
    let mut parser = Parser::new_from_iter(Metered {
        chars: stretch.chars(),
        meter: meter.clone(),
    });
    loop {
        let next = parser.next_event();
        if meter.stopped.get() {
            let at = offsets.byte(meter.read.get());
            let aliased = b.aliased;
            return (b.fatal(too_far_ahead(file, at)), aliased);
        }
        meter.renew();
        let (event, yspan) = match next {
            None => break,
            Some(Ok(pair)) => pair,
            Some(Err(err)) => {
                let at = offsets.byte(err.marker().index());
                let aliased = b.aliased;
                return (b.fatal(syntax_error(file, text, at, err.info())), aliased);
            }
        };
        let span = offsets.span(file, &yspan);
        let step = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => Ok(()),
            Event::StreamEnd => break,
            Event::DocumentStart(_) => b.document_start(span),
            Event::SequenceStart(anchor, tag) => b.sequence_start(anchor, tag.as_deref(), span),
            Event::MappingStart(anchor, tag) => b.mapping_start(anchor, tag.as_deref(), span),
            Event::SequenceEnd | Event::MappingEnd => b.collection_end(span),
            Event::Alias(id) => b.alias_event(id, span),
            Event::Scalar(value, style, anchor, tag) => {
                b.scalar(&value, style, anchor, tag.as_deref(), span)
            }
        };
        if let Err(d) = step {
            let aliased = b.aliased;
            return (b.fatal(d), aliased);
        }
    }
    let aliased = b.aliased;
    (b.finish(), aliased)
}

/// `<<: *base` merges a mapping in YAML 1.1; YAML 1.2 dropped it, and tools
/// disagree on its rules, so it is refused with what to write instead.
fn merge_key(span: Span) -> Diagnostic {
    Diagnostic::new(Code::UnsupportedYaml, "merge keys (`<<`) are not supported")
        .with_label(span, "merge key")
        .with_help(
            "write the keys out in this mapping; an alias can stand for a whole value \
         (`key: *name`) but is not merged into a mapping",
        )
}

/// A syntax error at byte `at` (where the parser noticed it).
fn syntax_error(file: FileId, text: &str, at: usize, info: &str) -> Diagnostic {
    if let Some((tab, indentation)) = offending_tab(text, at, info) {
        let span = Span::new(file, tab, tab + 1);
        let message = if indentation {
            "YAML syntax error: a tab in the indentation"
        } else {
            "YAML syntax error: a tab where YAML allows only spaces"
        };
        // A tab after `:` is not indentation: what the parser wants there is a space.
        let after_colon = !indentation && text[..tab].trim_end_matches('\t').ends_with(':');
        let help = if after_colon {
            "put a space after `:` instead of the tab (this parser needs a space there)"
        } else if indentation {
            "YAML forbids tabs for indentation; indent with spaces"
        } else {
            "replace the tab with spaces"
        };
        return Diagnostic::new(Code::YamlSyntax, message)
            .with_label(span, format!("tab: {info}"))
            .with_help(help);
    }
    let at = last_content_before(text, at);
    let span = Span::char_at(file, text, at);
    Diagnostic::new(Code::YamlSyntax, format!("YAML syntax error: {info}"))
        .with_label(span, info.to_string())
        .with_help("fix the YAML syntax; `rune explain yaml_syntax` shows common mistakes")
}

/// The tab that caused a syntax error, if one did, and whether it is in the
/// indentation: a tab indenting the line where the parser stopped, a tab right
/// where it stopped, or, when the message names a tab, the first one from that
/// line to the next.
fn offending_tab(text: &str, at: usize, info: &str) -> Option<(usize, bool)> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indentation = |start: usize| {
        let line = &text[start..];
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        line[..indent].find('\t').map(|i| start + i)
    };
    if let Some(tab) = indentation(line_start) {
        return Some((tab, true));
    }
    // `key:<tab>value`: the parser names the `:`, the tab follows it.
    if let Some(i) =
        (at.saturating_sub(1)..text.len().min(at + 2)).find(|&i| text.as_bytes()[i] == b'\t')
    {
        return Some((i, false));
    }
    if !info.contains("tab") {
        return None;
    }
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    if let Some(tab) = indentation((line_end + 1).min(text.len())) {
        return Some((tab, true));
    }
    let next_end = text[(line_end + 1).min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| line_end + 1 + i);
    text[line_start..next_end]
        .find('\t')
        .map(|i| (line_start + i, false))
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
    // Most plain scalars are words: rule them out before scanning for an exponent.
    if !t.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
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
    use proptest::prelude::*;

    fn doc(text: &str) -> Parsed {
        parse(FileId(0), text)
    }

    proptest! {
        /// Regression: a syntax error's label ended one byte after where the parser
        /// stopped, inside the character there when it was multi-byte.
        #[test]
        fn every_label_lies_on_character_boundaries(
            text in "[a-z:\\[\\]{}, \\n\"'é😀→\t&*!-]{0,40}",
        ) {
            for d in doc(&text).diagnostics {
                for label in &d.labels {
                    let (start, end) = (label.span.start as usize, label.span.end as usize);
                    prop_assert!(start <= end && end <= text.len(), "{:?} in {:?}", label, text);
                    prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(end),
                        "{:?} splits a character in {:?}", label, text);
                }
            }
        }
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
    fn aliases_copy_the_anchored_node_wherever_it_sits() {
        // Anchors in open collections, in finished ones, nested in each other,
        // and reused names (the latest definition wins).
        let p = doc(concat!(
            "a:\n",
            "  b: &x [1, &y {k: v}]\n",
            "  c: [*x, *y]\n",
            "  d: { e: &z [&w 2, 3], f: *z, g: *w }\n",
            "h: *x\n",
            "i: &x 9\n",
            "j: *x\n",
        ));
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(
            p.document.unwrap().to_json(),
            serde_json::json!({
                "a": {
                    "b": [1, {"k": "v"}],
                    "c": [[1, {"k": "v"}], {"k": "v"}],
                    "d": {"e": [2, 3], "f": [2, 3], "g": 2}
                },
                "h": [1, {"k": "v"}],
                "i": 9,
                "j": 9
            })
        );
    }

    #[test]
    fn aliases_reach_into_dropped_values() {
        // The second `a` is a duplicate: its value leaves the tree but its anchors
        // stay usable.
        let p = doc("a: 1\na: &x [1, &y [2]]\nb: *x\nc: *y\n[k]: &z [3]\nd: *z\n");
        let json = p.document.unwrap().to_json();
        assert_eq!(
            json,
            serde_json::json!({"a": 1, "b": [1, [2]], "c": [2], "d": [3]})
        );
        let codes: Vec<Code> = p.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::DuplicateKey, Code::UnsupportedYaml]);
    }

    #[test]
    fn an_alias_inside_its_own_anchor_is_refused() {
        let p = doc("a: &x [1, *x]\n");
        assert!(p.document.is_none());
        assert_eq!(p.diagnostics[0].code, Code::UnsupportedYaml);
    }

    #[test]
    fn keys_keep_their_source_text() {
        let p = doc("1.10: a\n0x10: b\n1e3: c\ntrue: d\nnull: e\n~: f\n&k 1.0: g\nx: {*k : h}\n");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let node = p.document.unwrap();
        let keys: Vec<&str> = node.as_map().iter().map(|e| e.key.value.as_str()).collect();
        assert_eq!(
            keys,
            ["1.10", "0x10", "1e3", "true", "null", "~", "1.0", "x"]
        );
        assert!(node.get("x").unwrap().get("1.0").is_some());
    }

    #[test]
    fn duplicate_keys_are_found_in_wide_mappings() {
        let mut text: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k7: again\n");
        let p = doc(&text);
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].code, Code::DuplicateKey);
        let first = p.diagnostics[0].labels[1].span;
        assert_eq!(&text[first.start as usize..first.end as usize], "k7");
    }

    #[test]
    fn aliases_cannot_nest_deeper_than_the_limit() {
        // Each level aliases the one before inside a deep collection: the copies
        // would nest far deeper than the limit each collection respects.
        let mut text = String::from("l0: &l0 x\n");
        for i in 1..40 {
            let open = "[".repeat(100);
            let close = "]".repeat(100);
            text.push_str(&format!("l{i}: &l{i} {open}*l{}{close}\n", i - 1));
        }
        let p = doc(&text);
        assert!(p.document.is_none());
        assert_eq!(p.diagnostics[0].code, Code::NestingLimit);
        // Exactly at the limit is fine (the root mapping is a level too).
        let inner = format!("{}x{}", "[".repeat(60), "]".repeat(60));
        let outer = format!(
            "{}*a{}",
            "[".repeat(MAX_DEPTH - 61),
            "]".repeat(MAX_DEPTH - 61)
        );
        let p = doc(&format!("a: &a {inner}\nb: {outer}\n"));
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let outer = format!(
            "{}*a{}",
            "[".repeat(MAX_DEPTH - 60),
            "]".repeat(MAX_DEPTH - 60)
        );
        let p = doc(&format!("a: &a {inner}\nb: {outer}\n"));
        assert_eq!(p.diagnostics[0].code, Code::NestingLimit);
    }

    #[test]
    fn char_offsets_map_to_bytes_across_checkpoints() {
        let text: String = (0..200)
            .map(|i| if i % 3 == 0 { 'é' } else { 'a' })
            .collect();
        let offsets = Offsets::new(&text, 0);
        for (n, (byte, _)) in text.char_indices().enumerate() {
            assert_eq!(offsets.byte(n), byte, "char {n}");
        }
        assert_eq!(offsets.byte(200), text.len());
        assert_eq!(offsets.byte(10_000), text.len());
    }

    #[test]
    fn nested_flow_collections_cannot_make_the_parser_buffer_without_bound() {
        let text = format!("x: [[{}]]\n", "a, ".repeat(READ_AHEAD_INDICATORS + 10));
        let p = doc(&text);
        assert!(p.document.is_none());
        assert_eq!(p.diagnostics[0].code, Code::UnsupportedYaml);
        assert!(p.diagnostics[0].message.contains("too large to parse"));
        // The same items in one flow sequence, or in block style, are fine.
        let flat = format!("x: [{}]\n", "a, ".repeat(READ_AHEAD_INDICATORS + 10));
        assert!(doc(&flat).diagnostics.is_empty());
    }

    #[test]
    fn json_documents_are_read_by_the_json_parser_and_the_rest_as_yaml() {
        let p = doc("{\"a\": [1, \"\\ud83d\\ude00\"]}");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(
            p.document.unwrap().to_json(),
            serde_json::json!({"a": [1, "😀"]})
        );
        // Not JSON, but YAML.
        let p = doc("{a: [1, two], b: 3}");
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(
            p.document.unwrap().to_json(),
            serde_json::json!({"a": [1, "two"], "b": 3})
        );
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
