//! A saved plan's JSON read strictly: a key twice in one object is refused.
//! Every reader of a saved plan (`rune apply PLAN`, `rune diff`, `rune plan
//! --check`) goes through [`read_plan`].
//!
//! `serde_json` keeps the last of two equal keys, a reviewer's viewer may show the
//! first: a plan that says two things is not a plan anyone reviewed. This pass
//! only walks the document (nothing is kept), before it is typed.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::document::PlanDocument;

/// The largest plan file read (a plan of 100,000 modules is about 120 MB).
const PLAN_FILE_LIMIT: u64 = 512 << 20;

/// The saved plan at `path` and the sha256 of the bytes read (the ones parsed,
/// so `--expect-digest` checks exactly what runs); the error says why it is not a
/// plan. A key twice in one object is refused: which of the two a reader takes is
/// not something a reviewer sees.
pub(crate) fn read_plan(path: &std::path::Path) -> Result<(PlanDocument, String), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > PLAN_FILE_LIMIT {
        return Err(format!(
            "the file is {} bytes, more than the {PLAN_FILE_LIMIT} a plan may have",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let digest = crate::digest::sha256_hex(&bytes);
    // An editor may save a byte-order mark; catalogs accept one too.
    let json = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    refuse_duplicate_keys(json).map_err(|e| format!("not a plan document: {e}"))?;
    let doc = serde_json::from_slice(json).map_err(|e| format!("not a plan document: {e}"))?;
    Ok((doc, digest))
}

/// Refuse `json` if any object in it has a key twice (or it is not JSON).
pub(crate) fn refuse_duplicate_keys(json: &[u8]) -> Result<(), serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_slice(json);
    // Plans nest a few levels plus the values of parameters and outputs; the
    // parser's own depth limit (128) bounds this walk too.
    de::DeserializeSeed::deserialize(Walk, &mut reader)?;
    reader.end()
}

/// One JSON value walked for duplicate keys, at any depth.
#[derive(Clone, Copy)]
struct Walk;

impl<'de> de::DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys are borrowed from the input when they hold no escape, and a plan's
        // objects are small: a list searched in place until one grows large. A
        // 100,000-module plan has millions of objects; allocating and hashing each
        // key cost more than parsing the document.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let twice = if many.is_empty() {
                few.contains(&key)
            } else {
                many.contains(&key)
            };
            if twice {
                let shown: String = key.chars().take(60).collect();
                // Let the value be read so the error carries its line and column.
                map.next_value::<IgnoredAny>()?;
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{}` in one object",
                    shown.escape_debug()
                )));
            }
            map.next_value_seed(Walk)?;
            if !many.is_empty() {
                many.insert(key);
            } else if few.len() < SMALL_OBJECT {
                few.push(key);
            } else {
                many.extend(few.drain(..));
                many.insert(key);
            }
        }
        Ok(())
    }
}

/// Keys up to this many per object are searched in a list.
const SMALL_OBJECT: usize = 32;

/// An object key, borrowed from the input when it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::refuse_duplicate_keys;

    #[test]
    fn a_key_twice_at_any_depth_is_refused() {
        assert!(refuse_duplicate_keys(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        for twice in [
            r#"{"a":1,"a":1}"#,
            r#"{"a":{"b":[{"c":1,"c":2}]}}"#,
            r#"[{"x":null},{"y":1,"y":true}]"#,
        ] {
            let e = refuse_duplicate_keys(twice.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains("duplicate key"), "{twice}: {e}");
        }
    }
}
