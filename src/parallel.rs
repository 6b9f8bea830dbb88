//! Work spread over rayon's threads only when it pays, and never when threads
//! cannot be created.
//!
//! The pool starts on the first piece of work big enough to want it, not when
//! rune starts: `rune run` of one action in a one-file catalog has nothing to
//! share out, and two idle workers spinning down cost it about a millisecond of a
//! two-core machine. Under a pids limit the pool cannot start at all; rayon cannot
//! retry a failed start of its global pool and would panic at the next use, so
//! every use goes through here and falls back to this thread.

use std::sync::OnceLock;

use rayon::prelude::*;

/// Whether rayon's global pool is running (started on the first call).
fn pool() -> bool {
    static STARTED: OnceLock<bool> = OnceLock::new();
    *STARTED.get_or_init(|| rayon::ThreadPoolBuilder::new().build_global().is_ok())
}

/// Whether work of `size` units, where `min` is the size that pays for the
/// threads, should run on the pool (starting it if need be).
pub(crate) fn worth(size: usize, min: usize) -> bool {
    size >= min && pool()
}

/// `a` and `b`, side by side when `parallel` and the pool runs, else one after
/// the other on this thread.
pub(crate) fn join<A, B, RA, RB>(parallel: bool, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if parallel && pool() {
        rayon::join(a, b)
    } else {
        (a(), b())
    }
}

/// `f` over `items` with each index, in order, on the pool when there are at
/// least `min` items and the pool runs.
pub(crate) fn map_indexed<T, R, F>(items: &[T], min: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync + Send,
{
    if worth(items.len(), min) {
        items.par_iter().enumerate().map(|(i, t)| f(i, t)).collect()
    } else {
        items.iter().enumerate().map(|(i, t)| f(i, t)).collect()
    }
}

/// The pool's thread count when it runs, else 1 (this thread).
pub(crate) fn threads() -> usize {
    if pool() {
        rayon::current_num_threads().max(1)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_either_way() {
        let items: Vec<u32> = (0..1000).collect();
        let small = map_indexed(&items, usize::MAX, |i, v| (i, v * 2));
        let large = map_indexed(&items, 1, |i, v| (i, v * 2));
        assert_eq!(small, large);
        assert!(small
            .iter()
            .enumerate()
            .all(|(i, (j, v))| i == *j && *v == 2 * i as u32));
    }

    #[test]
    fn join_returns_both_sides() {
        assert_eq!(join(false, || 1, || "b"), (1, "b"));
        assert_eq!(join(true, || 1, || "b"), (1, "b"));
    }
}
