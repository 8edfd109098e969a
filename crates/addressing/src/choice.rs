//! How an allocator picks among free candidates ([`Choice`]), and the gap walk every allocator
//! of this crate shares.
//!
//! Candidates are numbered `0..count` (the n-th /56 of a pool, the n-th /80 of a /64, the n-th
//! address of a subnet). The walk starts at an index chosen by the [`Choice`] and steps over
//! taken candidates, wrapping around once; each step is answered by a set lookup, and a taken
//! candidate may let the walk jump over a whole taken range (a delegated /80 when picking
//! addresses). So the cost is proportional to the taken run met at the start, never to how many
//! things are in use elsewhere.

use rand::{Rng, RngCore};

/// Which free candidate an allocator returns.
pub enum Choice<'a> {
    /// The lowest free candidate ("next free"). Deterministic.
    First,
    /// The first free candidate at or after a uniformly random starting point (wrapping around).
    /// Deterministic for a given random source state.
    Random(&'a mut dyn RngCore),
}

impl std::fmt::Debug for Choice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Choice::First => "Choice::First",
            Choice::Random(_) => "Choice::Random(..)",
        })
    }
}

impl Choice<'_> {
    /// The index the walk starts at, in `0..count` (`count` > 0).
    fn start(&mut self, count: u128) -> u128 {
        match self {
            Choice::First => 0,
            Choice::Random(rng) => rng.gen_range(0..count),
        }
    }
}

/// Finds a free index in `0..count`.
///
/// `taken(i)` answers `None` when candidate `i` is free, or `Some(next)` when it is taken, where
/// `next > i` is the first index that may be free again (`i + 1` if nothing better is known).
/// Returns `None` when every candidate is taken.
pub(crate) fn find_free(
    count: u128,
    choice: &mut Choice<'_>,
    mut taken: impl FnMut(u128) -> Option<u128>,
) -> Option<u128> {
    if count == 0 {
        return None;
    }
    let start = choice.start(count);
    scan(start, count, &mut taken).or_else(|| scan(0, start, &mut taken))
}

fn scan(from: u128, to: u128, taken: &mut impl FnMut(u128) -> Option<u128>) -> Option<u128> {
    let mut i = from;
    while i < to {
        match taken(i) {
            None => return Some(i),
            // `i < to <= u128::MAX`, so `i + 1` cannot overflow; `max` guarantees progress even
            // if a caller's answer does not move forward.
            Some(next) => i = next.max(i + 1),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn first_returns_the_lowest_free_index() {
        let got = find_free(10, &mut Choice::First, |i| (i < 3).then_some(i + 1));
        assert_eq!(got, Some(3));
    }

    #[test]
    fn random_wraps_around_to_find_the_only_free_index() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let got = find_free(100, &mut Choice::Random(&mut rng), |i| {
                (i != 5).then_some(i + 1)
            });
            assert_eq!(got, Some(5));
        }
    }

    #[test]
    fn everything_taken_is_none() {
        assert_eq!(find_free(10, &mut Choice::First, |i| Some(i + 1)), None);
        assert_eq!(find_free(0, &mut Choice::First, |_| None), None);
    }

    #[test]
    fn jumps_skip_taken_ranges_in_one_step() {
        let mut calls = 0;
        let got = find_free(1 << 64, &mut Choice::First, |i| {
            calls += 1;
            (i < 1 << 40).then_some(1 << 40)
        });
        assert_eq!(got, Some(1 << 40));
        assert_eq!(calls, 2);
    }
}
