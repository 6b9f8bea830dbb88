//! Source files and spans, shared by every stage.
//!
//! Every value read from a catalog keeps the byte range it came from, so any later
//! stage (schema, check, graph, plan) can point at the exact line that caused its
//! complaint. Spans are small (`FileId` + byte range) and are resolved to
//! line/column only when a diagnostic is rendered.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file the range belongs to.
    pub file: FileId,
    /// Start byte offset (inclusive).
    pub start: u32,
    /// End byte offset (exclusive).
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` in `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span {
            file,
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The character of `text` at byte `at`, all of its bytes (a label must not
    /// split a character); empty at the end of the text.
    pub fn char_at(file: FileId, text: &str, at: usize) -> Self {
        let width = text
            .get(at..)
            .and_then(|rest| rest.chars().next())
            .map_or(0, char::len_utf8);
        Span::new(file, at, at + width)
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A value together with the span it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pair a value with its span.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Bytes between the character-count checkpoints of a [`SourceFile`].
const CHAR_CHECKPOINT_STRIDE: usize = 4096;

/// One loaded source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path shown to users: as given on the command line, `/`-separated.
    pub name: String,
    /// The path used to read the file.
    pub path: PathBuf,
    /// The file's text (empty when it could not be decoded).
    pub text: Arc<str>,
    /// Byte offset of the start of every line, for line/column lookups.
    line_starts: Vec<u32>,
    /// Characters before every multiple of [`CHAR_CHECKPOINT_STRIDE`] bytes, built on
    /// the first column lookup in non-ASCII text: without it, columns on one huge
    /// line cost the line's length each, and many diagnostics on it are quadratic.
    char_checkpoints: OnceLock<Vec<u32>>,
}

impl SourceFile {
    /// A source file from its display name, path and text.
    pub fn new(path: &Path, text: Arc<str>) -> Self {
        let name = display_name(path);
        // Line breaks as YAML counts them: `\n`, `\r\n`, and a lone `\r` (old Mac
        // files parse, so their problems must not all land on line 1).
        let bytes = text.as_bytes();
        let line_starts = std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|&(i, &b)| {
                        b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
                    })
                    .map(|(i, _)| i as u32 + 1),
            )
            .collect();
        SourceFile {
            name,
            path: path.to_path_buf(),
            text,
            line_starts,
            char_checkpoints: OnceLock::new(),
        }
    }

    /// The number of lines (a final line without a newline counts; an empty file has one).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The 0-based line holding a byte offset.
    pub fn line_index(&self, offset: u32) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// The byte range of a 0-based line, without its line break (`\n` or `\r\n`).
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = (self.line_starts[line] as usize).min(self.text.len());
        let mut end = self
            .line_starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next as usize - 1);
        if end > start && self.text.as_bytes()[end - 1] == b'\r' && end < self.text.len() {
            end -= 1;
        }
        start..end.max(start)
    }

    /// Where the text of a line starts: after a UTF-8 byte order mark on the first line,
    /// which no editor shows and no column counts.
    pub fn content_start(&self, line: usize) -> usize {
        let start = self.line_starts[line] as usize;
        if start == 0 && self.text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            start
        }
    }

    /// Characters in `text[..offset]` (an offset inside a character counts it).
    fn chars_before(&self, offset: usize) -> usize {
        let bytes = self.text.as_bytes();
        let offset = offset.min(bytes.len());
        let count = |range: &[u8]| range.iter().filter(|&&b| (b as i8) >= -0x40).count();
        let checkpoints = self.char_checkpoints.get_or_init(|| {
            let mut total = 0u32;
            let mut points = vec![0];
            for chunk in bytes.chunks(CHAR_CHECKPOINT_STRIDE) {
                total += count(chunk) as u32;
                points.push(total);
            }
            points
        });
        let block = offset / CHAR_CHECKPOINT_STRIDE;
        checkpoints[block] as usize + count(&bytes[block * CHAR_CHECKPOINT_STRIDE..offset])
    }

    /// 1-based line and column (in characters, after a byte order mark) of a byte offset.
    /// Costs a binary search plus at most a few kilobytes of counting, whatever the
    /// length of the line.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = self.line_index(offset);
        let start = self.content_start(line);
        let end = (offset as usize).clamp(start, self.text.len());
        let column = if end - start <= CHAR_CHECKPOINT_STRIDE {
            let slice = &self.text.as_bytes()[start..end];
            slice.iter().filter(|&&b| (b as i8) >= -0x40).count()
        } else {
            self.chars_before(end) - self.chars_before(start)
        };
        (line + 1, column + 1)
    }
}

/// `path` with `/` between components. Only where `\` separates them: on Unix it
/// is a character of a file name, and rewriting it would name another file.
pub(crate) fn slashed(path: &Path) -> String {
    let text = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '\\' {
        text.replace('\\', "/")
    } else {
        text.into_owned()
    }
}

/// Normalise a path for display: `/`-separated, without a leading `./`.
pub(crate) fn display_name(path: &Path) -> String {
    let s = slashed(path);
    let mut s = s.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_string()
}

/// All files read during one invocation, indexed by [`FileId`].
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Add a file and return its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// All files in load order.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file was loaded.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(text: &str, offset: usize) -> (usize, usize) {
        // A lone `\r` breaks a line like `\n`; in `\r\n` only the `\n` counts.
        let lines = text.replace("\r\n", "\0\n").replace('\r', "\n");
        let before = &lines[..offset];
        let line = before.matches('\n').count();
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let mut column = before[start..].chars().count();
        if start == 0 && text.starts_with('\u{feff}') && offset > 0 {
            column -= 1;
        }
        (line + 1, column + 1)
    }

    proptest! {
        #[test]
        fn line_col_counts_characters_on_lines_of_any_length(
            parts in proptest::collection::vec(
                prop_oneof!["[a-z]{0,50}", "[é→😀]{0,5}", Just("\n".to_string()), Just("\r".to_string()), Just("\r\n".to_string()), "[x]{3000,9000}"],
                0..12,
            ),
            bom in any::<bool>(),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..8),
        ) {
            let text = format!("{}{}", if bom { "\u{feff}" } else { "" }, parts.concat());
            let file = SourceFile::new(Path::new("t.yaml"), Arc::from(text.as_str()));
            let boundaries: Vec<usize> =
                (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
            for pick in picks {
                let offset = *pick.get(&boundaries);
                prop_assert_eq!(file.line_col(offset as u32), naive(&text, offset), "offset {}", offset);
            }
        }
    }

    #[test]
    fn a_bom_is_not_a_column() {
        let file = SourceFile::new(Path::new("t.yaml"), Arc::from("\u{feff}ab\ncd"));
        assert_eq!(file.line_col(3), (1, 1));
        assert_eq!(file.line_col(4), (1, 2));
        assert_eq!(file.line_col(7), (2, 2));
    }
}
