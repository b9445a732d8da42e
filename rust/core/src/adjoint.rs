//! Adjoint differentiation (Jones & Gacon, arXiv:2009.02823).
//!
//! With |φ⟩ the final state and |λ⟩ = O|φ⟩, sweep the ops backwards:
//!   φ ← U_i† φ;   ∂⟨O⟩/∂θ += 2 Re ⟨λ| ∂U_i/∂θ |φ⟩;   λ ← U_i† λ.
//! The VJP uses the combined observable Σ_m g_m O_m, so it costs ONE sweep whatever M.
//! The sweep stops at the first parametrised op: nothing before it has a gradient.

use crate::error::Result;
use crate::execute::{check_obs, run_batch, Init, Program};
use crate::observable::Obs;
use crate::scalar::{Real, C};
use crate::tape::{Param, Tape};
use crate::value_err;
use num_traits::Zero;

/// Backward sweep from final state `phi` with adjoint states `lams`; `acc(m, col, value)`
/// receives each derivative contribution.
fn sweep<T: Real>(
    prog: &Program<T>,
    row: &[f64],
    phi: &mut [C<T>],
    lams: &mut [Vec<C<T>>],
    par: bool,
    mut acc: impl FnMut(usize, usize, f64),
) {
    let tape = prog.tape;
    let Some(first) = tape.ops.iter().position(|op| op.is_parametrised()) else {
        return;
    };
    for i in (first..tape.ops.len()).rev() {
        let op = &tape.ops[i];
        let undo = prog.kernel(i, row).dagger();
        undo.apply(phi, par);
        if op.is_parametrised() {
            let angles = op.angles(row);
            for (k, p) in op.params.iter().enumerate() {
                if let Param::Col(col) = *p {
                    let d = op.derivative::<T>(&angles, k, tape.n_qubits);
                    for (m, lam) in lams.iter().enumerate() {
                        acc(m, col, 2.0 * d.inner(lam, phi, par).re);
                    }
                }
            }
        }
        if i > first {
            for lam in lams.iter_mut() {
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
    let mut out = vec![0.0; batch * m * p];
    if m * p == 0 {
        return Ok(out);
    }
    let prog = Program::<T>::new(tape);
    run_batch(tape, theta, batch, &init, m + 2, &mut out, m * p, |b, s, jac, par| {
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
        sweep(&prog, row, s, &mut lams, par, |mi, col, v| jac[mi * p + col] += v);
    })?;
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
    let mut out = vec![0.0; batch * p];
    if m * p == 0 {
        return Ok(out);
    }
    let prog = Program::<T>::new(tape);
    run_batch(tape, theta, batch, &init, 3, &mut out, p, |b, s, grad, par| {
        let row = tape.row(theta, b);
        let g = &grad_out[b * m..(b + 1) * m];
        let mut scratch = Vec::new();
        let mut lam = vec![C::zero(); s.len()];
        for (o, &gm) in obs.iter().zip(g) {
            if gm != 0.0 {
                o.op.apply_acc(s, &mut lam, gm, &mut scratch, par);
            }
        }
        sweep(&prog, row, s, std::slice::from_mut(&mut lam), par, |_, col, v| grad[col] += v);
    })?;
    Ok(out)
}
