//! Fused execution (tiles forced small so that 9-11 qubit circuits split into many
//! segments) equals unfused execution, for states, Jacobians and VJPs, on random circuits
//! of every gate. One test function: the fusion switch is process-wide.
mod common;
use common::*;
use qoxide_core::{adjoint, execute, fusion, Gate, Init, Obs, Tape};

fn random_tape(n: usize, p: usize, rng: &mut Rng) -> Tape {
    let ops = (0..60)
        .map(|_| random_op(Gate::ALL[rng.below(Gate::ALL.len())], n, p, rng))
        .collect();
    tape_of(n, p, ops)
}

struct Outputs {
    states: Vec<C64>,
    jac: Vec<f64>,
    vjp: Vec<f64>,
}

fn run(tape: &Tape, theta: &[f64], batch: usize, psi: &[C64], obs: &[Obs], g: &[f64]) -> Outputs {
    let init = Init::Shared(psi);
    Outputs {
        states: execute::state::<f64>(tape, theta, batch, init).unwrap(),
        jac: adjoint::jacobian::<f64>(tape, theta, batch, obs, init).unwrap(),
        vjp: adjoint::vjp::<f64>(tape, theta, batch, obs, g, init).unwrap(),
    }
}

#[test]
fn fused_equals_unfused() {
    for seed in 0..12u64 {
        let mut rng = Rng::new(1000 + seed);
        let n = 9 + (seed as usize % 3);
        let (p, batch) = (5, 1 + seed as usize % 3);
        let tape = random_tape(n, p, &mut rng);
        let theta = random_theta(batch, p, &mut rng);
        let psi = random_state(n, &mut rng);
        let obs = mixed_obs_only(n, &mut rng);
        let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
        fusion::set_enabled(false);
        let plain = run(&tape, &theta, batch, &psi, &obs, &g);
        fusion::set_enabled(true);
        for tile in [6, 7, 8] {
            fusion::set_tile_qubits(tile);
            let fused = run(&tape, &theta, batch, &psi, &obs, &g);
            let ctx = format!("seed {seed}, {n} qubits, tile {tile}");
            assert_states_close(&fused.states, &plain.states, 1e-12, &ctx);
            assert_reals_close(&fused.jac, &plain.jac, 1e-12, &ctx);
            assert_reals_close(&fused.vjp, &plain.vjp, 1e-12, &ctx);
        }
        fusion::set_tile_qubits(0);
    }
}
