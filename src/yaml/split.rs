//! A large catalog file parsed in stretches, in parallel.
//!
//! YAML parsing is sequential and is most of the time `rune validate` spends on a
//! large file, so a file whose bulk is one top-level block sequence (`modules:`
//! followed by `  - ` items, the shape of every large catalog) is cut at item
//! boundaries: each stretch of items is parsed on its own as a sequence, the rest
//! of the file (the "skeleton": everything but the items) as a document, and the
//! items are grafted into the skeleton. Spans are the file's throughout.
//!
//! A line that starts an item at the sequence's indentation cannot be inside a
//! scalar or a nested block (those are indented deeper), so the cut only ever
//! falls between items; a flow collection or quoted scalar that spans a cut makes
//! a stretch fail to parse. The result is used only when it must equal the one
//! piece parse: every stretch and the skeleton parse without a diagnostic or an
//! alias (aliases are metered per file), and the skeleton holds the sequence's key
//! with nothing under it. Anything else (a syntax error, a duplicate key, an
//! alias, a layout this does not recognise) gives `None`, and the caller parses
//! the file in one piece, which reports exactly what it always did.

use std::ops::Range;

use super::{parse_stretch, Node, Parsed, Value};
use crate::source::{FileId, Span};

/// The top-level key whose sequence is split.
const KEY: &str = "modules";

/// The layout of a file whose `modules:` is a block sequence.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    /// Where the `modules:` line starts.
    key: usize,
    /// From the line after `modules:` to the first line after the items.
    items: Range<usize>,
    /// Where each item's line starts.
    starts: Vec<usize>,
}

/// Lines of `text` from `from`: (start, end without the line break).
fn lines(text: &str, from: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = from;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = (at, end);
        at = end + 1;
        Some(line)
    })
}

/// Find `modules:` at column 0 followed by a block sequence, and its items.
fn layout(text: &str) -> Option<Layout> {
    let (key, key_end) =
        lines(text, 0).find(|&(s, e)| text[s..e].trim_end_matches([' ', '\r']) == "modules:")?;
    debug_assert_eq!(KEY.len() + 1, "modules:".len());
    let first = (key_end + 1).min(text.len());
    let mut indent = None;
    let mut starts = Vec::new();
    let mut end = text.len();
    for (s, e) in lines(text, first) {
        let line = text[s..e].trim_end_matches('\r');
        let body = line.trim_start_matches(' ');
        let rest = body.trim_start_matches('\t');
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let depth = line.len() - body.len();
        let item = body == "-" || body.starts_with("- ");
        match indent {
            // An indentless sequence (`- ` under the key's own column) is told
            // apart by the parser differently; it is left to the one-piece parse.
            None if item && depth > 0 => {
                indent = Some(depth);
                starts.push(s);
            }
            None => return None,
            Some(k) if depth > k => {}
            Some(k) if depth == k && item => starts.push(s),
            Some(_) => {
                end = s;
                break;
            }
        }
    }
    (!starts.is_empty()).then_some(Layout {
        key,
        items: first..end,
        starts,
    })
}

/// Parse `text` in stretches of about `stretch_bytes` items; `None` when the file
/// does not have the layout, a stretch would be alone, or anything differs from
/// a plain parse (see the module comment).
pub(super) fn parse(file: FileId, text: &str, stretch_bytes: usize) -> Option<Parsed> {
    let layout = layout(text)?;
    let mut bounds = vec![layout.items.start];
    for &start in &layout.starts[1..] {
        if start - bounds[bounds.len() - 1] >= stretch_bytes {
            bounds.push(start);
        }
    }
    if bounds.len() < 2 {
        return None;
    }
    bounds.push(layout.items.end);
    let ranges: Vec<Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
    let (skeleton, stretches) = crate::parallel::join(
        true,
        || skeleton(file, text, &layout),
        || {
            // One collection (the top-level mapping) is open around the items.
            crate::parallel::map_indexed(&ranges, 2, |_, range| {
                parse_stretch(file, text, range.clone(), 1)
            })
        },
    );
    let mut document = skeleton?;
    let mut items = Vec::with_capacity(layout.starts.len());
    let mut span: Option<Span> = None;
    for ((parsed, aliased), range) in stretches.into_iter().zip(&ranges) {
        if aliased || !parsed.diagnostics.is_empty() {
            return None;
        }
        let mut node = parsed.document?;
        // A block scalar's span runs to the next token, which in the file is the
        // next item's `-` (or the next top-level key), past the stretch's end.
        let next_token = text[range.end..].len() - text[range.end..].trim_start_matches(' ').len();
        move_end(&mut node, range.end as u32, (range.end + next_token) as u32);
        let Node {
            span: part_span,
            value: Value::Seq(mut part),
        } = node
        else {
            return None;
        };
        span = Some(match span {
            None => part_span,
            Some(s) => Span::new(file, s.start as usize, part_span.end as usize),
        });
        items.append(&mut part);
    }
    let sequence = Node {
        span: span?,
        value: Value::Seq(items),
    };
    // Only a block mapping: in a flow mapping (`{` … `}`) the items would not be a
    // block sequence at all, which the one-piece parse refuses.
    if text.as_bytes().get(document.span.start as usize) == Some(&b'{') {
        return None;
    }
    let Value::Map(entries) = &mut document.value else {
        return None;
    };
    let last = entries.len() - 1;
    let (at, entry) = entries
        .iter_mut()
        .enumerate()
        .find(|(_, e)| e.key.value == KEY && e.key.span.start as usize == layout.key)?;
    if entry.value.value != Value::Null {
        return None;
    }
    let end = sequence.span.end;
    entry.value = sequence;
    if at == last {
        // A block mapping ends where its last value does.
        document.span.end = end;
    }
    Some(Parsed {
        document: Some(document),
        diagnostics: Vec::new(),
    })
}

/// The file without its items, parsed, spans moved back to the file's; `None`
/// unless it parses cleanly to a mapping without aliases.
fn skeleton(file: FileId, text: &str, layout: &Layout) -> Option<Node> {
    let cut = layout.items.clone();
    let rest = format!("{}{}", &text[..cut.start], &text[cut.end..]);
    let (parsed, aliased) = parse_stretch(file, &rest, 0..rest.len(), 0);
    if aliased || !parsed.diagnostics.is_empty() {
        return None;
    }
    let mut document = parsed.document?;
    if !matches!(document.value, Value::Map(_)) {
        return None;
    }
    let moved = (cut.end - cut.start) as u32;
    let at = cut.start as u32;
    shift(&mut document, at, moved);
    Some(document)
}

/// Move the end of a node that ends at `from`, and of its last descendants, to `to`.
fn move_end(node: &mut Node, from: u32, to: u32) {
    if node.span.end != from {
        return;
    }
    node.span.end = to;
    match &mut node.value {
        Value::Seq(items) => {
            if let Some(last) = items.last_mut() {
                move_end(last, from, to);
            }
        }
        Value::Map(entries) => {
            if let Some(last) = entries.last_mut() {
                move_end(&mut last.value, from, to);
            }
        }
        _ => {}
    }
}

/// Move every offset at or after `at` by `by` bytes.
fn shift(node: &mut Node, at: u32, by: u32) {
    let move_span = |span: &mut Span| {
        if span.start >= at {
            span.start += by;
        }
        if span.end >= at {
            span.end += by;
        }
    };
    move_span(&mut node.span);
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift(n, at, by)),
        Value::Map(entries) => {
            for e in entries {
                move_span(&mut e.key.span);
                shift(&mut e.value, at, by);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Split with one item per stretch, which must give the one-piece result.
    fn same_as_one_piece(text: &str) {
        let file = FileId(0);
        let whole = super::super::parse_yaml(file, text);
        let split = parse(file, text, 1).expect("the file splits");
        assert_eq!(split.document, whole.document, "{text}");
        assert!(whole.diagnostics.is_empty());
    }

    #[test]
    fn split_parses_equal_the_one_piece_parse() {
        for text in [
            "catalog_version: \"1\"\nmodules:\n  - a: 1\n    b: [x, y]\n  # comment\n  - c: {d: e}\n\n  - f\nworkflows:\n  w: 1\n",
            "catalog_version: \"1\"\r\nmodules:\r\n  - a: 1\r\n  - b: 2\r\n",
            "modules:\n  - name: é\n    description: \"😀 x\"\n  - name: ü\n",
            "modules:\n  - d: |\n      line\n      - not an item\n  - e: plain\n      continued\n  -\n    f: g\n",
            "x: 1\nmodules:\n\n  # first\n  - a\n  - b\n# trailing\n",
            "modules:\n  - a\n  - b\n\n# trailing\n\n",
            "modules:\n  - a\n  - b: |\n      x\n\n# trailing\n",
            "modules:\n  - d: >\n      folded\n\n  # between\n\n  - e: |\n      x\nafter: 1\n",
            "modules:\n  - d: |\n      x\n  - e: |-\n      y\n",
            "modules:\n  - d:\n      - |\n        deep\n  - e\n",
        ] {
            same_as_one_piece(text);
        }
    }

    /// Every catalog in the repository (examples and test fixtures, valid or
    /// not) either splits into what the one-piece parse gives or is refused.
    #[test]
    fn repository_catalogs_split_like_one_piece_or_not_at_all() {
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
        let mut split = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if path.is_dir() && !name.starts_with('.') && name != "target" {
                    dirs.push(path);
                } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    let file = FileId(0);
                    if let Some(parsed) = parse(file, &text, 1) {
                        let whole = super::super::parse_yaml(file, &text);
                        assert_eq!(parsed.document, whole.document, "{}", path.display());
                        assert!(whole.diagnostics.is_empty(), "{}", path.display());
                        split += 1;
                    }
                }
            }
        }
        assert!(split > 10, "only {split} files split");
    }

    #[test]
    fn anything_unusual_is_left_to_the_one_piece_parse() {
        let file = FileId(0);
        for text in [
            // An alias to an anchor in another stretch.
            "modules:\n  - &a {x: 1}\n  - *a\n",
            // A flow collection across an item line.
            "modules:\n  - [a,\n  - b]\n",
            // A duplicate key inside an item.
            "modules:\n  - a: 1\n    a: 2\n  - b\n",
            // A second `modules`.
            "modules:\n  - a\n  - b\nmodules: []\n",
            // Not a block sequence.
            "modules:\n  a: 1\n  b: 2\n",
            "modules: [a, b]\n",
            // A flow mapping around it.
            "{\nmodules:\n  - a\n  - b\n}\n",
            "modules:\n- a: 1\n- b: 2\n",
        ] {
            assert!(parse(file, text, 1).is_none(), "{text}");
        }
    }

    #[test]
    fn the_layout_names_every_item() {
        let text = "v: 1\nmodules:\n  - a\n  - b: |\n\n      - c\n  - d\nafter: 1\n";
        let layout = layout(text).unwrap();
        assert_eq!(
            &text[layout.items.clone()],
            "  - a\n  - b: |\n\n      - c\n  - d\n"
        );
        assert_eq!(layout.starts.len(), 3);
    }
}
