//! Adjoint differentiation: jacobian against central finite differences of expval,
//! VJP against J^T g, derivative kernels against the reference, batch paths.

use crate::common::*;
use qoxide_core::{simple, Gate, Init, Obs, Op, Param, Real, Tape};

const H: f64 = 1e-6;
const FD_TOL: f64 = 1e-6;

/// Central finite differences of expval: `[B, M, P]`.
fn fd_jacobian(tape: &Tape, theta: &[f64], batch: usize, obs: &[Obs], init: Init<f64>) -> Vec<f64> {
    let (m, p) = (obs.len(), tape.n_params);
    let mut out = vec![0.0; batch * m * p];
    for col in 0..p {
        let mut tp = theta.to_vec();
        let mut tm = theta.to_vec();
        for b in 0..batch {
            tp[b * p + col] += H;
            tm[b * p + col] -= H;
        }
        let ep = simple::expval::<f64>(tape, &tp, batch, obs, init).unwrap();
        let em = simple::expval::<f64>(tape, &tm, batch, obs, init).unwrap();
        for b in 0..batch {
            for mi in 0..m {
                out[(b * m + mi) * p + col] = (ep[b * m + mi] - em[b * m + mi]) / (2.0 * H);
            }
        }
    }
    out
}

fn assert_jac_close(
    got: &[f64],
    want: &[f64],
    batch: usize,
    m: usize,
    p: usize,
    tol: f64,
    ctx: &str,
) {
    assert_eq!(got.len(), batch * m * p, "{ctx}: jacobian shape");
    for b in 0..batch {
        for mi in 0..m {
            for col in 0..p {
                let k = (b * m + mi) * p + col;
                assert!(
                    (got[k] - want[k]).abs() <= tol,
                    "{ctx}: d<O_{mi}>/dθ_{col} of sample {b}: got {}, want {} (diff {:.3e})",
                    got[k],
                    want[k],
                    (got[k] - want[k]).abs()
                );
            }
        }
    }
}

/// A random circuit using every parametrised gate (random inverse flags, controlled
/// ones included) interleaved with fixed gates, with column 0 shared by two ops and
/// one column used only as a second parameter of a multi-parameter gate.
fn random_circuit(n: usize, p: usize, rng: &mut Rng, rounds: usize) -> Tape {
    let mut ops: Vec<Op> = Vec::new();
    for w in 0..n {
        ops.push(op(Gate::RY, &[w], vec![Param::Const(rng.angle())]));
    }
    // column 0 shared by two gates of different kinds
    ops.push(op(Gate::RX, &[0], vec![Param::Col(0)]));
    let mut crz = op(Gate::CRZ, &[n - 1, 1], vec![Param::Col(0)]);
    crz.inverse = true;
    ops.push(crz);
    // a Rot reading one column twice, and a column used only as its middle angle
    ops.push(op(
        Gate::Rot,
        &[2],
        vec![Param::Col(1), Param::Col(p - 1), Param::Col(1)],
    ));
    let fixed = [
        Gate::Hadamard,
        Gate::CNOT,
        Gate::QubitUnitary,
        Gate::MultiControlledX,
        Gate::SX,
        Gate::ISWAP,
        Gate::CSWAP,
        Gate::T,
    ];
    for r in 0..rounds {
        for (j, g) in parametrised_gates().into_iter().enumerate() {
            ops.push(random_op(g, n, p - 1, rng));
            if j % 3 == r % 3 {
                ops.push(random_op(fixed[rng.below(fixed.len())], n, p - 1, rng));
            }
        }
    }
    tape_of(n, p, ops)
}

fn check_circuit_jacobian(seed: u64, n: usize, batch: usize, shared_init: bool) {
    let p = 6;
    let mut rng = Rng::new(seed);
    let tape = random_circuit(n, p, &mut rng, 2);
    let theta = random_theta(batch, p, &mut rng);
    let observables = mixed_observables(n, &mut rng);
    let obs: Vec<Obs> = observables.into_iter().map(|o| o.0).collect();
    let m = obs.len();
    let psi = random_state(n, &mut rng);
    let init = if shared_init {
        Init::Shared(&psi)
    } else {
        Init::Zero
    };
    let jac = simple::jacobian::<f64>(&tape, &theta, batch, &obs, init).unwrap();
    let fd = fd_jacobian(&tape, &theta, batch, &obs, init);
    let ctx = format!("circuit seed {seed}, n {n}, batch {batch}, shared init {shared_init}");
    assert_jac_close(&jac, &fd, batch, m, p, FD_TOL, &ctx);
    // the gradient is not trivially zero
    assert!(
        jac.iter().any(|x| x.abs() > 1e-3),
        "{ctx}: all-zero jacobian"
    );

    // f32 follows f64
    let psi32 = to_prec::<f32>(&psi);
    let init32 = if shared_init {
        Init::Shared(&psi32[..])
    } else {
        Init::Zero
    };
    let jac32 = simple::jacobian::<f32>(&tape, &theta, batch, &obs, init32).unwrap();
    assert_jac_close(&jac32, &jac, batch, m, p, 1e-4, &format!("{ctx}, f32"));

    // vjp = J^T g, with some zero cotangents
    let g: Vec<f64> = (0..batch * m)
        .map(|k| if k % 4 == 3 { 0.0 } else { rng.normal() })
        .collect();
    let v = simple::vjp::<f64>(&tape, &theta, batch, &obs, &g, init).unwrap();
    assert_eq!(v.len(), batch * p);
    for b in 0..batch {
        for col in 0..p {
            let want: f64 = (0..m)
                .map(|mi| g[b * m + mi] * jac[(b * m + mi) * p + col])
                .sum();
            assert!(
                (v[b * p + col] - want).abs() < 1e-10,
                "{ctx}: vjp[{b}, {col}] = {}, J^T g = {want}",
                v[b * p + col]
            );
        }
    }
    let v32 = simple::vjp::<f32>(&tape, &theta, batch, &obs, &g, init32).unwrap();
    assert_reals_close(&v32, &v, 5e-4, &format!("{ctx}, vjp f32"));
}

#[test]
fn jacobian_matches_finite_differences() {
    for (seed, n) in [(1, 4), (2, 5), (3, 4)] {
        check_circuit_jacobian(seed, n, 1, false);
    }
}

#[test]
fn jacobian_batched_with_shared_initial_state() {
    check_circuit_jacobian(10, 4, 3, true);
    check_circuit_jacobian(11, 5, 2, false);
}

/// Each parametrised gate alone (after a state-preparing layer), forwards and
/// inverted, on several placements, against finite differences.
#[test]
fn each_parametrised_gate_against_finite_differences() {
    let n = 4;
    let mut rng = Rng::new(55);
    let observables = mixed_observables(n, &mut rng);
    let obs: Vec<Obs> = observables.into_iter().map(|o| o.0).collect();
    let m = obs.len();
    let mut failures = Vec::new();
    for g in parametrised_gates() {
        let placements: Vec<Vec<usize>> = match g.n_wires() {
            Some(1) => vec![vec![0], vec![3]],
            Some(2) => vec![vec![0, 1], vec![3, 0], vec![2, 1]],
            _ => vec![vec![], vec![1], vec![2, 0], vec![3, 1, 0], vec![0, 1, 2, 3]],
        };
        for wires in placements {
            if wires.len() < g.min_wires() {
                continue;
            }
            for inverse in [false, true] {
                let np = g.n_params();
                let p = np;
                let mut ops = vec![];
                for w in 0..n {
                    ops.push(op(Gate::RX, &[w], vec![Param::Const(0.3 + w as f64)]));
                    ops.push(op(Gate::RY, &[w], vec![Param::Const(1.7 - w as f64)]));
                }
                ops.push(op(Gate::CNOT, &[0, 2], vec![]));
                let mut o = op(g, &wires, (0..np).map(Param::Col).collect());
                o.inverse = inverse;
                ops.push(o);
                ops.push(op(Gate::Hadamard, &[1], vec![]));
                let tape = tape_of(n, p, ops);
                let theta = random_theta(1, p, &mut rng);
                let jac = simple::jacobian::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
                let fd = fd_jacobian(&tape, &theta, 1, &obs, Init::Zero);
                for k in 0..m * p {
                    let diff = (jac[k] - fd[k]).abs();
                    if diff.is_nan() || diff > FD_TOL {
                        failures.push(format!(
                            "{}{} on {wires:?}: obs {}, param {}: adjoint {}, fd {}",
                            g.name(),
                            if inverse { "†" } else { "" },
                            k / p,
                            k % p,
                            jac[k],
                            fd[k]
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The derivative kernel dU/dθ_k of every parametrised gate against the central
/// difference of the reference matrix: <bra| dU |ket>.
#[test]
fn derivative_kernels_match_reference() {
    let n = 5;
    let mut rng = Rng::new(66);
    let bra = random_state(n, &mut rng);
    let ket = random_state(n, &mut rng);
    let h = 1e-5;
    for g in parametrised_gates() {
        for _ in 0..4 {
            let mut o = random_op(g, n, 0, &mut rng);
            for inverse in [false, true] {
                o.inverse = inverse;
                let angles = op_angles(&o, &[]);
                for k in 0..angles.len() {
                    let (mut ap, mut am) = (angles.clone(), angles.clone());
                    ap[k] += h;
                    am[k] -= h;
                    let mat = |a: &[f64]| {
                        let mut q = o.clone();
                        q.params = a.iter().map(|&x| Param::Const(x)).collect();
                        op_matrix(&q, &[])
                    };
                    let du = mat(&ap)
                        .add(&mat(&am).scale(c(-1.0, 0.0)))
                        .scale(c(1.0 / (2.0 * h), 0.0));
                    let dket = apply_local(&du, &o.wires, &ket);
                    let want: C64 = bra.iter().zip(&dket).map(|(a, b)| a.conj() * b).sum();
                    let d = o.derivative::<f64>(&angles, k, n);
                    let got = d.inner(&to_prec::<f64>(&bra), &to_prec::<f64>(&ket), false);
                    assert!(
                        (got - want).norm() < 1e-8,
                        "d{}{}/dθ_{k} on {:?}: <bra|dU|ket> = {got}, want {want}",
                        g.name(),
                        if inverse { "†" } else { "" },
                        o.wires
                    );
                }
            }
        }
    }
}

/// Large batch: the batch-parallel plan (one sample per task) gives the same
/// jacobian and vjp rows as batch-1 calls (serial plan), and matches finite
/// differences.
#[test]
fn batch_parallel_path_matches_single_samples() {
    let n = 4;
    let p = 5;
    let mut rng = Rng::new(77);
    let tape = random_circuit(n, p, &mut rng, 2);
    // work = batch * 2^n * ops must exceed the serial threshold (2^15)
    let batch = 160;
    assert!(batch * (1 << n) * tape.ops.len() > 1 << 15);
    let theta = random_theta(batch, p, &mut rng);
    let observables = mixed_observables(n, &mut rng);
    let obs: Vec<Obs> = observables.into_iter().map(|o| o.0).collect();
    let m = obs.len();
    let jac = simple::jacobian::<f64>(&tape, &theta, batch, &obs, Init::Zero).unwrap();
    let g: Vec<f64> = (0..batch * m).map(|_| rng.normal()).collect();
    let v = simple::vjp::<f64>(&tape, &theta, batch, &obs, &g, Init::Zero).unwrap();
    let e = simple::expval::<f64>(&tape, &theta, batch, &obs, Init::Zero).unwrap();
    for b in (0..batch).step_by(7) {
        let row = &theta[b * p..(b + 1) * p];
        let j1 = simple::jacobian::<f64>(&tape, row, 1, &obs, Init::Zero).unwrap();
        assert_reals_close(
            &jac[b * m * p..(b + 1) * m * p],
            &j1,
            1e-12,
            &format!("batched jacobian row {b}"),
        );
        let g1 = &g[b * m..(b + 1) * m];
        let v1 = simple::vjp::<f64>(&tape, row, 1, &obs, g1, Init::Zero).unwrap();
        assert_reals_close(
            &v[b * p..(b + 1) * p],
            &v1,
            1e-12,
            &format!("batched vjp row {b}"),
        );
        let e1 = simple::expval::<f64>(&tape, row, 1, &obs, Init::Zero).unwrap();
        assert_reals_close(
            &e[b * m..(b + 1) * m],
            &e1,
            1e-12,
            &format!("batched expval row {b}"),
        );
        let psi = ref_unitary(&tape, row).matvec(&basis_state(n, 0));
        let s = simple::state::<f64>(&tape, &theta, batch, Init::Zero).unwrap();
        assert_states_close(&s[b << n..(b + 1) << n], &psi, 1e-12, "batched state");
    }
    // spot-check against finite differences on a few rows
    let rows: Vec<f64> = theta[..3 * p].to_vec();
    let fd = fd_jacobian(&tape, &rows, 3, &obs, Init::Zero);
    assert_jac_close(
        &jac[..3 * m * p],
        &fd,
        3,
        m,
        p,
        FD_TOL,
        "batch-parallel vs fd",
    );
}

/// Per-sample initial states in the adjoint method.
#[test]
fn jacobian_with_per_sample_initial_states() {
    let n = 3;
    let p = 4;
    let mut rng = Rng::new(88);
    let tape = random_circuit(n, p, &mut rng, 1);
    let batch = 2;
    let theta = random_theta(batch, p, &mut rng);
    let states: Vec<C64> = (0..batch).flat_map(|_| random_state(n, &mut rng)).collect();
    let obs: Vec<Obs> = mixed_observables(n, &mut rng)
        .into_iter()
        .map(|o| o.0)
        .collect();
    let init = Init::PerSample(&states);
    let jac = simple::jacobian::<f64>(&tape, &theta, batch, &obs, init).unwrap();
    let fd = fd_jacobian(&tape, &theta, batch, &obs, init);
    assert_jac_close(&jac, &fd, batch, obs.len(), p, FD_TOL, "per-sample init");
}

/// Columns nobody reads, constant-only circuits, and empty requests.
#[test]
fn zero_and_empty_gradients() {
    let n = 3;
    let obs = vec![Obs::pauli(n, &[(1.0, vec![(0, 'Z')])]).unwrap()];
    // column 1 is unused; column 0 drives RX on wire 0
    let tape = tape_of(
        n,
        3,
        vec![
            op(Gate::Hadamard, &[1], vec![]),
            op(Gate::RX, &[0], vec![Param::Col(0)]),
            op(Gate::RY, &[2], vec![Param::Const(0.4)]),
            op(Gate::RZ, &[0], vec![Param::Col(2)]),
        ],
    );
    let theta = [0.7, 1.3, -0.2];
    let jac = simple::jacobian::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    // <Z0> = cos(θ0), unaffected by θ1 (unused) and θ2 (RZ commutes with Z)
    assert_reals_close(
        &jac,
        &[-(0.7f64).sin(), 0.0, 0.0],
        1e-14,
        "analytic gradient",
    );

    // no parametrised op at all
    let tape = tape_of(n, 2, vec![op(Gate::RX, &[0], vec![Param::Const(0.5)])]);
    let jac = simple::jacobian::<f64>(&tape, &[0.1, 0.2], 1, &obs, Init::Zero).unwrap();
    assert_eq!(jac, vec![0.0, 0.0]);

    // theta of width 0, and no observables
    let tape = tape_of(n, 0, vec![op(Gate::RX, &[0], vec![Param::Const(0.5)])]);
    let jac = simple::jacobian::<f64>(&tape, &[], 2, &obs, Init::Zero).unwrap();
    assert!(jac.is_empty());
    let tape = tape_of(n, 1, vec![op(Gate::RX, &[0], vec![Param::Col(0)])]);
    let jac = simple::jacobian::<f64>(&tape, &[0.1, 0.2], 2, &[], Init::Zero).unwrap();
    assert!(jac.is_empty());
    let v = simple::vjp::<f64>(&tape, &[0.1, 0.2], 2, &[], &[], Init::Zero).unwrap();
    assert_eq!(v, vec![0.0, 0.0]);
}

/// Closed-form gradients of textbook circuits, independent of finite differences.
#[test]
fn analytic_gradients() {
    let n = 2;
    let z1 = Obs::pauli(n, &[(1.0, vec![(1, 'Z')])]).unwrap();
    let z0 = Obs::pauli(n, &[(1.0, vec![(0, 'Z')])]).unwrap();
    // RX(a) on 0, CRY(b) on (0, 1): <Z1> = 1 - sin^2(a/2) (1 - cos b)
    let tape = tape_of(
        n,
        2,
        vec![
            op(Gate::RX, &[0], vec![Param::Col(0)]),
            op(Gate::CRY, &[0, 1], vec![Param::Col(1)]),
        ],
    );
    let (a, b) = (0.9f64, -1.4f64);
    let jac =
        simple::jacobian::<f64>(&tape, &[a, b], 1, std::slice::from_ref(&z1), Init::Zero).unwrap();
    let s2 = (a / 2.0).sin().powi(2);
    let want = [-(a.sin() / 2.0) * (1.0 - b.cos()), -s2 * b.sin()];
    assert_reals_close(&jac, &want, 1e-14, "RX + CRY gradient");
    // IsingXX(t)|00> = cos(t/2)|00> - i sin(t/2)|11>: <Z0> = cos(t)
    let tape = tape_of(n, 1, vec![op(Gate::IsingXX, &[0, 1], vec![Param::Col(0)])]);
    for t in [0.3f64, 2.0, -1.0] {
        let e =
            simple::expval::<f64>(&tape, &[t], 1, std::slice::from_ref(&z0), Init::Zero).unwrap();
        assert_reals_close(&e, &[t.cos()], 1e-14, "IsingXX expval");
        let jac =
            simple::jacobian::<f64>(&tape, &[t], 1, std::slice::from_ref(&z0), Init::Zero).unwrap();
        assert_reals_close(&jac, &[-t.sin()], 1e-14, "IsingXX gradient");
    }
}

/// The f32 adjoint on a generic-precision helper.
fn check_precision<T: Real>() {
    let n = 3;
    let p = 3;
    let mut rng = Rng::new(123);
    let tape = random_circuit(n, p, &mut rng, 1);
    let theta = random_theta(2, p, &mut rng);
    let obs: Vec<Obs> = mixed_observables(n, &mut rng)
        .into_iter()
        .map(|o| o.0)
        .collect();
    let jac = simple::jacobian::<T>(&tape, &theta, 2, &obs, Init::Zero).unwrap();
    let fd = fd_jacobian(&tape, &theta, 2, &obs, Init::Zero);
    let tol = if std::mem::size_of::<T>() == 8 {
        FD_TOL
    } else {
        1e-4
    };
    assert_jac_close(&jac, &fd, 2, obs.len(), p, tol, std::any::type_name::<T>());
}

#[test]
fn jacobian_in_both_precisions() {
    check_precision::<f64>();
    check_precision::<f32>();
}

/// One sample, several observables, enough work: the sweep runs the observables in
/// parallel. Each row must equal the single-observable jacobian (serial sweep) and
/// finite differences.
#[test]
fn jacobian_parallel_over_observables() {
    for (n, seed) in [(10, 91), (15, 92)] {
        let p = 4;
        let mut rng = Rng::new(seed);
        let tape = random_circuit(n, p, &mut rng, 1);
        let theta = random_theta(1, p, &mut rng);
        let mut obs = mixed_obs_only(n, &mut rng);
        obs.extend(mixed_obs_only(n, &mut rng));
        let m = obs.len();
        let jac = simple::jacobian::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
        let fd = fd_jacobian(&tape, &theta, 1, &obs, Init::Zero);
        assert_jac_close(
            &jac,
            &fd,
            1,
            m,
            p,
            FD_TOL,
            &format!("{n} qubits, {m} observables"),
        );
        for (mi, o) in obs.iter().enumerate() {
            let one =
                simple::jacobian::<f64>(&tape, &theta, 1, std::slice::from_ref(o), Init::Zero)
                    .unwrap();
            assert_reals_close(
                &jac[mi * p..(mi + 1) * p],
                &one,
                1e-12,
                &format!("{n} qubits: row {mi} vs single-observable jacobian"),
            );
        }
        let jac32 = simple::jacobian::<f32>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
        assert_reals_close(&jac32, &jac, 2e-4, &format!("{n} qubits, f32"));
    }
}
