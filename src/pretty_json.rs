//! Pretty JSON, byte for byte serde_json's layout, with long sequences rendered on
//! several threads.
//!
//! A 100,000-module plan is 120 MB of pretty JSON; serialising it took a third of
//! `rune plan --format json`'s wall time on one thread while the other cores sat
//! idle. A field marked `#[serde(serialize_with = "crate::pretty_json::par_seq")]`
//! is rendered in stretches of elements on rayon's threads when [`write`] drives the
//! serialisation, and written in order; with any other serializer (schemars,
//! `serde_json::to_value`, a test) it serialises as a plain sequence.
//!
//! serde offers no way to hand a serializer bytes it did not make, so the hand-off
//! goes through the formatter, which [`write`] owns: `par_seq` renders a stretch,
//! queues the bytes in the formatter's shared state and serialises a unit marker;
//! the formatter writes the queued bytes where it would have written the marker's
//! `null`. A stretch carries its own separators and indentation, computed for the
//! depth the formatter reports, so the output equals `serde_json::to_writer_pretty`
//! (tests compare them).

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::rc::Rc;

use rayon::prelude::*;
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::ser::Formatter;

/// Below this many elements a sequence is rendered in place: the threads would
/// cost more than they save.
const PARALLEL_MIN: usize = 256;
/// Elements per stretch: a few hundred kilobytes of a plan's waves.
const STRETCH: usize = 128;
/// Stretches rendered before they are written, per thread: bounds what is held.
const STRETCHES_PER_THREAD: usize = 2;

/// What the formatter and `par_seq` share while [`write`] runs.
#[derive(Default)]
struct Shared {
    /// The formatter's indentation depth.
    depth: Cell<usize>,
    /// Bytes to write in place of the next `null`.
    queued: RefCell<Option<Vec<u8>>>,
}

thread_local! {
    /// Set while [`write`] serialises on this thread.
    static ACTIVE: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

/// Clears [`ACTIVE`] for its lifetime and restores what was there: a stretch
/// rendered on this very thread (rayon may run it here) must not see the outer
/// serialisation's state.
struct Suspend(Option<Rc<Shared>>);

impl Suspend {
    fn new() -> Self {
        Suspend(ACTIVE.with(|a| a.borrow_mut().take()))
    }
}

impl Drop for Suspend {
    fn drop(&mut self) {
        let state = self.0.take();
        ACTIVE.with(|a| *a.borrow_mut() = state);
    }
}

/// Two-space pretty layout, starting at any depth.
struct Pretty {
    shared: Rc<Shared>,
    has_value: bool,
}

impl Pretty {
    fn at(depth: usize) -> Self {
        let shared = Rc::new(Shared::default());
        shared.depth.set(depth);
        Pretty {
            shared,
            has_value: false,
        }
    }

    fn depth(&self) -> usize {
        self.shared.depth.get()
    }

    fn set_depth(&self, depth: usize) {
        self.shared.depth.set(depth);
    }
}

/// A newline and `depth` levels of indentation, in one write.
fn newline_indent<W: ?Sized + Write>(w: &mut W, depth: usize) -> io::Result<()> {
    const SPACES: &[u8; 129] = &{
        let mut s = [b' '; 129];
        s[0] = b'\n';
        s
    };
    let mut width = depth * 2;
    w.write_all(&SPACES[..1 + width.min(128)])?;
    width = width.saturating_sub(128);
    while width > 0 {
        let n = width.min(128);
        w.write_all(&SPACES[1..1 + n])?;
        width -= n;
    }
    Ok(())
}

impl Formatter for Pretty {
    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        match self.shared.queued.borrow_mut().take() {
            Some(bytes) => w.write_all(&bytes),
            None => w.write_all(b"null"),
        }
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.set_depth(self.depth() + 1);
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.set_depth(self.depth() - 1);
        if self.has_value {
            newline_indent(w, self.depth())?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if self.shared.queued.borrow().is_some() {
            // A rendered stretch carries its own separators.
            return Ok(());
        }
        if !first {
            w.write_all(b",")?;
        }
        newline_indent(w, self.depth())
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.set_depth(self.depth() + 1);
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.set_depth(self.depth() - 1);
        if self.has_value {
            newline_indent(w, self.depth())?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        newline_indent(w, self.depth())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Write `value` as pretty JSON (serde_json's `to_writer_pretty` layout) to `out`,
/// rendering the fields marked with [`par_seq`] on several threads.
pub(crate) fn write<T: Serialize + ?Sized>(out: impl Write, value: &T) -> io::Result<()> {
    let formatter = Pretty::at(0);
    let shared = formatter.shared.clone();
    let outer = ACTIVE.with(|a| a.borrow_mut().replace(shared));
    let mut ser = serde_json::Serializer::with_formatter(out, formatter);
    let result = value.serialize(&mut ser);
    ACTIVE.with(|a| *a.borrow_mut() = outer);
    result.map_err(io::Error::from)
}

/// Render `items[range]` as they would appear inside a sequence at `depth`, each
/// with the separator and indentation before it (`first` for the sequence's first).
fn render_stretch<T: Serialize>(items: &[T], depth: usize, first: bool) -> Result<Vec<u8>, String> {
    let _suspended = Suspend::new();
    let mut buf = Vec::with_capacity(items.len() * 512);
    for (i, item) in items.iter().enumerate() {
        if !(first && i == 0) {
            buf.push(b',');
        }
        let _ = newline_indent(&mut buf, depth);
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, Pretty::at(depth));
        item.serialize(&mut ser).map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// `serialize_with` for a long sequence: rendered in parallel stretches under
/// [`write`], a plain sequence under any other serializer.
pub(crate) fn par_seq<S, T>(items: &[T], serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize + Sync,
{
    let shared = ACTIVE.with(|a| a.borrow().clone());
    let shared = match shared {
        Some(shared) if crate::parallel::worth(items.len(), PARALLEL_MIN) => shared,
        _ => return serializer.collect_seq(items),
    };
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    // After `[`: the depth the elements sit at.
    let depth = shared.depth.get();
    let window = STRETCH * STRETCHES_PER_THREAD * crate::parallel::threads();
    for (w, group) in items.chunks(window).enumerate() {
        let rendered: Vec<Result<Vec<u8>, String>> = group
            .par_chunks(STRETCH)
            .enumerate()
            .map(|(c, stretch)| render_stretch(stretch, depth, w == 0 && c == 0))
            .collect();
        for bytes in rendered {
            let bytes = bytes.map_err(serde::ser::Error::custom)?;
            *shared.queued.borrow_mut() = Some(bytes);
            seq.serialize_element(&())?;
        }
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Doc {
        name: &'static str,
        empty: Vec<u32>,
        #[serde(serialize_with = "par_seq")]
        long: Vec<Item>,
        #[serde(serialize_with = "par_seq")]
        short: Vec<Item>,
        tail: Option<u8>,
    }

    #[derive(Serialize)]
    struct Item {
        id: usize,
        tags: Vec<String>,
        none: Option<String>,
        nested: serde_json::Value,
        #[serde(serialize_with = "par_seq")]
        inner: Vec<u32>,
    }

    fn doc(n: usize) -> Doc {
        let item = |i: usize| Item {
            id: i,
            tags: (0..i % 3).map(|t| format!("t\"{t}\n")).collect(),
            none: None,
            nested: serde_json::json!({"a": [], "b": {}, "c": [1, {"d": null}]}),
            inner: (0..(i % 300) as u32).collect(),
        };
        Doc {
            name: "doc",
            empty: vec![],
            long: (0..n).map(item).collect(),
            short: (0..3).map(item).collect(),
            tail: None,
        }
    }

    #[test]
    fn equals_serde_json_pretty() {
        for n in [0, 1, PARALLEL_MIN - 1, PARALLEL_MIN, 1000, 5000] {
            let d = doc(n);
            let expected = serde_json::to_vec_pretty(&d).unwrap();
            let mut got = Vec::new();
            write(&mut got, &d).unwrap();
            assert!(got == expected, "n = {n}");
        }
    }

    #[test]
    fn deep_indentation_equals_serde_json_pretty() {
        let mut v = serde_json::json!(1);
        for _ in 0..100 {
            v = serde_json::json!([v, {"k": v}]);
            if v.to_string().len() > 100_000 {
                break;
            }
        }
        let expected = serde_json::to_vec_pretty(&v).unwrap();
        let mut got = Vec::new();
        write(&mut got, &v).unwrap();
        assert!(got == expected);
    }

    #[test]
    fn other_serializers_see_a_plain_sequence() {
        let d = doc(PARALLEL_MIN + 5);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["long"].as_array().unwrap().len(), PARALLEL_MIN + 5);
        let mut written = Vec::new();
        write(&mut written, &d).unwrap();
        assert_eq!(
            v,
            serde_json::from_slice::<serde_json::Value>(&written).unwrap()
        );
    }

    #[test]
    fn nested_write_restores_the_outer_state() {
        // A value whose Serialize calls `write` itself (as a report might) must not
        // leave the outer serialisation without its state.
        struct Inner;
        impl Serialize for Inner {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut scratch = Vec::new();
                write(&mut scratch, &doc(PARALLEL_MIN)).unwrap();
                s.serialize_u64(scratch.len() as u64)
            }
        }
        #[derive(Serialize)]
        struct Outer {
            first: Inner,
            #[serde(serialize_with = "par_seq")]
            long: Vec<u32>,
        }
        let o = Outer {
            first: Inner,
            long: (0..1000).collect(),
        };
        let mut got = Vec::new();
        write(&mut got, &o).unwrap();
        assert!(got == serde_json::to_vec_pretty(&o).unwrap());
    }
}
