//! Source excerpts: what the human renderer hands miette instead of a whole file.
//!
//! miette reads snippets through [`SourceCode`]; its implementation for a string scans
//! from the start of the file for every span (rendering cost: diagnostics x file
//! size), and its graphical handler pads with `{:width$}` up to the label's column,
//! which panics past column 65,535 (one line of minified JSON). An [`Excerpt`] holds
//! only the lines one diagnostic shows, found through the file's line index, each
//! line escaped ([`crate::escape`]) and, when long, cut to windows around its labels
//! with `…` where text is left out. Labels are moved to their place in the excerpt,
//! and the excerpt reports the file's own line numbers and columns, so the rendered
//! snippet reads as the file does.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use crate::escape::{needs_escape, push_escaped};
use crate::source::SourceFile;

/// Lines longer than this (in bytes) are shown as windows around their labels.
const LONG_LINE_BYTES: usize = 400;
/// Characters of a long line shown on each side of a label.
const MARGIN_CHARS: usize = 40;
/// Characters of a label's text shown on a long line before it is cut with `…`.
const MAX_LABEL_CHARS: usize = 80;
/// Characters shown from the start of a long line that holds no label.
const CONTEXT_CHARS: usize = 80;
/// A label over more lines than this is shown on its first line only.
const MAX_LABEL_LINES: usize = 20;
/// Snippets separated by at most this many lines are shown as one.
const MERGE_GAP: usize = 3;
/// Marks text left out of a long line.
const ELLIPSIS: &str = "…";

/// One diagnostic's view of a file: the lines around its labels.
#[derive(Debug)]
pub(crate) struct Excerpt {
    name: String,
    regions: Vec<Region>,
    /// `(offset in the excerpt, 0-based line, 0-based column)` of every label start,
    /// sorted: miette's header shows the primary label's line and column.
    anchors: Vec<(usize, usize, usize)>,
}

/// A run of consecutive file lines.
#[derive(Debug)]
struct Region {
    /// Offset of `text` in the excerpt's coordinates.
    base: usize,
    /// The lines as shown, each ending in `\n`.
    text: String,
    /// Offset in `text` of each line's start.
    line_starts: Vec<usize>,
    /// The 0-based file line of the first line.
    first_line: usize,
}

/// A label's byte range after clipping, with the lines it covers.
#[derive(Debug, Clone, Copy)]
struct Clipped {
    start: usize,
    end: usize,
    first_line: usize,
    last_line: usize,
    /// The label's text is cut at `end`, followed by `…`.
    cut: bool,
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// The offset `n` characters before `at`, not before `floor`.
fn chars_back(text: &str, floor: usize, at: usize, n: usize) -> usize {
    text[floor..at]
        .char_indices()
        .rev()
        .take(n)
        .last()
        .map_or(at, |(i, _)| floor + i)
}

/// The offset `n` characters after `at`, not after `ceiling`.
fn chars_forward(text: &str, at: usize, ceiling: usize, n: usize) -> usize {
    text[at..ceiling]
        .char_indices()
        .nth(n)
        .map_or(ceiling, |(i, _)| at + i)
}

impl Excerpt {
    /// The excerpt of `file` for labels at these byte ranges; returns it with each
    /// label's span in the excerpt, in the same order.
    pub(crate) fn new(file: &SourceFile, labels: &[(usize, usize)]) -> (Excerpt, Vec<SourceSpan>) {
        let text: &str = &file.text;
        let clipped: Vec<Clipped> = labels
            .iter()
            .map(|&(start, end)| Clipped::new(file, start, end))
            .collect();

        let merged = shown_runs(file, &clipped);

        // Label boundaries per line: `(line, byte offset)`.
        let mut points: Vec<(usize, usize)> = Vec::with_capacity(clipped.len() * 2);
        for c in &clipped {
            points.push((c.first_line, c.start));
            points.push((c.last_line, c.end));
        }
        points.sort_unstable();
        points.dedup();
        let mut shown_at = vec![0usize; points.len()];

        let mut regions = Vec::with_capacity(merged.len());
        let mut base = 0;
        for (first, last) in merged {
            let mut region = Region {
                base,
                text: String::new(),
                line_starts: Vec::with_capacity(last - first + 1),
                first_line: first,
            };
            for line in first..=last {
                region.line_starts.push(region.text.len());
                let from = points.partition_point(|p| p.0 < line);
                let to = points.partition_point(|p| p.0 <= line);
                let line_points: Vec<usize> = points[from..to].iter().map(|p| p.1).collect();
                let windows = windows(file, line, &clipped);
                let offsets = show_line(text, file, line, &windows, &line_points, &mut region.text);
                for (slot, offset) in shown_at[from..to].iter_mut().zip(offsets) {
                    *slot = base + offset;
                }
            }
            base += region.text.len() + 1;
            regions.push(region);
        }

        let find = |line: usize, offset: usize| {
            points
                .binary_search(&(line, offset))
                .map_or(0, |i| shown_at[i])
        };
        let mut anchors = Vec::with_capacity(clipped.len());
        let spans = clipped
            .iter()
            .map(|c| {
                let start = find(c.first_line, c.start);
                let mut end = find(c.last_line, c.end).max(start);
                // The `…` after a cut label is part of it, unless another label's
                // window goes on with the text.
                let ellipsis_follows = regions
                    .partition_point(|r| r.base <= end)
                    .checked_sub(1)
                    .and_then(|i| regions[i].text.get(end - regions[i].base..))
                    .is_some_and(|rest| rest.starts_with(ELLIPSIS));
                if c.cut && ellipsis_follows {
                    end += ELLIPSIS.len();
                }
                let (_, column) = file.line_col(c.start as u32);
                anchors.push((start, c.first_line, column - 1));
                SourceSpan::new(start.into(), end - start)
            })
            .collect();
        anchors.sort_unstable();
        let excerpt = Excerpt {
            name: crate::escape::untrusted(&file.name).into_owned(),
            regions,
            anchors,
        };
        (excerpt, spans)
    }
}

impl Clipped {
    /// A label at `start..end` of `file`, cut to what an excerpt shows of it: on
    /// character boundaries, one line when it spans many or long ones, and at most
    /// [`MAX_LABEL_CHARS`] of a long line.
    fn new(file: &SourceFile, start: usize, end: usize) -> Clipped {
        let text: &str = &file.text;
        let is_long = |line: usize| file.line_range(line).len() > LONG_LINE_BYTES;
        let mut start = floor_boundary(text, start);
        let first_line = file.line_index(start as u32);
        // Nothing is shown of a byte order mark.
        start = start.max(file.content_start(first_line));
        let mut end = ceil_boundary(text, end.max(start));
        let mut last_line = if end > start {
            file.line_index(end as u32 - 1)
        } else {
            first_line
        };
        if last_line > first_line
            && (last_line - first_line >= MAX_LABEL_LINES || (first_line..=last_line).any(is_long))
        {
            end = file.line_range(first_line).end.max(start);
            last_line = first_line;
        }
        let mut cut = false;
        if last_line == first_line && is_long(first_line) {
            let within = end.min(file.line_range(first_line).end).max(start);
            if let Some((i, _)) = text[start..within].char_indices().nth(MAX_LABEL_CHARS) {
                end = start + i;
                cut = true;
            }
        }
        Clipped {
            start,
            end,
            first_line,
            last_line,
            cut,
        }
    }
}

/// The runs of lines an excerpt shows for `clipped` labels, as (first, last).
fn shown_runs(file: &SourceFile, clipped: &[Clipped]) -> Vec<(usize, usize)> {
    let text: &str = &file.text;
    // The lines to show: each label's lines with one line of context either
    // side, runs that nearly touch joined into one.
    // The empty "line" after a final newline is shown only when a label is on it.
    let last_file_line = file
        .line_count()
        .saturating_sub(1 + usize::from(text.ends_with('\n')));
    let mut runs: Vec<(usize, usize)> = clipped
        .iter()
        .map(|c| {
            (
                c.first_line.saturating_sub(1),
                (c.last_line + 1).min(last_file_line).max(c.last_line),
            )
        })
        .collect();
    runs.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(runs.len());
    for (first, last) in runs {
        match merged.last_mut() {
            Some(run) if first <= run.1 + 1 + MERGE_GAP => run.1 = run.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    // The primary label's lines come first (miette shows snippets in excerpt
    // order, and the first header is where a reader looks), the rest by line.
    if let Some(primary) = clipped.first() {
        if let Some(i) = merged
            .iter()
            .position(|&(first, last)| (first..=last).contains(&primary.first_line))
        {
            let run = merged.remove(i);
            merged.insert(0, run);
        }
    }
    merged
}

/// The byte ranges of `line` to show: the whole line when it is short, else windows
/// around its labels (or its start when it has none), joined where they overlap.
fn windows(file: &SourceFile, line: usize, labels: &[Clipped]) -> Vec<(usize, usize)> {
    let text: &str = &file.text;
    let content = file.content_start(line)..file.line_range(line).end;
    if content.len() <= LONG_LINE_BYTES {
        return vec![(content.start, content.end)];
    }
    let mut windows: Vec<(usize, usize)> = labels
        .iter()
        .filter(|c| c.first_line == line)
        .map(|c| {
            // A label may start in the line break, past the shown text.
            let at = c.start.min(content.end);
            let start = chars_back(text, content.start, at, MARGIN_CHARS);
            let end = c.end.min(content.end).max(at);
            let end = if c.cut {
                end
            } else {
                chars_forward(text, end, content.end, MARGIN_CHARS)
            };
            (start, end)
        })
        .collect();
    if windows.is_empty() {
        windows.push((
            content.start,
            chars_forward(text, content.start, content.end, CONTEXT_CHARS),
        ));
    }
    windows.sort_unstable();
    let mut joined: Vec<(usize, usize)> = Vec::with_capacity(windows.len());
    for (start, end) in windows {
        match joined.last_mut() {
            Some(w) if start <= w.1 => w.1 = w.1.max(end),
            _ => joined.push((start, end)),
        }
    }
    joined
}

/// Append the shown form of `line` (its windows, escaped, `…` for what is left out,
/// then `\n`) to `out`; returns where each of `points` (sorted byte offsets on the
/// line) landed in `out`. A point past the line's end lands after the `\n`.
fn show_line(
    text: &str,
    file: &SourceFile,
    line: usize,
    windows: &[(usize, usize)],
    points: &[usize],
    out: &mut String,
) -> Vec<usize> {
    let content = file.content_start(line)..file.line_range(line).end;
    let mut shown = Vec::with_capacity(points.len());
    let mut next = 0;
    let mut record = |up_to: usize, at: usize, shown: &mut Vec<usize>| {
        while next < points.len() && points[next] <= up_to {
            shown.push(at);
            next += 1;
        }
    };
    for (i, &(start, end)) in windows.iter().enumerate() {
        if i > 0 || start > content.start {
            out.push_str(ELLIPSIS);
        }
        for (j, c) in text[start..end].char_indices() {
            record(start + j, out.len(), &mut shown);
            // miette expands tabs itself.
            if needs_escape(c) && c != '\t' {
                push_escaped(out, c);
            } else {
                out.push(c);
            }
        }
        record(end, out.len(), &mut shown);
    }
    if windows.last().is_some_and(|w| w.1 < content.end) {
        out.push_str(ELLIPSIS);
    }
    out.push('\n');
    record(usize::MAX, out.len(), &mut shown);
    shown
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let offset = span.offset();
        let region = self
            .regions
            .partition_point(|r| r.base <= offset)
            .checked_sub(1)
            .map(|i| &self.regions[i])
            .ok_or(MietteError::OutOfBounds)?;
        let start = offset - region.base;
        let end = start + span.len();
        if end > region.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let line_of = |at: usize| region.line_starts.partition_point(|&s| s <= at) - 1;
        let first_span_line = line_of(start);
        let last_span_line = if end > start {
            line_of(end - 1)
        } else {
            first_span_line
        };
        let first = first_span_line.saturating_sub(context_lines_before);
        let last = (last_span_line + context_lines_after).min(region.line_starts.len() - 1);
        let (data_start, column) = if context_lines_before == 0 {
            // Only the header reads a span without context: give it the label's
            // place in the file, in characters like every other format.
            let column = self
                .anchors
                .binary_search_by_key(&offset, |a| a.0)
                .map(|i| self.anchors[i].2)
                .unwrap_or_else(|_| {
                    region.text[region.line_starts[first_span_line]..start]
                        .chars()
                        .count()
                });
            (start, column)
        } else {
            (region.line_starts[first], 0)
        };
        let data_end = region
            .line_starts
            .get(last + 1)
            .copied()
            .unwrap_or(region.text.len())
            .max(data_start);
        let line = region.first_line
            + if context_lines_before == 0 {
                first_span_line
            } else {
                first
            };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            &region.text.as_bytes()[data_start..data_end],
            SourceSpan::new((region.base + data_start).into(), data_end - data_start),
            line,
            column,
            // miette joins two snippets when the first's line plus this count reaches
            // the second's line; the gap makes nearby snippets one.
            last - first + 1 + MERGE_GAP,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Path;
    use std::sync::Arc;

    /// Render labels at `ranges` of `text` the way the human renderer does.
    fn render(text: &str, ranges: &[(usize, usize)]) -> String {
        let file = SourceFile::new(Path::new("t.yaml"), Arc::from(text));
        let (excerpt, spans) = Excerpt::new(&file, ranges);
        for span in &spans {
            assert!(
                excerpt.read_span(span, 1, 1).is_ok(),
                "{span:?} in {excerpt:?}"
            );
            assert!(
                excerpt.read_span(span, 0, 0).is_ok(),
                "{span:?} in {excerpt:?}"
            );
        }
        #[derive(Debug, thiserror::Error)]
        #[error("problem")]
        struct Problem {
            excerpt: Excerpt,
            labels: Vec<miette::LabeledSpan>,
        }
        impl miette::Diagnostic for Problem {
            fn source_code(&self) -> Option<&dyn miette::SourceCode> {
                Some(&self.excerpt)
            }
            fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
                Some(Box::new(self.labels.iter().cloned()))
            }
        }
        let labels = spans
            .into_iter()
            .map(|s| miette::LabeledSpan::new_with_span(Some("here".into()), s))
            .collect();
        let mut out = String::new();
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .render_report(&mut out, &Problem { excerpt, labels })
            .expect("renders");
        out
    }

    #[test]
    fn a_label_far_out_on_a_long_line_shows_a_window() {
        let text = format!("{}BAD{}\nnext\n", "a".repeat(100_000), "b".repeat(100_000));
        let out = render(&text, &[(100_000, 100_003)]);
        assert!(out.contains("t.yaml:1:100001]"), "{out}");
        assert!(
            out.contains("…aaaa") && out.contains("BADbbb") && out.contains("b…"),
            "{out}"
        );
        assert!(out.lines().all(|l| l.chars().count() < 200), "{out}");
    }

    #[test]
    fn control_characters_in_source_lines_are_escaped_and_labels_follow() {
        // (A lone `\r` would break the line, as YAML reads it; `\u{8}` does not.)
        let out = render("key: \"a\u{1b}[2K\u{8}b\"\n", &[(12, 13)]);
        assert!(out.contains(r#"key: "a\e[2K\u{8}b""#), "{out}");
        let line = out.lines().find(|l| l.contains("key:")).unwrap();
        let marks = out.lines().find(|l| l.contains('┬')).unwrap();
        // The label sits under `b`, after the escapes.
        assert_eq!(
            line.find("b\"").map(|i| line[..i].chars().count()),
            marks.find('┬').map(|i| marks[..i].chars().count())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn any_labels_on_any_text_render(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[a-z: ]{0,30}",
                    "[é→😀\t\u{1b}\r\u{202e}]{0,4}",
                    Just("\n".to_string()),
                    Just("\r\n".to_string()),
                    "[x]{300,2000}",
                ],
                0..14,
            ),
            bom in any::<bool>(),
            labels in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..3000), 1..6),
        ) {
            let text = format!("{}{}", if bom { "\u{feff}" } else { "" }, parts.concat());
            let ranges: Vec<(usize, usize)> = labels
                .iter()
                .map(|(start, len)| {
                    let start = start.index(text.len() + 1);
                    (start, (start + len).min(text.len()))
                })
                .collect();
            let out = render(&text, &ranges);
            prop_assert!(out.lines().all(|l| l.chars().count() < 2_000), "{}", out);
        }
    }
}
