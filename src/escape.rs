//! Untrusted text made safe to show a person.
//!
//! Catalog strings (names, descriptions, exec arguments), file names, `--reason` and
//! parameter values reach the terminal and CI logs. A control character in them can
//! move the cursor, erase a line or change colours, and a bidi override can reorder
//! what a reviewer reads, so one catalog could forge the verdict another line shows.
//! Every human renderer passes such text through [`untrusted`]; machine formats
//! (JSON, SARIF) keep the exact text, escaped by their own syntax. Diagnostic
//! messages that quote a catalog value (`schema::quote`) escape it here too, with the
//! same escapes: a message is prose for people in every format.
//!
//! Escapes are visible and unambiguous to a reader: `\e`, `\r`, `\n`, `\t`, `\0`,
//! else `\u{…}` with the code point in hex. Backslashes are left alone: they cannot
//! change what a terminal shows, and doubling them would garble regexes and Windows
//! paths quoted in messages.

use std::borrow::Cow;

/// Whether a character must not reach a terminal as is: C0 and C1 controls, DEL,
/// bidi embeddings, overrides, isolates and marks, the Unicode line and paragraph
/// separators (which some viewers treat as line breaks), and the invisible
/// zero-width space and byte order mark (which make two names look equal).
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{feff}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Append the visible escape of `c` (which [`needs_escape`]) to `out`.
pub(crate) fn push_escaped(out: &mut String, c: char) {
    match c {
        '\u{1b}' => out.push_str("\\e"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every character that [`needs_escape`] replaced by a visible escape;
/// borrowed when there is none (the common case).
pub(crate) fn untrusted(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_become_visible_escapes() {
        assert_eq!(
            untrusted("innocent\u{1b}[2K\rFAKE: all good"),
            "innocent\\e[2K\\rFAKE: all good"
        );
        assert_eq!(untrusted("a\nb\tc\0d\u{7}"), "a\\nb\\tc\\0d\\u{7}");
        assert_eq!(untrusted("\u{7f}\u{9b}"), "\\u{7f}\\u{9b}");
    }

    #[test]
    fn bidi_controls_are_escaped() {
        assert_eq!(untrusted("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(untrusted("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let text = "café → ünïcode \\d+ 'quotes' \"double\"";
        assert!(matches!(untrusted(text), Cow::Borrowed(t) if t == text));
    }
}
