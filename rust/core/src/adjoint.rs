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

/// Work done on one adjoint state λ_m and its row of gradients.
type LamStep<'a, T> = dyn Fn(&mut Vec<C<T>>, &mut [f64]) + Sync + 'a;

/// Backward sweep from the final state `phi` with adjoint states `lams` (one per
/// observable); adds 2 Re⟨λ_m|∂U/∂θ|φ⟩ into `grads[m * P + col]`.
/// `par_obs` runs the observables in parallel (each task owns one λ_m and its row of
/// `grads`), otherwise `par_amp` parallelises each kernel over amplitudes.
fn sweep<T: Real>(
    prog: &Program<T>,
    row: &[f64],
    phi: &mut [C<T>],
    lams: &mut [Vec<C<T>>],
    grads: &mut [f64],
    par_amp: bool,
    par_obs: bool,
) {
    let tape = prog.tape;
    let p = tape.n_params;
    let Some(first) = tape.ops.iter().position(|op| op.is_parametrised()) else {
        return;
    };
    let par_kernel = par_amp && !par_obs;
    let each_lam = |lams: &mut [Vec<C<T>>], grads: &mut [f64], step: &LamStep<'_, T>| {
        if par_obs {
            pool::install(|| {
                lams.par_iter_mut()
                    .zip(grads.par_chunks_mut(p))
                    .for_each(|(lam, g)| step(lam, g))
            });
        } else {
            lams.iter_mut()
                .zip(grads.chunks_mut(p))
                .for_each(|(lam, g)| step(lam, g));
        }
    };
    for i in (first..tape.ops.len()).rev() {
        let op = &tape.ops[i];
        // Generator gates: dU/dθ = c·G·U, so 2 Re⟨λ|dU/dθ|φ_before⟩ = 2 Re c⟨λ|G|φ_after⟩.
        if let Some((gen, c, col)) = &prog.generators[i] {
            let phi: &[C<T>] = phi;
            each_lam(lams, grads, &|lam, g| {
                g[*col] += 2.0 * (c * gen.inner(lam, phi, par_kernel)).re;
            });
        }
        let undo = prog.undo(i, row);
        undo.apply(phi, par_amp);
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
        let phi: &[C<T>] = phi;
        each_lam(lams, grads, &|lam, g| {
            for (col, d) in &derivs {
                g[*col] += 2.0 * d.inner(lam, phi, par_kernel).re;
            }
            if i > first {
                undo.apply(lam, par_kernel);
            }
        });
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
    // Samples run one at a time (not batch-parallel): spread the observables over threads.
    let pl = plan(batch, tape.n_qubits, tape.ops.len() * (m + 2));
    let work = (m << tape.n_qubits).saturating_mul(tape.ops.len());
    let par_obs = !pl.batch_par && m >= 2 && pool::num_threads() > 1 && work > SERIAL_MAX_WORK;
    run_batch(
        tape,
        theta,
        batch,
        &init,
        m + 2,
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
            sweep(&prog, row, s, &mut lams, jac, par, par_obs);
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
        tape,
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
            sweep(
                &prog,
                row,
                s,
                std::slice::from_mut(&mut lam),
                grad,
                par,
                false,
            );
        },
    )?;
    Ok(out)
}
