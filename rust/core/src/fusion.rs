//! Gate fusion for registers larger than a cache tile.
//!
//! Every unfused gate on a large register is one pass over the state in memory. The plan
//! here groups the ops into *segments*: runs of ops whose bits all lie in one set of
//! `tile` bits. A segment is applied tile by tile (`state::tile`): gather the 2^tile
//! amplitudes that share the other bits into a cache-resident buffer, apply every op of the
//! segment there, scatter back — one pass over memory per segment instead of one per op.
//! Ops are moved earlier only past ops on disjoint bits (they commute), so a segment plan
//! is a valid reordering of the circuit, and the adjoint can sweep it in reverse.

use crate::state::index::set_bits;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// The lowest bits always belong to the tile: gathers then copy runs of 2^LOW_BITS
/// contiguous amplitudes (256 B of complex64), and kernels on them see contiguous pairs.
pub const LOW_BITS: u32 = 5;

/// Bytes of one state tile: 256 KiB sits well inside a 1 MiB L2 (the EPYC VMs we measure
/// on), leaving room for the kernels' other data.
pub const TILE_BYTES: usize = 256 << 10;

/// Bytes of the tiles of φ and every λ that one adjoint task holds at once: the whole
/// per-core L2 (the tiles are the task's only working set).
pub const ADJOINT_TILE_BYTES: usize = 1 << 20;

/// Row bits of a register block (`state::regblock`) inside a tile: 6 measured fastest at
/// 16-22 qubits (examples/layered.rs, one thread, alternating runs: 6-9% faster than 4;
/// 5 in between): a 14-bit tile then takes 2 passes of blocks instead of 3.
pub const DEFAULT_BLOCK_BITS: u32 = 6;

/// Row bits of the blocks of a state that fits one tile (`Program::forward`), built per
/// sample: larger ones cost more to build than they save (12-14 qubits, 6 bits 25-45%
/// slower than 4).
pub const WHOLE_STATE_BLOCK_BITS: u32 = 4;

static ENABLED: AtomicBool = AtomicBool::new(true);
static BLOCK_BITS: AtomicU32 = AtomicU32::new(DEFAULT_BLOCK_BITS);
/// 0: derive the tile from TILE_BYTES and the precision.
static TILE_QUBITS: AtomicUsize = AtomicUsize::new(0);

/// Turn fusion on or off (off: every op is its own pass, as a reference and for timing).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed)
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Set the register-block size inside tiles (0 or 1: no blocks, every kernel its own pass
/// over the tile; above `regblock::MAX_BLOCK_BITS`: that).
pub fn set_block_bits(k: u32) {
    BLOCK_BITS.store(
        k.min(crate::state::regblock::MAX_BLOCK_BITS),
        Ordering::Relaxed,
    )
}

pub fn block_bits() -> u32 {
    BLOCK_BITS.load(Ordering::Relaxed)
}

/// Force the tile size in qubits (0 restores the default from TILE_BYTES).
pub fn set_tile_qubits(k: usize) {
    TILE_QUBITS.store(k, Ordering::Relaxed)
}

/// The tile size forced by `set_tile_qubits`, if any.
pub fn forced_tile_qubits() -> Option<u32> {
    match TILE_QUBITS.load(Ordering::Relaxed) {
        0 => None,
        k => Some(k as u32),
    }
}

/// Tile size in qubits for states of `amp_bytes`-byte amplitudes, `copies` states per tile
/// (the adjoint keeps φ and every λ of a tile in cache together, in `ADJOINT_TILE_BYTES`).
pub fn default_tile_qubits(amp_bytes: usize, copies: usize) -> u32 {
    let budget = if copies > 1 {
        ADJOINT_TILE_BYTES
    } else {
        TILE_BYTES
    };
    let amps = budget / (amp_bytes * copies.max(1));
    (amps.max(1).ilog2()).max(LOW_BITS + 3)
}

/// A run of ops applied together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Op indices, in the order they run.
    pub ops: Vec<usize>,
    /// The tile's bits, ascending; empty for an op too wide for any tile, which runs alone
    /// on the whole state.
    pub bits: Vec<u32>,
}

/// Group ops (given by their support masks) into segments for an `n`-bit register and
/// `tile`-bit tiles (the lowest `LOW_BITS` always among them).
pub fn plan(supports: &[usize], n: u32, tile: u32) -> Vec<Segment> {
    let low = (1usize << LOW_BITS.min(n)) - 1;
    let eligible: Vec<bool> = (supports.iter())
        .map(|s| (s | low).count_ones() <= tile)
        .collect();
    group(supports, &eligible, tile, low)
        .into_iter()
        .map(|g| Segment {
            bits: g.mask.map_or(Vec::new(), |m| fill_low(m, n, tile)),
            ops: g.ops,
        })
        .collect()
}

/// A run of ops grouped by `group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Op indices, in the order they run.
    pub ops: Vec<usize>,
    /// The bits they touch (with the base bits); None for an ineligible op, alone.
    pub mask: Option<usize>,
}

/// Group ops into runs touching at most `max_bits` bits (counting the `base` bits), each
/// run applied together. Greedy: each round sweeps the remaining ops in order, taking every
/// eligible op that fits the growing set of bits and does not depend on an op left behind
/// this round (an op moves earlier only past ops on disjoint bits: they commute). An
/// ineligible or too wide op at the head of a round forms a group alone.
pub fn group(supports: &[usize], eligible: &[bool], max_bits: u32, base: usize) -> Vec<Group> {
    let fits = |mask: usize| mask.count_ones() <= max_bits;
    let mut remaining: Vec<usize> = (0..supports.len()).collect();
    let mut out = Vec::new();
    while !remaining.is_empty() {
        let first = remaining[0];
        if !eligible[first] || !fits(base | supports[first]) {
            out.push(Group {
                ops: vec![first],
                mask: None,
            });
            remaining.remove(0);
            continue;
        }
        let (mut bits, mut blocked) = (base, 0usize);
        let (mut taken, mut rest) = (Vec::new(), Vec::new());
        for &i in &remaining {
            let sup = supports[i];
            if blocked != usize::MAX && eligible[i] && sup & blocked == 0 && fits(bits | sup) {
                bits |= sup;
                taken.push(i);
            } else {
                blocked |= sup;
                rest.push(i);
            }
        }
        out.push(Group {
            ops: taken,
            mask: Some(bits),
        });
        remaining = rest;
    }
    out
}

/// The tile's bits: `mask` plus the lowest free bits up to `tile` bits (longer contiguous
/// runs, fewer tiles), ascending.
fn fill_low(mut mask: usize, n: u32, tile: u32) -> Vec<u32> {
    for b in 0..n {
        if mask.count_ones() >= tile {
            break;
        }
        mask |= 1usize << b;
    }
    set_bits(mask).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bit(b: u32) -> usize {
        1usize << b
    }

    #[test]
    fn independent_ops_share_one_segment() {
        // single-qubit gates on every bit of a 12-bit register, tile of 9 bits
        let sups: Vec<usize> = (0..12).rev().map(bit).collect();
        let segs = plan(&sups, 12, 9);
        let mut all: Vec<usize> = segs.iter().flat_map(|s| s.ops.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
        assert_eq!(segs.len(), 2);
        for s in &segs {
            assert_eq!(s.bits.len(), 9);
            for &i in &s.ops {
                assert!(set_bits(sups[i]).all(|b| s.bits.contains(&b)));
            }
        }
    }

    #[test]
    fn order_is_kept_between_dependent_ops() {
        // op0 on bit 11 (does not fit with op1), op1 on bits 10,9, op2 on bits 11 and 0:
        // op2 depends on op0 and must not run before it.
        let sups = vec![bit(11) | bit(10), bit(9) | bit(8), bit(11) | bit(0), bit(7)];
        let segs = plan(&sups, 12, LOW_BITS + 3);
        let pos = |op: usize| {
            segs.iter()
                .enumerate()
                .find_map(|(k, s)| s.ops.iter().position(|&o| o == op).map(|p| (k, p)))
                .unwrap()
        };
        assert!(pos(0) < pos(2));
        for s in &segs {
            assert!(s.bits.len() as u32 <= LOW_BITS + 3);
        }
    }

    #[test]
    fn wide_ops_run_alone() {
        let sups = vec![bit(3), (1usize << 12) - 1, bit(2)];
        let segs = plan(&sups, 12, 8);
        assert_eq!(segs.len(), 3);
        assert_eq!(
            segs[1],
            Segment {
                ops: vec![1],
                bits: vec![]
            }
        );
    }
}
