//! Measurements of the final states: expectation values, variances, states,
//! probabilities and samples, batched `[B, ...]`, each through the engine the planner picks.

use crate::engine::{check_obs, lanes, Batch, Engine, Init, Options, Task};
use crate::error::Result;
use crate::frame::before_frame;
use crate::memory::ensure_fits;
use crate::observable::Obs;
use crate::program::Program;
use crate::rng::SplitMix64;
use crate::scalar::{Real, C};
use crate::state::alloc;
use crate::state::parity::parity_sums;

/// One real number per (sample, observable): `[B, M]`, each sample's row from
/// `measure(state, row, scratch, par)`; `states` full states per task.
#[allow(clippy::too_many_arguments)]
fn per_sample_measure<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    opts: &Options,
    states: usize,
    measure: impl Fn(&[C<T>], &mut [f64], &mut Vec<C<T>>, bool) + Sync + Send,
) -> Result<Vec<f64>> {
    check_obs(prog.tape(), obs)?;
    let m = obs.len();
    ensure_fits(batch as u128 * m as u128 * 8, "the outputs")?;
    let mut out = vec![0.0; batch * m];
    if m == 0 {
        return Ok(out);
    }
    let task = Task {
        states,
        passes: states * m,
    };
    Batch::new(prog, theta, batch, init, opts)?.run(task, &mut out, m, |_, s, row, par| {
        measure(s, row, &mut Vec::new(), par)
    })?;
    Ok(out)
}

/// ⟨O_m⟩ for every sample: `[B, M]`.
pub fn expval<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<f64>> {
    if let Some((prefix, pulled)) = before_frame(prog, batch, obs, &init, opts)? {
        return expval(prefix, theta, batch, &pulled, init, opts);
    }
    if let Some(diag) = lane_diagonals(prog, theta, batch, obs, init, opts)? {
        let (values, _) = lanes::diag_expvals(prog, theta, batch, &init, &diag, false, opts);
        return opts.check_cancel().map(|()| values);
    }
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
    per_sample_measure(prog, theta, batch, obs, init, opts, 1, |s, row, _, par| {
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
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    opts: &Options,
) -> Result<(Vec<f64>, Vec<C<T>>)> {
    check_obs(prog.tape(), obs)?;
    if let Some(diag) = lane_diagonals(prog, theta, batch, obs, init, opts)? {
        let len = batch << prog.tape().n_qubits;
        ensure_fits(
            len as u128 * std::mem::size_of::<C<T>>() as u128,
            "the output states",
        )?;
        let (values, states) = lanes::diag_expvals(prog, theta, batch, &init, &diag, true, opts);
        opts.check_cancel()?;
        return Ok((values, states.unwrap_or_default()));
    }
    let states = state(prog, theta, batch, init, opts)?;
    let values = expval(prog, theta, batch, obs, Init::Final(&states), opts)?;
    Ok((values, states))
}

/// The observables' real diagonals `[M, 2^n]` when this call runs on the lane engine from
/// initial states (not final ones) and every observable is diagonal (Z words, projectors,
/// real sums of these): its blocks then read the expvals off their own rows.
fn lane_diagonals<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    opts: &Options,
) -> Result<Option<Vec<f64>>> {
    if obs.is_empty() || init.is_final() {
        return Ok(None);
    }
    check_obs(prog.tape(), obs)?;
    if Batch::new(prog, theta, batch, init, opts)?.engine != Engine::Lanes {
        return Ok(None);
    }
    ensure_fits(batch as u128 * obs.len() as u128 * 8, "the outputs")?;
    let dim = 1usize << prog.tape().n_qubits;
    Ok(Obs::diagonals(obs, dim))
}

/// Var(O_m) for every sample: `[B, M]` (needs O|φ⟩: two more states per task).
pub fn var<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<f64>> {
    per_sample_measure(
        prog,
        theta,
        batch,
        obs,
        init,
        opts,
        3,
        |s, row, scratch, par| {
            for (r, o) in row.iter_mut().zip(obs) {
                *r = o.op.var(s, scratch, par);
            }
        },
    )
}

/// Final states: `[B, 2^n]`.
pub fn state<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<C<T>>> {
    let dim = 1usize << prog.tape().n_qubits;
    ensure_fits(
        (batch as u128 * dim as u128) * std::mem::size_of::<C<T>>() as u128,
        "the output states",
    )?;
    let run = Batch::new(prog, theta, batch, init, opts)?;
    if run.engine == Engine::Lanes && !init.is_final() {
        // the blocks write the states straight out (no per-sample copy)
        let out = lanes::final_states(prog, theta, batch, &init, opts);
        return opts.check_cancel().map(|()| out);
    }
    let mut out = alloc::zeroed(batch * dim);
    run.run(Task::MEASURE, &mut out, dim, |_, s, row, _| {
        row.copy_from_slice(s)
    })?;
    Ok(out)
}

/// Marginal probabilities of `wires` (wires[0] the high bit of the outcome): `[B, 2^k]`.
pub fn probs<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    wires: &[usize],
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<f64>> {
    let tape = prog.tape();
    tape.check_wires(wires, "probs")?;
    let k = wires.len();
    ensure_fits(((batch as u128) << k) * 8, "the probabilities")?;
    let mut out = vec![0.0; batch << k];
    Batch::new(prog, theta, batch, init, opts)?.run(
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
#[allow(clippy::too_many_arguments)]
pub fn sample<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    wires: &[usize],
    shots: usize,
    seed: u64,
    init: Init<T>,
    opts: &Options,
) -> Result<Vec<u8>> {
    let tape = prog.tape();
    tape.check_wires(wires, "sample")?;
    let k = wires.len();
    ensure_fits(batch as u128 * shots as u128 * k as u128, "the samples")?;
    let mut out = vec![0u8; batch * shots * k];
    let run = Batch::new(prog, theta, batch, init, opts)?;
    run.run(Task::MEASURE, &mut out, shots * k, |b, s, row, _| {
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
    })?;
    Ok(out)
}
