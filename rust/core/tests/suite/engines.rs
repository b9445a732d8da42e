//! Every engine against the per-sample engine, through the public entry points: the lane
//! engine on small registers, the tiled engine with tiles forced small so that 9-11 qubit
//! circuits split into many segments (register blocks of 0, 2, 3 and 4 bits inside). States, expvals, Jacobians and VJPs, random circuits
//! of every gate, both precisions. Engines are chosen per call (no process-wide switch).
use crate::common::*;
use qoxide_core::{adjoint, measure, Engine, Gate, Init, Obs, Options, Program, Real, Tape};
use std::sync::Arc;

fn random_tape(n: usize, p: usize, ops: usize, rng: &mut Rng) -> Tape {
    // gates that fit the register
    let gates: Vec<Gate> = (Gate::ALL.iter().copied())
        .filter(|g| g.n_wires().unwrap_or(g.min_wires()) <= n)
        .collect();
    let ops = (0..ops)
        .map(|_| random_op(gates[rng.below(gates.len())], n, p, rng))
        .collect();
    tape_of(n, p, ops)
}

struct Outputs {
    states: Vec<C64>,
    expval: Vec<f64>,
    jac: Vec<f64>,
    vjp: Vec<f64>,
}

#[allow(clippy::too_many_arguments)]
fn run<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    psi: &[qoxide_core::C<T>],
    obs: &[Obs],
    g: &[f64],
    opts: &Options,
) -> Outputs {
    run_from(prog, theta, batch, Init::Shared(psi), obs, g, opts)
}

#[allow(clippy::too_many_arguments)]
fn run_from<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: Init<T>,
    obs: &[Obs],
    g: &[f64],
    opts: &Options,
) -> Outputs {
    let widen =
        |v: Vec<qoxide_core::C<T>>| v.iter().map(|z| C64::new(z.re.f64(), z.im.f64())).collect();
    Outputs {
        states: widen(measure::state(prog, theta, batch, init, opts).unwrap()),
        expval: measure::expval(prog, theta, batch, obs, init, opts).unwrap(),
        jac: adjoint::jacobian(prog, theta, batch, obs, init, opts).unwrap(),
        vjp: adjoint::vjp(prog, theta, batch, obs, g, init, opts).unwrap(),
    }
}

fn compare(got: &Outputs, want: &Outputs, tol: f64, ctx: &str) {
    assert_states_close(&got.states, &want.states, tol, ctx);
    assert_reals_close(&got.expval, &want.expval, tol, ctx);
    assert_reals_close(&got.jac, &want.jac, tol, ctx);
    assert_reals_close(&got.vjp, &want.vjp, tol, ctx);
}

fn cast_state<T: Real>(psi: &[C64]) -> Vec<qoxide_core::C<T>> {
    psi.iter()
        .map(|z| qoxide_core::C::new(T::of(z.re), T::of(z.im)))
        .collect()
}

/// The tiled engine, at each (tile qubits, register-block bits) of `configs` (None: the
/// default blocks), against the per-sample engine on the same call from `init`.
#[allow(clippy::too_many_arguments)]
fn tiled_matches_per_sample<T: Real>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: Init<T>,
    obs: &[Obs],
    g: &[f64],
    configs: &[(u32, Option<u32>)],
    tol: f64,
    ctx: &str,
) {
    let per_sample = Options::with_engine(Engine::PerSample);
    let plain = run_from(prog, theta, batch, init, obs, g, &per_sample);
    for &(tile, block_bits) in configs {
        let opts = Options {
            engine: Some(Engine::Tiled),
            tile_qubits: Some(tile),
            block_bits,
            ..Options::default()
        };
        let got = run_from(prog, theta, batch, init, obs, g, &opts);
        let ctx = format!(
            "{ctx}, tile {tile}, blocks {block_bits:?}, {}",
            std::any::type_name::<T>()
        );
        compare(&got, &plain, tol, &ctx);
    }
}

/// Tiled (tiles of 6-8 qubits) equals per-sample on 9-11 qubits.
fn tiled_case<T: Real>(seed: u64, tol: f64) {
    let mut rng = Rng::new(1000 + seed);
    let n = 9 + (seed as usize % 3);
    let (p, batch) = (5, 1 + seed as usize % 3);
    let tape = random_tape(n, p, 60, &mut rng);
    let theta = random_theta(batch, p, &mut rng);
    let psi = cast_state::<T>(&random_state(n, &mut rng));
    let obs = mixed_obs_only(n, &mut rng);
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    let prog = Program::<T>::new(Arc::new(tape));
    let configs = [(6, Some(2)), (7, Some(0)), (8, Some(3)), (8, Some(4))];
    let (init, ctx) = (Init::Shared(&psi), format!("seed {seed}, {n} qubits"));
    tiled_matches_per_sample(&prog, &theta, batch, init, &obs, &g, &configs, tol, &ctx);
}

#[test]
fn tiled_equals_per_sample() {
    for seed in 0..10u64 {
        tiled_case::<f64>(seed, 1e-12);
    }
    for seed in 0..4u64 {
        tiled_case::<f32>(seed, 2e-4);
    }
}

/// From |0...0>, the tiled engine runs its first segment on the one tile holding amplitude
/// 0 (the rest stay zero): states, values, Jacobians and VJPs equal the per-sample engine's,
/// whether the plan starts with a tiled segment or with an op too wide for a tile.
fn zero_start_case<T: Real>(seed: u64, tol: f64) {
    let mut rng = Rng::new(5000 + seed);
    let n = 9 + (seed as usize % 3);
    let (p, batch) = (5, 1 + seed as usize % 3);
    let mut tape = random_tape(n, p, 50, &mut rng);
    if seed % 3 == 2 {
        // a first op on more wires than any tile holds
        let wide: Vec<usize> = (0..n).collect();
        tape.ops
            .insert(0, op(Gate::MultiControlledX, &wide, vec![]));
    }
    let theta = random_theta(batch, p, &mut rng);
    let obs = mixed_obs_only(n, &mut rng);
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    let prog = Program::<T>::new(Arc::new(tape));
    let (configs, ctx) = ([(6, None), (8, None)], format!("seed {seed}, {n} qubits"));
    tiled_matches_per_sample(
        &prog,
        &theta,
        batch,
        Init::Zero,
        &obs,
        &g,
        &configs,
        tol,
        &ctx,
    );
}

#[test]
fn tiled_from_zero_equals_per_sample() {
    for seed in 0..9u64 {
        zero_start_case::<f64>(seed, 1e-12);
    }
    for seed in 0..3u64 {
        zero_start_case::<f32>(seed, 2e-4);
    }
}

/// Circuits ending with CNOT, CY, X, Y, SWAP and diagonal gates, measuring Z strings: the
/// tiled engine pulls the observables back through those gates instead of applying them
/// (`frame`); values, Jacobians and VJPs equal the per-sample engine's, which applies them.
fn frame_case<T: Real>(seed: u64, tol: f64) {
    let mut rng = Rng::new(4000 + seed);
    let n = 9 + (seed as usize % 3);
    let (p, batch) = (5, 1 + seed as usize % 3);
    let mut tape = random_tape(n, p, if seed % 4 == 3 { 0 } else { 40 }, &mut rng);
    let frame = {
        use Gate::*;
        [
            CNOT, CY, PauliX, PauliY, SWAP, CZ, RZ, PhaseShift, IsingZZ, MultiRZ, S, T,
        ]
    };
    for _ in 0..12 + seed as usize {
        tape.push(random_op(frame[rng.below(frame.len())], n, p, &mut rng))
            .unwrap();
    }
    // a ring, as entangling layers end
    for i in 0..n {
        tape.push(op(Gate::CNOT, &[i, (i + 1) % n], vec![]))
            .unwrap();
    }
    let theta = random_theta(batch, p, &mut rng);
    let psi = cast_state::<T>(&random_state(n, &mut rng));
    let z = |wires: &[usize]| wires.iter().map(|&w| (w, 'Z')).collect::<Vec<_>>();
    let mut obs: Vec<Obs> = (0..n)
        .map(|i| Obs::pauli(n, &[(1.0, z(&[i]))]).unwrap())
        .collect();
    obs.push(
        Obs::pauli(
            n,
            &[(0.7, z(&[0, n - 1])), (-1.3, z(&[1, 2, 5])), (0.4, vec![])],
        )
        .unwrap(),
    );
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    let prog = Program::<T>::new(Arc::new(tape));
    let (configs, ctx) = ([(6, None), (8, None)], format!("seed {seed}, {n} qubits"));
    let init = Init::Shared(&psi);
    tiled_matches_per_sample(&prog, &theta, batch, init, &obs, &g, &configs, tol, &ctx);
}

#[test]
fn z_strings_measured_before_a_trailing_frame_match() {
    for seed in 0..8u64 {
        frame_case::<f64>(seed, 1e-12);
    }
    for seed in 0..3u64 {
        frame_case::<f32>(seed, 2e-4);
    }
}

/// Per-sample with register blocks (12-13 qubits, one thread per sample: blocks of 2-4
/// bits) equals per-sample gate by gate.
fn blocked_case<T: Real>(seed: u64, tol: f64) {
    let mut rng = Rng::new(3000 + seed);
    let n = 12 + (seed as usize % 2);
    let (p, batch) = (5, 2 + seed as usize % 2);
    let tape = random_tape(n, p, 60, &mut rng);
    let theta = random_theta(batch, p, &mut rng);
    let psi = cast_state::<T>(&random_state(n, &mut rng));
    let obs = mixed_obs_only(n, &mut rng);
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    let prog = Program::<T>::new(Arc::new(tape));
    let opts = |block_bits| Options {
        engine: Some(Engine::PerSample),
        block_bits: Some(block_bits),
        ..Options::default()
    };
    let plain = run(&prog, &theta, batch, &psi, &obs, &g, &opts(0));
    for block_bits in 2..=4 {
        let got = run(&prog, &theta, batch, &psi, &obs, &g, &opts(block_bits));
        let ctx = format!(
            "seed {seed}, {n} qubits, blocks of {block_bits} bits, {}",
            std::any::type_name::<T>()
        );
        compare(&got, &plain, tol, &ctx);
    }
}

#[test]
fn per_sample_blocks_equal_gate_by_gate() {
    for seed in 0..4u64 {
        blocked_case::<f64>(seed, 1e-12);
    }
    blocked_case::<f32>(9, 2e-4);
}

/// Lanes equals per-sample on 3-8 qubits, uneven batches (partial blocks, several
/// chunks' worth of blocks).
fn lanes_case<T: Real>(seed: u64, tol: f64) {
    let mut rng = Rng::new(2000 + seed);
    let n = 3 + (seed as usize % 6); // mixed_obs_only needs 3 wires
    let p = 4;
    let batch = [1, 4, 17, 40][seed as usize % 4];
    let tape = random_tape(n, p, 30, &mut rng);
    let prog = Program::<T>::new(Arc::new(tape));
    let lanes = Options::with_engine(Engine::Lanes);
    if qoxide_core::engine::choose(&prog, batch, &lanes).is_err() {
        return; // a 3+-wire QubitUnitary: the lane engine refuses it (tested in-crate)
    }
    let theta = random_theta(batch, p, &mut rng);
    let psi = cast_state::<T>(&random_state(n, &mut rng));
    let obs = mixed_obs_only(n, &mut rng);
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    let plain = run(
        &prog,
        &theta,
        batch,
        &psi,
        &obs,
        &g,
        &Options::with_engine(Engine::PerSample),
    );
    let got = run(&prog, &theta, batch, &psi, &obs, &g, &lanes);
    let ctx = format!(
        "seed {seed}, {n} qubits, batch {batch}, {}",
        std::any::type_name::<T>()
    );
    compare(&got, &plain, tol, &ctx);
}

#[test]
fn lanes_equal_per_sample() {
    for seed in 0..24u64 {
        lanes_case::<f64>(seed, 1e-12);
    }
    for seed in 0..8u64 {
        lanes_case::<f32>(seed, 2e-4);
    }
}

/// The lane engine streams a large batch in chunks: the result equals the per-sample
/// engine's across chunk boundaries.
#[test]
fn lanes_stream_large_batches_in_chunks() {
    let mut rng = Rng::new(77);
    let (n, p) = (8, 3);
    let tape = random_tape(n, p, 12, &mut rng);
    let prog = Program::<f32>::new(Arc::new(tape));
    let lanes = Options::with_engine(Engine::Lanes);
    if qoxide_core::engine::choose(&prog, 4, &lanes).is_err() {
        return;
    }
    let chunk = (8usize << 20) / ((8usize << n) * 16) * 16; // lanes::chunk_samples for c64
    let batch = chunk.max(16 * qoxide_core::pool::num_threads()) * 2 + 5;
    let theta = random_theta(batch, p, &mut rng);
    let obs = mixed_obs_only(n, &mut rng);
    let per = Options::with_engine(Engine::PerSample);
    let want = measure::expval(&prog, &theta, batch, &obs, Init::Zero, &per).unwrap();
    let got = measure::expval(&prog, &theta, batch, &obs, Init::Zero, &lanes).unwrap();
    assert_reals_close(&got, &want, 2e-4, "streamed expval");
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    let want = adjoint::vjp(&prog, &theta, batch, &obs, &g, Init::Zero, &per).unwrap();
    let got = adjoint::vjp(&prog, &theta, batch, &obs, &g, Init::Zero, &lanes).unwrap();
    assert_reals_close(&got, &want, 2e-3, "streamed vjp");
}
