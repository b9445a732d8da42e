//! Adjoint differentiation (Jones & Gacon, arXiv:2009.02823).
//!
//! With |φ⟩ the final state and |λ⟩ = O|φ⟩, sweep the ops backwards:
//!   φ ← U_i† φ;   ∂⟨O⟩/∂θ += 2 Re ⟨λ| ∂U_i/∂θ |φ⟩;   λ ← U_i† λ.
//! The VJP uses the combined observable Σ_m g_m O_m, so it costs ONE sweep whatever M.
//! The sweep stops at the first parametrised op: nothing before it has a gradient.

use crate::error::Result;
use crate::execute::{check_obs, plan, run_batch, Init, Program, SERIAL_MAX_WORK};
use crate::observable::Obs;
use crate::pool;
use crate::scalar::{Real, C};
use crate::state::Kernel;
use crate::tape::{Param, Tape};
use crate::value_err;
use num_traits::Zero;
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
) {
    let tape = prog.tape;
    let p = tape.n_params;
    let Some(first) = tape.ops.iter().position(|op| op.is_parametrised()) else {
        return;
    };
    for i in (first..tape.ops.len()).rev() {
        let op = &tape.ops[i];
        // Generator gates: dU/dθ = c·G·U, so 2 Re⟨λ|dU/dθ|φ_before⟩ = 2 Re c⟨λ|G|φ_after⟩.
        if let Some((gen, c, col)) = &prog.generators[i] {
            for (lam, g) in lams.iter().zip(grads.chunks_mut(p)) {
                g[*col] += 2.0 * (c * gen.inner(lam, phi, par)).re;
            }
        }
        let undo = prog.undo(i, row);
        undo.apply(phi, par);
        let derivs: Vec<(usize, Kernel<T>)> = if prog.generators[i].is_some() {
            Vec::new()
        } else {
            let angles = op.angles(row);
            op.params
                .iter()
                .enumerate()
                .filter_map(|(k, prm)| match *prm {
                    Param::Col(col) => Some((col, op.derivative::<T>(&angles, k, tape.n_qubits))),
                    Param::Const(_) => None,
                })
                .collect()
        };
        if derivs.is_empty() && i == first {
            break;
        }
        for (lam, g) in lams.iter_mut().zip(grads.chunks_mut(p)) {
            for (col, d) in &derivs {
                g[*col] += 2.0 * d.inner(lam, phi, par).re;
            }
            if i > first {
                undo.apply(lam, par);
            }
        }
    }
}

/// ∂⟨O_m⟩/∂θ_p for every sample: `[B, M, P]`.
pub fn jacobian<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<Vec<f64>> {
    check_obs(tape, obs)?;
    let (m, p) = (obs.len(), tape.n_params);
    crate::memory::ensure_fits(batch as u128 * m as u128 * p as u128 * 8, "the Jacobian")?;
    let mut out = vec![0.0; batch * m * p];
    if m * p == 0 {
        return Ok(out);
    }
    let prog = Program::<T>::new(tape);
    // When samples run one at a time (not batch-parallel), split the observables into one
    // group per thread; each group sweeps with its own copy of φ, so threads never
    // synchronise inside the sweep (per-op synchronisation costs more than the copy).
    let threads = pool::num_threads();
    let pl = plan(batch, tape.n_qubits, tape.ops.len() * (m + 2));
    let work = (m << tape.n_qubits).saturating_mul(tape.ops.len());
    let groups = if !pl.batch_par && threads > 1 && m >= 2 && work > SERIAL_MAX_WORK {
        threads.min(m)
    } else {
        1
    };
    let per_group = m.div_ceil(groups);
    run_batch(
        &prog,
        theta,
        batch,
        &init,
        m + 1 + groups,
        &mut out,
        m * p,
        |b, s, jac, par| {
            let row = tape.row(theta, b);
            let mut scratch = Vec::new();
            let mut lams: Vec<Vec<C<T>>> = obs
                .iter()
                .map(|o| {
                    let mut lam = vec![C::zero(); s.len()];
                    o.op.apply_acc(s, &mut lam, 1.0, &mut scratch, par);
                    lam
                })
                .collect();
            if groups == 1 {
                sweep(&prog, row, s, &mut lams, jac, par);
            } else {
                let phi: &[C<T>] = s;
                pool::install(|| {
                    lams.par_chunks_mut(per_group)
                        .zip(jac.par_chunks_mut(per_group * p))
                        .for_each(|(l, g)| sweep(&prog, row, &mut phi.to_vec(), l, g, false))
                });
            }
        },
    )?;
    Ok(out)
}

/// Σ_m grad_out[b, m] ∂⟨O_m⟩/∂θ_p for every sample: `[B, P]`, in one backward sweep.
pub fn vjp<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    grad_out: &[f64],
    init: Init<T>,
) -> Result<Vec<f64>> {
    check_obs(tape, obs)?;
    let (m, p) = (obs.len(), tape.n_params);
    if grad_out.len() != batch * m {
        return value_err!(
            "grad_out must have shape [{batch}, {m}] = {} values, got {}",
            batch * m,
            grad_out.len()
        );
    }
    crate::memory::ensure_fits(batch as u128 * p as u128 * 8, "the gradients")?;
    let mut out = vec![0.0; batch * p];
    if m * p == 0 {
        return Ok(out);
    }
    let prog = Program::<T>::new(tape);
    run_batch(
        &prog,
        theta,
        batch,
        &init,
        3,
        &mut out,
        p,
        |b, s, grad, par| {
            let row = tape.row(theta, b);
            let g = &grad_out[b * m..(b + 1) * m];
            let mut scratch = Vec::new();
            let mut lam = vec![C::zero(); s.len()];
            for (o, &gm) in obs.iter().zip(g) {
                if gm != 0.0 {
                    o.op.apply_acc(s, &mut lam, gm, &mut scratch, par);
                }
            }
            sweep(&prog, row, s, std::slice::from_mut(&mut lam), grad, par);
        },
    )?;
    Ok(out)
}
