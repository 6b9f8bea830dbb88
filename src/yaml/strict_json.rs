//! Strict JSON (RFC 8259) to the same spanned tree as YAML.
//!
//! Files ending in `.json` are read as JSON, not as YAML: a JSON file that YAML
//! happens to accept (comments, trailing commas, unquoted keys) would not load in
//! the other tools that read it, and YAML's error messages talk about YAML. This
//! parser is hand-written rather than taken from a crate because it builds our
//! `Node` tree with byte spans directly, in one pass (the JSON crates with spans
//! build their own tree first, which a 37 MB catalog pays for twice), and reports
//! errors in JSON's terms with the label on the offending token. It keeps the
//! catalog parser's limits: nesting depth, duplicate keys reported.

use compact_str::CompactString;

use super::{too_deep, Entry, KeyIndex, Node, Parsed, Value, MAX_DEPTH};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span, Spanned};

/// Parse one `.json` file's text.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let mut parser = JsonParser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        file,
        depth: 0,
        diagnostics: Vec::new(),
    };
    let result = parser.document();
    let mut diagnostics = parser.diagnostics;
    match result {
        Ok(Some(node)) => Parsed {
            document: Some(node),
            diagnostics,
        },
        Ok(None) => {
            diagnostics.push(
                Diagnostic::new(Code::EmptyFile, "the catalog file is empty")
                    .with_label(Span::new(file, 0, 0), "no JSON value here")
                    .with_help("a catalog is a JSON object: `{\"catalog_version\": \"1\", \"modules\": []}`; delete the file if it is not a catalog"),
            );
            Parsed {
                document: None,
                diagnostics,
            }
        }
        Err(d) => {
            diagnostics.push(d);
            Parsed {
                document: None,
                diagnostics,
            }
        }
    }
}

type Result<T> = std::result::Result<T, Diagnostic>;

/// Said after errors that YAML would have accepted.
const RENAME_HINT: &str = "files ending in .json are read as strict JSON; \
                           rename the file to .yaml to write YAML instead";

struct JsonParser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    file: FileId,
    depth: usize,
    diagnostics: Vec<Diagnostic>,
}

impl JsonParser<'_> {
    /// The one value of the file; `None` when there is none (or only `null`).
    fn document(&mut self) -> Result<Option<Node>> {
        self.skip_whitespace()?;
        if self.pos == self.bytes.len() {
            return Ok(None);
        }
        let node = self.value()?;
        self.skip_whitespace()?;
        if self.pos < self.bytes.len() {
            let token = self.token_span(self.pos);
            return Err(self.error(
                token,
                format!(
                    "unexpected `{}` after the end of the JSON value",
                    self.slice(token)
                ),
                "a JSON file holds exactly one value",
            ));
        }
        Ok((node.value != Value::Null).then_some(node))
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    fn slice(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// The token starting at `at`: a run of word characters, else one character.
    fn token_span(&self, at: usize) -> Span {
        let rest = &self.text[at..];
        let word = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '.')))
            .unwrap_or(rest.len());
        let len = if word > 0 {
            word
        } else {
            rest.chars().next().map_or(0, char::len_utf8)
        };
        self.span(at, at + len)
    }

    fn error(&self, span: Span, message: String, label: &str) -> Diagnostic {
        Diagnostic::new(Code::JsonSyntax, format!("JSON syntax error: {message}"))
            .with_label(span, label.to_string())
    }

    fn skip_whitespace(&mut self) -> Result<()> {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'/' if matches!(self.bytes.get(self.pos + 1), Some(b'/' | b'*')) => {
                    let span = self.span(self.pos, self.pos + 2);
                    return Err(self
                        .error(span, "comments are not allowed in JSON".into(), "comment")
                        .with_help(RENAME_HINT));
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Node> {
        let start = self.pos;
        match self.bytes.get(start) {
            None => {
                let span = self.span(start, start);
                Err(self.error(
                    span,
                    "the file ends where a value should be".into(),
                    "a value is missing here",
                ))
            }
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let (text, span) = self.string()?;
                Ok(Node {
                    span,
                    value: Value::String(text),
                })
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                let token = self.token_span(start);
                let value = match self.slice(token) {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    word => return Err(self.not_a_value(token, word)),
                };
                self.pos = token.end as usize;
                Ok(Node { span: token, value })
            }
        }
    }

    fn not_a_value(&self, token: Span, word: &str) -> Diagnostic {
        let message = format!("expected a value, found `{word}`");
        let help = match word {
            "'" => "JSON strings are written in double quotes".to_string(),
            "True" | "TRUE" | "False" | "FALSE" | "Null" | "NULL" | "None" => {
                "JSON's literals are lower case: `true`, `false`, `null`".to_string()
            }
            "NaN" | "Infinity" | "+Infinity" => "JSON has no NaN or infinity".to_string(),
            "]" | "}" | "," => "a value is missing before it".to_string(),
            w if w.starts_with(|c: char| c.is_alphabetic() || c == '_') => {
                format!("a string is written in double quotes: `\"{w}\"`")
            }
            _ => {
                "a value is a string, number, object, array, `true`, `false` or `null`".to_string()
            }
        };
        self.error(token, message, "not a JSON value")
            .with_help(help)
    }

    /// Enter a nested object or array.
    fn descend(&mut self, start: usize) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep(self.span(start, start + 1)));
        }
        self.depth += 1;
        Ok(())
    }

    fn object(&mut self) -> Result<Node> {
        let start = self.pos;
        self.descend(start)?;
        self.pos += 1;
        let mut entries: Vec<Entry> = Vec::new();
        let mut keys = KeyIndex::default();
        let mut comma: Option<usize> = None;
        loop {
            self.skip_whitespace()?;
            match self.bytes.get(self.pos) {
                Some(b'}') => {
                    if let Some(at) = comma {
                        return Err(self.trailing_comma(at, '}'));
                    }
                    break;
                }
                Some(b'"') => {}
                None => return Err(self.unclosed(start, '}')),
                Some(_) => {
                    let token = self.token_span(self.pos);
                    let word = self.slice(token);
                    let (message, help) =
                        if word.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                            (
                                format!("object keys are strings in double quotes, found `{word}`"),
                                format!("write `\"{word}\"`; {RENAME_HINT}"),
                            )
                        } else if word == "'" {
                            (
                                "object keys are strings in double quotes, found `'`".to_string(),
                                "JSON strings are written in double quotes".to_string(),
                            )
                        } else {
                            (
                                format!("expected a key in double quotes or `}}`, found `{word}`"),
                                "an object member is `\"key\": value`".to_string(),
                            )
                        };
                    return Err(self.error(token, message, "expected a key").with_help(help));
                }
            }
            let (key, key_span) = self.string()?;
            self.skip_whitespace()?;
            if self.bytes.get(self.pos) != Some(&b':') {
                let token = self.token_span(self.pos);
                let found = self.found(token);
                return Err(self
                    .error(
                        token,
                        format!("expected `:` after the key, found {found}"),
                        "expected `:`",
                    )
                    .with_help("an object member is `\"key\": value`"));
            }
            self.pos += 1;
            self.skip_whitespace()?;
            let value = self.value()?;
            match keys.find(&entries, &key) {
                Some(first) => self.diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateKey,
                        format!("duplicate key `{key}` in one object"),
                    )
                    .with_label(key_span, "duplicate key")
                    .with_label(entries[first].key.span, "first defined here")
                    .with_help("remove one of the two; rune keeps the first"),
                ),
                None => entries.push(Entry {
                    key: Spanned::new(key, key_span),
                    value,
                }),
            }
            self.skip_whitespace()?;
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    comma = Some(self.pos);
                    self.pos += 1;
                }
                Some(b'}') => break,
                None => return Err(self.unclosed(start, '}')),
                Some(_) => return Err(self.expected_separator('}')),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Node {
            span: self.span(start, self.pos),
            value: Value::Map(entries),
        })
    }

    fn array(&mut self) -> Result<Node> {
        let start = self.pos;
        self.descend(start)?;
        self.pos += 1;
        let mut items = Vec::new();
        let mut comma: Option<usize> = None;
        loop {
            self.skip_whitespace()?;
            match self.bytes.get(self.pos) {
                Some(b']') => {
                    if let Some(at) = comma {
                        return Err(self.trailing_comma(at, ']'));
                    }
                    break;
                }
                None => return Err(self.unclosed(start, ']')),
                Some(_) => {}
            }
            items.push(self.value()?);
            self.skip_whitespace()?;
            match self.bytes.get(self.pos) {
                Some(b',') => {
                    comma = Some(self.pos);
                    self.pos += 1;
                }
                Some(b']') => break,
                None => return Err(self.unclosed(start, ']')),
                Some(_) => return Err(self.expected_separator(']')),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Node {
            span: self.span(start, self.pos),
            value: Value::Seq(items),
        })
    }

    /// How a found token is named in a message.
    fn found(&self, token: Span) -> String {
        if token.is_empty() {
            "the end of the file".to_string()
        } else {
            format!("`{}`", self.slice(token))
        }
    }

    fn expected_separator(&self, close: char) -> Diagnostic {
        let token = self.token_span(self.pos);
        let found = self.found(token);
        let (what, help) = if close == '}' {
            ("members", "separate object members with `,`")
        } else {
            ("items", "separate array items with `,`")
        };
        self.error(
            token,
            format!("expected `,` or `{close}` after {what}, found {found}"),
            &format!("expected `,` or `{close}`"),
        )
        .with_help(help)
    }

    fn trailing_comma(&self, at: usize, close: char) -> Diagnostic {
        self.error(
            self.span(at, at + 1),
            format!("trailing comma before `{close}`"),
            "JSON allows no comma here",
        )
        .with_help(format!("remove the comma; {RENAME_HINT}"))
    }

    fn unclosed(&self, start: usize, close: char) -> Diagnostic {
        self.error(
            self.span(start, start + 1),
            format!("the file ends before this is closed with `{close}`"),
            "opened here",
        )
        .with_help(format!("add the missing `{close}`"))
    }

    /// A string at `self.pos` (on its opening quote): its value and span.
    fn string(&mut self) -> Result<(CompactString, Span)> {
        let start = self.pos;
        let mut pos = start + 1;
        // Fast path: no escapes, so the value is a slice of the text.
        loop {
            match self.bytes.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    let value = CompactString::from(&self.text[start + 1..pos]);
                    return Ok((value, self.span(start, self.pos)));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(self.control_character(pos)),
                Some(_) => pos += 1,
                None => return Err(self.unterminated(start)),
            }
        }
        let mut value = String::from(&self.text[start + 1..pos]);
        loop {
            match self.bytes.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    return Ok((CompactString::from(value), self.span(start, self.pos)));
                }
                Some(b'\\') => {
                    let (c, next) = self.escape(pos)?;
                    value.push(c);
                    pos = next;
                }
                Some(&b) if b < 0x20 => return Err(self.control_character(pos)),
                Some(_) => {
                    // Copy the run up to the next quote, backslash or control byte.
                    let run = self.bytes[pos..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .map_or(self.bytes.len(), |i| pos + i);
                    value.push_str(&self.text[pos..run]);
                    pos = run;
                }
                None => return Err(self.unterminated(start)),
            }
        }
    }

    /// The escape at `at` (on its backslash): the character and where it ends.
    fn escape(&self, at: usize) -> Result<(char, usize)> {
        let c = match self.bytes.get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(at),
            None => return Err(self.unterminated_at(at)),
            Some(_) => {
                let end = self.text[at + 1..]
                    .chars()
                    .next()
                    .map_or(at + 1, |c| at + 1 + c.len_utf8());
                let span = self.span(at, end);
                return Err(self
                    .error(
                        span,
                        format!("invalid escape `{}` in a string", self.slice(span)),
                        "invalid escape",
                    )
                    .with_help(
                        "JSON escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; write a backslash as \\\\",
                    ));
            }
        };
        Ok((c, at + 2))
    }

    /// `\uXXXX`, combining a UTF-16 surrogate pair (`\ud83d\ude00`) into one
    /// character; a surrogate without its partner is an error.
    fn unicode_escape(&self, at: usize) -> Result<(char, usize)> {
        let unit = self.hex4(at)?;
        let end = at + 6;
        match unit {
            0xD800..=0xDBFF => {
                let low = if self.bytes.get(end) == Some(&b'\\')
                    && self.bytes.get(end + 1) == Some(&b'u')
                {
                    Some(self.hex4(end)?)
                } else {
                    None
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        let c = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        let c = char::from_u32(c).ok_or_else(|| self.lone_surrogate(at))?;
                        Ok((c, end + 6))
                    }
                    _ => Err(self.lone_surrogate(at)),
                }
            }
            0xDC00..=0xDFFF => Err(self.lone_surrogate(at)),
            _ => char::from_u32(u32::from(unit))
                .map(|c| (c, end))
                .ok_or_else(|| self.lone_surrogate(at)),
        }
    }

    /// The four hex digits of the `\u` escape at `at`.
    fn hex4(&self, at: usize) -> Result<u16> {
        let digits = self.bytes.get(at + 2..at + 6);
        match digits
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u16::from_str_radix(d, 16).ok())
        {
            Some(unit) => Ok(unit),
            None => {
                let end = (at + 2..(at + 6).min(self.bytes.len()))
                    .find(|&i| !self.bytes[i].is_ascii_hexdigit())
                    .unwrap_or((at + 6).min(self.bytes.len()));
                let span = self.span(at, end.max(at + 2));
                Err(self
                    .error(
                        span,
                        "a `\\u` escape needs four hex digits".into(),
                        "invalid \\u escape",
                    )
                    .with_help(
                        "write a character as \\u followed by four hex digits, e.g. \\u00e9",
                    ))
            }
        }
    }

    fn lone_surrogate(&self, at: usize) -> Diagnostic {
        self.error(
            self.span(at, at + 6),
            format!(
                "`{}` is half of a UTF-16 surrogate pair",
                &self.text[at..at + 6]
            ),
            "lone surrogate",
        )
        .with_help(
            "a character outside the Basic Multilingual Plane is written as a pair, \
             high then low (`\\ud83d\\ude00`), or as the UTF-8 character itself",
        )
    }

    fn control_character(&self, at: usize) -> Diagnostic {
        let name = match self.bytes[at] {
            b'\n' => "a line break".to_string(),
            b'\t' => "a tab".to_string(),
            b => format!("control character U+{b:04X}"),
        };
        self.error(
            self.span(at, at + 1),
            format!("{name} inside a string"),
            "not allowed in a JSON string",
        )
        .with_help("escape it (\\n, \\t, \\u0000), or close the string if a `\"` is missing")
    }

    fn unterminated(&self, start: usize) -> Diagnostic {
        self.error(
            self.span(start, start + 1),
            "a string is never closed".into(),
            "this string has no closing `\"`",
        )
        .with_help("add the closing `\"`")
    }

    fn unterminated_at(&self, at: usize) -> Diagnostic {
        self.unterminated(at)
    }

    /// A number at `self.pos`, in JSON's grammar:
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<Node> {
        let start = self.pos;
        let b = self.bytes;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        i = digits(i);
        let int_digits = i - int_start;
        let mut ok = int_digits > 0 && !(int_digits > 1 && b[int_start] == b'0');
        let mut integer = true;
        if ok && b.get(i) == Some(&b'.') {
            integer = false;
            let frac = i + 1;
            i = digits(frac);
            ok = i > frac;
        }
        if ok && matches!(b.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let exp = i;
            i = digits(exp);
            ok = i > exp;
        }
        // A number runs into letters or dots only when it is malformed (`1.`, `01`, `1e`, `0x1`).
        let token = self.token_span(start);
        if !ok || (token.end as usize) > i {
            return Err(self
                .error(
                    token,
                    format!("`{}` is not a JSON number", self.slice(token)),
                    "invalid number",
                )
                .with_help(
                    "JSON numbers are decimal, without leading zeros, `+` or a bare `.` (e.g. 0.5, 10, -3, 1e3)",
                ));
        }
        self.pos = i;
        let span = self.span(start, i);
        let text = &self.text[start..i];
        let number = if integer {
            text.parse::<u64>()
                .map(serde_json::Number::from)
                .or_else(|_| text.parse::<i64>().map(serde_json::Number::from))
                .ok()
        } else {
            None
        };
        let number = number.or_else(|| {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
        });
        match number {
            Some(n) => Ok(Node {
                span,
                value: Value::Number(n),
            }),
            None => Err(self.error(
                span,
                format!("`{text}` is too large for a number"),
                "out of range",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Parsed {
        parse(FileId(0), text)
    }

    fn error(text: &str) -> (String, String) {
        let p = json(text);
        assert!(p.document.is_none(), "{text} parsed");
        let d = p.diagnostics.last().unwrap();
        let span = d.labels[0].span;
        (
            d.message.clone(),
            text[span.start as usize..span.end as usize].to_string(),
        )
    }

    #[test]
    fn parses_like_serde_json() {
        let text = r#" {"a": [1, -2, 3.5, 1e3, -0.25E-2, 18446744073709551615, -9223372036854775808],
            "b": {"c": true, "d": false, "e": null}, "f": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00y",
            "g": [], "h": {}, "i": "plain", "j": 123456789012345678901234567890} "#;
        let mine = json(text).document.unwrap().to_json();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(mine, theirs);
        assert_eq!(mine["f"].as_str().unwrap(), "x\"\\/\u{8}\u{c}\n\r\té😀y");
    }

    #[test]
    fn spans_are_byte_ranges_of_the_tokens() {
        let text = "{\"é\": [1, \"two\"]}";
        let node = json(text).document.unwrap();
        let entry = &node.as_map()[0];
        let at = |s: Span| &text[s.start as usize..s.end as usize];
        assert_eq!(at(entry.key.span), "\"é\"");
        assert_eq!(at(entry.value.span), "[1, \"two\"]");
        assert_eq!(at(entry.value.as_seq()[1].span), "\"two\"");
        assert_eq!(at(node.span), text);
    }

    #[test]
    fn refuses_what_only_yaml_or_json5_allows() {
        let cases = [
            ("{\"a\": 1, // note\n}", "comments are not allowed", "//"),
            ("{\"a\": 1,}", "trailing comma before `}`", ","),
            ("[1, 2,]", "trailing comma before `]`", ","),
            (
                "{a: 1}",
                "object keys are strings in double quotes, found `a`",
                "a",
            ),
            ("{'a': 1}", "found `'`", "'"),
            ("{\"a\": 'x'}", "expected a value, found `'`", "'"),
            ("{\"a\": yes}", "expected a value, found `yes`", "yes"),
            ("{\"a\": True}", "found `True`", "True"),
            ("{\"a\": 01}", "`01` is not a JSON number", "01"),
            ("{\"a\": 1.}", "`1.` is not a JSON number", "1."),
            ("{\"a\": +1}", "found `+1`", "+1"),
            ("{\"a\": .5}", "found `.5`", ".5"),
            ("{\"a\": 0x10}", "`0x10` is not a JSON number", "0x10"),
            (
                "{\"a\": 1 \"b\": 2}",
                "expected `,` or `}` after members, found `\"`",
                "\"",
            ),
            ("{\"a\" 1}", "expected `:` after the key, found `1`", "1"),
            ("[1 2]", "expected `,` or `]` after items, found `2`", "2"),
            (
                "{\"a\": [1, 2}",
                "expected `,` or `]` after items, found `}`",
                "}",
            ),
            (
                "{\"a\": 1",
                "the file ends before this is closed with `}`",
                "{",
            ),
            ("{\"a\": \"x}", "a string is never closed", "\""),
            ("{\"a\": \"x\ny\"}", "a line break inside a string", "\n"),
            ("{\"a\": \"\\x\"}", "invalid escape `\\x`", "\\x"),
            ("{\"a\": \"\\u12\"}", "four hex digits", "\\u12"),
            (
                "{\"a\": \"\\ud83d\"}",
                "`\\ud83d` is half of a UTF-16 surrogate pair",
                "\\ud83d",
            ),
            (
                "{\"a\": \"\\ude00\\ud83d\"}",
                "`\\ude00` is half",
                "\\ude00",
            ),
            (
                "{\"a\": \"\\ud83d\\u0041\"}",
                "`\\ud83d` is half",
                "\\ud83d",
            ),
            (
                "{\"a\": 1} {}",
                "unexpected `{` after the end of the JSON value",
                "{",
            ),
            ("{\"a\": 1e999}", "`1e999` is too large", "1e999"),
            ("{\"é\": ü}", "expected a value, found `ü`", "ü"),
        ];
        for (text, message, token) in cases {
            let (m, t) = error(text);
            assert!(m.contains(message), "{text}: {m}");
            assert_eq!(t, token, "{text}: {m}");
        }
    }

    #[test]
    fn keeps_the_catalog_limits() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(json(&deep).diagnostics[0].code, Code::NestingLimit);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(json(&ok).diagnostics.is_empty());
        let p = json("{\"a\": 1, \"b\": 2, \"a\": 3}");
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].code, Code::DuplicateKey);
        assert_eq!(
            p.document.unwrap().to_json(),
            serde_json::json!({"a": 1, "b": 2})
        );
        for empty in ["", "  \n", "null"] {
            assert_eq!(
                json(empty).diagnostics[0].code,
                Code::EmptyFile,
                "{empty:?}"
            );
        }
    }
}
