//! The compiled program: a tape's theta-independent kernels, its generators and its fused
//! plan, built ONCE per tape (the bindings cache it on their `Tape`) and shared by every
//! engine and every call.

use crate::engine::lanes;
use crate::frame::ZFrame;
use crate::fusion;
use crate::scalar::{mul2, Real, C, C64};
use crate::state::index::set_bits;
use crate::state::regblock::{self, Pass, Place};
use crate::state::tile::Tiling;
use crate::state::Kernel;
use crate::tape::{Param, Tape};
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// From this many qubits the per-sample forward runs register blocks: below, building them
/// for each sample costs more than the passes they save (examples/layered.rs, one thread,
/// 4 layers: 9-10 q 2x slower with blocks, 11 q even, 12 q 1.45x (c64) to 1.7x (c128)
/// faster, 14 q 1.35-1.5x).
const BLOCKS_MIN_QUBITS: usize = 12;

/// A theta-independent op's kernel and its inverse (built on first use: only the adjoint
/// needs it).
type FixedOp<T> = (Kernel<T>, OnceLock<Kernel<T>>);

/// A tape's trailing Z-string frame and the program of the ops before it.
type Framed<T> = Box<(ZFrame, Program<T>)>;

/// One step of a fused plan.
#[derive(Clone)]
pub(crate) enum Block {
    /// These ops, applied tile by tile.
    Tiled { ops: Vec<usize>, tiling: Tiling },
    /// One op too wide for a tile, applied to the whole state.
    Whole(usize),
}

/// A tape compiled for precision `T`.
pub struct Program<T> {
    tape: Arc<Tape>,
    fixed: Vec<Option<FixedOp<T>>>,
    /// Per op: (generator kernel, factor, theta column) for one-parameter generator gates.
    pub(crate) generators: Vec<Option<(Kernel<T>, C64, usize)>>,
    /// Fused plan of the forward pass for the default tile (None: the register fits in one
    /// tile). Built on first use.
    fused: OnceLock<Option<Vec<Block>>>,
    /// Whether every op has a kernel the batch-lane engine implements (no dense matrix on
    /// 3+ wires): decided by the engine on first use.
    pub(crate) lane_kernels: OnceLock<bool>,
    /// The lane engine's theta-independent plans (per block width: forward, adjoint),
    /// built on first use.
    pub(crate) lane_layouts: lanes::Layouts<T>,
    /// The tape's trailing Z-string frame and the program of the ops before it (None:
    /// no such ops), built on first use.
    frame: OnceLock<Option<Framed<T>>>,
}

impl<T: Real> Program<T> {
    pub fn new(tape: Arc<Tape>) -> Self {
        let n = tape.n_qubits;
        let fixed: Vec<Option<FixedOp<T>>> = (tape.ops.iter())
            .map(|op| {
                (!op.is_parametrised()).then(|| (op.kernel(&op.angles(&[]), n), OnceLock::new()))
            })
            .collect();
        let generators = (tape.ops.iter())
            .map(|op| match op.params.as_slice() {
                [Param::Col(col)] => op.generator(n).map(|(k, c)| (k, c, *col)),
                _ => None,
            })
            .collect();
        Program {
            tape,
            fixed,
            generators,
            fused: OnceLock::new(),
            lane_kernels: OnceLock::new(),
            lane_layouts: lanes::Layouts::default(),
            frame: OnceLock::new(),
        }
    }

    /// The tape's trailing Z-string frame (`frame`) and the program of the ops before it;
    /// None when the tape does not end with such ops.
    pub(crate) fn framed(&self) -> Option<&(ZFrame, Program<T>)> {
        let built = self.frame.get_or_init(|| {
            let frame = ZFrame::of(&self.tape);
            let ops = &self.tape.ops[..frame.start()];
            (ops.len() < self.tape.ops.len()).then(|| {
                let prefix = Tape {
                    n_qubits: self.tape.n_qubits,
                    n_params: self.tape.n_params,
                    ops: ops.to_vec(),
                };
                Box::new((frame, Program::new(Arc::new(prefix))))
            })
        });
        built.as_deref()
    }

    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The shared tape this program was compiled from.
    pub fn tape_arc(&self) -> &Arc<Tape> {
        &self.tape
    }

    /// The kernels of the theta-independent ops.
    pub(crate) fn fixed_kernels(&self) -> impl Iterator<Item = &Kernel<T>> {
        self.fixed.iter().flatten().map(|(k, _)| k)
    }

    /// Kernel of op `i` for the theta row `row`.
    #[inline]
    pub fn kernel(&self, i: usize, row: &[f64]) -> Cow<'_, Kernel<T>> {
        match &self.fixed[i] {
            Some((k, _)) => Cow::Borrowed(k),
            None => {
                let op = &self.tape.ops[i];
                Cow::Owned(op.kernel(&op.angles(row), self.tape.n_qubits))
            }
        }
    }

    /// Kernel of the inverse of op `i`.
    #[inline]
    pub fn undo(&self, i: usize, row: &[f64]) -> Cow<'_, Kernel<T>> {
        match &self.fixed[i] {
            Some((k, inv)) => Cow::Borrowed(inv.get_or_init(|| k.dagger())),
            None => {
                let op = &self.tape.ops[i];
                Cow::Owned(op.kernel::<T>(&op.angles(row), self.tape.n_qubits).dagger())
            }
        }
    }

    /// The forward pass's fused plan for tiles of `tile` bits (None: the forced or default
    /// size); None inside when the register fits in one tile. The default plan is cached.
    pub(crate) fn fused(&self, tile: Option<u32>) -> Cow<'_, Option<Vec<Block>>> {
        let (t, default) = self.tile_bits(tile);
        if t == default {
            Cow::Borrowed(self.fused.get_or_init(|| fused_plan(&self.tape, Some(t))))
        } else {
            Cow::Owned(fused_plan(&self.tape, Some(t)))
        }
    }

    /// Whether `fused(tile)` has a plan (the register is wider than a tile), without
    /// building one.
    pub(crate) fn fuses(&self, tile: Option<u32>) -> bool {
        (self.tile_bits(tile).0 as usize) < self.tape.n_qubits
    }

    /// (tile size for `tile`: given, forced by `fusion::set_tile_qubits`, or the default;
    /// the default for this precision).
    fn tile_bits(&self, tile: Option<u32>) -> (u32, u32) {
        let default = fusion::default_tile_qubits(std::mem::size_of::<C<T>>(), 1);
        (
            tile.or_else(fusion::forced_tile_qubits).unwrap_or(default),
            default,
        )
    }

    /// Run all ops on `s` op by op, same-wire runs of single-qubit gates merged; on one
    /// thread and from `BLOCKS_MIN_QUBITS` up, as register blocks of up to `block_bits` bits
    /// (at most `fusion::WHOLE_STATE_BLOCK_BITS`)
    /// (the state fits a tile: blocks save passes over it). Stops early (leaving `s` partly
    /// evolved) when `stop()` says so.
    pub(crate) fn forward(
        &self,
        s: &mut [C<T>],
        row: &[f64],
        block_bits: u32,
        par: bool,
        stop: &dyn Fn() -> bool,
    ) {
        let n = self.tape.n_qubits;
        let ks = (0..self.tape.ops.len()).map(|i| self.kernel(i, row));
        if !par && n >= BLOCKS_MIN_QUBITS && block_bits >= 2 {
            let mut merged = Vec::with_capacity(self.tape.ops.len());
            merge_single_qubit_runs(n, ks, |k| merged.push(k.clone()));
            let bits = block_bits.min(fusion::WHOLE_STATE_BLOCK_BITS);
            for pass in regblock::passes(merged, bits) {
                if stop() {
                    return;
                }
                pass.apply(s);
            }
            return;
        }
        merge_single_qubit_runs(n, ks, |k| {
            if !stop() {
                k.apply(s, par)
            }
        })
    }

    /// Run all ops on `s`, one pass over memory per block of a fused plan; inside a tile,
    /// runs of gates on few bits as register blocks of up to `block_bits` bits. `from_zero`:
    /// `s` is |0...0>, so the first tiled block has one tile to run, the one holding
    /// amplitude 0 (the others are zero and its ops keep them so): a pass over memory
    /// less, and the first segment's gates on 2^tile amplitudes instead of all.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward_fused(
        &self,
        blocks: &[Block],
        s: &mut [C<T>],
        row: &[f64],
        block_bits: u32,
        par: bool,
        stop: &dyn Fn() -> bool,
        from_zero: bool,
    ) {
        for (k, block) in blocks.iter().enumerate() {
            if stop() {
                return;
            }
            match block {
                Block::Whole(i) => self.kernel(*i, row).apply(s, par),
                Block::Tiled { ops, tiling } => {
                    let local = ops
                        .iter()
                        .map(|&i| Cow::Owned(tiling.localise(&self.kernel(i, row))));
                    let tiles = match from_zero && k == 0 {
                        true => 1,
                        false => tiling.count(),
                    };
                    tile_pass(tiling, local, block_bits, s, tiles, par);
                }
            }
        }
    }
}

/// One pass over `s` tile by tile (the first `tiles` tiles), running `local` (kernels
/// localised to the tiling) in each tile: same-bit single-qubit runs merged, then
/// register blocks of `block_bits`.
fn tile_pass<'k, T: Real>(
    tiling: &Tiling,
    local: impl Iterator<Item = Cow<'k, Kernel<T>>>,
    block_bits: u32,
    s: &mut [C<T>],
    tiles: usize,
    par: bool,
) {
    let mut ks = Vec::new();
    merge_single_qubit_runs(tiling.n_bits(), local, |k| ks.push(k.clone()));
    let passes = regblock::passes(ks, block_bits);
    let steps = passes.iter().map(|p| p.groups(tiling.amps())).sum();
    // a register block first (last) loads (stores) the tile in place: no gather (scatter)
    // through the buffer, which cost a fifth of the time at 22 qubits
    let block = |p: Option<&Pass<T>>| matches!(p, Some(Pass::Block(_)));
    let (load, store) = (block(passes.first()), block(passes.last()));
    let last = passes.len().saturating_sub(1);
    // SAFETY: the passes touch the state only through the tile's place
    unsafe {
        tiling.for_each(s, tiles, par, steps, (!load, !store), |buf, tile, ahead| {
            let at = Place::buffer(buf);
            for (i, p) in passes.iter().enumerate() {
                let src = if i == 0 && load { tile } else { at };
                let dst = if i == last && store { tile } else { at };
                p.apply_at(buf, src, dst, ahead)
            }
        })
    }
}

/// Run `kernels` (circuit order) on the state `s` as the tiled engine does, planned for this
/// call: one pass per segment of the default tile when fusion is on and the state is wider
/// than a tile, else op by op (same-bit single-qubit runs merged). For kernel lists that
/// are not a compiled tape's, such as a sharded rank's segment.
pub(crate) fn run_fused<T: Real>(kernels: Vec<Kernel<T>>, s: &mut [C<T>], par: bool) {
    let n = s.len().trailing_zeros();
    let tile = fusion::default_tile_qubits(std::mem::size_of::<C<T>>(), 1);
    let tile = fusion::forced_tile_qubits().unwrap_or(tile);
    if !fusion::enabled() || n <= tile {
        let ks = kernels.iter().map(Cow::Borrowed);
        return merge_single_qubit_runs(n as usize, ks, |k| k.apply(s, par));
    }
    let supports: Vec<usize> = kernels.iter().map(|k| k.support()).collect();
    for seg in fusion::plan(&supports, n, tile) {
        if seg.bits.is_empty() {
            kernels[seg.ops[0]].apply(s, par);
            continue;
        }
        let tiling = Tiling::new(n, &seg.bits);
        let local = seg
            .ops
            .iter()
            .map(|&i| Cow::Owned(tiling.localise(&kernels[i])));
        tile_pass(&tiling, local, fusion::block_bits(), s, tiling.count(), par);
    }
}

/// The fused plan of `tape` for tiles of `tile` bits; None when the register fits in one.
pub(crate) fn fused_plan(tape: &Tape, tile: Option<u32>) -> Option<Vec<Block>> {
    let n = tape.n_qubits as u32;
    let tile = tile.filter(|&t| t < n)?;
    let supports: Vec<usize> = (tape.ops.iter())
        .map(|op| op.support(tape.n_qubits))
        .collect();
    let blocks = fusion::plan(&supports, n, tile)
        .into_iter()
        .map(|seg| match seg.bits.is_empty() {
            true => Block::Whole(seg.ops[0]),
            false => Block::Tiled {
                tiling: Tiling::new(n, &seg.bits),
                ops: seg.ops,
            },
        })
        .collect();
    Some(blocks)
}

/// Emit `kernels` in order, except that runs of single-qubit gates on the same bit are
/// multiplied into one 2x2 matrix first (gates on other bits commute with them), so a
/// RX-RY-RZ layer costs one sweep per wire instead of three.
fn merge_single_qubit_runs<'k, T: Real>(
    n_bits: usize,
    kernels: impl Iterator<Item = Cow<'k, Kernel<T>>>,
    mut emit: impl FnMut(&Kernel<T>),
) {
    fn flush<T: Real>(
        pending: &mut [Option<[C<T>; 4]>],
        mask: usize,
        emit: &mut impl FnMut(&Kernel<T>),
    ) {
        for b in set_bits(mask) {
            if let Some(m) = pending[b as usize].take() {
                emit(&Kernel::single_qubit(b, m));
            }
        }
    }
    let mut pending: Vec<Option<[C<T>; 4]>> = vec![None; n_bits];
    for k in kernels {
        if let Some((t, m)) = k.as_single_qubit() {
            let slot = &mut pending[t as usize];
            *slot = Some(match slot {
                Some(p) => mul2(&m, p),
                None => m,
            });
        } else {
            flush(&mut pending, k.support(), &mut emit);
            emit(&k);
        }
    }
    flush(
        &mut pending,
        usize::MAX >> (usize::BITS as usize - n_bits),
        &mut emit,
    );
}

/// A tape compiled for both precisions, each on first use: what the bindings keep per tape.
pub struct Compiled {
    tape: Arc<Tape>,
    f64: OnceLock<Program<f64>>,
    f32: OnceLock<Program<f32>>,
}

impl Compiled {
    pub fn new(tape: Tape) -> Self {
        Compiled {
            tape: Arc::new(tape),
            f64: OnceLock::new(),
            f32: OnceLock::new(),
        }
    }

    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The program in precision `T` (compiled on first use).
    pub fn program<T: Precision>(&self) -> &Program<T> {
        T::slot(self).get_or_init(|| Program::new(self.tape.clone()))
    }
}

/// The precisions a `Compiled` holds a program for.
pub trait Precision: Real {
    fn slot(c: &Compiled) -> &OnceLock<Program<Self>>;
}

impl Precision for f64 {
    fn slot(c: &Compiled) -> &OnceLock<Program<f64>> {
        &c.f64
    }
}

impl Precision for f32 {
    fn slot(c: &Compiled) -> &OnceLock<Program<f32>> {
        &c.f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Ctrl;

    fn c<T: Real>(re: f64, im: f64) -> C<T> {
        C::new(T::of(re), T::of(im))
    }

    fn mat1<T: Real>(t: u32, seed: f64) -> Kernel<T> {
        let (a, b) = (seed.cos(), seed.sin());
        Kernel::Mat1 {
            t,
            m: [c(a, 0.1), c(0.0, -b), c(-b, 0.2), c(a, -0.3)],
            ctrl: Ctrl::NONE,
        }
    }

    /// A dense kernel: never a register block, so it forces a gather or a scatter.
    fn dense<T: Real>(bits: Vec<u32>) -> Kernel<T> {
        let m = (0..1usize << (2 * bits.len()))
            .map(|j| c((j as f64 * 0.7).sin(), (j as f64 * 0.3).cos()))
            .collect();
        Kernel::MatK { bits, m }
    }

    /// A tile pass whose first or last pass is a register block reads or writes the tile
    /// in place in the state: with tile bits that are not contiguous (the in-place map is
    /// not the identity), every mix of in-place and buffered ends gives the kernels' state.
    fn tile_pass_matches_kernels<T: Real>(tol: f64) {
        let n = 12;
        let bits = [0, 1, 2, 3, 4, 6, 8, 9, 11];
        let tiling = Tiling::new(n, &bits);
        let block = || {
            vec![
                mat1(6, 0.3),
                Kernel::Flip {
                    t: 8,
                    ctrl: Ctrl {
                        mask: 1 << 11,
                        value: 1 << 11,
                    },
                },
                mat1(1, 0.9),
                Kernel::Parity {
                    mask: (1 << 11) | (1 << 2),
                    even: c(0.6, 0.8),
                    odd: c(0.8, -0.6),
                },
                mat1(11, 1.7),
            ]
        };
        let cases: [(Vec<Kernel<T>>, bool, bool); 4] = [
            (block(), true, true),
            (
                [block(), vec![dense(vec![11, 6, 1])], block()].concat(),
                true,
                true,
            ),
            ([vec![dense(vec![8, 11])], block()].concat(), false, true),
            ([block(), vec![dense(vec![3, 9])]].concat(), true, false),
        ];
        for (ks, first_block, last_block) in cases {
            let local: Vec<_> = ks.iter().map(|k| tiling.localise(k)).collect();
            let ps = regblock::passes(local.clone(), 4);
            assert_eq!(matches!(ps.first(), Some(Pass::Block(_))), first_block);
            assert_eq!(matches!(ps.last(), Some(Pass::Block(_))), last_block);
            let start: Vec<C<T>> = (0..1usize << n)
                .map(|i| c((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
                .collect();
            let mut direct = start.clone();
            ks.iter().for_each(|k| k.apply(&mut direct, false));
            for par in [false, true] {
                let mut s = start.clone();
                let all = tiling.count();
                tile_pass(
                    &tiling,
                    local.iter().map(Cow::Borrowed),
                    4,
                    &mut s,
                    all,
                    par,
                );
                let err = (s.iter().zip(&direct))
                    .map(|(a, b)| (a - b).norm().to_f64().unwrap())
                    .fold(0.0, f64::max);
                assert!(err < tol, "first {first_block}, last {last_block}: {err}");
            }
        }
    }

    #[test]
    fn tile_passes_read_and_write_the_tile_in_place() {
        tile_pass_matches_kernels::<f64>(1e-12);
        tile_pass_matches_kernels::<f32>(1e-4);
    }
}
