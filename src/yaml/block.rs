//! A fast reader for the block-YAML subset catalogs are written in.
//!
//! saphyr-parser is a general YAML scanner: it handles every construct, copies
//! every scalar into a `String` and walks the text a character at a time through
//! an iterator, which made it about a third of the CPU of loading a large
//! catalog. Catalogs use a small, line-oriented part of YAML: block mappings and
//! sequences, comments, one-line plain and quoted scalars and one-line flow
//! collections. This module reads exactly that part, line by line on bytes, and
//! feeds the same [`Builder`] calls, with the same spans, that the saphyr path
//! would, so the tree, the scalar resolution and the limits are shared code.
//!
//! It refuses (returns `None`) anything it does not fully understand, and the
//! caller then parses with saphyr-parser, which reports what it always did:
//! tabs, control characters, anchors, aliases, tags, directives, document
//! markers, block scalars, multi-line scalars and flow collections, complex or
//! quoted keys, empty sequence items, comments inside flow collections, any
//! syntax error and any diagnostic the builder raises (a duplicate key, too deep).
//! A differential test and a property test compare both paths (see `tests`).

use std::borrow::Cow;

use saphyr_parser::ScalarStyle;

use super::{Builder, Parsed};
use crate::source::{FileId, Span};

/// Refusal: the caller falls back to saphyr-parser.
struct Refuse;

type R<T> = Result<T, Refuse>;

/// saphyr-parser looks at most 1024 characters ahead for a key's `:`.
const MAX_KEY_BYTES: usize = 1000;

/// The saphyr path refuses input that makes it read far ahead of its last event
/// (`READ_AHEAD_INDICATORS`); staying well below that between two events, and on
/// any one line, keeps both paths in agreement.
const MAX_GAP_BYTES: usize = 100_000;

/// Parse `text[range]` like `parse_stretch` does, if it is in the subset.
pub(super) fn parse_stretch(
    file: FileId,
    text: &str,
    range: std::ops::Range<usize>,
    outer_depth: usize,
) -> Option<Parsed> {
    if !plain_characters(&text.as_bytes()[range.clone()]) {
        return None;
    }
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        end: range.end,
        file,
        b: Builder::new(file, text, outer_depth),
        last_event: range.start,
    };
    reader.document(range.start).ok()?;
    let parsed = reader.b.finish();
    (parsed.diagnostics.is_empty() && parsed.document.is_some()).then_some(parsed)
}

/// Only characters both paths treat alike: no tab, no control character but
/// line breaks (a carriage return only before a line feed), no C1 control, no
/// byte order mark, no Unicode line or paragraph separator, no non-character.
fn plain_characters(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' | b' '..=b'~' => {}
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
            0..=0x7f => return false,
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => return false,
            0xe2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                return false
            }
            0xef if (bytes.get(i + 1) == Some(&0xbb) && bytes.get(i + 2) == Some(&0xbf))
                || (bytes.get(i + 1) == Some(&0xbf)
                    && matches!(bytes.get(i + 2), Some(0xbe | 0xbf))) =>
            {
                return false
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// One line: where it starts, where its content starts (after the
/// indentation), where it ends (before `\r\n` or `\n`) and where the next starts.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    content: usize,
    end: usize,
    next: usize,
}

impl Line {
    fn indent(&self) -> usize {
        self.content - self.start
    }
}

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    /// End of the stretch being read.
    end: usize,
    file: FileId,
    b: Builder<'t>,
    /// Where the last event was, for [`MAX_GAP_BYTES`].
    last_event: usize,
}

impl<'t> Reader<'t> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    /// Every event passes here, so the distance between events is checked.
    fn event(&mut self, at: usize) -> R<()> {
        if at.saturating_sub(self.last_event) > MAX_GAP_BYTES {
            return Err(Refuse);
        }
        self.last_event = at;
        Ok(())
    }

    fn line_at(&self, start: usize) -> R<Line> {
        let rest = &self.bytes[start..self.end];
        let (mut end, next) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => (start + i, start + i + 1),
            None => (self.end, self.end),
        };
        if end > start && self.bytes[end - 1] == b'\r' {
            end -= 1;
        }
        if end - start > MAX_GAP_BYTES {
            return Err(Refuse);
        }
        let content = start
            + rest
                .iter()
                .take(end - start)
                .take_while(|&&c| c == b' ')
                .count();
        let body = &self.bytes[content..end];
        if content == start && (body.starts_with(b"---") || body.starts_with(b"...")) {
            return Err(Refuse);
        }
        Ok(Line {
            start,
            content,
            end,
            next,
        })
    }

    /// The next line with content from `from`, skipping blank and comment lines.
    fn next_content(&self, mut from: usize) -> R<Option<Line>> {
        while from < self.end {
            let line = self.line_at(from)?;
            if line.content < line.end && self.bytes[line.content] != b'#' {
                return Ok(Some(line));
            }
            from = line.next;
        }
        Ok(None)
    }

    fn document(&mut self, from: usize) -> R<()> {
        let Some(first) = self.next_content(from)? else {
            return Err(Refuse);
        };
        self.b
            .document_start(self.span(from, from))
            .map_err(|_| Refuse)?;
        if self.block_node(first)?.is_some() {
            return Err(Refuse);
        }
        Ok(())
    }

    fn is_dash(&self, line: &Line) -> bool {
        self.bytes[line.content] == b'-'
            && (line.content + 1 == line.end || self.bytes[line.content + 1] == b' ')
    }

    /// A block collection starting on `line`; gives the first line after it.
    fn block_node(&mut self, line: Line) -> R<Option<Line>> {
        if self.is_dash(&line) {
            self.block_seq(line, false)
        } else {
            self.block_map(line, line.content)
        }
    }

    fn skip_spaces(&self, mut at: usize, end: usize) -> usize {
        while at < end && self.bytes[at] == b' ' {
            at += 1;
        }
        at
    }

    /// The `:` ending a block key that starts at `at`, if the line is `key: ...`.
    fn find_key(&self, at: usize, end: usize) -> Option<usize> {
        let line = &self.bytes[at..end];
        for (i, &c) in line.iter().enumerate() {
            match c {
                b':' if i + 1 == line.len() || line[i + 1] == b' ' => return Some(at + i),
                b'#' if i > 0 && line[i - 1] == b' ' => return None,
                _ => {}
            }
        }
        None
    }

    /// Whether a plain scalar may start here: not an indicator, `-` only before
    /// a word character.
    fn plain_start(&self, at: usize, end: usize) -> bool {
        match self.bytes[at] {
            b'-' => {
                at + 1 < end
                    && (self.bytes[at + 1].is_ascii_alphanumeric() || self.bytes[at + 1] == b'.')
            }
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' => false,
            _ => true,
        }
    }

    fn scalar(&mut self, text: &str, style: ScalarStyle, start: usize, end: usize) -> R<()> {
        self.event(start)?;
        let span = self.span(start, end);
        self.b
            .scalar(text, style, 0, None, span)
            .map_err(|_| Refuse)
    }

    fn block_end(&mut self) -> R<()> {
        // A block collection ends where its last child does; the end event's
        // span only matters for flow collections.
        let end = self.text.len();
        self.b
            .collection_end(self.span(end, end))
            .map_err(|_| Refuse)
    }

    /// A block mapping whose first key starts at `at` on `line`.
    fn block_map(&mut self, mut line: Line, mut at: usize) -> R<Option<Line>> {
        let indent = at - line.start;
        self.event(at)?;
        self.b
            .mapping_start(0, None, self.span(at, at))
            .map_err(|_| Refuse)?;
        loop {
            let colon = self.find_key(at, line.end).ok_or(Refuse)?;
            let key_end = at + self.text[at..colon].trim_end_matches(' ').len();
            if key_end == at || colon - at > MAX_KEY_BYTES || !self.plain_start(at, key_end) {
                return Err(Refuse);
            }
            self.scalar(&self.text[at..key_end], ScalarStyle::Plain, at, key_end)?;
            let value = self.skip_spaces(colon + 1, line.end);
            let next = if value == line.end || self.bytes[value] == b'#' {
                match self.next_content(line.next)? {
                    Some(l) if l.indent() > indent => self.block_node(l)?,
                    Some(l) if l.indent() == indent && self.is_dash(&l) => {
                        self.block_seq(l, true)?
                    }
                    next => {
                        self.scalar("", ScalarStyle::Plain, colon, colon)?;
                        next
                    }
                }
            } else {
                self.inline_value(value, line.end)?;
                self.next_content(line.next)?
            };
            match next {
                None => break,
                Some(l) if l.indent() == indent && !self.is_dash(&l) => {
                    line = l;
                    at = l.content;
                }
                Some(l) if l.indent() < indent => {
                    self.block_end()?;
                    return Ok(Some(l));
                }
                Some(_) => return Err(Refuse),
            }
        }
        self.block_end()?;
        Ok(None)
    }

    /// A block sequence whose first `-` is `line`'s content. An indentless one
    /// (at its key's indentation) starts, for saphyr-parser, at its first item.
    fn block_seq(&mut self, mut line: Line, indentless: bool) -> R<Option<Line>> {
        let indent = line.indent();
        let mut first = true;
        loop {
            let dash = line.content;
            if dash + 1 == line.end {
                return Err(Refuse);
            }
            let at = self.skip_spaces(dash + 1, line.end);
            if at == line.end || self.bytes[at] == b'#' {
                return Err(Refuse);
            }
            if first {
                let start = if indentless { at } else { dash };
                self.event(start)?;
                self.b
                    .sequence_start(0, None, self.span(start, start))
                    .map_err(|_| Refuse)?;
                first = false;
            }
            let next = match self.bytes[at] {
                b'[' | b'{' | b'"' | b'\'' => {
                    self.inline_value(at, line.end)?;
                    self.next_content(line.next)?
                }
                _ if self.find_key(at, line.end).is_some() => self.block_map(line, at)?,
                _ => {
                    self.inline_value(at, line.end)?;
                    self.next_content(line.next)?
                }
            };
            match next {
                None => break,
                Some(l) if l.indent() == indent && self.is_dash(&l) => line = l,
                Some(l) if l.indent() <= indent => {
                    self.block_end()?;
                    return Ok(Some(l));
                }
                Some(_) => return Err(Refuse),
            }
        }
        self.block_end()?;
        Ok(None)
    }

    /// A value on the rest of a line from `at`: a flow collection, a quoted or a
    /// plain scalar, then at most a comment.
    fn inline_value(&mut self, at: usize, end: usize) -> R<()> {
        match self.bytes[at] {
            b'[' | b'{' => {
                let after = self.flow(at, end)?;
                let rest = self.skip_spaces(after, end);
                if rest == end || (rest > after && self.bytes[rest] == b'#') {
                    Ok(())
                } else {
                    Err(Refuse)
                }
            }
            b'"' | b'\'' => {
                let (value, after) = self.quoted(at, end)?;
                let rest = self.skip_spaces(after, end);
                // saphyr-parser's span of a quoted scalar runs over the spaces
                // after it and a comment that follows.
                let span_end = if rest == end {
                    rest
                } else if rest > after && self.bytes[rest] == b'#' {
                    end
                } else {
                    return Err(Refuse);
                };
                let style = if self.bytes[at] == b'"' {
                    ScalarStyle::DoubleQuoted
                } else {
                    ScalarStyle::SingleQuoted
                };
                self.scalar(&value, style, at, span_end)
            }
            _ => {
                if !self.plain_start(at, end) {
                    return Err(Refuse);
                }
                let line = &self.bytes[at..end];
                let mut stop = line.len();
                for i in 1..line.len() {
                    if line[i] == b'#' && line[i - 1] == b' ' {
                        stop = i;
                        break;
                    }
                    if line[i] == b':' && (i + 1 == line.len() || line[i + 1] == b' ') {
                        return Err(Refuse);
                    }
                }
                let value = self.text[at..at + stop].trim_end_matches(' ');
                self.scalar(value, ScalarStyle::Plain, at, at + value.len())
            }
        }
    }

    /// A one-line quoted scalar at `at`: its value and where its closing quote ends.
    fn quoted(&self, at: usize, end: usize) -> R<(Cow<'t, str>, usize)> {
        let text: &'t str = self.text;
        let quote = self.bytes[at];
        let body = at + 1;
        let mut i = body;
        let mut owned: Option<String> = None;
        let mut from = body;
        loop {
            if i >= end {
                return Err(Refuse);
            }
            let c = self.bytes[i];
            if c == quote {
                if quote == b'\'' && i + 1 < end && self.bytes[i + 1] == b'\'' {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&text[from..i]);
                    s.push('\'');
                    i += 2;
                    from = i;
                    continue;
                }
                let value = match owned {
                    Some(mut s) => {
                        s.push_str(&text[from..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[body..i]),
                };
                return Ok((value, i + 1));
            }
            if c == b'\\' && quote == b'"' {
                if i + 1 >= end {
                    return Err(Refuse);
                }
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&text[from..i]);
                let (ch, len) = self.escape(i + 1, end)?;
                s.push(ch);
                i += 1 + len;
                from = i;
                continue;
            }
            i += 1;
        }
    }

    /// The character a double-quoted escape stands for, and its length after `\`.
    fn escape(&self, at: usize, end: usize) -> R<(char, usize)> {
        let simple = match self.bytes[at] {
            b'0' => '\0',
            b'a' => '\x07',
            b'b' => '\x08',
            b't' => '\t',
            b'n' => '\n',
            b'v' => '\x0b',
            b'f' => '\x0c',
            b'r' => '\r',
            b'e' => '\x1b',
            b' ' => ' ',
            b'"' => '"',
            b'/' => '/',
            b'\\' => '\\',
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' | b'u' | b'U' => {
                let digits = match self.bytes[at] {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = self.text.get(at + 1..at + 1 + digits).ok_or(Refuse)?;
                if at + 1 + digits > end || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(Refuse);
                }
                let value = u32::from_str_radix(hex, 16).map_err(|_| Refuse)?;
                return char::from_u32(value).map(|c| (c, 1 + digits)).ok_or(Refuse);
            }
            _ => return Err(Refuse),
        };
        Ok((simple, 1))
    }

    /// A one-line flow collection at `at`; gives where it ends.
    fn flow(&mut self, at: usize, end: usize) -> R<usize> {
        let open = self.bytes[at];
        let close = if open == b'[' { b']' } else { b'}' };
        self.event(at)?;
        let start = self.span(at, at + 1);
        if open == b'[' {
            self.b.sequence_start(0, None, start)
        } else {
            self.b.mapping_start(0, None, start)
        }
        .map_err(|_| Refuse)?;
        let mut i = self.skip_spaces(at + 1, end);
        if i < end && self.bytes[i] == close {
            return self.flow_end(i, end);
        }
        loop {
            if open == b'{' {
                i = self.flow_key(i, end)?;
            }
            i = self.flow_item(i, end)?;
            if i >= end {
                return Err(Refuse);
            }
            match self.bytes[i] {
                b',' => {
                    i = self.skip_spaces(i + 1, end);
                    if i >= end || self.bytes[i] == close {
                        return Err(Refuse);
                    }
                }
                c if c == close => return self.flow_end(i, end),
                _ => return Err(Refuse),
            }
        }
    }

    /// The closing bracket at `at`; gives where it ends.
    fn flow_end(&mut self, at: usize, end: usize) -> R<usize> {
        self.event(at)?;
        let after = at + 1;
        // The closing bracket's span, like a quoted scalar's, runs over the
        // spaces and a comment after it; a flow collection's node ends there.
        let rest = self.skip_spaces(after, end);
        let span_end = if rest < end && rest > after && self.bytes[rest] == b'#' {
            end
        } else {
            rest
        };
        self.b
            .collection_end(self.span(at, span_end))
            .map_err(|_| Refuse)?;
        Ok(after)
    }

    /// Where a plain scalar inside a flow collection, starting at `at`, stops: at
    /// the first indicator that can end it (or `end`).
    fn flow_plain_end(&self, at: usize, end: usize) -> usize {
        self.bytes[at..end]
            .iter()
            .position(|b| matches!(b, b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#'))
            .map_or(end, |n| at + n)
    }

    /// A flow mapping's plain key and its `: `; gives where the value starts.
    fn flow_key(&mut self, at: usize, end: usize) -> R<usize> {
        if at >= end || !self.plain_start(at, end) {
            return Err(Refuse);
        }
        let i = self.flow_plain_end(at, end);
        if i + 1 >= end || self.bytes[i] != b':' || self.bytes[i + 1] != b' ' {
            return Err(Refuse);
        }
        let key = self.text[at..i].trim_end_matches(' ');
        self.scalar(key, ScalarStyle::Plain, at, at + key.len())?;
        Ok(self.skip_spaces(i + 1, end))
    }

    /// A flow item (scalar or nested collection) at `at`; gives where the next
    /// `,` or closing bracket should be.
    fn flow_item(&mut self, at: usize, end: usize) -> R<usize> {
        if at >= end {
            return Err(Refuse);
        }
        match self.bytes[at] {
            b'[' | b'{' => {
                let after = self.flow(at, end)?;
                Ok(self.skip_spaces(after, end))
            }
            b'"' | b'\'' => {
                let (value, after) = self.quoted(at, end)?;
                let rest = self.skip_spaces(after, end);
                let style = if self.bytes[at] == b'"' {
                    ScalarStyle::DoubleQuoted
                } else {
                    ScalarStyle::SingleQuoted
                };
                self.scalar(&value, style, at, rest)?;
                Ok(rest)
            }
            _ => {
                if !self.plain_start(at, end) {
                    return Err(Refuse);
                }
                let i = self.flow_plain_end(at, end);
                if i >= end || !matches!(self.bytes[i], b',' | b']' | b'}') {
                    return Err(Refuse);
                }
                // saphyr-parser refuses `-` before a flow indicator in a flow
                // scalar (`[a -]`).
                if self.bytes[at..i].trim_ascii_end().ends_with(b"-") {
                    return Err(Refuse);
                }
                let value = self.text[at..i].trim_end_matches(' ');
                self.scalar(value, ScalarStyle::Plain, at, at + value.len())?;
                Ok(i)
            }
        }
    }
}

// The benchmarks' catalog generator, for the differential test.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../benches/support/catalog_gen.rs"]
mod catalog_gen;
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../benches/support/xorshift.rs"]
mod xorshift;

#[cfg(test)]
mod tests {
    use super::super::saphyr_stretch;
    use super::*;
    use proptest::prelude::*;

    use super::catalog_gen;

    /// The fast path on `text[range]`, checked against saphyr-parser: when it
    /// accepts, the tree (spans included) and the diagnostics are the same.
    /// Returns whether it accepted.
    fn agrees(text: &str, range: std::ops::Range<usize>, outer_depth: usize) -> bool {
        let file = FileId(0);
        let Some(fast) = parse_stretch(file, text, range.clone(), outer_depth) else {
            return false;
        };
        let (slow, aliased) = saphyr_stretch(file, text, range, outer_depth);
        assert!(!aliased, "{text:?}");
        assert_eq!(fast.diagnostics, slow.diagnostics, "{text:?}");
        if fast.document != slow.document {
            let (a, b) = (
                format!("{:?}", fast.document),
                format!("{:?}", slow.document),
            );
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let from = at.saturating_sub(300);
            panic!(
                "{text:?}\nfast: …{}\nslow: …{}",
                &a[from..(at + 80).min(a.len())],
                &b[from..(at + 80).min(b.len())]
            );
        }
        true
    }

    fn whole(text: &str) -> bool {
        agrees(text, 0..text.len(), 0)
    }

    /// The part after a `modules:` line, read as the split path reads a stretch.
    fn after_modules(text: &str) -> bool {
        match text.find("\nmodules:\n") {
            Some(i) => agrees(text, i + "\nmodules:\n".len()..text.len(), 1),
            None => false,
        }
    }

    #[test]
    fn catalog_shapes_are_read_and_agree() {
        for text in [
            "a: 1\nb:\n  - x\n  - \"q\\tz\"\n  - k: v\n    j: \n  - [a, {b: c}, []]\nc:\nd: {}\ne:\n- i1\n- i2\nf: 's''q' # c\n",
            "k :\nl: # c\nm:",
            "a: 'x'   \nb: [\"a\" , 'b' ]\nc: 'x'  # c  \n",
            "a: 'x' # c\r\nb: 1\r\nc:\r\n  - x\r\n  - 'y'\r\nd: \"z\"\r\n",
            "s:\n  - a\n  -  b\n  -   k: v\n      j: w\n",
            "a: {x: 1, y: [a, b], z: \"q\"}\nb: [ a , b ]\nc: { }\n",
            "- k:\n  - x\n- y\n",
            "é: ü\nkey: \"😀 \\u00e9\\x41\\N\"\n",
        ] {
            assert!(whole(text), "refused: {text:?}");
        }
    }

    #[test]
    fn anything_outside_the_subset_is_refused() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  x\n",
            "a: b\n  c\n",
            "a:\tb\n",
            "---\na: 1\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\na: 2\n",
            "[a]: 1\n",
            "\"a\": 1\n",
            "a: [b,\n  c]\n",
            "a: \"b\n  c\"\n",
            "- \n- a\n",
            "a: b: c\n",
            "",
            "# only a comment\n",
            "<<: {a: 1}\n",
        ] {
            assert!(
                parse_stretch(FileId(0), text, 0..text.len(), 0).is_none(),
                "{text:?}"
            );
        }
    }

    /// Every YAML file in the repository, and the generated benchmark catalogs.
    #[test]
    fn repository_and_benchmark_catalogs_agree() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut dirs: Vec<_> = ["catalogs", "tests/fixtures", "examples"]
            .iter()
            .map(|d| root.join(d))
            .collect();
        let (mut seen, mut read) = (0, 0);
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if path.is_dir() {
                    dirs.push(path);
                } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                    let Ok(text) = std::fs::read_to_string(&path) else {
                        continue;
                    };
                    seen += 1;
                    read += usize::from(whole(&text));
                    after_modules(&text);
                }
            }
        }
        assert!(read * 2 > seen, "only {read} of {seen} files read");
        let dir = std::env::temp_dir().join(format!("rune-block-{}", std::process::id()));
        let files = catalog_gen::write_catalog_split(&dir, 30, 10);
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(whole(&text), "{}", path.display());
            assert!(after_modules(&text), "{}", path.display());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `RUNE_BLOCK_DIR=/tmp/scale cargo test --lib block -- --ignored`: the
    /// full-size benchmark shapes.
    #[test]
    #[ignore]
    fn files_in_rune_block_dir_agree() {
        let dir = std::env::var("RUNE_BLOCK_DIR").expect("RUNE_BLOCK_DIR");
        let mut dirs = vec![std::path::PathBuf::from(dir)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(whole(&text), "{}", path.display());
                }
            }
        }
    }

    const KEYS: &[&str] = &[
        "a",
        "b",
        "a",
        "key with space",
        "1.10",
        "~",
        "null",
        "-k",
        "k#x",
        "é",
        "yes",
        "a b ",
        "x,y",
        "x[y",
        "<<",
        "k: ",
        "#k",
        "'q'",
        "\"d\"",
        "? k",
        "k:x",
    ];
    const SCALARS: &[&str] = &[
        "yes",
        "0x1f",
        "0X1F",
        "1e3",
        ".inf",
        "-.Inf",
        ".nan",
        "~",
        "null",
        "Null",
        "",
        "-1",
        "+1",
        "1.5",
        ".5",
        "0o17",
        "True",
        "FALSE",
        "a b",
        "a#b",
        "a #b",
        "a:b",
        "a: b",
        "é",
        "😀",
        "[x]",
        "{y}",
        "x,y",
        "'q'",
        "\"d\"",
        "\"a\\tb\"",
        "\"\\u00e9\\x41\\N\\_\\/\"",
        "'it''s'",
        "''",
        "\"\"",
        "\"un",
        "'un",
        "- x",
        "-x",
        "? x",
        "&a x",
        "*a",
        "!t x",
        "|",
        ">",
        "%x",
        "@x",
        "`x",
        "a ",
        "x:",
        "\"a\\qb\"",
        "\"\\ud800\"",
        "\"\\U0001F600\"",
        "[a, b]",
        "[]",
        "{}",
        "[ ]",
        "{a: 1, b: [x, 'y']}",
        "[ a , \"b\" ]",
        "[a,]",
        "{a: }",
        "[a: b]",
        "{a:b}",
        "[[a], {k: v}]",
        "{a: 1, a: 2}",
        "[\"x\" ,'y' ]",
        "[a #b]",
        "{a}",
        "[-1, .5, ~]",
        "'a' 'b'",
        "\"x\": y",
        "a  b",
        "- ",
        "---",
        "...",
    ];
    const TAILS: &[&str] = &["", "", "  ", " # c", "# c", " #", "\t", " \"x\"", " ''"];

    fn line() -> impl Strategy<Value = String> {
        let indent = prop_oneof![Just(0usize), Just(2), Just(4), Just(6), 0usize..8];
        let key = proptest::sample::select(KEYS);
        let scalar = proptest::sample::select(SCALARS);
        let tail = proptest::sample::select(TAILS);
        let body = prop_oneof![
            4 => (key.clone(), scalar.clone()).prop_map(|(k, v)| format!("{k}: {v}")),
            2 => key.clone().prop_map(|k| format!("{k}:")),
            2 => scalar.clone().prop_map(|v| format!("- {v}")),
            2 => (key.clone(), scalar.clone()).prop_map(|(k, v)| format!("- {k}: {v}")),
            1 => key.prop_map(|k| format!("- {k}:")),
            1 => Just("-".to_string()),
            1 => Just("# comment".to_string()),
            1 => Just(String::new()),
            1 => scalar.prop_map(|v| v.to_string()),
        ];
        (indent, body, tail).prop_map(|(i, b, t)| format!("{}{b}{t}", " ".repeat(i)))
    }

    fn document() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(line(), 1..14),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(lines, crlf, last_break)| {
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = lines.join(eol);
                if last_break {
                    text.push_str(eol);
                }
                text
            })
    }

    /// A document tree, rendered as block YAML by [`render`].
    #[derive(Debug, Clone)]
    enum Tree {
        Scalar(String),
        Map(Vec<(String, Tree)>),
        Seq(Vec<Tree>),
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => proptest::sample::select(SCALARS).prop_map(str::to_string),
            2 => "[a-z0-9][a-z0-9 ._/é😀-]{0,8}",
            1 => r"[a-z0-9 .:#,'\\\[\]{}é-]{0,6}".prop_map(|s| format!("\"{}\"", s.replace('\\', "\\\\"))),
            1 => r#"[a-z0-9 .:#"\-]{0,6}"#.prop_map(|s| format!("'{s}'")),
            1 => r"[a-z0-9 .:#,'\[\]{}-]{0,8}",
        ]
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let key = prop_oneof![
            3 => proptest::sample::select(KEYS).prop_map(str::to_string),
            2 => "[a-z][a-z0-9 _-]{0,6}",
        ];
        scalar()
            .prop_map(Tree::Scalar)
            .prop_recursive(5, 48, 5, move |inner| {
                prop_oneof![
                    proptest::collection::vec((key.clone(), inner.clone()), 1..5)
                        .prop_map(Tree::Map),
                    proptest::collection::vec(inner, 1..5).prop_map(Tree::Seq),
                ]
            })
    }

    /// Rendering choices, drawn per line from a list of random numbers.
    struct Style<'a> {
        draws: &'a [u8],
        at: usize,
    }

    impl Style<'_> {
        fn next(&mut self) -> u8 {
            let d = self.draws[self.at % self.draws.len()];
            self.at += 1;
            d
        }
        fn tail(&mut self) -> &'static str {
            match self.next() % 12 {
                0 => " # c",
                1 => "  ",
                2 => " #",
                _ => "",
            }
        }
        fn step(&mut self) -> usize {
            [2, 2, 2, 4, 1, 3][self.next() as usize % 6]
        }
        fn filler(&mut self, out: &mut Vec<String>, indent: usize) {
            match self.next() % 10 {
                0 => out.push(String::new()),
                1 => out.push(format!("{}# note", " ".repeat(indent))),
                _ => {}
            }
        }
    }

    /// Lines for `tree` at `indent`; `first` is what starts the first line
    /// (`- ` of a compact item), if anything.
    fn render(
        tree: &Tree,
        indent: usize,
        first: Option<String>,
        style: &mut Style,
        out: &mut Vec<String>,
    ) {
        let mut prefix = first;
        let lead =
            |prefix: &mut Option<String>| prefix.take().unwrap_or_else(|| " ".repeat(indent));
        match tree {
            Tree::Scalar(s) => {
                let l = lead(&mut prefix);
                out.push(format!("{l}{s}{}", style.tail()));
            }
            Tree::Map(entries) => {
                for (k, v) in entries {
                    style.filler(out, indent);
                    let l = lead(&mut prefix);
                    match v {
                        Tree::Scalar(s) => out.push(format!("{l}{k}: {s}{}", style.tail())),
                        Tree::Seq(_) if style.next() % 3 == 0 => {
                            out.push(format!("{l}{k}:{}", style.tail()));
                            render(v, indent, None, style, out);
                        }
                        _ => {
                            out.push(format!("{l}{k}:{}", style.tail()));
                            let step = style.step();
                            render(v, indent + step, None, style, out);
                        }
                    }
                }
            }
            Tree::Seq(items) => {
                for item in items {
                    style.filler(out, indent);
                    let l = lead(&mut prefix);
                    let gap = if style.next() % 5 == 0 { "   " } else { " " };
                    match item {
                        Tree::Scalar(s) => out.push(format!("{l}-{gap}{s}{}", style.tail())),
                        Tree::Map(_) if style.next() % 4 != 0 => {
                            let dash = format!("{l}-{gap}");
                            let inner = dash.chars().count();
                            render(item, inner, Some(dash), style, out);
                        }
                        _ => {
                            out.push(format!("{l}-{}", style.tail()));
                            let step = style.step();
                            render(item, indent + step, None, style, out);
                        }
                    }
                }
            }
        }
    }

    fn rendered() -> impl Strategy<Value = String> {
        (
            tree(),
            proptest::collection::vec(any::<u8>(), 1..64),
            any::<bool>(),
            0usize..3,
        )
            .prop_map(|(tree, draws, crlf, root_indent)| {
                let mut out = Vec::new();
                let tree = match tree {
                    Tree::Scalar(s) => Tree::Map(vec![("root".to_string(), Tree::Scalar(s))]),
                    t => t,
                };
                render(
                    &tree,
                    root_indent,
                    None,
                    &mut Style {
                        draws: &draws,
                        at: 0,
                    },
                    &mut out,
                );
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = out.join(eol);
                text.push_str(eol);
                text
            })
    }

    proptest! {
        /// Random block documents: whatever the fast path accepts,
        /// saphyr-parser reads to the same tree with the same spans.
        #[test]
        fn accepted_trees_agree(text in rendered()) {
            whole(&text);
            agrees(&text, 0..text.len(), 1);
        }

        /// Random documents: whatever the fast path accepts, saphyr-parser reads
        /// to the same tree with the same spans.
        #[test]
        fn accepted_documents_agree(text in document()) {
            whole(&text);
            // The same lines as a stretch inside a sequence.
            agrees(&text, 0..text.len(), 1);
        }

        /// A generated catalog with characters deleted or inserted.
        #[test]
        fn mutated_catalogs_agree(
            edits in proptest::collection::vec(
                (any::<proptest::sample::Index>(), 0usize..3, proptest::sample::select(
                    &[" ", "  ", "\n", "-", ":", "#", "'", "\"", "[", "]", "{", "}", ",", "\\", "é", "\t", "&", "*", "|", "- ", ": ", "\r\n"][..])),
                1..4),
        ) {
            let mut text = SAMPLE.to_string();
            for (at, delete, insert) in edits {
                let mut i = at.index(text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                let mut j = (i + delete).min(text.len());
                while !text.is_char_boundary(j) {
                    j += 1;
                }
                text.replace_range(i..j, insert);
            }
            whole(&text);
            after_modules(&text);
        }
    }

    /// Two modules as the benchmark generators write them.
    const SAMPLE: &str = "# yaml-language-server: $schema=../schemas/catalog.schema.json
catalog_version: \"1\"
modules:
  - module_identity:
      module_name: svc-00001
      module_version: 1.1.1
      description: Generated service 1 for the validation benchmark
    capability_declaration:
      provides_events:
        - event_type: SVC_00001_EVENT_0
          schema_version: \"1.0\"
          data_schema:
            required: [id, level]
            properties:
              id: { type: string, maxLength: 9 }
              level: { enum: [info, warn, error, level0] }
            additionalProperties: false
          example_data: { id: e0, level: warn, count: 1 }
      actions:
        - action: svc-00001-action-0
          exec: [\"plugins/svc-00001-0.sh\"]
          input_schema:
            properties:
              node: { type: string, pattern: \"^[a-z0-9.-]+$\", maxLength: 65 }
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: svc-000000, criticality: optional }
    lifecycle:
      runtime: builtin
      config: { workers: 1, mode: safe }
  - module_identity:
      module_name: svc-00002
";
}
