//! Enumerating the amplitude groups a gate touches.
//!
//! A gate on k target bits with c control bits acts on 2^(n-k-c) groups of 2^k
//! amplitudes. Group `g` has its base index made by inserting zero bits into `g` at
//! the sorted target and control positions, then setting the control bits to their
//! required values. Each inserted bit costs one shift-and-mask.

/// Base-index generator for groups with some bit positions held fixed.
#[derive(Clone, Debug)]
pub struct GroupIndex {
    /// `masks[j]`: output bits taken from `g << j` (the j-th segment between fixed bits).
    masks: [usize; 65],
    segments: usize,
    fixed: usize,
    count: usize,
}

impl GroupIndex {
    /// `held`: bit positions removed from the enumeration (any order, distinct);
    /// `fixed`: value ORed into every base index (control bits that must be 1).
    pub fn new(n_bits: u32, held: &[u32], fixed: usize) -> Self {
        let mut pos: [u32; 64] = [0; 64];
        let k = held.len();
        pos[..k].copy_from_slice(held);
        pos[..k].sort_unstable();
        let mut masks = [0usize; 65];
        let mut lo = 0u32;
        for j in 0..k {
            masks[j] = bits_between(lo, pos[j]);
            lo = pos[j] + 1;
        }
        masks[k] = bits_between(lo, 64);
        let count = 1usize << (n_bits as usize - k);
        GroupIndex {
            masks,
            segments: k + 1,
            fixed,
            count,
        }
    }

    #[inline(always)]
    pub fn base(&self, g: usize) -> usize {
        let mut r = self.fixed;
        for j in 0..self.segments {
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

/// Mask of bits `lo..hi` (hi exclusive, at most 64).
fn bits_between(lo: u32, hi: u32) -> usize {
    if lo >= hi {
        return 0;
    }
    let upper = if hi >= 64 { usize::MAX } else { (1usize << hi) - 1 };
    upper & !((1usize << lo) - 1)
}

/// Positions of the set bits of `mask`.
pub fn set_bits(mask: usize) -> impl Iterator<Item = u32> {
    (0..usize::BITS).filter(move |b| (mask >> b) & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_partition_the_indices() {
        for held in [vec![0u32], vec![3], vec![1, 4], vec![4, 1], vec![0, 2, 5]] {
            let gi = GroupIndex::new(6, &held, 0);
            let hmask: usize = held.iter().map(|b| 1usize << b).sum();
            let mut seen = vec![false; 64];
            for g in 0..gi.count() {
                let b = gi.base(g);
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
        let gi = GroupIndex::new(4, &[0, 2], 0b0100);
        let bases: Vec<usize> = (0..gi.count()).map(|g| gi.base(g)).collect();
        assert_eq!(bases, vec![0b0100, 0b0110, 0b1100, 0b1110]);
    }
}
