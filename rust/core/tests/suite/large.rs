//! Large registers (15-16 qubits): the amplitude-parallel kernels (PAR_MIN_AMPS = 2^14)
//! and the slice fast paths (target bit >= 3) against a per-gate reference applied
//! by index arithmetic, and against the serial kernels.

use crate::common::*;
use qoxide_core::{simple, Gate, Init, Obs, Op, Param, Real, Tape};

/// Ops covering every kernel kind at high, middle and low bit positions of a
/// 16-qubit register (wire w is bit 15 - w). Wires 0..=3 take the "block larger than
/// a sixteenth of the state" branch of the parallel slice path, wires 4..=12 the
/// chunked branch, wires 13..=15 the grouped path.
fn large_ops(n: usize, rng: &mut Rng) -> Vec<Op> {
    let last = n - 1;
    let mut specs: Vec<(Gate, Vec<usize>)> = Vec::new();
    for w in [0, 3, 4, 9, last - 3, last - 2, last] {
        specs.push((Gate::Hadamard, vec![w]));
    }
    for w in [0, 5, last - 3, last] {
        specs.push((Gate::RX, vec![w]));
        specs.push((Gate::U3, vec![w]));
        specs.push((Gate::RZ, vec![w]));
        specs.push((Gate::PhaseShift, vec![w]));
        specs.push((Gate::PauliX, vec![w]));
    }
    for w in [1, last - 1] {
        specs.push((Gate::Rot, vec![w]));
        specs.push((Gate::T, vec![w]));
        specs.push((Gate::S, vec![w]));
        specs.push((Gate::PauliY, vec![w]));
        specs.push((Gate::SX, vec![w]));
        specs.push((Gate::PauliZ, vec![w]));
        specs.push((Gate::Identity, vec![w]));
    }
    specs.extend([
        (Gate::CNOT, vec![0, last]),
        (Gate::CNOT, vec![last, 0]),
        (Gate::CNOT, vec![3, 9]),
        (Gate::CY, vec![8, 2]),
        (Gate::CZ, vec![1, last - 2]),
        (Gate::CRX, vec![last - 1, 0]),
        (Gate::CRY, vec![2, 6]),
        (Gate::CRZ, vec![0, last - 1]),
        (Gate::CRot, vec![5, 2]),
        (Gate::ControlledPhaseShift, vec![11, 4]),
        (Gate::SWAP, vec![0, last]),
        (Gate::SWAP, vec![6, 7]),
        (Gate::ISWAP, vec![2, last - 2]),
        (Gate::IsingXX, vec![0, 1]),
        (Gate::IsingYY, vec![last, 3]),
        (Gate::IsingZZ, vec![4, 10]),
        (Gate::IsingXY, vec![last - 3, 0]),
        (Gate::MultiRZ, vec![0, 5, 10, last]),
        (Gate::MultiRZ, vec![7]),
        (Gate::GlobalPhase, vec![]),
        (Gate::GlobalPhase, vec![3]),
        (Gate::Toffoli, vec![0, last, 7]),
        (Gate::CSWAP, vec![last, 0, 8]),
        (Gate::MultiControlledX, vec![1, 3, 5, 7, last - 1]),
        (Gate::MultiControlledX, vec![last, 0]),
        (Gate::QubitUnitary, vec![9]),
        (Gate::QubitUnitary, vec![0]),
        (Gate::QubitUnitary, vec![0, last]),
        (Gate::QubitUnitary, vec![3, last - 1, 1]),
        (Gate::QubitUnitary, vec![2, 12, 6, last]),
    ]);
    specs
        .into_iter()
        .enumerate()
        .map(|(j, (g, wires))| {
            let params = (0..g.n_params())
                .map(|_| Param::Const(rng.angle()))
                .collect();
            let mut o = Op::new(g, wires.clone(), params);
            o.inverse = j % 3 == 1;
            if g == Gate::QubitUnitary {
                o.matrix = Some(random_unitary(wires.len(), rng).to_arc());
            }
            if g == Gate::MultiControlledX && wires.len() > 2 {
                o.control_values = vec![true, false, true, false];
            }
            o
        })
        .collect()
}

/// Each op alone on a random 16-qubit state: simple::state (batch 1, amplitude-parallel
/// plan) and the kernel applied serially and in parallel, against index arithmetic.
fn check_large_gates<T: Real>() {
    let n = 16;
    let mut rng = Rng::new(16 + std::mem::size_of::<T>() as u64);
    let psi = random_state(n, &mut rng);
    let psi_t = to_prec::<T>(&psi);
    let tol = if std::mem::size_of::<T>() == 8 {
        1e-12
    } else {
        1e-5
    };
    for o in large_ops(n, &mut rng) {
        let ctx = format!(
            "{}{} on {:?} ({} qubits, {})",
            o.gate.name(),
            if o.inverse { "†" } else { "" },
            o.wires,
            n,
            std::any::type_name::<T>()
        );
        let want = apply_local(&op_matrix(&o, &[]), &o.wires, &psi);
        let tape = tape_of(n, 0, vec![o.clone()]);
        let got = simple::state::<T>(&tape, &[], 1, Init::Shared(&psi_t)).unwrap();
        assert_states_close(&widen(&got), &want, tol, &ctx);

        // the kernel itself, serial and parallel: identical results
        let k = o.kernel::<T>(&op_angles(&o, &[]), n);
        let mut serial = psi_t.clone();
        k.apply(&mut serial, false);
        let mut parallel = psi_t.clone();
        qoxide_core::pool::install(|| k.apply(&mut parallel, true));
        assert_states_close(
            &widen(&serial),
            &want,
            tol,
            &format!("{ctx}, serial kernel"),
        );
        assert_states_close(
            &widen(&parallel),
            &want,
            tol,
            &format!("{ctx}, parallel kernel"),
        );
    }
}

#[test]
fn large_register_gates_f64() {
    check_large_gates::<f64>();
}

#[test]
fn large_register_gates_f32() {
    check_large_gates::<f32>();
}

/// A whole random circuit on 15 qubits (theta columns, batch 1 and 2), against the
/// per-gate reference.
#[test]
fn large_register_circuit() {
    let n = 15;
    let p = 4;
    let mut rng = Rng::new(1515);
    let mut ops = Vec::new();
    for &g in Gate::ALL {
        ops.push(random_op(g, n, p, &mut rng));
    }
    let tape = tape_of(n, p, ops);
    let psi = random_state(n, &mut rng);
    for batch in [1, 2] {
        let theta = random_theta(batch, p, &mut rng);
        let got = run_state::<f64>(&tape, &theta, batch, &psi);
        let got32 = run_state::<f32>(&tape, &theta, batch, &psi);
        for b in 0..batch {
            let want = ref_state(&tape, &theta[b * p..(b + 1) * p], &psi);
            let ctx = format!("15-qubit circuit, batch {batch}, sample {b}");
            assert_states_close(&got[b << n..(b + 1) << n], &want, 1e-12, &ctx);
            assert_states_close(&got32[b << n..(b + 1) << n], &want, 2e-5, &ctx);
        }
    }
}

/// Observable terms: (coefficient, local matrix, wires).
type Terms = Vec<(f64, Mat, Vec<usize>)>;

fn apply_terms(terms: &Terms, psi: &[C64]) -> Vec<C64> {
    let mut out = vec![ZERO; psi.len()];
    for (coef, m, wires) in terms {
        for (o, x) in out.iter_mut().zip(apply_local(m, wires, psi)) {
            *o += x * coef;
        }
    }
    out
}

fn large_observables(n: usize, rng: &mut Rng) -> Vec<(Obs, Terms)> {
    let last = n - 1;
    let mut out = Vec::new();
    // Z-only words (x mask 0) and mixed words sharing an x mask
    let pauli_terms = vec![
        (0.5, vec![(0, 'Z'), (last, 'Z')]),
        (-0.3, vec![(4, 'Z')]),
        (1.1, vec![(2, 'X'), (9, 'Y')]),
        (0.7, vec![(2, 'Y'), (9, 'X'), (5, 'Z')]),
        (-0.9, vec![(last, 'Y'), (0, 'Y'), (1, 'Y')]),
    ];
    let terms: Terms = pauli_terms
        .iter()
        .map(|(coef, f)| {
            let wires: Vec<usize> = f.iter().map(|x| x.0).collect();
            let m = kron_all(&f.iter().map(|x| pauli(x.1)).collect::<Vec<_>>());
            (*coef, m, wires)
        })
        .collect();
    out.push((Obs::pauli(n, &pauli_terms).unwrap(), terms));
    for wires in [vec![last], vec![0, last], vec![6, 1, last - 1]] {
        let h = random_hermitian(wires.len(), rng);
        out.push((
            Obs::hermitian(n, wires.clone(), h.a.clone()).unwrap(),
            vec![(1.0, h, wires)],
        ));
    }
    let pw = vec![0, last, 7];
    let bits = [1u8, 0, 1];
    let mut local = Mat::zeros(8);
    local.set(0b101, 0b101, ONE);
    out.push((
        Obs::projector(n, &pw, &bits).unwrap(),
        vec![(1.0, local, pw.clone())],
    ));
    let h = random_hermitian(1, rng);
    let s = Obs::sum(vec![
        (0.5, Obs::hermitian(n, vec![3], h.a.clone()).unwrap()),
        (-1.5, Obs::pauli(n, &[(1.0, vec![(8, 'X')])]).unwrap()),
    ])
    .unwrap();
    out.push((s, vec![(0.5, h, vec![3]), (-1.5, px(), vec![8])]));
    out
}

fn large_tape(n: usize, p: usize, rng: &mut Rng) -> Tape {
    let mut ops = Vec::new();
    for w in 0..n {
        ops.push(op(Gate::RY, &[w], vec![Param::Col(w % p)]));
    }
    for &g in Gate::ALL {
        ops.push(random_op(g, n, p, rng));
    }
    tape_of(n, p, ops)
}

/// expval, var and probs on 15 qubits (amplitude-parallel reductions) against the
/// reference, in both precisions.
#[test]
fn large_register_measurements() {
    let n = 15;
    let p = 3;
    let mut rng = Rng::new(777);
    let tape = large_tape(n, p, &mut rng);
    let theta = random_theta(1, p, &mut rng);
    let psi = ref_state(&tape, &theta, &basis_state(n, 0));
    let observables = large_observables(n, &mut rng);
    let obs: Vec<Obs> = observables.iter().map(|o| o.0.clone()).collect();
    let mut want_e = Vec::new();
    let mut want_v = Vec::new();
    for (_, terms) in &observables {
        let opsi = apply_terms(terms, &psi);
        let e: C64 = psi.iter().zip(&opsi).map(|(a, b)| a.conj() * b).sum();
        let sq: f64 = opsi.iter().map(|x| x.norm_sqr()).sum();
        want_e.push(e.re);
        want_v.push(sq - e.re * e.re);
    }
    let e = simple::expval::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    assert_reals_close(&e, &want_e, 1e-10, "15-qubit expval f64");
    let v = simple::var::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    assert_reals_close(&v, &want_v, 1e-10, "15-qubit var f64");
    let e = simple::expval::<f32>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    assert_reals_close(&e, &want_e, 1e-4, "15-qubit expval f32");
    let v = simple::var::<f32>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    assert_reals_close(&v, &want_v, 1e-4, "15-qubit var f32");

    for wires in [vec![0], vec![n - 1, 0, 6], (0..n).rev().collect::<Vec<_>>()] {
        let want = ref_probs(&psi, &wires);
        let got = simple::probs::<f64>(&tape, &theta, 1, &wires, Init::Zero).unwrap();
        assert_reals_close(&got, &want, 1e-12, &format!("15-qubit probs {wires:?}"));
    }
}

/// Adjoint jacobian and VJP on 15 qubits (amplitude-parallel inner products) against
/// central finite differences.
#[test]
fn large_register_adjoint() {
    let n = 15;
    let p = 4;
    let mut rng = Rng::new(4242);
    let tape = large_tape(n, p, &mut rng);
    let theta = random_theta(1, p, &mut rng);
    let observables = large_observables(n, &mut rng);
    let obs: Vec<Obs> = observables.into_iter().map(|o| o.0).collect();
    let m = obs.len();
    let jac = simple::jacobian::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    let h = 1e-6;
    for col in 0..p {
        let mut tp = theta.clone();
        tp[col] += h;
        let mut tm = theta.clone();
        tm[col] -= h;
        let ep = simple::expval::<f64>(&tape, &tp, 1, &obs, Init::Zero).unwrap();
        let em = simple::expval::<f64>(&tape, &tm, 1, &obs, Init::Zero).unwrap();
        for mi in 0..m {
            let fd = (ep[mi] - em[mi]) / (2.0 * h);
            let got = jac[mi * p + col];
            assert!(
                (got - fd).abs() < 1e-6,
                "15-qubit jacobian[obs {mi}, col {col}] = {got}, finite difference {fd}"
            );
        }
    }
    let g: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
    let v = simple::vjp::<f64>(&tape, &theta, 1, &obs, &g, Init::Zero).unwrap();
    for col in 0..p {
        let want: f64 = (0..m).map(|mi| g[mi] * jac[mi * p + col]).sum();
        assert!((v[col] - want).abs() < 1e-10, "15-qubit vjp col {col}");
    }
    let jac32 = simple::jacobian::<f32>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
    assert_reals_close(&jac32, &jac, 2e-4, "15-qubit jacobian f32 vs f64");
}

/// Derivative kernels' inner products, serial vs parallel, on a large register.
#[test]
fn large_register_inner_products_serial_equals_parallel() {
    let n = 15;
    let mut rng = Rng::new(31);
    let bra = random_state(n, &mut rng);
    let ket = random_state(n, &mut rng);
    for o in large_ops(n, &mut rng) {
        if o.params.is_empty() {
            continue;
        }
        let angles = op_angles(&o, &[]);
        for k in 0..o.params.len() {
            let d = o.derivative::<f64>(&angles, k, n);
            let s = d.inner(&bra, &ket, false);
            let par = qoxide_core::pool::install(|| d.inner(&bra, &ket, true));
            assert!(
                (s - par).norm() < 1e-12,
                "{} on {:?}: serial {s} vs parallel {par}",
                o.gate.name(),
                o.wires
            );
        }
        // and the gate kernel's inner product against the reference
        let kern = o.kernel::<f64>(&angles, n);
        let want: C64 = bra
            .iter()
            .zip(apply_local(&op_matrix(&o, &[]), &o.wires, &ket))
            .map(|(a, b)| a.conj() * b)
            .sum();
        let got = qoxide_core::pool::install(|| kern.inner(&bra, &ket, true));
        // controlled kernels sum over the control subspace only; the rest of <bra|U|ket>
        // is <bra|ket> restricted to the complement, so compare only uncontrolled ones
        let controlled = matches!(
            o.gate,
            Gate::CNOT
                | Gate::CY
                | Gate::CZ
                | Gate::CRX
                | Gate::CRY
                | Gate::CRZ
                | Gate::CRot
                | Gate::ControlledPhaseShift
                | Gate::Toffoli
                | Gate::CSWAP
                | Gate::MultiControlledX
        );
        if !controlled {
            assert!(
                (got - want).norm() < 1e-12,
                "{} on {:?}: <bra|U|ket> = {got}, want {want}",
                o.gate.name(),
                o.wires
            );
        }
    }
}
