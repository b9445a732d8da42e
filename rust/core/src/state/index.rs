//! Enumerating the amplitude groups a gate touches.
//!
//! A gate on k target bits with c control bits acts on 2^(n-k-c) groups of 2^k
//! amplitudes. Group `g` has its base index made by inserting zero bits into `g` at
//! the sorted target and control positions, then setting the control bits to their
//! required values. Each inserted bit costs one shift-and-mask.

/// Base-index generator for groups with `S - 1` bit positions held fixed
/// (`S` segments of free bits between them). `S` is a compile-time constant so the
/// common 1-3 held bits cost a few register operations per group.
#[derive(Clone, Copy, Debug)]
pub struct GroupIndex<const S: usize> {
    masks: [usize; S],
    fixed: usize,
    count: usize,
}

impl<const S: usize> GroupIndex<S> {
    /// `held`: `S - 1` distinct bit positions removed from the enumeration (any order);
    /// `fixed`: value ORed into every base index (control bits that must be 1).
    pub fn new(n_bits: u32, held: &[u32], fixed: usize) -> Self {
        debug_assert_eq!(held.len() + 1, S);
        let mut pos = [0u32; S];
        pos[..S - 1].copy_from_slice(held);
        pos[..S - 1].sort_unstable();
        pos[S - 1] = 64;
        let mut masks = [0usize; S];
        let mut lo = 0u32;
        for j in 0..S {
            masks[j] = bits_between(lo, pos[j]);
            lo = pos[j] + 1;
        }
        GroupIndex {
            masks,
            fixed,
            count: 1usize << (n_bits as usize + 1 - S),
        }
    }

    #[inline(always)]
    pub fn base(&self, g: usize) -> usize {
        let mut r = self.fixed;
        for j in 0..S {
            r |= (g << j) & self.masks[j];
        }
        r
    }

    /// Number of groups.
    #[inline(always)]
    pub fn count(&self) -> usize {
        self.count
    }
}

/// Calls `$body` with `$gi` bound to a group enumerator for the held bits
/// `$targets` + the set bits of `$ctrl_mask`, choosing the number of segments at compile
/// time for up to 5 held bits (more use `GroupIndexWide`).
#[macro_export]
macro_rules! with_groups {
    ($n:expr, $targets:expr, $ctrl_mask:expr, $fixed:expr, |$gi:ident| $body:expr) => {{
        use $crate::state::index::{held_bits, GroupIndex, GroupIndexWide};
        let (t, c): (&[u32], usize) = ($targets, $ctrl_mask);
        match t.len() + c.count_ones() as usize {
            0 => {
                let $gi = GroupIndex::<1>::new($n, &held_bits::<0>(t, c), $fixed);
                $body
            }
            1 => {
                let $gi = GroupIndex::<2>::new($n, &held_bits::<1>(t, c), $fixed);
                $body
            }
            2 => {
                let $gi = GroupIndex::<3>::new($n, &held_bits::<2>(t, c), $fixed);
                $body
            }
            3 => {
                let $gi = GroupIndex::<4>::new($n, &held_bits::<3>(t, c), $fixed);
                $body
            }
            4 => {
                let $gi = GroupIndex::<5>::new($n, &held_bits::<4>(t, c), $fixed);
                $body
            }
            _ => {
                let held: Vec<u32> = t.iter().copied().chain(set_bits(c)).collect();
                let $gi = GroupIndexWide::new($n, &held, $fixed);
                $body
            }
        }
    }};
}

/// `targets` followed by the set bits of `ctrl_mask`, as an array of exactly K.
#[inline(always)]
pub fn held_bits<const K: usize>(targets: &[u32], ctrl_mask: usize) -> [u32; K] {
    let mut h = [0u32; K];
    for (slot, b) in h
        .iter_mut()
        .zip(targets.iter().copied().chain(set_bits(ctrl_mask)))
    {
        *slot = b;
    }
    h
}

/// The same enumeration for many held bits (multi-controlled gates, wide matrices).
#[derive(Clone, Debug)]
pub struct GroupIndexWide {
    masks: Vec<usize>,
    fixed: usize,
    count: usize,
}

impl GroupIndexWide {
    pub fn new(n_bits: u32, held: &[u32], fixed: usize) -> Self {
        let mut pos = held.to_vec();
        pos.sort_unstable();
        pos.push(64);
        let mut lo = 0u32;
        let masks = pos
            .iter()
            .map(|&p| {
                let m = bits_between(lo, p);
                lo = p + 1;
                m
            })
            .collect();
        GroupIndexWide {
            masks,
            fixed,
            count: 1usize << (n_bits as usize - held.len()),
        }
    }

    #[inline(always)]
    pub fn base(&self, g: usize) -> usize {
        let mut r = self.fixed;
        for (j, m) in self.masks.iter().enumerate() {
            r |= (g << j) & m;
        }
        r
    }

    #[inline(always)]
    pub fn count(&self) -> usize {
        self.count
    }
}

/// Mask of bits `lo..hi` (hi exclusive, at most 64).
fn bits_between(lo: u32, hi: u32) -> usize {
    if lo >= hi {
        return 0;
    }
    let upper = if hi >= 64 {
        usize::MAX
    } else {
        (1usize << hi) - 1
    };
    upper & !((1usize << lo) - 1)
}

/// Positions of the set bits of `mask`.
pub fn set_bits(mut mask: usize) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let b = mask.trailing_zeros();
            mask &= mask - 1;
            b
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_partition_the_indices() {
        for held in [vec![0u32], vec![3], vec![1, 4], vec![4, 1], vec![0, 2, 5]] {
            let bases: Vec<usize> = with_groups!(6, &held, 0, 0, |gi| (0..gi.count())
                .map(|g| gi.base(g))
                .collect());
            let wide = GroupIndexWide::new(6, &held, 0);
            assert_eq!(
                bases,
                (0..wide.count()).map(|g| wide.base(g)).collect::<Vec<_>>()
            );
            let hmask: usize = held.iter().map(|b| 1usize << b).sum();
            let mut seen = [false; 64];
            for &b in &bases {
                assert_eq!(b & hmask, 0);
                for sub in 0..64usize {
                    if sub & !hmask == 0 {
                        assert!(!seen[b | sub]);
                        seen[b | sub] = true;
                    }
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn fixed_bits_are_set() {
        let gi = GroupIndex::<3>::new(4, &[0, 2], 0b0100);
        let bases: Vec<usize> = (0..gi.count()).map(|g| gi.base(g)).collect();
        assert_eq!(bases, vec![0b0100, 0b0110, 0b1100, 0b1110]);
    }
}
