//! Adjoint differentiation (Jones & Gacon, arXiv:2009.02823).
//!
//! With |φ⟩ the final state and |λ⟩ = O|φ⟩, sweep the ops backwards:
//!   φ ← U_i† φ;   ∂⟨O⟩/∂θ += 2 Re ⟨λ| ∂U_i/∂θ |φ⟩;   λ ← U_i† λ.
//! The VJP uses the combined observable Σ_m g_m O_m, so it costs ONE sweep whatever M.
//! The sweep stops at the first parametrised op: nothing before it has a gradient.

use crate::engine::{check_obs, lanes, plan, Batch, Engine, Init, Options, Task, SERIAL_MAX_WORK};
use crate::error::Result;
use crate::frame::before_frame;
use crate::fusion;
use crate::observable::Obs;
use crate::pool;
use crate::program::{fused_plan, Block, Program};
use crate::scalar::{cast, Real, C, C64};
use crate::shape_err;
use crate::state::alloc;
use crate::state::kernel::scale_run;
use crate::state::reduce::{re_inner, SharedMut};
use crate::state::{Kernel, CHUNK_AMPS};
use crate::tape::Param;
use num_traits::{One, Zero};
use rayon::prelude::*;

/// Backward sweep from the final state `phi` with adjoint states `lams` (one per
/// observable); adds 2 Re⟨λ_m|∂U/∂θ|φ⟩ into `grads[m * P + col]`. `par` parallelises
/// each kernel over amplitudes.
fn sweep<T: Real>(
    prog: &Program<T>,
    row: &[f64],
    phi: &mut [C<T>],
    lams: &mut [Vec<C<T>>],
    grads: &mut [f64],
    par: bool,
    opts: &Options,
) {
    let tape = prog.tape();
    let Some(first) = tape.ops.iter().position(|op| op.is_parametrised()) else {
        return;
    };
    let mut lams: Vec<&mut [C<T>]> = lams.iter_mut().map(|l| l.as_mut_slice()).collect();
    let mut kets = Kets::default();
    for i in (first..tape.ops.len()).rev() {
        if opts.cancelled() {
            return;
        }
        // nothing before the first parametrised op has a gradient: its λs need no undo
        step(
            prog,
            i,
            row,
            phi,
            &mut lams,
            grads,
            &mut kets,
            par,
            i > first,
        );
    }
}

/// One op of the sweep on whole states: its gradient terms, then φ (and, if `undo_lams`,
/// every λ) moved back past it.
#[allow(clippy::too_many_arguments)] // the sweep's state, passed through
fn step<T: Real>(
    prog: &Program<T>,
    i: usize,
    row: &[f64],
    phi: &mut [C<T>],
    lams: &mut [&mut [C<T>]],
    grads: &mut [f64],
    kets: &mut Kets<T>,
    par: bool,
    undo_lams: bool,
) {
    let generator = prog.generators[i].as_ref().map(|(g, c, col)| (g, *c, *col));
    let derivs = derivative_kernels(prog, i, row);
    let op = OpTerms {
        undo: &prog.undo(i, row),
        generator,
        derivs: &derivs,
    };
    op.step(phi, lams, grads, prog.tape().n_params, kets, undo_lams, par);
}

/// From this many λ states on, an op's gradient terms go through shared kets (`Kets`).
const SHARED_KET_MIN_LAMS: usize = 4;

/// What one op contributes to the sweep: its inverse, and the kernels of its gradient
/// terms (a generator G with dU/dθ = c·G·U, or dU/dθ_k per parameter).
struct OpTerms<'a, T> {
    undo: &'a Kernel<T>,
    generator: Option<(&'a Kernel<T>, C64, usize)>,
    derivs: &'a [(usize, Kernel<T>)],
}

/// A sweep task's scratch: kets c·K|φ⟩ of the current op's gradient terms, their theta
/// columns, and the dots of one λ with them.
struct Kets<T> {
    bufs: Vec<Vec<C<T>>>,
    cols: Vec<usize>,
    dots: Vec<f64>,
}

impl<T> Default for Kets<T> {
    fn default() -> Self {
        Kets {
            bufs: Vec::new(),
            cols: Vec::new(),
            dots: Vec::new(),
        }
    }
}

impl<T: Real> Kets<T> {
    /// Adds the ket c·K|φ⟩ for theta column `col`.
    fn push(&mut self, k: &Kernel<T>, c: C64, col: usize, phi: &[C<T>], par: bool) {
        let n = self.cols.len();
        if self.bufs.len() == n {
            self.bufs.push(Vec::new());
        }
        let ket = &mut self.bufs[n];
        ket.clear();
        ket.extend_from_slice(phi);
        k.apply(ket, par);
        if c != C64::one() {
            let c = cast::<T>(c);
            if par {
                ket.par_chunks_mut(CHUNK_AMPS).for_each(|x| scale_run(x, c))
            } else {
                scale_run(ket, c)
            }
        }
        self.cols.push(col);
    }
}

impl<T: Real> OpTerms<'_, T> {
    /// The op's step of the sweep over φ and the λs (whole states, or one tile of each):
    /// adds 2 Re⟨λ_m|dU/dθ|φ⟩ into `grads[m * p + col]`, moves φ back past the op, and
    /// each λ too if `undo_lams`.
    ///
    /// With several λ, each term's uncontrolled kernel K is applied to φ once (a ket
    /// c·K|φ⟩), and each λ then needs only real dot products with the kets, which
    /// `apply_after_re_inner` takes in the same pass as the λ's undo. A controlled K
    /// (whose `inner` counts only the control subspace) and single-λ sweeps use K's own
    /// inner product.
    #[allow(clippy::too_many_arguments)] // the sweep's state, passed through
    fn step(
        &self,
        phi: &mut [C<T>],
        lams: &mut [&mut [C<T>]],
        grads: &mut [f64],
        p: usize,
        kets: &mut Kets<T>,
        undo_lams: bool,
        par: bool,
    ) {
        let shared = lams.len() >= SHARED_KET_MIN_LAMS;
        kets.cols.clear();
        let mut term = |kets: &mut Kets<T>, k: &Kernel<T>, c: C64, col: usize, phi: &[C<T>]| {
            if shared && k.uncontrolled() {
                kets.push(k, c, col, phi, par);
            } else {
                for (lam, g) in lams.iter().zip(grads.chunks_mut(p)) {
                    g[col] += 2.0 * (c * k.inner(lam, phi, par)).re;
                }
            }
        };
        // generator terms read φ after the op: 2 Re c⟨λ|G|φ_after⟩ = 2 Re⟨λ|dU/dθ|φ_before⟩
        if let Some((gen, c, col)) = self.generator {
            term(kets, gen, c, col, phi);
        }
        self.undo.apply(phi, par);
        for (col, d) in self.derivs {
            term(kets, d, C64::one(), *col, phi);
        }
        let n = kets.cols.len();
        if n == 0 {
            if undo_lams {
                lams.iter_mut().for_each(|lam| self.undo.apply(lam, par));
            }
            return;
        }
        kets.dots.resize(lams.len() * n, 0.0);
        let bufs = &kets.bufs[..n];
        if undo_lams {
            self.undo
                .apply_after_re_inner(lams, bufs, &mut kets.dots, par);
        } else {
            for (lam, d) in lams.iter().zip(kets.dots.chunks_exact_mut(n)) {
                for (x, ket) in d.iter_mut().zip(bufs) {
                    *x = re_inner(lam, ket, par);
                }
            }
        }
        for (g, d) in grads.chunks_mut(p).zip(kets.dots.chunks_exact(n)) {
            for (&col, x) in kets.cols.iter().zip(d) {
                g[col] += 2.0 * x;
            }
        }
    }
}

/// (theta column, dU/dθ kernel) for each parameter of op `i` that has no generator.
fn derivative_kernels<T: Real>(
    prog: &Program<T>,
    i: usize,
    row: &[f64],
) -> Vec<(usize, Kernel<T>)> {
    if prog.generators[i].is_some() {
        return Vec::new();
    }
    let op = &prog.tape().ops[i];
    let angles = op.angles(row);
    op.params
        .iter()
        .enumerate()
        .filter_map(|(k, prm)| match *prm {
            Param::Col(col) => Some((col, op.derivative::<T>(&angles, k, prog.tape().n_qubits))),
            Param::Const(_) => None,
        })
        .collect()
}

/// Below this many bytes of φ and λ states together, the plain sweep runs from cache anyway.
const TILED_SWEEP_MIN_BYTES: usize = 4 << 20;

/// The fused plan for a sweep over `copies` states (φ and the λs) on the tiled engine, if
/// tiling pays.
fn sweep_plan<T: Real>(
    prog: &Program<T>,
    engine: Engine,
    copies: usize,
    opts: &Options,
) -> Option<Vec<Block>> {
    let tape = prog.tape();
    let bytes = std::mem::size_of::<C<T>>();
    if engine != Engine::Tiled {
        return None;
    }
    // a forced tile size is obeyed, so that tests can tile small registers
    let tile = match opts.tile_qubits.or_else(fusion::forced_tile_qubits) {
        Some(t) => t,
        None if (copies << tape.n_qubits).saturating_mul(bytes) < TILED_SWEEP_MIN_BYTES => {
            return None
        }
        None => fusion::default_tile_qubits(bytes, copies),
    };
    fused_plan(tape, Some(tile))
}

/// One op of a tiled segment, localised to the tile: its inverse, and what its
/// parameters' derivatives need.
struct LocalOp<T> {
    undo: Kernel<T>,
    generator: Option<(Kernel<T>, C64, usize)>,
    derivs: Vec<(usize, Kernel<T>)>,
}

impl<T> LocalOp<T> {
    fn terms(&self) -> OpTerms<'_, T> {
        OpTerms {
            undo: &self.undo,
            generator: self.generator.as_ref().map(|(g, c, col)| (g, *c, *col)),
            derivs: &self.derivs,
        }
    }
}

/// The sweep of `sweep`, segment by segment of a fused plan (in reverse): every tile of φ
/// and of each λ is gathered once per segment, all the segment's ops are undone there and
/// their gradient terms accumulated, tiles in parallel if `par`.
#[allow(clippy::too_many_arguments)] // the sweep's state, passed through
fn sweep_tiled<T: Real>(
    prog: &Program<T>,
    blocks: &[Block],
    row: &[f64],
    phi: &mut [C<T>],
    lams: &mut [Vec<C<T>>],
    grads: &mut [f64],
    par: bool,
    opts: &Options,
) {
    let tape = prog.tape();
    let p = tape.n_params;
    // blocks before the first one with a parameter contribute nothing
    let Some(first) = blocks.iter().position(|b| match b {
        Block::Whole(i) => tape.ops[*i].is_parametrised(),
        Block::Tiled { ops, .. } => ops.iter().any(|&i| tape.ops[i].is_parametrised()),
    }) else {
        return;
    };
    let mut lams: Vec<&mut [C<T>]> = lams.iter_mut().map(|l| l.as_mut_slice()).collect();
    let mut kets = Kets::default(); // for the ops too wide for a tile
    for block in blocks[first..].iter().rev() {
        if opts.cancelled() {
            return;
        }
        let (ops, tiling) = match block {
            Block::Tiled { ops, tiling } => (ops, tiling),
            Block::Whole(i) => {
                step(prog, *i, row, phi, &mut lams, grads, &mut kets, par, true);
                continue;
            }
        };
        let local: Vec<LocalOp<T>> = ops
            .iter()
            .rev()
            .map(|&i| {
                let generator = prog.generators[i]
                    .as_ref()
                    .map(|(g, c, col)| (tiling.localise(g), *c, *col));
                let derivs = derivative_kernels(prog, i, row)
                    .into_iter()
                    .map(|(col, d)| (col, tiling.localise(&d)))
                    .collect();
                LocalOp {
                    undo: tiling.localise(&prog.undo(i, row)),
                    generator,
                    derivs,
                }
            })
            .collect();
        let m = lams.len();
        let amps = tiling.amps();
        let ptrs: Vec<SharedMut<C<T>>> = std::iter::once(SharedMut(phi.as_mut_ptr()))
            .chain(lams.iter_mut().map(|l| SharedMut(l.as_mut_ptr())))
            .collect();
        // one task's tiles of φ (first) and every λ, and its gradient terms
        // (and the scratch of `OpTerms::step`)
        let fresh = || {
            let bufs = vec![C::zero(); (m + 1) * amps];
            (bufs, vec![0.0; m * p], Kets::default())
        };
        type TileWork<T> = (Vec<C<T>>, Vec<f64>, Kets<T>);
        let one_tile = |(mut bufs, mut g, mut kets): TileWork<T>, t: usize| {
            // SAFETY: tiles are disjoint, and each is gathered and scattered by one task
            for (buf, &ptr) in bufs.chunks_exact_mut(amps).zip(&ptrs) {
                unsafe { tiling.gather(ptr, t, buf) };
            }
            let (phi_t, lam_t) = bufs.split_at_mut(amps);
            let mut lam_t: Vec<&mut [C<T>]> = lam_t.chunks_exact_mut(amps).collect();
            for lop in &local {
                lop.terms()
                    .step(phi_t, &mut lam_t, &mut g, p, &mut kets, true, false);
            }
            for (buf, &ptr) in bufs.chunks_exact(amps).zip(&ptrs) {
                unsafe { tiling.scatter(ptr, t, buf) };
            }
            (bufs, g, kets)
        };
        let add = |mut a: Vec<f64>, b: Vec<f64>| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        };
        let total = if par && tiling.count() > 1 {
            pool::install(|| {
                (0..tiling.count())
                    .into_par_iter()
                    .fold(fresh, one_tile)
                    .map(|(_, g, _)| g)
                    .reduce(|| vec![0.0; m * p], add)
            })
        } else {
            (0..tiling.count()).fold(fresh(), one_tile).1
        };
        grads.iter_mut().zip(&total).for_each(|(x, y)| *x += y);
    }
}

/// ∂⟨O_m⟩/∂θ_p for every sample: `[B, M, P]`.
pub fn jacobian<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<f64>> {
    let tape = prog.tape();
    check_obs(tape, obs)?;
    if let Some((prefix, pulled)) = before_frame(prog, batch, obs, &init, opts)? {
        return jacobian(prefix, theta, batch, &pulled, init, opts);
    }
    let (m, p) = (obs.len(), tape.n_params);
    crate::memory::ensure_fits(batch as u128 * m as u128 * p as u128 * 8, "the Jacobian")?;
    let mut out = vec![0.0; batch * m * p];
    if m * p == 0 {
        return Ok(out);
    }
    let run = Batch::new(prog, theta, batch, init, opts)?;
    let engine = run.engine;
    // When samples run one at a time (not batch-parallel), split the observables into one
    // group per thread; each group sweeps with its own copy of φ, so threads never
    // synchronise inside the sweep (per-op synchronisation costs more than the copy).
    let threads = pool::num_threads();
    let pl = plan(batch, tape.n_qubits, tape.ops.len() * (m + 2));
    let work = (m << tape.n_qubits).saturating_mul(tape.ops.len());
    let tiled = sweep_plan(prog, engine, m + 1, opts);
    let groups =
        if tiled.is_none() && !pl.batch_par && threads > 1 && m >= 2 && work > SERIAL_MAX_WORK {
            threads.min(m)
        } else {
            1
        };
    let per_group = m.div_ceil(groups);
    let task = Task {
        states: m + 1 + groups,
        passes: (m + 1) * tape.ops.len(),
    };
    run.run(task, &mut out, m * p, |b, s, jac, par| {
        let row = tape.row(theta, b);
        let mut scratch = Vec::new();
        let mut lams: Vec<Vec<C<T>>> = obs
            .iter()
            .map(|o| {
                let mut lam = alloc::zeroed(s.len());
                o.op.apply_acc(s, &mut lam, 1.0, &mut scratch, par);
                lam
            })
            .collect();
        if let Some(blocks) = &tiled {
            sweep_tiled(prog, blocks, row, s, &mut lams, jac, par, opts);
        } else if groups == 1 {
            sweep(prog, row, s, &mut lams, jac, par, opts);
        } else {
            let phi: &[C<T>] = s;
            pool::install(|| {
                lams.par_chunks_mut(per_group)
                    .zip(jac.par_chunks_mut(per_group * p))
                    .for_each(|(l, g)| sweep(prog, row, &mut alloc::copied(phi), l, g, false, opts))
            });
        }
    })?;
    Ok(out)
}

/// Σ_m grad_out[b, m] ∂⟨O_m⟩/∂θ_p for every sample: `[B, P]`, in one backward sweep.
#[allow(clippy::too_many_arguments)]
pub fn vjp<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    grad_out: &[f64],
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<f64>> {
    let tape = prog.tape();
    check_obs(tape, obs)?;
    let (m, p) = (obs.len(), tape.n_params);
    if Some(grad_out.len()) != batch.checked_mul(m) {
        return shape_err!(
            "grad_out must have shape [{batch}, {m}], got {} values",
            grad_out.len()
        );
    }
    crate::memory::ensure_fits(batch as u128 * p as u128 * 8, "the gradients")?;
    if let Some((prefix, pulled)) = before_frame(prog, batch, obs, &init, opts)? {
        return vjp(prefix, theta, batch, &pulled, grad_out, init, opts);
    }
    if m * p == 0 {
        return Ok(vec![0.0; batch * p]);
    }
    let run = Batch::new(prog, theta, batch, init, opts)?;
    if run.engine == Engine::Lanes {
        return vjp_lanes(&run, obs, grad_out);
    }
    let mut out = vec![0.0; batch * p];
    let tiled = sweep_plan(prog, run.engine, 2, opts);
    let task = Task {
        states: 3,
        passes: 3 * tape.ops.len(),
    };
    run.run(task, &mut out, p, |b, s, grad, par| {
        let row = tape.row(theta, b);
        let mut lam = alloc::zeroed(s.len());
        adjoint_state(obs, &grad_out[b * m..(b + 1) * m], s, &mut lam, par);
        let lams = std::slice::from_mut(&mut lam);
        match &tiled {
            Some(blocks) => sweep_tiled(prog, blocks, row, s, lams, grad, par, opts),
            None => sweep(prog, row, s, lams, grad, par, opts),
        }
    })?;
    Ok(out)
}

/// λ += Σ_m g_m O_m|φ⟩: the VJP's adjoint state of one sample (zero cotangents skipped).
fn adjoint_state<T: Real>(obs: &[Obs], g: &[f64], phi: &[C<T>], lam: &mut [C<T>], par: bool) {
    let mut scratch = Vec::new();
    for (o, &gm) in obs.iter().zip(g) {
        if gm != 0.0 {
            o.op.apply_acc(phi, lam, gm, &mut scratch, par);
        }
    }
}

/// `vjp` on the lane engine (small register, many samples). Diagonal observables (Z
/// words, projectors) have each block build its λ = Σ_m g_m O_m|φ⟩ from φ; from initial
/// states, a block then runs forward and back without storing φ. Otherwise a chunk of
/// samples at a time (memory stays bounded): the chunk's final states (given or from one
/// forward pass), each sample's λ if not diagonal, one backward sweep over the chunk.
/// The gradients `[B, P]`, each chunk's appended by its sweep.
fn vjp_lanes<T: Real>(run: &Batch<T>, obs: &[Obs], grad_out: &[f64]) -> Result<Vec<f64>> {
    let (prog, opts) = (run.prog, run.opts);
    let dim = 1usize << prog.tape().n_qubits;
    let m = obs.len();
    let mut out = Vec::with_capacity(run.batch * prog.tape().n_params);
    let diag = Obs::diagonals(obs, dim);
    if let (Some(d), false) = (&diag, run.init.is_final()) {
        // no final states to keep: each block runs forward and back in place
        let (theta, batch, init) = (run.theta, run.batch, &run.init);
        lanes::vjp_from_init(prog, theta, batch, init, grad_out, d, &mut out, opts);
        opts.check_cancel()?;
        return Ok(out);
    }
    let states = if diag.is_some() { 1 } else { 2 };
    for (start, nb) in run.lane_chunks(states)? {
        let (th, phi) = (run.theta_rows(start, nb), run.lane_finals(start, nb));
        opts.check_cancel()?;
        let g_out = &grad_out[start * m..(start + nb) * m];
        match &diag {
            Some(d) => {
                let lam = lanes::Adjoint::Diagonal { g: g_out, diag: d };
                lanes::vjp_sweep(prog, th, nb, &phi, lam, &mut out, opts);
            }
            None => {
                let lam = adjoint_states(obs, g_out, &phi, dim);
                let lam = lanes::Adjoint::States(&lam);
                lanes::vjp_sweep(prog, th, nb, &phi, lam, &mut out, opts);
            }
        }
        opts.check_cancel()?;
    }
    Ok(out)
}

/// Each sample's λ = Σ_m g_m O_m|φ⟩ for the final states `phi` `[B, 2^n]` and cotangents
/// `g` `[B, M]`.
fn adjoint_states<T: Real>(obs: &[Obs], g: &[f64], phi: &[C<T>], dim: usize) -> Vec<C<T>> {
    let m = obs.len();
    let mut lam = alloc::zeroed(phi.len());
    let one = |(b, l): (usize, &mut [C<T>])| {
        let rows = b * dim..(b + 1) * dim;
        adjoint_state(obs, &g[b * m..(b + 1) * m], &phi[rows], l, false)
    };
    if pool::num_threads() > 1 && (phi.len() * m) > SERIAL_MAX_WORK {
        pool::install(|| lam.par_chunks_mut(dim).enumerate().for_each(one));
    } else {
        lam.chunks_mut(dim).enumerate().for_each(one);
    }
    lam
}
