//! Duplicate-key lookup for a mapping under construction, linear overall.
//!
//! Most catalog mappings have a handful of keys, where a scan is cheapest and
//! allocates nothing; a mapping that grows past [`SCAN_LIMIT`] keys gets a hash
//! index, so a generated mapping with tens of thousands of keys is not quadratic.

use std::collections::HashMap;

use compact_str::CompactString;

use super::Entry;

/// Up to this many keys, a linear scan is cheaper than hashing.
const SCAN_LIMIT: usize = 16;

/// Finds an existing key among a mapping's entries.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    /// Key to entry index, built once the mapping passes `SCAN_LIMIT` keys.
    index: Option<HashMap<CompactString, u32>>,
    /// How many of the entries `index` holds (entries are only ever appended).
    indexed: usize,
}

impl KeyIndex {
    /// The index of the entry with this key, if `entries` has one.
    pub(crate) fn find(&mut self, entries: &[Entry], key: &str) -> Option<usize> {
        if entries.len() < SCAN_LIMIT {
            return entries.iter().position(|e| e.key.value == key);
        }
        let index = self
            .index
            .get_or_insert_with(|| HashMap::with_capacity(entries.len() * 2));
        for (i, entry) in entries.iter().enumerate().skip(self.indexed) {
            index.insert(entry.key.value.clone(), i as u32);
        }
        self.indexed = entries.len();
        index.get(key).map(|&i| i as usize)
    }
}
