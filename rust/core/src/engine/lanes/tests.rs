//! The lane engine against the per-sample path: random circuits over every gate kind.

use super::*;
use crate::engine::{choose, lanes_min_batch, Engine, LANES_FORCED_MAX_QUBITS, LANES_MAX_QUBITS};
use crate::observable::Obs;
use crate::{adjoint, measure, Gate, Tape};
use std::sync::Arc;

fn per_sample_engine() -> Options {
    Options::with_engine(Engine::PerSample)
}

fn compile<T: Real>(tape: &Tape) -> Program<T> {
    Program::new(Arc::new(tape.clone()))
}

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn angle(&mut self) -> f64 {
        (self.uniform() - 0.5) * 4.0 * std::f64::consts::PI
    }
    fn complex(&mut self) -> C64 {
        C64::new(self.uniform() - 0.5, self.uniform() - 0.5)
    }
    /// `k` distinct wires out of `n`.
    fn wires(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut w: Vec<usize> = (0..n).collect();
        for j in 0..k {
            let r = j + self.below(n - j);
            w.swap(j, r);
        }
        w.truncate(k);
        w
    }
}

/// A random unitary (Gram-Schmidt on random rows).
fn unitary(dim: usize, rng: &mut Rng) -> Arc<[C64]> {
    let mut m: Vec<C64> = (0..dim * dim).map(|_| rng.complex()).collect();
    for r in 0..dim {
        for q in 0..r {
            let d: C64 = (0..dim)
                .map(|c| m[q * dim + c].conj() * m[r * dim + c])
                .sum();
            for c in 0..dim {
                let x = m[q * dim + c];
                m[r * dim + c] -= d * x;
            }
        }
        let norm = (0..dim)
            .map(|c| m[r * dim + c].norm_sqr())
            .sum::<f64>()
            .sqrt();
        m[r * dim..(r + 1) * dim]
            .iter_mut()
            .for_each(|x| *x /= norm);
    }
    m.into()
}

/// A random op of kind `gate` on `n` qubits (None if it does not fit), its parameters
/// columns of theta (width `p`) or constants, inverted at random.
fn random_op(gate: Gate, n: usize, p: usize, rng: &mut Rng) -> Option<Op> {
    let k = match gate.n_wires() {
        Some(k) => k,
        None if gate == Gate::QubitUnitary => 1 + rng.below(2),
        None => gate.min_wires() + rng.below(n + 1 - gate.min_wires().min(n)),
    };
    if k > n {
        return None;
    }
    let params = (0..gate.n_params())
        .map(|_| {
            if rng.below(4) == 0 {
                Param::Const(rng.angle())
            } else {
                Param::Col(rng.below(p))
            }
        })
        .collect();
    let mut op = Op::new(gate, rng.wires(n, k), params);
    op.inverse = rng.below(2) == 1;
    if gate == Gate::QubitUnitary {
        op.matrix = Some(unitary(1 << k, rng));
    }
    if gate == Gate::MultiControlledX {
        op.control_values = (1..k).map(|_| rng.below(3) > 0).collect();
    }
    Some(op)
}

/// Every gate kind twice (random placements), then random gates.
fn random_tape(n: usize, p: usize, rng: &mut Rng) -> Tape {
    random_tape_of(Gate::ALL, n, p, rng)
}

/// Every gate of `kinds` twice (random placements), then random ones of them.
fn random_tape_of(kinds: &[Gate], n: usize, p: usize, rng: &mut Rng) -> Tape {
    let mut tape = Tape::new(n, p).unwrap();
    let mut gates: Vec<Gate> = kinds.iter().chain(kinds).copied().collect();
    gates.extend((0..12).map(|_| kinds[rng.below(kinds.len())]));
    for j in (1..gates.len()).rev() {
        gates.swap(j, rng.below(j + 1));
    }
    for g in gates {
        if let Some(op) = random_op(g, n, p, rng) {
            tape.push(op).unwrap();
        }
    }
    tape
}

fn random_states<T: Real>(count: usize, dim: usize, rng: &mut Rng) -> Vec<C<T>> {
    random_states_of(count, dim, false, rng)
}

/// (`real`: no imaginary parts.)
fn random_states_of<T: Real>(count: usize, dim: usize, real: bool, rng: &mut Rng) -> Vec<C<T>> {
    let mut s: Vec<C64> = (0..count * dim)
        .map(|_| rng.complex())
        .map(|z| if real { C64::new(z.re, 0.0) } else { z })
        .collect();
    for st in s.chunks_mut(dim) {
        let norm = st.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
        st.iter_mut().for_each(|x| *x /= norm);
    }
    s.into_iter().map(cast).collect()
}

fn random_observables(n: usize, rng: &mut Rng) -> Vec<Obs> {
    (0..3)
        .map(|_| {
            let terms: Vec<(f64, Vec<(usize, char)>)> = (0..2)
                .map(|_| {
                    let k = 1 + rng.below(n);
                    let word = rng
                        .wires(n, k)
                        .into_iter()
                        .map(|w| (w, ['X', 'Y', 'Z'][rng.below(3)]))
                        .collect();
                    (rng.uniform() + 0.5, word)
                })
                .collect();
            Obs::pauli(n, &terms).unwrap()
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{ctx}: value {k}: got {g}, want {w} (diff {:.3e})",
            (g - w).abs()
        );
    }
}

fn flat<T: Real>(s: &[C<T>]) -> Vec<f64> {
    s.iter().flat_map(|z| [z.re.f64(), z.im.f64()]).collect()
}

/// final_states against simple::state and a VJP from vjp_sweep against simple::vjp,
/// both without lanes; and simple::vjp, which dispatches to the lanes, against the same.
fn check<T: Real>(tape: &Tape, batch: usize, init_kind: usize, tol: f64, rng: &mut Rng) {
    check_with(&compile::<T>(tape), batch, init_kind, tol, rng)
}

/// `check` on a compiled program.
fn check_with<T: Real>(prog: &Program<T>, batch: usize, init_kind: usize, tol: f64, rng: &mut Rng) {
    check_theta(prog, batch, (init_kind, false), false, tol, rng)
}

/// `check_with`, from initial states of `(kind, real)` (`real`: the given states have no
/// imaginary parts); `shared`: every other theta column takes one angle in every sample
/// (as a layer's weights do), so the plan's coefficients shared across blocks are used;
/// the columns between take that angle in each block's first lane only (such a block must
/// not take the shared coefficients).
fn check_theta<T: Real>(
    prog: &Program<T>,
    batch: usize,
    (init_kind, real_init): (usize, bool),
    shared: bool,
    tol: f64,
    rng: &mut Rng,
) {
    let (n, p) = (prog.tape().n_qubits, prog.tape().n_params);
    let dim = 1 << n;
    let mut theta: Vec<f64> = (0..batch * p).map(|_| rng.angle()).collect();
    if shared {
        for col in 0..p {
            let v = theta[col];
            let rows = theta.iter_mut().skip(col).step_by(p);
            if col % 2 == 0 {
                rows.for_each(|t| *t = v);
            } else {
                rows.step_by(LANES).for_each(|t| *t = v);
            }
        }
    }
    let shared = random_states_of::<T>(1, dim, real_init, rng);
    let per_sample = random_states_of::<T>(batch, dim, real_init, rng);
    let init = match init_kind {
        0 => Init::Zero,
        1 => Init::Shared(&shared),
        _ => Init::PerSample(&per_sample),
    };
    let ctx = format!(
        "{} qubits, batch {batch}, init {init_kind} (real {real_init}), {}",
        n,
        std::any::type_name::<T>()
    );
    let auto = choose(prog, batch.max(lanes_min_batch(n)), &Options::default()).unwrap();
    assert_eq!(auto, Engine::Lanes, "{ctx}: not eligible");
    let none = Options::default();

    let phi = final_states(prog, &theta, batch, &init, &none);
    let want = measure::state(prog, &theta, batch, init, &per_sample_engine()).unwrap();
    assert_close(&flat(&phi), &flat(&want), tol, &format!("{ctx}: states"));

    let obs = random_observables(n, rng);
    let m = obs.len();
    let g_out: Vec<f64> = (0..batch * m).map(|_| rng.uniform() - 0.5).collect();
    let mut lam = vec![C::new(T::zero(), T::zero()); batch * dim];
    let mut scratch = Vec::new();
    for b in 0..batch {
        for (o, &g) in obs.iter().zip(&g_out[b * m..]) {
            let rows = b * dim..(b + 1) * dim;
            o.op.apply_acc(&phi[rows.clone()], &mut lam[rows], g, &mut scratch, false);
        }
    }
    let mut grads = Vec::new();
    vjp_sweep(
        prog,
        &theta,
        batch,
        &phi,
        Adjoint::States(&lam),
        &mut grads,
        &none,
    );
    let vjp = |on| {
        let opts = Options::with_engine(if on { Engine::Lanes } else { Engine::PerSample });
        adjoint::vjp(prog, &theta, batch, &obs, &g_out, init, &opts)
    };
    let want = vjp(false).unwrap();
    assert_close(&grads, &want, tol, &format!("{ctx}: vjp"));
    assert_close(
        &vjp(true).unwrap(),
        &want,
        tol,
        &format!("{ctx}: dispatched vjp"),
    );
    assert!(want.iter().any(|x| x.abs() > 1e-3), "{ctx}: zero gradient");
}

/// Weights shared by the batch (one angle per column in every sample) over several blocks:
/// the coefficients built once per call equal each block's own.
#[test]
fn shared_angles_match_the_per_sample_path() {
    let mut rng = Rng(41);
    for n in 1..=5 {
        for (j, batch) in [LANES + 1, 3 * LANES + 5].into_iter().enumerate() {
            let tape = random_tape(n, 6, &mut rng);
            let init = (j % 3, false);
            check_theta(&compile::<f64>(&tape), batch, init, true, 1e-12, &mut rng);
            let init = ((j + 1) % 3, false);
            check_theta(&compile::<f32>(&tape), batch, init, true, 1e-4, &mut rng);
        }
    }
    // the in-block λ routes (diagonal observables), forward and back in one pass too
    let tape = random_tape(4, 6, &mut rng);
    let prog = compile::<f64>(&tape);
    let batch = 2 * LANES + 3;
    let p = tape.n_params;
    let mut theta: Vec<f64> = (0..batch * p).map(|_| rng.angle()).collect();
    for col in (1..p).step_by(2) {
        let v = theta[col];
        theta.iter_mut().skip(col).step_by(p).for_each(|t| *t = v);
    }
    let obs = observable_sets(4).swap_remove(1).1;
    let g: Vec<f64> = (0..batch * obs.len())
        .map(|_| rng.uniform() - 0.5)
        .collect();
    let lanes = Options::with_engine(Engine::Lanes);
    let vjp = |o: &Options| adjoint::vjp(&prog, &theta, batch, &obs, &g, Init::Zero, o).unwrap();
    assert_close(
        &vjp(&lanes),
        &vjp(&per_sample_engine()),
        1e-12,
        "in-block λ",
    );
    let ev = |o: &Options| measure::expval(&prog, &theta, batch, &obs, Init::Zero, o).unwrap();
    assert_close(
        &ev(&lanes),
        &ev(&per_sample_engine()),
        1e-12,
        "in-block expvals",
    );
}

/// Circuits of real gates only keep real states real, and their blocks take the
/// real-state kernels (which skip the imaginary parts): from |0> and from real initial
/// states, shared and per sample. From complex initial states the same circuits must not
/// take them; neither must a circuit with one complex gate among the real ones. With the
/// AVX-512 kernels where the CPU has them, then with the portable ones (as on AVX2 CPUs).
#[test]
fn real_circuits_match_the_per_sample_path() {
    check_real_circuits(0x5EED_4EA1);
    PORTABLE_ONLY.set(true);
    check_real_circuits(0x5EED_4EA1); // the same circuits
    PORTABLE_ONLY.set(false);
}

fn check_real_circuits(seed: u64) {
    use Gate::*;
    // RY three times: enough rotations for a gradient that is not zero by chance
    let real = [
        Identity,
        Hadamard,
        PauliX,
        PauliZ,
        RY,
        RY,
        RY,
        CNOT,
        CZ,
        SWAP,
        CRY,
        Toffoli,
        CSWAP,
        MultiControlledX,
    ];
    let mut rng = Rng(seed);
    for n in 1..=5 {
        for (j, batch) in [3, LANES + 1, 9 * LANES + 5].into_iter().enumerate() {
            let tape = random_tape_of(&real, n, 6, &mut rng);
            let (f64s, f32s) = (compile::<f64>(&tape), compile::<f32>(&tape));
            let theta = vec![0.0; batch * 6];
            for adjoint in [false, true] {
                let plan = Plan::<f64, LANES>::new(&f64s, &theta, adjoint);
                assert!(plan.real, "{n} qubits: a real circuit's plan is not real");
            }
            let shared = j % 2 == 1;
            for init in (0..3).flat_map(|k| [(k, true), (k, false)]) {
                check_theta(&f64s, batch, init, shared, 1e-12, &mut rng);
                check_theta(&f32s, batch, init, shared, 1e-4, &mut rng);
            }
            // one complex rotation among the real gates
            let mut mixed = tape.clone();
            let rx = Op::new(RX, vec![rng.below(n)], vec![Param::Col(rng.below(6))]);
            mixed.ops.insert(rng.below(mixed.ops.len() + 1), rx);
            let prog = compile::<f64>(&mixed);
            assert!(!Plan::<f64, LANES>::new(&prog, &theta, false).real);
            check_theta(&prog, batch, (j % 3, true), shared, 1e-12, &mut rng);
        }
    }
}

#[test]
fn random_circuits_match_the_per_sample_path() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for n in 1..=6 {
        for (j, batch) in [1, 3, LANES, LANES + 5, 3 * LANES - 1]
            .into_iter()
            .enumerate()
        {
            let tape = random_tape(n, 5, &mut rng);
            check::<f64>(&tape, batch, j % 3, 1e-12, &mut rng);
            check::<f32>(&tape, batch, (j + 1) % 3, 1e-4, &mut rng);
        }
    }
}

/// Enough work to run the blocks in parallel.
#[test]
fn large_batch_in_parallel() {
    let mut rng = Rng(7);
    let tape = random_tape(6, 4, &mut rng);
    let batch = (2 + SERIAL_MAX_WORK / (tape.ops.len() << 6)).max(2 * LANES + 1);
    check::<f64>(&tape, batch, 0, 1e-12, &mut rng);
    check::<f32>(&tape, batch, 2, 1e-4, &mut rng);
}

/// Circuits with no parametrised op, or parametrised ops with constants only.
#[test]
fn fixed_circuits() {
    let mut rng = Rng(11);
    let mut tape = Tape::new(3, 2).unwrap();
    for g in [Gate::Hadamard, Gate::CNOT, Gate::T] {
        tape.push(random_op(g, 3, 2, &mut rng).unwrap()).unwrap();
    }
    let theta = vec![0.3; 2 * LANES];
    let prog = compile::<f64>(&tape);
    let got = final_states(&prog, &theta, LANES, &Init::Zero, &Options::default());
    let want = measure::state(&prog, &theta, LANES, Init::Zero, &per_sample_engine()).unwrap();
    assert_close(&flat(&got), &flat(&want), 1e-12, "fixed circuit");
    let mut grads = Vec::new();
    vjp_sweep(
        &prog,
        &theta,
        LANES,
        &got,
        Adjoint::States(&got),
        &mut grads,
        &Options::default(),
    );
    assert_eq!(grads.len(), 2 * LANES);
    assert!(grads.iter().all(|&g| g == 0.0));
}

/// Observable sets for the VJP: diagonal ones (λ built in the block: Z words, the
/// identity, projectors, sums of these) and ones with a non-diagonal member (λ per sample).
fn observable_sets(n: usize) -> Vec<(bool, Vec<Obs>)> {
    let z = |w: usize| Obs::pauli(n, &[(1.0, vec![(w, 'Z')])]).unwrap();
    let last = n - 1;
    let zz = Obs::pauli(n, &[(0.7, vec![(0, 'Z'), (last, 'Z')]), (-0.2, vec![])]).unwrap();
    let proj = Obs::projector(n, &[last], &[1]).unwrap();
    let sum = Obs::sum(vec![(0.5, zz.clone()), (-1.5, proj.clone())]).unwrap();
    let x = Obs::pauli(n, &[(1.0, vec![(last, 'X')])]).unwrap();
    let mixed = Obs::pauli(n, &[(1.0, vec![(0, 'Z')]), (0.3, vec![(last, 'Y')])]).unwrap();
    vec![
        (true, (0..n).map(z).collect()),
        (true, vec![zz, proj, sum]),
        (false, vec![z(0), x]),
        (false, vec![mixed, z(last)]),
    ]
}

/// The lane VJP (dispatched) against the per-sample one for each observable set, from
/// final states (the sweep alone) and from initial states (diagonal sets: forward and
/// back per block), with some zero cotangents, on one program reused across calls (its
/// cached plans serve every theta and batch size).
fn check_vjp_observables<T: Real>(tol: f64, rng: &mut Rng) {
    let n = 4;
    let tape = random_tape(n, 6, rng);
    let prog = compile::<T>(&tape);
    let lanes = Options::with_engine(Engine::Lanes);
    for (diagonal, obs) in observable_sets(n) {
        for batch in [1, LANES + 3, 2 * LANES] {
            let ctx = format!(
                "diagonal {diagonal}, batch {batch}, {}",
                std::any::type_name::<T>()
            );
            let theta: Vec<f64> = (0..batch * tape.n_params).map(|_| rng.angle()).collect();
            let m = obs.len();
            let mut g: Vec<f64> = (0..batch * m).map(|_| rng.uniform() - 0.5).collect();
            g.iter_mut().step_by(3).for_each(|x| *x = 0.0);
            let states = final_states(&prog, &theta, batch, &Init::Zero, &lanes);
            let shared = random_states::<T>(1, 1 << n, rng);
            let per_sample = random_states::<T>(batch, 1 << n, rng);
            for init in [
                Init::Zero,
                Init::Final(&states),
                Init::Shared(&shared),
                Init::PerSample(&per_sample),
            ] {
                let vjp = |opts: &Options| adjoint::vjp(&prog, &theta, batch, &obs, &g, init, opts);
                let want = vjp(&per_sample_engine()).unwrap();
                assert_close(&vjp(&lanes).unwrap(), &want, tol, &ctx);
                assert!(want.iter().any(|x| x.abs() > 1e-3), "{ctx}: zero gradient");
            }
        }
    }
}

#[test]
fn vjp_observables_in_block_and_per_sample() {
    let mut rng = Rng(19);
    check_vjp_observables::<f64>(1e-12, &mut rng);
    check_vjp_observables::<f32>(1e-4, &mut rng);
}

/// Expvals through `measure` on the lane engine against the per-sample path for each
/// observable set (diagonal sets: read off the blocks' rows, with and without the final
/// states), from every kind of initial state, at batches with partly filled blocks.
fn check_expval_observables<T: Real>(tol: f64, rng: &mut Rng) {
    let n = 4;
    let tape = random_tape(n, 6, rng);
    let prog = compile::<T>(&tape);
    let lanes = Options::with_engine(Engine::Lanes);
    for (diagonal, obs) in observable_sets(n) {
        for batch in [1, LANES + 3, 2 * LANES] {
            let ctx = format!(
                "diagonal {diagonal}, batch {batch}, {}",
                std::any::type_name::<T>()
            );
            let theta: Vec<f64> = (0..batch * tape.n_params).map(|_| rng.angle()).collect();
            let states = final_states(&prog, &theta, batch, &Init::Zero, &lanes);
            let shared = random_states::<T>(1, 1 << n, rng);
            let per_sample = random_states::<T>(batch, 1 << n, rng);
            for init in [
                Init::Zero,
                Init::Final(&states),
                Init::Shared(&shared),
                Init::PerSample(&per_sample),
            ] {
                let ev = |o: &Options| measure::expval(&prog, &theta, batch, &obs, init, o);
                let want = ev(&per_sample_engine()).unwrap();
                assert_close(&ev(&lanes).unwrap(), &want, tol, &ctx);
                assert!(want.iter().any(|x| x.abs() > 1e-3), "{ctx}: all zero");
                let both = |o: &Options| {
                    measure::expval_and_state(&prog, &theta, batch, &obs, init, o).unwrap()
                };
                let (want_v, want_s) = both(&per_sample_engine());
                let (got_v, got_s) = both(&lanes);
                assert_close(&got_v, &want_v, tol, &format!("{ctx}: with states"));
                assert_close(
                    &flat(&got_s),
                    &flat(&want_s),
                    tol,
                    &format!("{ctx}: states"),
                );
                let st = |o: &Options| measure::state(&prog, &theta, batch, init, o).unwrap();
                assert_close(
                    &flat(&st(&lanes)),
                    &flat(&want_s),
                    tol,
                    &format!("{ctx}: state"),
                );
            }
        }
    }
}

#[test]
fn expval_observables_in_block_and_per_sample() {
    let mut rng = Rng(37);
    check_expval_observables::<f64>(1e-12, &mut rng);
    check_expval_observables::<f32>(1e-4, &mut rng);
}

/// The block drivers compiled for the baseline target (the code that runs where the CPU
/// has no AVX2; the AVX-512 kernels inside are still chosen at run time where it has
/// them), called block by block: the sweep from final states with in-block λ, and the
/// forward-and-back round trip, against the per-sample VJP.
fn check_portable_blocks<T: Real>(tol: f64, rng: &mut Rng) {
    let (n, batch) = (3, 2 * LANES + 3);
    let tape = random_tape(n, 5, rng);
    let prog = compile::<T>(&tape);
    let p = tape.n_params;
    let theta: Vec<f64> = (0..batch * p).map(|_| rng.angle()).collect();
    let (diagonal, obs) = observable_sets(n).swap_remove(1);
    assert!(diagonal);
    let m = obs.len();
    let g: Vec<f64> = (0..batch * m).map(|_| rng.uniform() - 0.5).collect();
    let diag = Obs::diagonals(&obs, 1 << n).unwrap();
    let want = adjoint::vjp(
        &prog,
        &theta,
        batch,
        &obs,
        &g,
        Init::Zero,
        &per_sample_engine(),
    );
    let want = want.unwrap();
    let phi = final_states(&prog, &theta, batch, &Init::Zero, &Options::default());
    let fwd = Plan::<T, LANES>::new(&prog, &theta, false);
    let bwd = Plan::<T, LANES>::new(&prog, &theta, true);
    let (mut swept, mut round) = (vec![0.0; batch * p], vec![0.0; batch * p]);
    for (k, (a, b)) in swept
        .chunks_mut(LANES * p)
        .zip(round.chunks_mut(LANES * p))
        .enumerate()
    {
        let lam = Adjoint::Diagonal { g: &g, diag: &diag };
        backward_block(&bwd, &phi, lam, k * LANES, a);
        round_trip_block((&fwd, &bwd), &Init::Zero, (&g, &diag), k * LANES, b);
    }
    let ctx = std::any::type_name::<T>();
    assert_close(&swept, &want, tol, &format!("{ctx}: sweep"));
    assert_close(&round, &want, tol, &format!("{ctx}: round trip"));
}

#[test]
fn portable_block_drivers_match() {
    let mut rng = Rng(29);
    check_portable_blocks::<f64>(1e-12, &mut rng);
    check_portable_blocks::<f32>(1e-4, &mut rng);
}

/// A call cancelled before it starts: the forward leaves zeros (every value written), the
/// VJP from initial states reports the cancellation.
#[test]
fn cancelled_calls() {
    let tape = random_tape(3, 4, &mut Rng(31));
    let prog = compile::<f64>(&tape);
    let batch = 2 * LANES + 1;
    let theta = vec![0.1; batch * tape.n_params];
    let mut opts = Options::with_engine(Engine::Lanes);
    opts.cancel = Some(Arc::new(std::sync::atomic::AtomicBool::new(true)));
    let s = final_states(&prog, &theta, batch, &Init::Zero, &opts);
    assert_eq!(s.len(), batch << 3);
    assert!(s.iter().all(|z| z.norm_sqr() == 0.0));
    let obs = observable_sets(3).swap_remove(0).1;
    let g = vec![1.0; batch * obs.len()];
    assert!(adjoint::vjp(&prog, &theta, batch, &obs, &g, Init::Zero, &opts).is_err());
    // expvals read off the blocks, with and without the final states, and the states
    let cancelled = |r: crate::Result<()>| matches!(r, Err(crate::QoxideError::Cancelled));
    assert!(cancelled(
        measure::expval(&prog, &theta, batch, &obs, Init::Zero, &opts).map(|_| ())
    ));
    let both = measure::expval_and_state(&prog, &theta, batch, &obs, Init::Zero, &opts);
    assert!(cancelled(both.map(|_| ())));
    assert!(cancelled(
        measure::state(&prog, &theta, batch, Init::Zero, &opts).map(|_| ())
    ));
}

/// One program's cached plans across calls with other theta and batch sizes.
#[test]
fn cached_plans_serve_every_call() {
    let mut rng = Rng(23);
    let tape = random_tape(3, 5, &mut rng);
    let prog = compile::<f64>(&tape);
    for batch in [2 * LANES + 1, 1, LANES] {
        for init_kind in 0..3 {
            check_with(&prog, batch, init_kind, 1e-12, &mut rng);
        }
    }
}

#[test]
fn eligibility() {
    let mut rng = Rng(3);
    let auto = |tape: &Tape, batch| choose(&compile::<f64>(tape), batch, &Options::default());
    let lanes = |tape: &Tape| {
        choose(
            &compile::<f64>(tape),
            64,
            &Options::with_engine(Engine::Lanes),
        )
    };
    for n in [2, 4, 6, 7, LANES_MAX_QUBITS] {
        let tape = random_tape(n, 3, &mut rng);
        let min = lanes_min_batch(n);
        assert_eq!(auto(&tape, min), Ok(Engine::Lanes), "{n} qubits");
        if min > 1 {
            assert_eq!(auto(&tape, min - 1), Ok(Engine::PerSample), "{n} qubits");
        }
    }
    assert!(lanes_min_batch(4) < lanes_min_batch(LANES_MAX_QUBITS));
    let tape = random_tape(LANES_MAX_QUBITS + 1, 3, &mut rng);
    assert_ne!(auto(&tape, 64), Ok(Engine::Lanes));
    assert!(lanes(&tape).is_ok());
    let tape = random_tape(LANES_FORCED_MAX_QUBITS + 1, 3, &mut rng);
    assert!(lanes(&tape).is_err());
    let mut tape = Tape::new(3, 0).unwrap();
    let mut op = Op::new(Gate::QubitUnitary, vec![0, 1, 2], vec![]);
    op.matrix = Some(unitary(8, &mut rng));
    tape.push(op).unwrap();
    assert_eq!(auto(&tape, 64), Ok(Engine::PerSample));
    assert!(lanes(&tape).is_err());
}

#[test]
fn lane_sin_cos_matches_libm() {
    let mut rng = Rng(5);
    let mut x: Vec<f64> = (0..4096).map(|_| (rng.uniform() - 0.5) * 200.0).collect();
    // around multiples of π/4 and π/2, tiny and huge values (libm fallback), NaN
    for k in -40..40 {
        let m = k as f64 * std::f64::consts::FRAC_PI_4;
        x.extend([m, m + 1e-9, m - 1e-12, f64::from_bits(m.to_bits() + 1)]);
    }
    x.extend([0.0, -0.0, 1e-300, 99_999.9, 3e5, -1e12, f64::NAN]);
    for chunk in x.chunks_exact(8) {
        let lanes: [f64; 8] = chunk.try_into().unwrap();
        let mut results = vec![trig::sin_cos(&lanes)];
        // both series (with and without fused multiply-adds), where they apply
        if lanes.iter().all(|v| v.abs() < trig::FAST_MAX) {
            results.push(trig::series::<8, true>(&lanes));
            results.push(trig::series::<8, false>(&lanes));
        }
        for (s, c) in results {
            for (l, v) in lanes.iter().enumerate() {
                let (ws, wc) = v.sin_cos();
                let ok = |got: f64, want: f64| {
                    (got - want).abs() <= 2e-16 || (got.is_nan() && want.is_nan())
                };
                assert!(
                    ok(s[l], ws) && ok(c[l], wc),
                    "sin_cos({v}) = ({}, {}), libm ({ws}, {wc})",
                    s[l],
                    c[l]
                );
            }
        }
    }
}

/// Every one-parameter gate with a generator takes the lane-parallel coefficients, but
/// IsingXY (its generator has eigenvalues ±2).
#[test]
fn rotations_cover_the_generator_gates() {
    for &g in Gate::ALL {
        assert_eq!(Gate::ALL[g as usize], g);
        let want = g.n_params() == 1 && g != Gate::IsingXY && gates::generator(g).is_some();
        assert_eq!(trig::Rotation::of(g).is_some(), want, "{}", g.name());
    }
}

/// Every kernel shape, controlled or not, with coefficients that differ per lane (and
/// real, imaginary or unit ones for the special paths): `apply` and `inner` against the
/// crate's kernels lane by lane.
#[test]
fn kernels_match_lane_by_lane() {
    use crate::state::{Ctrl, Kernel};
    const L: usize = 4;
    let n = 4;
    let dim = 1 << n;
    let mut rng = Rng(21);
    fn ctrl(mask: usize, value: usize) -> Ctrl {
        Ctrl { mask, value }
    }
    // (kernel of lane b, description); `c` draws a coefficient of the given kind
    type Make = Box<dyn Fn(&mut dyn FnMut() -> C64) -> Kernel<f64>>;
    let kinds: Vec<(&str, Make)> = vec![
        ("identity", Box::new(|_| Kernel::Identity)),
        (
            "mat1",
            Box::new(|c| Kernel::Mat1 {
                t: 1,
                m: [c(), c(), c(), c()],
                ctrl: Ctrl::NONE,
            }),
        ),
        (
            "mat1 t0 ctrl",
            Box::new(|c| Kernel::Mat1 {
                t: 0,
                m: [c(), c(), c(), c()],
                ctrl: ctrl(0b1100, 0b0100),
            }),
        ),
        (
            "diag1",
            Box::new(|c| Kernel::Diag1 {
                t: 3,
                d: [c(), c()],
                ctrl: Ctrl::NONE,
            }),
        ),
        (
            "diag1 unit ctrl",
            Box::new(|c| Kernel::Diag1 {
                t: 2,
                d: [C64::new(1.0, 0.0), c()],
                ctrl: ctrl(0b1, 0b1),
            }),
        ),
        (
            "flip ctrl",
            Box::new(|_| Kernel::Flip {
                t: 0,
                ctrl: ctrl(0b1010, 0b1000),
            }),
        ),
        (
            "swap",
            Box::new(|_| Kernel::Swap {
                t0: 3,
                t1: 1,
                ctrl: Ctrl::NONE,
            }),
        ),
        (
            "swap ctrl",
            Box::new(|_| Kernel::Swap {
                t0: 0,
                t1: 2,
                ctrl: ctrl(0b10, 0b10),
            }),
        ),
        (
            "mat2",
            Box::new(|c| Kernel::Mat2 {
                t0: 1,
                t1: 3,
                m: Box::new(std::array::from_fn(|_| c())),
            }),
        ),
        (
            "parity",
            Box::new(|c| Kernel::Parity {
                mask: 0b1011,
                even: c(),
                odd: c(),
            }),
        ),
    ];
    for (name, make) in &kinds {
        for kind in ["complex", "real", "imaginary"] {
            let mut draw = || {
                let z = rng.complex();
                match kind {
                    "real" => C64::new(z.re, 0.0),
                    "imaginary" => C64::new(0.0, z.im),
                    _ => z,
                }
            };
            let per_lane: Vec<Kernel<f64>> = (0..L).map(|_| make(&mut draw)).collect();
            let mut coefs: Vec<Z<f64, L>> = Vec::new();
            let mut shape = None;
            for (b, k) in per_lane.iter().enumerate() {
                let mut j = 0;
                shape = Shape::of(k, |c| {
                    if b == 0 {
                        coefs.push(Z::zero());
                    }
                    coefs[j].set(b, c);
                    j += 1;
                });
            }
            let shape = shape.unwrap();
            let states: Vec<Vec<C64>> = (0..2 * L)
                .map(|_| random_states(1, dim, &mut rng))
                .collect();
            let rows = |s: &[Vec<C64>]| -> Vec<Z<f64, L>> {
                (0..dim)
                    .map(|i| {
                        let mut z = Z::zero();
                        (0..L).for_each(|b| z.set(b, s[b][i]));
                        z
                    })
                    .collect()
            };
            let (bra, mut ket) = (rows(&states[..L]), rows(&states[L..]));
            let z = kernels::inner(shape, &coefs, &bra, &ket);
            kernels::apply(shape, &coefs, &mut ket);
            for (b, k) in per_lane.iter().enumerate() {
                let want = k.inner(&states[b], &states[L + b], false);
                assert!(
                    (widen(z.get(b)) - want).norm() < 1e-13,
                    "{name} {kind}: inner lane {b}"
                );
                let mut s = states[L + b].clone();
                k.apply(&mut s, false);
                for (i, want) in s.iter().enumerate() {
                    assert!(
                        (ket[i].get(b) - want).norm() < 1e-13,
                        "{name} {kind}: apply lane {b}, amplitude {i}"
                    );
                }
            }
            // real coefficients on real states: the real-state path, which leaves the
            // imaginary parts alone, against the complex one
            if kind == "real" {
                let mut real = rows(&states[L..]);
                real.iter_mut().for_each(|z| z.im = [0.0; L]);
                let mut want = real.clone();
                kernels::apply(shape, &coefs, &mut want);
                kernels::apply_real(shape, &coefs, &mut real);
                for (i, (g, w)) in real.iter().zip(&want).enumerate() {
                    for b in 0..L {
                        let d = (g.get(b) - w.get(b)).norm();
                        assert!(d < 1e-15, "{name}: real state, lane {b}, amplitude {i}");
                    }
                }
            }
        }
    }
}

/// `n` rows of 16 lanes of random amplitudes (`real`: no imaginary parts).
fn random_rows(rng: &mut Rng, n: usize, real: bool) -> Vec<Z<f64, 16>> {
    (0..n)
        .map(|_| {
            let mut z = Z::zero();
            for b in 0..16 {
                let c = rng.complex();
                z.set(b, if real { C64::new(c.re, 0.0) } else { c });
            }
            z
        })
        .collect()
}

/// The fused backward step of a one-qubit rotation (AVX-512, where the CPU has it)
/// against `inner` then `apply`, on every bit, for the c·G of RY, RX and a dense complex
/// one, with real and complex undo coefficients, and on real φ and λ through the
/// real-state path (real undo coefficients only).
#[test]
fn fused_undo_matches_inner_then_apply() {
    let dim = 16;
    let mut rng = Rng(77);
    let (h, o) = (C64::new(0.5, 0.0), C64::new(0.0, 0.0));
    let i_h = C64::new(0.0, 0.5);
    let dense: [C64; 4] = std::array::from_fn(|_| rng.complex());
    for (name, cg) in [
        ("RY", [o, -h, h, o]),
        ("RX", [o, -i_h, -i_h, o]),
        ("dense", dense),
    ] {
        for (real, real_state) in [(true, false), (false, false), (true, true)] {
            for t in 0..4u32 {
                let (both, undo) = (
                    random_rows(&mut rng, 2 * dim, real_state),
                    random_rows(&mut rng, 4, real),
                );
                let shape = Shape::Mat1 {
                    t,
                    ctrl: Ctrl::NONE,
                };
                let (phi, lam) = both.split_at(dim);
                let want_half = kernels::inner(shape, &cg.map(Z::splat), lam, phi);
                let mut want = both.clone();
                kernels::apply(shape, &undo, &mut want[..dim]);
                kernels::apply(shape, &undo, &mut want[dim..]);
                let nz = kernels::sums_needed(&cg);
                let f = Fused { t, cg, nz, col: 0 };
                let mut got = both.clone();
                let Some(half) = undo_rotation(&mut got, dim, f, real, &undo, real_state) else {
                    assert!(!crate::cpu::has_avx512());
                    return;
                };
                let ctx = format!("{name} real={real} real_state={real_state} t={t}");
                for (b, hb) in half.iter().enumerate() {
                    let d = hb - want_half.get(b).re;
                    assert!(d.abs() < 1e-13, "{ctx}: gradient lane {b}");
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        let d = (g.get(b) - w.get(b)).norm();
                        assert!(d < 1e-13, "{ctx}: row {i} lane {b}");
                    }
                }
            }
        }
    }
}

/// `apply_fast` (AVX-512 for uncontrolled 2x2 kernels, where the CPU has it) against
/// `kernels::apply`, on every bit, real and complex coefficients, on φ and λ together;
/// real coefficients on real rows through the real-state path too.
#[test]
fn fast_mat1_matches_apply() {
    const L: usize = 16;
    let mut rng = Rng(78);
    for (real, real_state) in [(true, false), (false, false), (true, true)] {
        for t in 0..4u32 {
            let (s, m) = (
                random_rows(&mut rng, 32, real_state),
                random_rows(&mut rng, 4, real),
            );
            let shape = Shape::Mat1 {
                t,
                ctrl: Ctrl::NONE,
            };
            let (mut want, mut got) = (s.clone(), s);
            kernels::apply(shape, &m, &mut want);
            apply_fast(shape, &m, &mut got, real_state);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                for b in 0..L {
                    let d = (g.get(b) - w.get(b)).norm();
                    assert!(
                        d < 1e-14,
                        "real={real} real_state={real_state} t={t}: row {i} lane {b}"
                    );
                }
            }
        }
    }
}
