//! Where a finding is: the spans of YAML nodes and the paths into documents that
//! messages name. Shared by every stage that locates what it reports (schema,
//! registry, check, params), so none of them calls back into another for it.

use crate::source::Span;
use crate::yaml::{Entry, Node, Value};

/// The first line of a node: a readable label for a whole mapping or sequence.
pub(crate) fn head_span(node: &Node, text: &str) -> Span {
    let start = node.span.start as usize;
    let end = text
        .get(start..node.span.end as usize)
        .and_then(|s| s.find('\n'))
        .map_or(node.span.end as usize, |i| start + i);
    Span::new(node.span.file, start, end.max(start))
}

/// The source text of a scalar, for hints that quote what the user wrote.
pub(crate) fn scalar_text<'t>(node: &Node, text: &'t str) -> Option<&'t str> {
    match node.value {
        Value::Seq(_) | Value::Map(_) => None,
        _ => text.get(node.span.start as usize..node.span.end as usize),
    }
}

/// Where to point for a value: the key that names it, or, for a sequence item or
/// the document root, which no key names, its first character.
pub(crate) fn key_span_or_head(entry: Option<&Entry>, node: &Node, text: &str) -> Span {
    match entry {
        Some(e) => e.key.span,
        None => Span::char_at(node.span.file, text, node.span.start as usize),
    }
}

/// Split a JSON pointer into unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// `modules[3].module_identity` style path for messages.
pub fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        return "the catalog".to_string();
    }
    let mut out = String::new();
    for segment in path {
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    format!("`{out}`")
}
