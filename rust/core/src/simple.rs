//! One-shot entry points on a bare `Tape`: compile, run with the planner's engine, drop.
//! For scripts, examples and tests; callers that run a tape repeatedly keep a `Program`
//! (the Python bindings cache one per tape) and call `measure` / `adjoint` directly.

use crate::engine::{Init, Options};
use crate::error::Result;
use crate::observable::Obs;
use crate::program::Program;
use crate::scalar::{Real, C};
use crate::tape::Tape;
use crate::{adjoint, measure};
use std::sync::Arc;

fn compile<T: Real>(tape: &Tape) -> Program<T> {
    Program::new(Arc::new(tape.clone()))
}

/// ⟨O_m⟩ per sample: `[B, M]`.
pub fn expval<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<Vec<f64>> {
    measure::expval(&compile(tape), theta, batch, obs, init, &Options::default())
}

/// ⟨O_m⟩ `[B, M]` and the final states `[B, 2^n]`.
pub fn expval_and_state<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<(Vec<f64>, Vec<C<T>>)> {
    measure::expval_and_state(&compile(tape), theta, batch, obs, init, &Options::default())
}

/// Var(O_m) per sample: `[B, M]`.
pub fn var<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<Vec<f64>> {
    measure::var(&compile(tape), theta, batch, obs, init, &Options::default())
}

/// Final states `[B, 2^n]`.
pub fn state<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    init: Init<T>,
) -> Result<Vec<C<T>>> {
    measure::state(&compile(tape), theta, batch, init, &Options::default())
}

/// Marginal probabilities of `wires`: `[B, 2^k]`.
pub fn probs<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    wires: &[usize],
    init: Init<T>,
) -> Result<Vec<f64>> {
    measure::probs(
        &compile(tape),
        theta,
        batch,
        wires,
        init,
        &Options::default(),
    )
}

/// `shots` outcomes of `wires` per sample: `[B, shots, k]` bits.
pub fn sample<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    wires: &[usize],
    shots: usize,
    seed: u64,
    init: Init<T>,
) -> Result<Vec<u8>> {
    let prog = compile(tape);
    measure::sample(
        &prog,
        theta,
        batch,
        wires,
        shots,
        seed,
        init,
        &Options::default(),
    )
}

/// ∂⟨O_m⟩/∂θ_p per sample: `[B, M, P]`.
pub fn jacobian<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    init: Init<T>,
) -> Result<Vec<f64>> {
    adjoint::jacobian(&compile(tape), theta, batch, obs, init, &Options::default())
}

/// Σ_m grad_out[b, m] ∂⟨O_m⟩/∂θ_p per sample: `[B, P]`.
pub fn vjp<T: Real>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    obs: &[Obs],
    grad_out: &[f64],
    init: Init<T>,
) -> Result<Vec<f64>> {
    adjoint::vjp(
        &compile(tape),
        theta,
        batch,
        obs,
        grad_out,
        init,
        &Options::default(),
    )
}
