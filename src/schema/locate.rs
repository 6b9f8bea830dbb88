//! Finding the node a validation error is about, at a cost that does not grow
//! with the number of errors.
//!
//! A validator reports each error with a JSON pointer into the data. Following it
//! with [`Node::pointer_lookup`] scans each mapping on the way, which is fine for
//! one error, but a mapping with N bad entries gives N errors and N scans of N
//! entries. A [`Locator`] indexes a large mapping by key the first time an error
//! passes through it, so every later lookup there is a hash lookup.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::yaml::{Entry, Node};

/// Up to this many entries, a scan is cheaper than building an index.
const SCAN_LIMIT: usize = 16;

/// Follows JSON pointers into one tree, indexing the large mappings it meets.
pub struct Locator<'a> {
    root: &'a Node,
    /// Key to entry, per large mapping met so far (keyed by the mapping's address).
    indexes: RefCell<HashMap<usize, HashMap<&'a str, &'a Entry>>>,
}

impl<'a> Locator<'a> {
    /// A locator for pointers into `root`.
    pub fn new(root: &'a Node) -> Self {
        Locator {
            root,
            indexes: RefCell::new(HashMap::new()),
        }
    }

    /// Like [`Node::pointer_lookup`] from the root: the deepest node reached and,
    /// when the last step was a mapping key, that key's entry.
    pub fn lookup<'s>(
        &self,
        segments: impl IntoIterator<Item = &'s str>,
    ) -> (&'a Node, Option<&'a Entry>) {
        self.root
            .pointer_lookup_by(segments, |node, key| self.entry(node, key))
    }

    /// The entry with this key in `node`, a node of this locator's tree.
    pub fn entry(&self, node: &'a Node, key: &str) -> Option<&'a Entry> {
        let entries = node.as_map();
        if entries.len() <= SCAN_LIMIT {
            return entries.iter().find(|e| e.key.value == key);
        }
        let mut indexes = self.indexes.borrow_mut();
        let index = indexes
            .entry(std::ptr::from_ref(node) as usize)
            .or_insert_with(|| {
                let mut index = HashMap::with_capacity(entries.len());
                for e in entries {
                    // Keys are unique in a parsed mapping; keep the first anyway.
                    index.entry(e.key.value.as_str()).or_insert(e);
                }
                index
            });
        index.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    #[test]
    fn agrees_with_pointer_lookup_in_small_and_large_mappings() {
        let mut text = String::from("small: {a: 1, b: [x, {c: 2}]}\nlarge:\n");
        for i in 0..100 {
            text.push_str(&format!("  k{i}: {{v: {i}}}\n"));
        }
        let parsed = crate::yaml::parse(FileId(0), &text);
        let root = parsed.document.expect("parses");
        let locator = Locator::new(&root);
        for pointer in [
            "/small/a",
            "/small/b/1/c",
            "/small/b/7",
            "/large/k50/v",
            "/large/k99",
            "/large/nope/v",
            "",
        ] {
            let segments = crate::schema::pointer_segments(pointer);
            let want = root.pointer_lookup(segments.iter().map(String::as_str));
            let got = locator.lookup(segments.iter().map(String::as_str));
            assert_eq!(
                (got.0.span, got.1.map(|e| e.key.span)),
                (want.0.span, want.1.map(|e| e.key.span)),
                "{pointer}"
            );
        }
    }
}
