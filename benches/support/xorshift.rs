//! xorshift64: a tiny deterministic generator shared by the benchmarks' data
//! generators, so every run measures the same catalogs and graphs.

/// The generator state.
pub(crate) struct XorShift(pub u64);

#[allow(dead_code)] // each benchmark uses a different subset
impl XorShift {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `low..=high`.
    pub(crate) fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}
