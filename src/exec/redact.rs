//! Redaction: values the catalog marks secret, and the per-run trust token, never
//! reach the journal or a report.
//!
//! Redaction goes by value, not by place: a module that echoes its password in a
//! log line, an error message or its answer to `describe` leaks it as surely as the
//! `initialize` request that handed it over, so every string of every event is
//! searched for every secret and each occurrence is replaced by [`REDACTED`]. The
//! sink wraps the others (journal, progress, report), so what is written anywhere
//! is redacted once, in one place.

use serde_json::Value as Json;

use super::event::{Event, Sink};

/// What a secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// The string values at `pointers` (JSON pointers) of `config`, and below them: the
/// secrets a module's `lifecycle.secrets` marks. A pointer that names nothing
/// marks nothing.
pub(crate) fn secrets_of(config: &Json, pointers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for pointer in pointers {
        if let Some(value) = config.pointer(pointer) {
            leaves(value, &mut found);
        }
    }
    found
}

fn leaves(value: &Json, found: &mut Vec<String>) {
    match value {
        Json::String(s) => found.push(s.clone()),
        // A secret number or flag is redacted as its JSON text wherever it shows in
        // a string; as a value of its own it says little without its key.
        Json::Number(n) => found.push(n.to_string()),
        Json::Array(items) => items.iter().for_each(|v| leaves(v, found)),
        Json::Object(map) => map.values().for_each(|v| leaves(v, found)),
        Json::Bool(_) | Json::Null => {}
    }
}

/// A sink that redacts every secret from each event before handing it on.
pub(crate) struct Redacting<'a, S: Sink + ?Sized> {
    secrets: Vec<String>,
    inner: &'a S,
}

impl<'a, S: Sink + ?Sized> Redacting<'a, S> {
    /// Redact `secrets` (empty ones and duplicates are dropped; longer ones are
    /// replaced first, so one that contains another goes whole).
    pub(crate) fn new(mut secrets: Vec<String>, inner: &'a S) -> Self {
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redacting { secrets, inner }
    }

    /// `event` with every secret replaced, or None when it holds none (the common
    /// case, which costs one serialization and no copy).
    fn redacted(&self, event: &Event) -> Option<Event> {
        if self.secrets.is_empty() {
            return None;
        }
        let text = serde_json::to_string(event).ok()?;
        let escaped: Vec<String> = self
            .secrets
            .iter()
            .map(|s| {
                // A JSON string is always quoted: the secret as the text holds it.
                let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
                quoted[1..quoted.len() - 1].to_string()
            })
            .collect();
        if !escaped.iter().any(|s| text.contains(s.as_str())) {
            return None;
        }
        let original = serde_json::to_value(event).ok()?;
        // A secret that equals a number the event itself holds (a step id, a
        // duration) or a word of its format cannot be replaced there without
        // breaking the event: then only what children sent and answered, and
        // errors, are redacted (the event's own fields are rune's, not secrets);
        // numbers last.
        let levels = [(true, true), (false, true), (true, false), (false, false)];
        for (everywhere, numbers) in levels {
            let mut value = original.clone();
            match &mut value {
                Json::Object(map) if !everywhere => {
                    for key in ["message", "output", "stderr", "error", "reason"] {
                        if let Some(v) = map.get_mut(key) {
                            self.scrub(v, numbers);
                        }
                    }
                }
                _ => self.scrub(&mut value, numbers),
            }
            if let Ok(clean) = serde_json::from_value(value) {
                return Some(clean);
            }
        }
        None
    }

    fn scrub(&self, value: &mut Json, numbers: bool) {
        match value {
            Json::String(s) => {
                for secret in &self.secrets {
                    if s.contains(secret.as_str()) {
                        *s = s.replace(secret.as_str(), REDACTED);
                    }
                }
            }
            Json::Number(n) => {
                if numbers && self.secrets.iter().any(|s| *s == n.to_string()) {
                    *value = Json::String(REDACTED.to_string());
                }
            }
            Json::Array(items) => items.iter_mut().for_each(|v| self.scrub(v, numbers)),
            Json::Object(map) => map.values_mut().for_each(|v| self.scrub(v, numbers)),
            Json::Bool(_) | Json::Null => {}
        }
    }
}

impl<S: Sink + ?Sized> Sink for Redacting<'_, S> {
    fn emit(&self, event: &Event) {
        match self.redacted(event) {
            Some(clean) => self.inner.emit(&clean),
            None => self.inner.emit(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::event::{Collect, Direction, Protocol};
    use serde_json::json;

    #[test]
    fn secrets_are_found_below_their_pointers() {
        let config = json!({"password": "p", "db": {"token": "t", "port": 5432}, "open": "o"});
        let mut found = secrets_of(&config, &["/password".into(), "/db".into(), "/none".into()]);
        found.sort();
        assert_eq!(found, ["5432", "p", "t"]);
    }

    #[test]
    fn a_secret_equal_to_the_events_own_numbers_is_still_redacted_in_the_message() {
        let collect = Collect::default();
        let sink = Redacting::new(vec!["7".into()], &collect);
        sink.emit(&Event::Message {
            at: jiff::Timestamp::UNIX_EPOCH,
            step: 7,
            direction: Direction::Request,
            protocol: Protocol::Spi,
            message: json!({"pin": 7, "note": "pin 7"}),
        });
        let events = collect.into_events();
        let Event::Message { step, message, .. } = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(*step, 7);
        assert_eq!(
            message,
            &json!({"pin": "[redacted]", "note": "pin [redacted]"})
        );
    }

    #[test]
    fn every_occurrence_in_every_string_is_redacted() {
        let collect = Collect::default();
        let sink = Redacting::new(vec!["s3cret".into(), String::new()], &collect);
        let message = json!({"params": {"config": {"password": "s3cret"},
                             "log": "login with s3cret failed"}, "n": 1});
        sink.emit(&Event::Message {
            at: jiff::Timestamp::UNIX_EPOCH,
            step: 1,
            direction: Direction::Request,
            protocol: Protocol::Spi,
            message,
        });
        let events = collect.into_events();
        let Event::Message { message, .. } = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(
            message,
            &json!({"params": {"config": {"password": "[redacted]"},
                    "log": "login with [redacted] failed"}, "n": 1})
        );
    }
}
