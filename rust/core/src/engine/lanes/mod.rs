//! Batch-lane engine for small registers and large batches (typical QML: 2-8 qubits,
//! batch 16-256, different angles in every sample).
//!
//! The per-sample path runs each sample's state through scalar complex kernels; with 16
//! amplitudes a gate is a handful of pairs and its cost is overhead. Here a block of
//! `LANES` samples (`NARROW` in calls of at most that many) is stored amplitude-major
//! (`kernels::Z`: row `i` holds amplitude `i` of every lane, real and imaginary parts in
//! separate arrays), so every gate is a loop over lanes with per-lane coefficients that
//! the compiler vectorises. Blocks are independent: they run in parallel on the qoxide
//! pool when the batch is large enough.
//!
//! Results equal the per-sample path's up to rounding: the same kernels and adjoint sweep,
//! sums in another order, and rotation coefficients from a vectorised sincos (trig.rs).

#[cfg(target_arch = "x86_64")]
mod avx512;
mod kernels;
#[cfg(test)]
mod tests;
mod trig;

use super::{Init, Options};
use crate::cpu::multiversion;
use crate::gates::{self, Form};
use crate::pool;
use crate::program::Program;
use crate::scalar::{cast, widen, Real, C, C64};
use crate::state::index::set_bits;
use crate::state::{Ctrl, Kernel};
use crate::tape::{Op, Param};
use kernels::{apply, apply_real, as_mat1, dagger, inner, mul2, Shape, Z};
use std::any::TypeId;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use trig::Rotation;

/// Samples per block. Dressed circuit (4 qubits, batch 64, f64, one thread), forward +
/// VJP: 8 lanes 110 µs, 16 lanes 91-96 µs, 32 lanes 96 µs; a partly filled block costs
/// as much as a full one, which favours small blocks at small batch.
pub(crate) const LANES: usize = 16;

/// Samples per block of calls of at most this many samples (a row's real parts in one
/// AVX-512 register of f64): a block of 16 lanes with one or two live ones does mostly
/// padding. Dressed circuit, forward + VJP, f64, one thread (`examples/lanes.rs`, old
/// and new binaries alternated 3 times, 2-vCPU VM): the VJP at batch 1-8 5.1-5.6 ->
/// 4.5-4.8 µs; the forward, dominated by per-op costs, unchanged.
pub(crate) const NARROW: usize = 8;

/// Run `$body` with the const `$L` bound to the block width for `$batch` samples (the
/// body is compiled once per width).
macro_rules! by_width {
    ($batch:expr, $L:ident => $body:expr) => {
        if $batch <= NARROW {
            const $L: usize = NARROW;
            $body
        } else {
            const $L: usize = LANES;
            $body
        }
    };
}

/// Above this many amplitude-state updates (batch · 2^n · ops · states swept) a call shares
/// its blocks with the pool (`pool::share`: the calling thread works too, helpers join
/// as they wake). Until 2026-12-07 the blocks went to the pool through `pool::install`,
/// with the caller asleep until the pool finished; that paid two wake-ups per call and
/// needed 2^21 updates to win. Dressed circuit from Python (forward + `autograd.grad` of
/// the sum, final states kept), one process per setting, settings alternated 5-6 times,
/// 2-vCPU VM (AMD EPYC), min / median µs per step:
/// - batch 256: install at 2^17 354/426; share at 2^17 222/266, serial 193-205/205-279;
/// - batch 1024: serial (2^21) 550-562/607-657; install at 2^19 577/591; share at 2^19
///   471-475/481-582, at 2^18 446/497;
/// - batch 2048: 2^21 870-970/1038-1104; install at 2^19 847/990; share at 2^19
///   718-738/802-973.
///
/// From Python the pool's threads are asleep at every call: below about 2^18 updates
/// (batch 256 forward) waking one costs more than it takes over.
const SERIAL_MAX_WORK: usize = 1 << 19;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turn the lane engine on or off (off: every sample runs alone, as a reference and for
/// timing). Results agree either way up to rounding.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed)
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether the lane engine implements kernel `k` (everything but dense matrices on 3+
/// wires).
pub(crate) fn implements<T: Real>(k: &Kernel<T>) -> bool {
    Shape::of(k, |_| ()).is_some()
}

/// Samples per chunk of a streamed call: about 8 MiB of states, at least one block per
/// thread, a whole number of blocks.
pub(crate) fn chunk_samples<T: Real>(n_qubits: usize) -> usize {
    let state = std::mem::size_of::<C<T>>() << n_qubits;
    let blocks = ((8usize << 20) / (state * LANES)).max(pool::num_threads());
    blocks * LANES
}

/// Final states `[B, 2^n]` (sample-major, as `execute::state`) for `init`.
pub(crate) fn final_states<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
    opts: &Options,
) -> Vec<C<T>> {
    let dim = 1usize << prog.tape().n_qubits;
    if let Init::Final(s) = init {
        return s.to_vec();
    }
    // every block writes all its rows: no zeroing pass first
    let mut out = Vec::with_capacity(batch * dim);
    let rows = &mut out.spare_capacity_mut()[..batch * dim];
    by_width!(batch, L => {
        let plan = Plan::<T, L>::new(prog, theta, false);
        for_blocks(&plan, batch, 1, rows, dim, |base, o| {
            if opts.cancelled() {
                o.fill(MaybeUninit::new(C::new(T::zero(), T::zero())));
                return;
            }
            forward_fast(&plan, init, base, o)
        })
    });
    // SAFETY: each block wrote every value of its rows (states, or zeros when cancelled),
    // and the blocks' rows cover the first batch · 2^n values
    unsafe { out.set_len(batch * dim) };
    out
}

/// ⟨O_m⟩ `[B, M]` for diagonal observables (`diag` their real diagonals `[M, 2^n]`) from
/// `init` (not final states), and with `keep_states` the final states `[B, 2^n]` too:
/// each block runs forward and reads its expvals off its own rows, Σ_x d_m(x)|φ_x|²
/// lane-parallel, instead of a per-sample pass over a copy of each state.
pub(crate) fn diag_expvals<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
    diag: &[f64],
    keep_states: bool,
    opts: &Options,
) -> (Vec<f64>, Option<Vec<C<T>>>) {
    let dim = 1usize << prog.tape().n_qubits;
    let m = diag.len() / dim;
    let mut out = vec![0.0; batch * m];
    if m == 0 {
        return (out, None); // callers with no observables take the other routes
    }
    if !keep_states {
        by_width!(batch, L => {
            let plan = Plan::<T, L>::new(prog, theta, false);
            for_blocks(&plan, batch, 1, &mut out, m, |base, o| {
                if !opts.cancelled() {
                    expval_fast(&plan, init, diag, base, o, &mut [])
                }
            })
        });
        return (out, None);
    }
    // every block writes all its rows: no zeroing pass first
    let mut states = Vec::with_capacity(batch * dim);
    let rows = &mut states.spare_capacity_mut()[..batch * dim];
    let zero = MaybeUninit::new(C::new(T::zero(), T::zero()));
    by_width!(batch, L => {
        let plan = Plan::<T, L>::new(prog, theta, false);
        for_block_pairs(&plan, batch, (&mut out, m), (rows, dim), |base, o, s| {
            if opts.cancelled() {
                s.fill(zero);
                return;
            }
            expval_fast(&plan, init, diag, base, o, s)
        })
    });
    // SAFETY: each block wrote every value of its rows (states, or zeros when cancelled),
    // and the blocks' rows cover the first batch · 2^n values
    unsafe { states.set_len(batch * dim) };
    (out, Some(states))
}

/// The adjoint states of a VJP's backward sweep.
#[derive(Clone, Copy)]
pub(crate) enum Adjoint<'a, T> {
    /// λ given, `[B, 2^n]`
    States(&'a [C<T>]),
    /// λ = Σ_m g_m O_m φ for diagonal observables, built per block from φ: per basis
    /// state x, λ_x = w_x φ_x with w_x = Σ_m g_m d_m(x). `g` the cotangents `[B, M]`,
    /// `diag` the observables' real diagonals `[M, 2^n]`.
    Diagonal { g: &'a [f64], diag: &'a [f64] },
}

/// The adjoint backward sweep for every sample at once: `phi` final states `[B, 2^n]`,
/// `lam` the adjoint states; appends to `grads` the `[B, P]` gradients `adjoint::sweep`
/// gives each sample with its one λ (zeros where a cancelled call stopped).
pub(crate) fn vjp_sweep<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    phi: &[C<T>],
    lam: Adjoint<T>,
    grads: &mut Vec<f64>,
    opts: &Options,
) {
    if zeros_without_parameters(prog, batch, grads) {
        return;
    }
    by_width!(batch, L => {
        let plan = Plan::<T, L>::new(prog, theta, true);
        grad_blocks(&plan, batch, 2, grads, opts, |base, g| {
            backward_fast(&plan, phi, lam, base, g)
        })
    })
}

/// Appends `[B, P]` zeros to `grads` when no op of `prog` has a parameter (nothing to
/// sweep); whether it did.
fn zeros_without_parameters<T: Real>(
    prog: &Program<T>,
    batch: usize,
    grads: &mut Vec<f64>,
) -> bool {
    let tape = prog.tape();
    let p = tape.n_params;
    let none = p == 0 || !tape.ops.iter().any(Op::is_parametrised);
    if none {
        grads.resize(grads.len() + batch * p, 0.0);
    }
    none
}

/// Appends a call's `[B, P]` gradients to `grads`: each block's rows are zeroed on the
/// thread that runs the block (in cache, instead of one memset of `[B, P]` on the calling
/// thread first), then `sweep(base, rows)` adds into them unless the call was cancelled.
/// `states`: states swept per op, for `for_blocks`.
fn grad_blocks<T: Real, const L: usize>(
    plan: &Plan<T, L>,
    batch: usize,
    states: usize,
    grads: &mut Vec<f64>,
    opts: &Options,
    sweep: impl Fn(usize, &mut [f64]) + Sync + Send,
) {
    let p = plan.prog.tape().n_params;
    let (len, n) = (grads.len(), batch * p);
    grads.reserve(n);
    let rows = &mut grads.spare_capacity_mut()[..n];
    for_blocks(plan, batch, states, rows, p, |base, g| {
        g.fill(MaybeUninit::new(0.0));
        // SAFETY: every value was just written; MaybeUninit<f64> has f64's layout
        let g = unsafe { &mut *(g as *mut [MaybeUninit<f64>] as *mut [f64]) };
        if !opts.cancelled() {
            sweep(base, g)
        }
    });
    // SAFETY: the blocks' rows cover the n values past `len` (within the capacity
    // reserved), and each block zeroed its own
    unsafe { grads.set_len(len + n) };
}

/// The VJP from the initial states `init` for diagonal observables (`g` cotangents
/// `[B, M]`, `diag` their diagonals `[M, 2^n]`), appending the `[B, P]` gradients to
/// `grads`: each block runs forward, builds its λ and sweeps back in place, without a
/// `[B, 2^n]` buffer of final states.
#[allow(clippy::too_many_arguments)]
pub(crate) fn vjp_from_init<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
    g: &[f64],
    diag: &[f64],
    grads: &mut Vec<f64>,
    opts: &Options,
) {
    if zeros_without_parameters(prog, batch, grads) {
        return;
    }
    by_width!(batch, L => {
        let fwd = Plan::<T, L>::new(prog, theta, false);
        let bwd = Plan::<T, L>::new(prog, theta, true);
        let (plans, obs) = ((&fwd, &bwd), (g, diag));
        grad_blocks(&bwd, batch, 3, grads, opts, |base, gb| {
            round_trip_fast(plans, init, obs, base, gb)
        })
    })
}

/// Runs of one-qubit gates on a wire are multiplied into one 2x2 per lane from this many
/// qubits. Below, applying a gate to the block's 2^n rows costs less than the per-lane
/// complex 2x2 product (above all on real states, whose kernels skip the imaginary
/// parts). Lanes example, forward, one thread, merging on / off alternated 3 times
/// (2-vCPU VM, 2026-12-07), dressed circuit (H then RY merged on every wire): 3 qubits
/// batch 64 6.5-6.7 / 5.7-5.9 µs, 1024 74-83 / 59-61 µs; 4 qubits batch 8 1.8-1.9 /
/// 1.5 µs, 64 11.3-11.5 / 9.7-10.0 µs, 4096 626-663 / 568-598 µs; 5 and 6 qubits within
/// noise either way. With complex per-lane forms (every RY a Rot) at 2 and 4 qubits:
/// within noise.
const MERGE_MIN_QUBITS: usize = 5;

/// Calls of at least this many blocks keep the coefficients of angles shared by the batch
/// (`Plan::shared`); below, keeping them costs more than the sincos it saves. Dressed
/// circuit, shared weights, forward + VJP, one thread (`examples/lanes.rs`, 3 alternations):
/// batch 64 (4 blocks) 37-44 -> 40-48 µs kept, batch 1024 603-717 -> 502-611 µs.
const SHARED_MIN_BLOCKS: usize = 8;

/// A call's plan, shared by all blocks: the program's cached layout and the call's theta.
struct Plan<'a, T, const L: usize> {
    prog: &'a Program<T>,
    theta: &'a [f64],
    ops: &'a [OpPlan],
    /// coefficients that are the same in every lane (fixed ops, generators), splatted
    pool: &'a [Z<T, L>],
    /// every op's coefficients are real (`Layout::real`)
    real: bool,
    /// From `SHARED_MIN_BLOCKS` blocks: per rotation op and direction (`2i + inverse`),
    /// its coefficients at sample 0's angle, kept by the first block whose lanes all have
    /// that angle. A weight shared by the batch (the usual QML layer) then costs one
    /// vectorised sincos per call instead of one per block.
    shared: Vec<OnceLock<Vec<Z<T, L>>>>,
}

/// The theta-independent part of a plan (shapes, fixed coefficients, fusion schedule):
/// built once per program and direction and cached in `Program::lane_layouts`, so that a
/// call only fills the coefficients that depend on theta.
pub(crate) struct Layout<T, const L: usize> {
    ops: Vec<OpPlan>,
    pool: Vec<Z<T, L>>,
    /// Every op has real coefficients in every lane (H, RY, CNOT, CZ, SWAP, ...): a block
    /// whose states are real keeps them real, and its kernels skip the imaginary parts.
    real: bool,
}

struct OpPlan {
    shape: Shape,
    /// theta-independent op: where its U and U† coefficients start in the pool
    fixed: Option<[usize; 2]>,
    /// uncontrolled single-qubit op whose wire's next op is one too: multiplied into it
    /// (from `MERGE_MIN_QUBITS` qubits)
    merge: bool,
    /// one-parameter rotation whose coefficients are built lane-parallel, its theta column
    rotation: Option<(&'static Rotation, usize)>,
    /// generator G of a one-parameter gate (dU/dθ = c·G·U): shape, pool start, c, column
    generator: Option<(Shape, usize, C64, usize)>,
    /// other parametrised ops (adjoint only): (parameter index, theta column, shape of dU/dθ_k)
    derivatives: Vec<(usize, usize, Shape)>,
    /// every coefficient is real in every lane (fixed ops: checked; rotations: by form)
    real: bool,
    /// uncontrolled one-qubit gate whose generator acts on its wire alone (adjoint only):
    /// gradient and undo in one pass (`avx512::undo_rotation`)
    fused: Option<Fused>,
}

#[derive(Clone, Copy)]
struct Fused {
    t: u32,
    /// c·G, row-major
    cg: [C64; 4],
    /// `kernels::sums_needed(cg)`
    nz: u8,
    col: usize,
}

/// A program's layouts for both block widths (forward, adjoint), each built on first use.
pub(crate) struct Layouts<T> {
    wide: [OnceLock<Layout<T, LANES>>; 2],
    narrow: [OnceLock<Layout<T, NARROW>>; 2],
}

impl<T> Default for Layouts<T> {
    fn default() -> Self {
        Layouts {
            wide: [OnceLock::new(), OnceLock::new()],
            narrow: [OnceLock::new(), OnceLock::new()],
        }
    }
}

/// The layouts of one block width: where a program keeps them.
pub(crate) trait Width<T>: Sized {
    fn slot(layouts: &Layouts<T>, adjoint: bool) -> &OnceLock<Self>;
}

impl<T> Width<T> for Layout<T, LANES> {
    fn slot(layouts: &Layouts<T>, adjoint: bool) -> &OnceLock<Self> {
        &layouts.wide[adjoint as usize]
    }
}

impl<T> Width<T> for Layout<T, NARROW> {
    fn slot(layouts: &Layouts<T>, adjoint: bool) -> &OnceLock<Self> {
        &layouts.narrow[adjoint as usize]
    }
}

impl<'a, T: Real, const L: usize> Plan<'a, T, L>
where
    Layout<T, L>: Width<T>,
{
    /// The plan of a call: `prog`'s cached layout (`adjoint`: with generators and
    /// derivative shapes, no fusion) for `theta`.
    fn new(prog: &'a Program<T>, theta: &'a [f64], adjoint: bool) -> Self {
        let slot = Width::slot(&prog.lane_layouts, adjoint);
        let layout = slot.get_or_init(|| Layout::new(prog, adjoint));
        let p = prog.tape().n_params;
        let blocks = theta.len().checked_div(p).map_or(1, |b| b.div_ceil(L));
        let shared = if blocks >= SHARED_MIN_BLOCKS {
            (0..2 * layout.ops.len()).map(|_| OnceLock::new()).collect()
        } else {
            Vec::new()
        };
        Plan {
            prog,
            theta,
            ops: &layout.ops,
            pool: &layout.pool,
            real: layout.real,
            shared,
        }
    }
}

impl<T: Real, const L: usize> Layout<T, L> {
    /// Shapes come from the kernels at zero angles (a gate's kernel kind does not depend
    /// on its angles). `adjoint`: also the generators and derivative shapes.
    fn new(prog: &Program<T>, adjoint: bool) -> Self {
        let tape = prog.tape();
        let zeros = vec![0.0; tape.n_params];
        let row0 = zeros.as_slice();
        let mut pool = Vec::new();
        let mut shape_of = |k: &Kernel<T>, keep: bool| {
            let start = pool.len();
            let shape = Shape::of(k, |c| {
                if keep {
                    pool.push(Z::splat(c))
                }
            });
            (
                shape.expect("lanes: dense matrix on 3+ wires (check `eligible` first)"),
                start,
            )
        };
        let mut ops: Vec<OpPlan> = Vec::with_capacity(tape.ops.len());
        for (i, op) in tape.ops.iter().enumerate() {
            let fixed = !op.is_parametrised();
            let (shape, u) = shape_of(&prog.kernel(i, row0), fixed);
            let fixed = fixed.then(|| [u, shape_of(&prog.undo(i, row0), true).1]);
            let generator = (prog.generators[i].as_ref())
                .filter(|_| adjoint)
                .map(|(k, c, col)| {
                    let (s, start) = shape_of(k, true);
                    (s, start, *c, *col)
                });
            let mut derivatives = Vec::new();
            if adjoint && prog.generators[i].is_none() {
                let angles = op.angles(row0);
                for (k, prm) in op.params.iter().enumerate() {
                    if let Param::Col(col) = *prm {
                        let d = op.derivative::<T>(&angles, k, tape.n_qubits);
                        derivatives.push((k, col, shape_of(&d, false).0));
                    }
                }
            }
            let rotation = match op.params.as_slice() {
                [Param::Col(col)] => Rotation::of(op.gate).map(|r| (r, *col)),
                _ => None,
            };
            ops.push(OpPlan {
                shape,
                fixed,
                merge: false,
                rotation,
                generator,
                derivatives,
                real: false,
                fused: None,
            });
        }
        for o in ops.iter_mut() {
            (o.real, o.fused) = real_and_fused(o, &pool);
        }
        // fusion schedule (forward only): walking back, remember for each bit whether the
        // next op touching it is an uncontrolled single-qubit op
        let mut next_single = vec![false; tape.n_qubits];
        let merge = !adjoint && tape.n_qubits >= MERGE_MIN_QUBITS;
        for o in ops.iter_mut().rev() {
            let single = o.shape.single_qubit();
            o.merge = merge && single.is_some_and(|t| next_single[t as usize]);
            for t in set_bits(o.shape.support()) {
                next_single[t as usize] = false;
            }
            if let Some(t) = single {
                next_single[t as usize] = true;
            }
        }
        let real = ops.iter().all(|o| o.real);
        Layout { ops, pool, real }
    }
}

impl<'a, T: Real, const L: usize> Plan<'a, T, L> {
    /// Coefficients of op `i` (`inverse`: of U†) for the lanes of the block at `base`:
    /// rotations lane-parallel (see trig.rs), other parametrised ops through `gates::form`
    /// per lane (the kernel without its placement: half the cost of a `Kernel`).
    #[inline(always)]
    fn coefs<'s>(
        &'s self,
        i: usize,
        inverse: bool,
        base: usize,
        nl: usize,
        buf: &'s mut Vec<Z<T, L>>,
    ) -> &'s [Z<T, L>] {
        let p = &self.ops[i];
        if let Some(f) = p.fixed {
            return &self.pool[f[inverse as usize]..];
        }
        let (tape, op) = (self.prog.tape(), &self.prog.tape().ops[i]);
        if let Some((rot, col)) = p.rotation {
            // padding lanes repeat the last live one
            let (p, mut theta) = (tape.n_params, [0.0; L]);
            let rows = &self.theta[base * p..(base + nl) * p];
            for (b, t) in theta.iter_mut().enumerate() {
                *t = rows[b.min(nl - 1) * p + col];
            }
            let inv = inverse != op.inverse;
            let shared = (self.shared.get(2 * i + inverse as usize))
                .filter(|_| theta.iter().all(|&t| t == self.theta[col]));
            if let Some(z) = shared.and_then(OnceLock::get) {
                return z;
            }
            // filled here, inside the caller's AVX2/AVX-512 build (a closure run by the
            // OnceLock would be baseline code: sincos through software fma, 10x slower)
            rot.fill(buf, &theta, inv);
            if let Some(cell) = shared {
                let _ = cell.set(buf.clone());
            }
            return buf;
        }
        fill(buf, p.shape, nl, |b| {
            let row = tape.row(self.theta, base + b);
            gates::form(op.gate, &op.angles(row), op.matrix.as_ref())
        });
        if inverse != op.inverse {
            dagger(p.shape, buf);
        }
        buf
    }
}

/// `OpPlan::real` and `OpPlan::fused` of `o` (`pool`: the plan's splatted coefficients).
fn real_and_fused<T: Real, const L: usize>(o: &OpPlan, pool: &[Z<T, L>]) -> (bool, Option<Fused>) {
    let real = match (o.fixed, o.rotation) {
        (Some([u, _]), _) => pool[u..u + o.shape.n_coefs()]
            .iter()
            .all(|z| z.im[0].is_zero()),
        (None, Some((r, _))) => r.is_real(),
        _ => false,
    };
    let fused = o.generator.and_then(|(g, start, c, col)| {
        let t = (o.shape.single_qubit()).filter(|_| matches!(o.shape, Shape::Mat1 { .. }))?;
        let gm: [C64; 4] = match g {
            Shape::Mat1 { t: tg, ctrl } if tg == t && ctrl.is_none() => {
                std::array::from_fn(|k| widen(pool[start + k].get(0)))
            }
            Shape::Flip { t: tg, ctrl } if tg == t && ctrl.is_none() => {
                let (one, zero) = (C64::new(1.0, 0.0), C64::new(0.0, 0.0));
                [zero, one, one, zero]
            }
            _ => return None,
        };
        let cg = gm.map(|x| c * x);
        let nz = kernels::sums_needed(&cg);
        Some(Fused { t, cg, nz, col })
    });
    (real, fused)
}

/// Coefficients of `shape` into `z`: lane `b < nl` from `form(b)`; the padding lanes copy
/// lane 0 (any finite value would do: lanes never mix, padded rows are zero or dropped).
#[inline(always)]
fn fill<T: Real, const L: usize>(
    z: &mut Vec<Z<T, L>>,
    shape: Shape,
    nl: usize,
    form: impl Fn(usize) -> Form,
) {
    z.resize(shape.n_coefs(), Z::zero());
    for b in 0..nl {
        form_coefs(&form(b), |k, c| z[k].set(b, cast(c)));
    }
    for zk in z.iter_mut() {
        for b in nl..L {
            zk.re[b] = zk.re[0];
            zk.im[b] = zk.im[0];
        }
    }
}

/// Calls `f(k, c)` for the coefficients of a form, in the order of its kernel's.
#[inline(always)]
fn form_coefs(form: &Form, mut f: impl FnMut(usize, C64)) {
    let c: &[C64] = match form {
        Form::M1(m) => m,
        Form::D1(d) => d,
        Form::M2(m) => m,
        Form::Parity(even, odd) => &[*even, *odd],
        // coefficient-free forms; dense matrices only come from fixed ops
        Form::Id | Form::X | Form::Swap | Form::MK(_) => &[],
    };
    c.iter().enumerate().for_each(|(k, &z)| f(k, z));
}

/// Run all ops on the block at `base` (`nl` live lanes). As `Program::forward`, runs of
/// uncontrolled single-qubit gates on one wire are multiplied (per lane) into one 2x2
/// (from `MERGE_MIN_QUBITS` qubits).
/// `real`: the block's states are real and every op's coefficients too (`real_block`).
#[inline(always)]
fn forward<T: Real, const L: usize>(
    plan: &Plan<T, L>,
    s: &mut [Z<T, L>],
    base: usize,
    nl: usize,
    real: bool,
) {
    // product of the run so far on each wire (valid while `held`); allocated by the first
    // merge (none below `MERGE_MIN_QUBITS`: n KiB zeroed per block for nothing)
    let n = plan.prog.tape().n_qubits;
    let mut run: Vec<[Z<T, L>; 4]> = Vec::new();
    let mut held = vec![false; n];
    let mut buf = Vec::new();
    for (i, o) in plan.ops.iter().enumerate() {
        let m = plan.coefs(i, false, base, nl, &mut buf);
        match o.shape.single_qubit() {
            Some(t) if o.merge || held[t as usize] => {
                let t = t as usize;
                let u = as_mat1(o.shape, m);
                let u = if held[t] { mul2(&u, &run[t]) } else { u };
                held[t] = o.merge;
                if o.merge {
                    if run.is_empty() {
                        run.resize(n, [Z::zero(); 4]);
                    }
                    run[t] = u;
                } else if u[1].is_zero() && u[2].is_zero() {
                    let ctrl = Ctrl::NONE;
                    apply_fast(Shape::Diag1 { t: t as u32, ctrl }, &[u[0], u[3]], s, real);
                } else {
                    let ctrl = Ctrl::NONE;
                    apply_fast(Shape::Mat1 { t: t as u32, ctrl }, &u, s, real);
                }
            }
            _ => apply_fast(o.shape, m, s, real),
        }
    }
}

/// `adjoint::sweep` on the block at `base`, adding into its gradient rows `g` `[nl, P]`.
/// `both` holds φ (rows `0..2^n`) then λ: a kernel, which only looks at index bits below
/// n, applied to `both` undoes the op on φ and λ in one pass. `real`: as in `forward`,
/// for φ and λ.
#[inline(always)]
fn backward<T: Real, const L: usize>(
    plan: &Plan<T, L>,
    both: &mut [Z<T, L>],
    base: usize,
    g: &mut [f64],
    real: bool,
) {
    let tape = plan.prog.tape();
    let (dim, p) = (1usize << tape.n_qubits, tape.n_params);
    let nl = g.len() / p;
    let add = |g: &mut [f64], col: usize, c: C64, z: &Z<T, L>| {
        for (b, gb) in g.chunks_exact_mut(p).enumerate() {
            gb[col] += 2.0 * (c * widen(z.get(b))).re;
        }
    };
    let Some(first) = tape.ops.iter().position(Op::is_parametrised) else {
        return;
    };
    let (mut buf, mut dbuf) = (Vec::new(), Vec::new());
    for i in (first..tape.ops.len()).rev() {
        let (op, opp) = (&tape.ops[i], &plan.ops[i]);
        if let Some(f) = opp.fused {
            let undo = plan.coefs(i, true, base, nl, &mut buf);
            if let Some(half) = undo_rotation(both, dim, f, opp.real, undo, real) {
                for (b, gb) in g.chunks_exact_mut(p).enumerate() {
                    gb[f.col] += 2.0 * half[b].f64();
                }
                continue;
            }
        }
        // generator gates: 2 Re c<λ|G|φ_after>
        if let Some((shape, start, c, col)) = opp.generator {
            let (phi, lam) = both.split_at(dim);
            add(g, col, c, &inner(shape, &plan.pool[start..], lam, phi));
        }
        let undo = plan.coefs(i, true, base, nl, &mut buf);
        if opp.derivatives.is_empty() {
            apply_fast(opp.shape, undo, both, real);
            continue;
        }
        // other gates: 2 Re <λ|dU/dθ_k|φ_before> per parameter
        let (phi, lam) = both.split_at_mut(dim);
        apply_fast(opp.shape, undo, phi, real);
        for &(k, col, shape) in &opp.derivatives {
            fill(&mut dbuf, shape, nl, |b| {
                let row = tape.row(plan.theta, base + b);
                gates::derivative_form(op.gate, &op.angles(row), k)
            });
            if op.inverse {
                dagger(shape, &mut dbuf);
            }
            add(g, col, C64::new(1.0, 0.0), &inner(shape, &dbuf, lam, phi));
        }
        if i > first {
            apply_fast(opp.shape, undo, lam, real);
        }
    }
}

#[cfg(test)]
thread_local! {
    /// A test sets this to run the portable kernels on an AVX-512 machine too, on its own
    /// thread (calls small enough to stay serial): other tests are unaffected.
    static PORTABLE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[inline(always)]
fn is_f64<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f64>()
}

/// Whether the intrinsics in avx512.rs run: the CPU has AVX-512 (and, in tests, the
/// portable kernels are not asked for).
#[inline(always)]
fn avx512_kernels() -> bool {
    #[cfg(test)]
    if PORTABLE_ONLY.get() {
        return false;
    }
    crate::cpu::has_avx512()
}

/// `kernels::apply` (`real`: `kernels::apply_real`), but uncontrolled 2x2 kernels on
/// f64 blocks of 8 or 16 lanes through `avx512::mat1` where the CPU has it (the
/// compiler's AVX-512 code for them kept part of the work scalar).
#[inline(always)]
fn apply_fast<T: Real, const L: usize>(
    shape: Shape,
    m: &[Z<T, L>],
    s: &mut [Z<T, L>],
    real_state: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if let Shape::Mat1 { t, ctrl } = shape {
        if ctrl.is_none() && L.is_multiple_of(8) && is_f64::<T>() && avx512_kernels() {
            let real = real_state || m[..4].iter().all(Z::is_real);
            // SAFETY: T is f64, so these are the same slices' types
            let (s, m) = unsafe {
                (
                    &mut *(s as *mut [Z<T, L>] as *mut [Z<f64, L>]),
                    &*(m as *const [Z<T, L>] as *const [Z<f64, L>]),
                )
            };
            // SAFETY: the CPU has AVX-512 F; `real_state`: s and m are real (the caller's
            // check)
            unsafe {
                match (real_state, real) {
                    (true, _) => avx512::mat1::<true, true, L>(s, t, m),
                    (false, true) => avx512::mat1::<true, false, L>(s, t, m),
                    (false, false) => avx512::mat1::<false, false, L>(s, t, m),
                }
            }
            return;
        }
    }
    if real_state {
        apply_real(shape, m, s)
    } else {
        apply(shape, m, s)
    }
}

/// The fused backward step of a rotation (`avx512::undo_rotation`: gradient term and undo
/// on φ and λ in one pass instead of three) where it runs: f64, 8 or 16 lanes, AVX-512; the
/// shapes of RY (real, c·G real) and RX (complex, c·G imaginary) get their own copies.
/// None elsewhere (the caller takes the three passes). `real`: real undo coefficients;
/// `real_state`: real φ and λ too, only their real parts are touched.
#[inline(always)]
fn undo_rotation<T: Real, const L: usize>(
    both: &mut [Z<T, L>],
    dim: usize,
    f: Fused,
    real: bool,
    undo: &[Z<T, L>],
    real_state: bool,
) -> Option<[T; L]> {
    #[cfg(target_arch = "x86_64")]
    if L.is_multiple_of(8) && is_f64::<T>() && avx512_kernels() {
        const RY: u8 = 0b0000_0110;
        const RX: u8 = 0b0110_0000;
        let (t, cg) = (f.t, &f.cg);
        // SAFETY: T is f64, so these are the same slices' types
        let (both, undo) = unsafe {
            (
                &mut *(both as *mut [Z<T, L>] as *mut [Z<f64, L>]),
                &*(undo as *const [Z<T, L>] as *const [Z<f64, L>]),
            )
        };
        use avx512::undo_rotation as undo_on;
        // SAFETY: the CPU has AVX-512 F; `real_state`: φ, λ and the undo coefficients are
        // real (the caller's check)
        let half = unsafe {
            match (real_state, real, f.nz) {
                (true, _, RY) => undo_on::<true, RY, true, L>(both, dim, t, undo, cg),
                (true, _, _) => undo_on::<true, 0xff, true, L>(both, dim, t, undo, cg),
                (false, true, RY) => undo_on::<true, RY, false, L>(both, dim, t, undo, cg),
                (false, false, RX) => undo_on::<false, RX, false, L>(both, dim, t, undo, cg),
                (false, true, _) => undo_on::<true, 0xff, false, L>(both, dim, t, undo, cg),
                (false, false, _) => undo_on::<false, 0xff, false, L>(both, dim, t, undo, cg),
            }
        };
        return Some(std::array::from_fn(|b| T::of(half[b])));
    }
    None
}

/// The final states of the block at `base` into its rows `o` of the output (`[nl, 2^n]`,
/// sample-major): the block's states from `init`, `forward`, back to sample-major.
#[inline(always)]
fn forward_block<T: Real, const L: usize>(
    plan: &Plan<T, L>,
    init: &Init<T>,
    base: usize,
    o: &mut [MaybeUninit<C<T>>],
) {
    let dim = 1usize << plan.prog.tape().n_qubits;
    let nl = o.len() / dim;
    let mut s = initial_rows(init, dim, base, nl, dim);
    let real = real_block(plan, &s);
    forward(plan, &mut s, base, nl, real);
    for (b, state) in o.chunks_exact_mut(dim).enumerate() {
        for (x, row) in state.iter_mut().zip(&s) {
            *x = MaybeUninit::new(row.get(b));
        }
    }
}

/// Whether the block's kernels can take the real-state paths: every op of `plan` has real
/// coefficients and every amplitude in `rows` is real (then every state the block runs
/// through stays real). A few hundred compares per block.
#[inline(always)]
fn real_block<T: Real, const L: usize>(plan: &Plan<T, L>, rows: &[Z<T, L>]) -> bool {
    plan.real && rows.iter().all(Z::is_real)
}

/// The initial states of the block at `base` (`nl` live lanes), in a buffer with room for
/// `capacity` rows.
#[inline(always)]
fn initial_rows<T: Real, const L: usize>(
    init: &Init<T>,
    dim: usize,
    base: usize,
    nl: usize,
    capacity: usize,
) -> Vec<Z<T, L>> {
    let mut s = Vec::with_capacity(capacity);
    match init {
        // rows pushed one by one in this (inlined) loop: `resize` copied a 256-byte zero
        // row per row through memcpy, and an `extend` over a map was left out of the
        // caller's AVX build
        Init::Zero => {
            s.push(Z::splat(C::new(T::one(), T::zero())));
            for _ in 1..dim {
                s.push(Z::zero());
            }
        }
        Init::Shared(s0) => s.extend(s0.iter().map(|&a| Z::splat(a))),
        Init::PerSample(all) | Init::Final(all) => load(&mut s, all, dim, base, nl),
    }
    s
}

/// The expvals `out` `[nl, M]` of the block at `base` for diagonal observables (`diag`
/// `[M, 2^n]`) and, unless `states` is empty, its final states (sample-major).
#[inline(always)]
fn expval_block<T: Real, const L: usize>(
    plan: &Plan<T, L>,
    init: &Init<T>,
    diag: &[f64],
    base: usize,
    out: &mut [f64],
    states: &mut [MaybeUninit<C<T>>],
) {
    let dim = 1usize << plan.prog.tape().n_qubits;
    let m = diag.len() / dim;
    let nl = out.len() / m;
    let mut s = initial_rows(init, dim, base, nl, dim);
    let real = real_block(plan, &s);
    forward(plan, &mut s, base, nl, real);
    // per observable, per lane: Σ_x d(x)|φ_x|²; plain loops over lanes, innermost
    let mut sums = vec![[0.0f64; L]; m];
    for (x, row) in s.iter().enumerate() {
        let mut p = [0.0f64; L];
        for ((p, &re), &im) in p.iter_mut().zip(&row.re).zip(&row.im) {
            *p = (re * re + im * im).f64();
        }
        for (k, sum) in sums.iter_mut().enumerate() {
            let d = diag[k * dim + x];
            if d != 0.0 {
                for (a, &p) in sum.iter_mut().zip(&p) {
                    *a += d * p;
                }
            }
        }
    }
    for (b, row) in out.chunks_exact_mut(m).enumerate() {
        for (r, sum) in row.iter_mut().zip(&sums) {
            *r = sum[b];
        }
    }
    for (b, state) in states.chunks_exact_mut(dim).enumerate() {
        for (x, row) in state.iter_mut().zip(&s) {
            *x = MaybeUninit::new(row.get(b));
        }
    }
}

/// The VJP of the block at `base` from its initial states, for diagonal observables
/// (`g` cotangents `[B, M]`, `diag` diagonals `[M, 2^n]`): forward (`fwd`), λ from φ in
/// the block, backward sweep (`bwd`), adding into its gradient rows `grads`.
#[inline(always)]
fn round_trip_block<T: Real, const L: usize>(
    (fwd, bwd): (&Plan<T, L>, &Plan<T, L>),
    init: &Init<T>,
    (g, diag): (&[f64], &[f64]),
    base: usize,
    grads: &mut [f64],
) {
    let tape = fwd.prog.tape();
    let (dim, nl) = (1usize << tape.n_qubits, grads.len() / tape.n_params);
    let mut both = initial_rows(init, dim, base, nl, 2 * dim);
    // λ = w·φ with real weights: real where φ is
    let real = real_block(fwd, &both) && bwd.real;
    forward(fwd, &mut both, base, nl, real);
    weigh(&mut both, g, diag, base, nl);
    backward(bwd, &mut both, base, grads, real)
}

/// `backward` on the block at `base` of the final states `phi` (sample-major) and its
/// adjoint states, adding into its gradient rows `g`.
#[inline(always)]
fn backward_block<T: Real, const L: usize>(
    plan: &Plan<T, L>,
    phi: &[C<T>],
    lam: Adjoint<T>,
    base: usize,
    g: &mut [f64],
) {
    let tape = plan.prog.tape();
    let (dim, nl) = (1usize << tape.n_qubits, g.len() / tape.n_params);
    // φ then λ in one buffer (see `backward`)
    let mut both = Vec::with_capacity(2 * dim);
    load(&mut both, phi, dim, base, nl);
    match lam {
        Adjoint::States(lam) => load(&mut both, lam, dim, base, nl),
        Adjoint::Diagonal { g, diag } => weigh(&mut both, g, diag, base, nl),
    }
    let real = real_block(plan, &both);
    backward(plan, &mut both, base, g, real)
}

/// Appends λ to the block's φ (`rows`: 2^n rows) for diagonal observables: row x of φ
/// times, per lane, w_x = Σ_m g_m d_m(x) (`g` cotangents `[B, M]`, `diag` diagonals
/// `[M, 2^n]`); zero in the padding lanes. Plain loops over lanes, innermost: the
/// compiler vectorised the obvious loops over rows with gathers and scatters.
#[inline(always)]
fn weigh<T: Real, const L: usize>(
    rows: &mut Vec<Z<T, L>>,
    g: &[f64],
    diag: &[f64],
    base: usize,
    nl: usize,
) {
    let dim = rows.len();
    let m = diag.len() / dim;
    let g = &g[base * m..(base + nl) * m];
    // the block's cotangents, one lane row per observable
    let mut gk = vec![[0.0; L]; m];
    for (b, gb) in g.chunks_exact(m).enumerate() {
        for (k, &x) in gb.iter().enumerate() {
            gk[k][b] = x;
        }
    }
    for x in 0..dim {
        let mut w = [0.0f64; L];
        for (k, gk) in gk.iter().enumerate() {
            let d = diag[k * dim + x];
            for (a, &c) in w.iter_mut().zip(gk) {
                *a += c * d;
            }
        }
        let mut wt = [T::zero(); L];
        for (a, &c) in wt.iter_mut().zip(&w) {
            *a = T::of(c);
        }
        let mut row = rows[x];
        row.scale_real(&wt);
        rows.push(row);
    }
}

/// Appends to `rows` the block of lanes `base..base + nl` of sample-major states; the
/// padding lanes repeat the last live sample (any finite value would do).
#[inline(always)]
fn load<T: Real, const L: usize>(
    rows: &mut Vec<Z<T, L>>,
    states: &[C<T>],
    dim: usize,
    base: usize,
    nl: usize,
) {
    let states = &states[base * dim..(base + nl) * dim];
    // each row built from its lanes and pushed (no zero-filled rows to overwrite; a plain
    // loop, so that it is compiled inside the caller's AVX build)
    rows.reserve(dim);
    for x in 0..dim {
        let mut row = Z::zero();
        for b in 0..L {
            row.set(b, states[b.min(nl - 1) * dim + x]);
        }
        rows.push(row);
    }
}

/// Call `f(base, rows)` for each block of `L` samples, `rows` its slice of `out` (`width`
/// values per sample); blocks shared with the pool's threads when the work (`states`
/// swept per op) pays for waking them.
fn for_blocks<T: Real, O: Send, const L: usize>(
    plan: &Plan<T, L>,
    batch: usize,
    states: usize,
    out: &mut [O],
    width: usize,
    f: impl Fn(usize, &mut [O]) + Sync + Send,
) {
    let chunk = L * width;
    if parallel(plan, batch, states) {
        pool::share_chunks(out, chunk, |k, o| f(k * L, o));
    } else {
        out.chunks_mut(chunk)
            .enumerate()
            .for_each(|(k, o)| f(k * L, o));
    }
}

/// `for_blocks` over two outputs at once: `f(base, rows_a, rows_b)` with each block's
/// slices of `a` and `b` (`width_a` > 0 and `width_b` values per sample).
fn for_block_pairs<T: Real, A: Send, B: Send, const L: usize>(
    plan: &Plan<T, L>,
    batch: usize,
    (a, width_a): (&mut [A], usize),
    (b, width_b): (&mut [B], usize),
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    let (ca, cb) = (L * width_a, L * width_b);
    if parallel(plan, batch, 1) {
        pool::share_chunk_pairs((a, ca), (b, cb), |k, ra, rb| f(k * L, ra, rb));
    } else {
        (a.chunks_mut(ca).zip(b.chunks_mut(cb)))
            .enumerate()
            .for_each(|(k, (ra, rb))| f(k * L, ra, rb));
    }
}

/// Whether a call's blocks are shared with the pool: `states` swept per op.
fn parallel<T: Real, const L: usize>(plan: &Plan<T, L>, batch: usize, states: usize) -> bool {
    let tape = plan.prog.tape();
    let work = (batch << tape.n_qubits).saturating_mul(tape.ops.len() * states);
    pool::num_threads() > 1 && batch > L && work > SERIAL_MAX_WORK
}

// The lane loops are plain Rust that the compiler vectorises for the target's baseline
// (SSE2 on x86-64); the three block drivers, with everything they call (loading the
// block, the ops, storing it) inlined, are compiled for AVX2 and for AVX-512 too (a
// 16-lane f64 row in two registers), the widest the CPU has chosen at run time.

multiversion! {
    fn forward_fast<T: Real, const L: usize>(
        plan: &Plan<T, L>,
        init: &Init<T>,
        base: usize,
        o: &mut [MaybeUninit<C<T>>]
    ) {
        forward_block(plan, init, base, o)
    }
}

multiversion! {
    fn expval_fast<T: Real, const L: usize>(
        plan: &Plan<T, L>,
        init: &Init<T>,
        diag: &[f64],
        base: usize,
        out: &mut [f64],
        states: &mut [MaybeUninit<C<T>>]
    ) {
        expval_block(plan, init, diag, base, out, states)
    }
}

multiversion! {
    fn backward_fast<T: Real, const L: usize>(
        plan: &Plan<T, L>,
        phi: &[C<T>],
        lam: Adjoint<T>,
        base: usize,
        g: &mut [f64]
    ) {
        backward_block(plan, phi, lam, base, g)
    }
}

multiversion! {
    fn round_trip_fast<T: Real, const L: usize>(
        plans: (&Plan<T, L>, &Plan<T, L>),
        init: &Init<T>,
        obs: (&[f64], &[f64]),
        base: usize,
        g: &mut [f64]
    ) {
        round_trip_block(plans, init, obs, base, g)
    }
}
