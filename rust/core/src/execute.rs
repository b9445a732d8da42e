//! Batched execution: run the tape for every sample and measure.
//!
//! Threading plan (see `plan`): small registers run in parallel over the batch, one
//! sample per task from start to end (cache-resident, no per-gate synchronisation);
//! large registers run samples one after another with each gate parallel over
//! amplitudes; tiny work stays on the calling thread.

use crate::error::{QoxideError, Result};
use crate::fusion;
use crate::lanes;
use crate::memory::ensure_fits;
use crate::observable::Obs;
use crate::pool;
use crate::scalar::{Real, C, C64};
use crate::state::index::set_bits;
use crate::state::parity::parity_sums;
use crate::state::tile::Tiling;
use crate::state::{zero_state, Kernel, PAR_MIN_AMPS};
use crate::tape::{Param, Tape};
use crate::value_err;
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::OnceLock;

/// Initial state of each sample.
#[derive(Clone, Copy, Debug)]
pub enum Init<'a, T> {
    /// |0...0>
    Zero,
    /// One state `[2^n]` shared by all samples.
    Shared(&'a [C<T>]),
    /// One state per sample `[B, 2^n]`.
    PerSample(&'a [C<T>]),
    /// The FINAL states `[B, 2^n]` of this tape and theta, from an earlier call to
    /// `state`: the forward pass is skipped (the adjoint backward reuses the forward).
    Final(&'a [C<T>]),
}

/// Below this many amplitude-gate updates in a whole call, stay on one thread.
/// Waking the pool costs tens of microseconds on small VMs; a 16-amplitude gate costs
/// ~45 ns per sample, so 2^15 updates (~100 µs of work) is where two threads start to win:
/// the dressed circuit's forward at batch 32/64 (2^15.6 updates) went from 97/131 µs to
/// 68/87 µs on 2 threads (2-vCPU VM, medians of 1000 calls), batch ≤ 16 stays serial.
pub const SERIAL_MAX_WORK: usize = 1 << 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub batch_par: bool,
    pub amp_par: bool,
}

pub fn plan(batch: usize, n_qubits: usize, n_ops: usize) -> Plan {
    let dim = 1usize << n_qubits;
    let threads = pool::num_threads();
    let work = batch.saturating_mul(dim).saturating_mul(n_ops.max(1));
    if threads == 1 || work <= SERIAL_MAX_WORK {
        Plan {
            batch_par: false,
            amp_par: false,
        }
    } else if batch > 1 && (dim < PAR_MIN_AMPS || batch >= threads) {
        Plan {
            batch_par: true,
            amp_par: false,
        }
    } else {
        Plan {
            batch_par: false,
            amp_par: dim >= PAR_MIN_AMPS,
        }
    }
}

/// A theta-independent op's kernel and its inverse (built on first use).
type FixedOp<T> = (Kernel<T>, OnceLock<Kernel<T>>);

/// Kernels of the ops that do not depend on theta, built once per call.
pub(crate) struct Program<'t, T> {
    pub tape: &'t Tape,
    /// inverses are built on first use: only the adjoint needs them
    fixed: Vec<Option<FixedOp<T>>>,
    /// Per op: (generator kernel, factor, theta column) for one-parameter generator gates.
    pub generators: Vec<Option<(Kernel<T>, C64, usize)>>,
    /// Fused plan of the forward pass (None: the register fits in one tile).
    fused: Option<Vec<Block>>,
}

impl<'t, T: Real> Program<'t, T> {
    pub fn new(tape: &'t Tape) -> Self {
        let fixed = tape
            .ops
            .iter()
            .map(|op| {
                (!op.is_parametrised()).then(|| {
                    let k: Kernel<T> = op.kernel(&op.angles(&[]), tape.n_qubits);
                    (k, OnceLock::new())
                })
            })
            .collect();
        let generators = tape
            .ops
            .iter()
            .map(|op| match op.params.as_slice() {
                [Param::Col(col)] => op.generator(tape.n_qubits).map(|(k, c)| (k, c, *col)),
                _ => None,
            })
            .collect();
        Program {
            tape,
            fixed,
            generators,
            fused: fused_plan(tape, fusion::tile_qubits(std::mem::size_of::<C<T>>(), 1)),
        }
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

    /// Run all ops on `s`: one pass per fused segment on registers larger than a tile,
    /// otherwise op by op with same-wire runs of single-qubit gates merged.
    pub fn forward(&self, s: &mut [C<T>], row: &[f64], par: bool) {
        match &self.fused {
            None => {
                let ks = (0..self.tape.ops.len()).map(|i| self.kernel(i, row));
                merge_single_qubit_runs(self.tape.n_qubits, ks, |k| k.apply(s, par))
            }
            Some(blocks) => {
                for block in blocks {
                    match block {
                        Block::Whole(i) => self.kernel(*i, row).apply(s, par),
                        Block::Tiled { ops, tiling } => {
                            let local = ops
                                .iter()
                                .map(|&i| Cow::Owned(tiling.localise(&self.kernel(i, row))));
                            let mut ks = Vec::with_capacity(ops.len());
                            merge_single_qubit_runs(tiling.n_bits(), local, |k| ks.push(k.clone()));
                            tiling.apply(s, &ks, par);
                        }
                    }
                }
            }
        }
    }
}

/// One step of a fused plan.
pub(crate) enum Block {
    /// These ops, applied tile by tile.
    Tiled { ops: Vec<usize>, tiling: Tiling },
    /// One op too wide for a tile, applied to the whole state.
    Whole(usize),
}

/// The fused plan of `tape` for tiles of `tile` bits; None when the register fits in one.
pub(crate) fn fused_plan(tape: &Tape, tile: Option<u32>) -> Option<Vec<Block>> {
    let n = tape.n_qubits as u32;
    let tile = tile.filter(|&t| t < n)?;
    let supports: Vec<usize> = tape
        .ops
        .iter()
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

/// Size checks shared by all entry points.
pub(crate) fn check_call<T>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
) -> Result<()> {
    if batch == 0 {
        return value_err!("batch size must be at least 1");
    }
    tape.check_theta(theta, batch)?;
    let dim = 1usize << tape.n_qubits;
    match init {
        Init::Zero => {}
        Init::Shared(s) if s.len() != dim => {
            return value_err!(
                "initial state must have 2^{} = {dim} amplitudes, got {}",
                tape.n_qubits,
                s.len()
            )
        }
        Init::PerSample(s) | Init::Final(s) if s.len() != batch * dim => {
            return value_err!(
                "initial states must have shape [{batch}, {dim}], got {} amplitudes",
                s.len()
            )
        }
        _ => {}
    }
    Ok(())
}

pub(crate) fn check_obs(tape: &Tape, obs: &[Obs]) -> Result<()> {
    for (m, o) in obs.iter().enumerate() {
        if o.n_qubits != tape.n_qubits {
            return value_err!(
                "observable {m} was built for {} qubits but the circuit has {}",
                o.n_qubits,
                tape.n_qubits
            );
        }
    }
    Ok(())
}

fn initial<T: Real>(init: &Init<T>, n: usize, b: usize) -> Vec<C<T>> {
    match init {
        Init::Zero => zero_state(n),
        Init::Shared(s) => s.to_vec(),
        Init::PerSample(s) | Init::Final(s) => s[b << n..(b + 1) << n].to_vec(),
    }
}

/// What `run_batch`'s per-sample function does, for the memory check and the choice of
/// threads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Task {
    /// full states one task holds at once
    pub states: usize,
    /// about how many passes over a full state it makes per sample
    pub passes: usize,
}

impl Task {
    /// reads the final state once
    pub const MEASURE: Task = Task {
        states: 1,
        passes: 1,
    };
}

/// For each sample b: build its final state, then `f(b, state, out_row, amp_par)`.
#[allow(clippy::too_many_arguments)] // one driver for every entry point
pub(crate) fn run_batch<T: Real, O: Send>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
    task: Task,
    out: &mut [O],
    width: usize,
    f: impl Fn(usize, &mut Vec<C<T>>, &mut [O], bool) + Sync + Send,
) -> Result<()> {
    let tape = prog.tape;
    check_call(tape, theta, batch, init)?;
    if out.len() != batch * width {
        return Err(QoxideError::Internal(
            "output buffer of the wrong size".into(),
        ));
    }
    if !matches!(init, Init::Final(_)) && lanes::takes(prog, batch) {
        // small register, many samples: all forward passes at once, then as from finals
        let finals = lanes::final_states(prog, theta, batch, init);
        let init = Init::Final(&finals);
        return run_batch(prog, theta, batch, &init, task, out, width, f);
    }
    let n = tape.n_qubits;
    // full-state passes per sample: the forward's (none from final states), then f's
    let ops = tape.ops.len();
    let forward = if matches!(init, Init::Final(_)) {
        0
    } else {
        ops
    };
    let pl = plan(batch, n, forward + task.passes);
    let tasks = if pl.batch_par {
        pool::num_threads().min(batch)
    } else {
        1
    };
    let bytes = ((tasks * task.states) as u128 * std::mem::size_of::<C<T>>() as u128) << n;
    ensure_fits(bytes, &format!("simulating {n} qubits"))?;
    let one = |b: usize, row_out: &mut [O]| {
        let row = tape.row(theta, b);
        let mut s = initial(init, n, b);
        if !matches!(init, Init::Final(_)) {
            prog.forward(&mut s, row, pl.amp_par);
        }
        f(b, &mut s, row_out, pl.amp_par);
    };
    let width = width.max(1);
    if pl.batch_par {
        pool::install(|| {
            out.par_chunks_mut(width)
                .enumerate()
                .for_each(|(b, o)| one(b, o))
        });
    } else if pl.amp_par {
        pool::install(|| {
            out.chunks_mut(width)
                .enumerate()
                .for_each(|(b, o)| one(b, o))
        });
    } else {
        // serial: stay on the caller's thread (a hop into the pool costs more than the work)
        out.chunks_mut(width)
            .enumerate()
            .for_each(|(b, o)| one(b, o));
    }
    Ok(())
}

/// One real number per (sample, observable): `[B, M]`, each sample's row from
/// `measure(state, row, scratch, par)`; `states` full states per task.
fn per_sample_measure<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    states: usize,
    measure: impl Fn(&[C<T>], &mut [f64], &mut Vec<C<T>>, bool) + Sync + Send,
) -> Result<Vec<f64>> {
    check_obs(tape, obs)?;
    let m = obs.len();
    ensure_fits(batch as u128 * m as u128 * 8, "the outputs")?;
    let mut out = vec![0.0; batch * m];
    if m == 0 {
        return Ok(out);
    }
    run_batch(
        &Program::new(tape),
        theta,
        batch,
        &init,
        Task {
            states,
            passes: states * m,
        },
        &mut out,
        m,
        |_, s, row, par| measure(s, row, &mut Vec::new(), par),
    )?;
    Ok(out)
}

/// ⟨O_m⟩ for every sample: `[B, M]`.
pub fn expval<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<Vec<f64>> {
    // Z strings (⟨Z_i⟩ on every wire, the usual QML readout) share one pass over the state
    let z_terms: Vec<Option<Vec<(usize, f64)>>> = obs.iter().map(|o| o.op.z_terms()).collect();
    let mut masks: Vec<usize> = z_terms
        .iter()
        .flatten()
        .flatten()
        .map(|&(z, _)| z)
        .collect();
    masks.sort_unstable();
    masks.dedup();
    per_sample_measure(tape, theta, batch, obs, init, 1, |s, row, _, par| {
        let sums = parity_sums(s, &masks, par);
        for ((r, o), zt) in row.iter_mut().zip(obs).zip(&z_terms) {
            *r = match zt {
                Some(terms) => (terms.iter())
                    .map(|&(z, c)| c * sums[masks.binary_search(&z).unwrap()])
                    .sum(),
                None => o.op.expval(s, par),
            };
        }
    })
}

/// ⟨O_m⟩ `[B, M]` and the final states `[B, 2^n]` in one call: what a differentiable
/// forward keeps so that its adjoint backward skips the forward pass.
pub fn expval_and_state<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<(Vec<f64>, Vec<C<T>>)> {
    check_obs(tape, obs)?;
    let states = state(tape, theta, batch, init)?;
    let values = expval(tape, theta, batch, obs, Init::Final(&states))?;
    Ok((values, states))
}

/// Var(O_m) for every sample: `[B, M]` (needs O|φ⟩: two more states per task).
pub fn var<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<Vec<f64>> {
    per_sample_measure(tape, theta, batch, obs, init, 3, |s, row, scratch, par| {
        for (r, o) in row.iter_mut().zip(obs) {
            *r = o.op.var(s, scratch, par);
        }
    })
}

/// Final states: `[B, 2^n]`.
pub fn state<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    init: Init<T>,
) -> Result<Vec<C<T>>> {
    let dim = 1usize << tape.n_qubits;
    ensure_fits(
        (batch as u128 * dim as u128) * std::mem::size_of::<C<T>>() as u128,
        "the output states",
    )?;
    let mut out = vec![C::new(T::zero(), T::zero()); batch * dim];
    run_batch(
        &Program::new(tape),
        theta,
        batch,
        &init,
        Task::MEASURE,
        &mut out,
        dim,
        |_, s, row, _| row.copy_from_slice(s),
    )?;
    Ok(out)
}

/// Marginal probabilities of `wires` (wires[0] the high bit of the outcome): `[B, 2^k]`.
pub fn probs<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    wires: &[usize],
    init: Init<T>,
) -> Result<Vec<f64>> {
    tape.check_wires(wires, "probs")?;
    let k = wires.len();
    ensure_fits(((batch as u128) << k) * 8, "the probabilities")?;
    let mut out = vec![0.0; batch << k];
    run_batch(
        &Program::new(tape),
        theta,
        batch,
        &init,
        Task::MEASURE,
        &mut out,
        1 << k,
        |_, s, row, _| marginal(s, tape.n_qubits, wires, row),
    )?;
    Ok(out)
}

fn marginal<T: Real>(s: &[C<T>], n: usize, wires: &[usize], out: &mut [f64]) {
    let k = wires.len();
    out.iter_mut().for_each(|x| *x = 0.0);
    for (i, a) in s.iter().enumerate() {
        let mut o = 0usize;
        for (j, &w) in wires.iter().enumerate() {
            o |= ((i >> (n - 1 - w)) & 1) << (k - 1 - j);
        }
        out[o] += a.norm_sqr().f64();
    }
}

/// `shots` measurement outcomes of `wires` per sample: `[B, shots, k]` bits (0/1).
/// Reproducible for a given seed, whatever the thread count: sample b draws from its
/// own stream seeded by (seed, b).
pub fn sample<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    wires: &[usize],
    shots: usize,
    seed: u64,
    init: Init<T>,
) -> Result<Vec<u8>> {
    tape.check_wires(wires, "sample")?;
    let k = wires.len();
    ensure_fits(batch as u128 * shots as u128 * k as u128, "the samples")?;
    let mut out = vec![0u8; batch * shots * k];
    run_batch(
        &Program::new(tape),
        theta,
        batch,
        &init,
        Task::MEASURE,
        &mut out,
        shots * k,
        |b, s, row, _| {
            let mut p = vec![0.0; 1 << k];
            marginal(s, tape.n_qubits, wires, &mut p);
            let mut cdf = Vec::with_capacity(p.len());
            let mut acc = 0.0;
            for x in &p {
                acc += x;
                cdf.push(acc);
            }
            let total = acc;
            let mut rng = SplitMix64::new(seed ^ (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for shot in row.chunks_mut(k.max(1)).take(shots) {
                let u = rng.uniform() * total;
                let o = cdf.partition_point(|&c| c <= u).min(p.len() - 1);
                for (j, bit) in shot.iter_mut().enumerate() {
                    *bit = ((o >> (k - 1 - j)) & 1) as u8;
                }
            }
        },
    )?;
    Ok(out)
}

/// Small, fast, reproducible generator (Steele, Lea & Flood's SplitMix64).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// a·b for row-major 2x2 matrices.
#[inline]
fn mul2<T: Real>(a: &[C<T>; 4], b: &[C<T>; 4]) -> [C<T>; 4] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}
