//! Every gate (and its inverse), in both precisions, on many wire placements,
//! against the dense reference of tests/common.

use crate::common::*;
use qoxide_core::{simple, Gate, Init, Op, Param, Real};
use std::f64::consts::PI;

/// Register size of the per-gate tests: wire 0 is bit 4, so wires 0 and 1 hit the
/// slice fast paths (target bit >= 3) and wires 2..4 the grouped paths.
const N: usize = 5;

fn placements(g: Gate) -> Vec<Vec<usize>> {
    let v = |ws: &[&[usize]]| ws.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
    match (g.n_wires(), g) {
        (Some(1), _) => v(&[&[0], &[1], &[2], &[4]]),
        (Some(2), _) => v(&[
            &[0, 1],
            &[1, 0],
            &[0, 3],
            &[3, 1],
            &[4, 2],
            &[2, 4],
            &[3, 4],
        ]),
        (Some(3), _) => v(&[&[0, 1, 2], &[2, 0, 3], &[4, 1, 0], &[3, 4, 1], &[1, 3, 4]]),
        (None, Gate::GlobalPhase) => v(&[&[], &[2], &[0, 3], &[4, 1, 2]]),
        (None, Gate::MultiControlledX) => v(&[
            &[0, 1],
            &[3, 0],
            &[2, 0, 3],
            &[4, 1, 0, 2],
            &[1, 2, 3, 4, 0],
            &[0, 1, 2, 3, 4],
        ]),
        (None, Gate::MultiRZ) => v(&[
            &[2],
            &[0],
            &[0, 3],
            &[3, 1],
            &[2, 0, 3],
            &[4, 1, 0, 2],
            &[1, 4, 0, 3, 2],
        ]),
        (None, Gate::QubitUnitary) => v(&[
            &[2],
            &[0],
            &[4],
            &[0, 3],
            &[3, 1],
            &[4, 0],
            &[2, 0, 3],
            &[0, 1, 2],
            &[4, 1, 0, 2],
        ]),
        (w, g) => panic!("no placements for {} ({w:?} wires)", g.name()),
    }
}

/// Apply `g` on every placement, forwards and inverted, with theta-column and
/// constant parameters, batch 3 with different theta rows, to a random state, and
/// compare with the full 2^N x 2^N reference matrix.
fn check_gate<T: Real>(g: Gate) {
    let tol = tol::<T>();
    let mut rng = Rng::from_str(g.name(), std::mem::size_of::<T>() as u64);
    let psi = random_state(N, &mut rng);
    let np = g.n_params();
    assert_eq!(np, ref_n_params(g), "{}: n_params", g.name());
    let mut cases = 0;
    for wires in placements(g) {
        let k = wires.len();
        let control_values: Vec<Vec<bool>> = if g == Gate::MultiControlledX {
            vec![
                vec![],
                (0..k - 1).map(|_| rng.coin(0.5)).collect(),
                vec![false; k - 1],
                (0..k - 1).map(|j| j % 2 == 1).collect(),
            ]
        } else {
            vec![vec![]]
        };
        for cv in &control_values {
            for inverse in [false, true] {
                for constant in if np > 0 {
                    vec![false, true]
                } else {
                    vec![false]
                } {
                    // theta is wider than needed; params read columns in reverse order
                    let width = np + 1;
                    let batch = 3;
                    let theta = random_theta(batch, width, &mut rng);
                    let params = (0..np)
                        .map(|j| {
                            if constant {
                                Param::Const(rng.angle())
                            } else {
                                Param::Col(width - 1 - j)
                            }
                        })
                        .collect();
                    let mut o = Op::new(g, wires.clone(), params);
                    o.inverse = inverse;
                    o.control_values = cv.clone();
                    if g == Gate::QubitUnitary {
                        o.matrix = Some(random_unitary(k, &mut rng).to_arc());
                    }
                    let tape = tape_of(N, width, vec![o]);
                    let got = run_state::<T>(&tape, &theta, batch, &psi);
                    for b in 0..batch {
                        let row = &theta[b * width..(b + 1) * width];
                        let m = op_matrix(&tape.ops[0], row);
                        assert!(m.unitarity_error() < 1e-12, "reference not unitary");
                        let want = embed(&m, &wires, N).matvec(&psi);
                        let ctx = format!(
                            "{}{} on {wires:?} (control_values {cv:?}, constant params {constant}, \
                             sample {b}, angles {:?}, {})",
                            g.name(),
                            if inverse { "†" } else { "" },
                            op_angles(&tape.ops[0], row),
                            std::any::type_name::<T>()
                        );
                        assert_states_close(&got[b << N..(b + 1) << N], &want, tol, &ctx);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases >= 12, "{}: only {cases} cases ran", g.name());
}

macro_rules! gate_tests {
    ($($name:ident => $g:ident,)*) => {
        /// The gates with a test below.
        const COVERED: &[Gate] = &[$(Gate::$g),*];

        mod per_gate {
            use super::*;
            $(
                mod $name {
                    use super::*;
                    #[test]
                    fn double() {
                        check_gate::<f64>(Gate::$g)
                    }
                    #[test]
                    fn single() {
                        check_gate::<f32>(Gate::$g)
                    }
                }
            )*
        }
    };
}

gate_tests! {
    identity => Identity,
    hadamard => Hadamard,
    pauli_x => PauliX,
    pauli_y => PauliY,
    pauli_z => PauliZ,
    s => S,
    t => T,
    sx => SX,
    rx => RX,
    ry => RY,
    rz => RZ,
    phase_shift => PhaseShift,
    rot => Rot,
    u1 => U1,
    u2 => U2,
    u3 => U3,
    cnot => CNOT,
    cy => CY,
    cz => CZ,
    swap => SWAP,
    iswap => ISWAP,
    crx => CRX,
    cry => CRY,
    crz => CRZ,
    crot => CRot,
    controlled_phase_shift => ControlledPhaseShift,
    ising_xx => IsingXX,
    ising_yy => IsingYY,
    ising_zz => IsingZZ,
    ising_xy => IsingXY,
    multi_rz => MultiRZ,
    toffoli => Toffoli,
    cswap => CSWAP,
    multi_controlled_x => MultiControlledX,
    qubit_unitary => QubitUnitary,
    global_phase => GlobalPhase,
}

#[test]
fn every_gate_has_a_test() {
    for g in Gate::ALL {
        assert!(COVERED.contains(g), "{} has no per-gate test", g.name());
    }
    assert_eq!(COVERED.len(), Gate::ALL.len());
}

#[test]
fn gate_names_round_trip() {
    for &g in Gate::ALL {
        assert_eq!(Gate::from_name(g.name()), Some(g), "{}", g.name());
        assert_eq!(g.n_params(), ref_n_params(g), "{}: n_params", g.name());
    }
    assert_eq!(Gate::from_name("CPhase"), Some(Gate::ControlledPhaseShift));
    assert_eq!(Gate::from_name("NotAGate"), None);
    assert_eq!(Gate::from_name("rx"), None);
    assert_eq!(Gate::RX.name(), "RX");
    assert_eq!(Gate::CNOT.n_wires(), Some(2));
    assert_eq!(Gate::Toffoli.n_wires(), Some(3));
    assert_eq!(Gate::MultiRZ.n_wires(), None);
    assert_eq!(Gate::MultiControlledX.min_wires(), 2);
    assert_eq!(Gate::GlobalPhase.min_wires(), 0);
    assert_eq!(Gate::QubitUnitary.min_wires(), 1);
}

/// The reference itself: identities from PennyLane's documentation.
#[test]
fn reference_matrices_are_sound() {
    let mut rng = Rng::new(7);
    for _ in 0..5 {
        let (t, p, l) = (rng.angle(), rng.angle(), rng.angle());
        // RZ and IsingXY against their closed forms / generators
        let rz_closed = Mat::diag(&[eip(-t / 2.0), eip(t / 2.0)]);
        assert!(rz(t).max_diff(&rz_closed) < 1e-13);
        let rx_closed = Mat::from_rows(&[
            &[c((t / 2.0).cos(), 0.0), c(0.0, -(t / 2.0).sin())],
            &[c(0.0, -(t / 2.0).sin()), c((t / 2.0).cos(), 0.0)],
        ]);
        assert!(rx(t).max_diff(&rx_closed) < 1e-13);
        let xx_yy = px().kron(&px()).add(&py().kron(&py()));
        let xy = xx_yy.scale(c(0.0, t / 4.0)).expm();
        assert!(ising_xy(t).max_diff(&xy) < 1e-13);
        // U2(φ, λ) = U3(π/2, φ, λ); U3(θ, φ, λ) = e^{i(φ+λ)/2} Rot(λ, θ, φ)
        assert!(u2(p, l).max_diff(&u3(PI / 2.0, p, l)) < 1e-13);
        let r = rot(l, t, p).scale(eip((p + l) / 2.0));
        assert!(u3(t, p, l).max_diff(&r) < 1e-13);
        // MultiRZ on two wires is IsingZZ
        let mrz = gate_matrix(Gate::MultiRZ, &[t], 2, None, &[]);
        let zz = gate_matrix(Gate::IsingZZ, &[t], 2, None, &[]);
        assert!(mrz.max_diff(&zz) < 1e-13);
        // every reference gate is unitary
        for &g in Gate::ALL {
            let k = g.n_wires().unwrap_or(3);
            let u = random_unitary(k, &mut rng);
            let m = gate_matrix(g, &[t, p, l], k, Some(&u.a), &[]);
            assert!(m.unitarity_error() < 1e-12, "{}", g.name());
        }
    }
    // fixed gates
    let sx = sx_mat();
    assert!(sx.mul(&sx).max_diff(&px()) < 1e-15);
    let t = gate_matrix(Gate::T, &[], 1, None, &[]);
    let s = gate_matrix(Gate::S, &[], 1, None, &[]);
    assert!(t.mul(&t).max_diff(&s) < 1e-15);
    assert!(s.mul(&s).max_diff(&pz()) < 1e-15);
    // CNOT with the first wire as control: |10> -> |11>
    let cnot = gate_matrix(Gate::CNOT, &[], 2, None, &[]);
    assert_eq!(cnot.get(3, 2), ONE);
    assert_eq!(cnot.get(0, 0), ONE);
    // MultiControlledX with control values (false, true): flips when c0=0, c1=1
    let mcx = gate_matrix(Gate::MultiControlledX, &[], 3, None, &[false, true]);
    assert_eq!(mcx.get(0b011, 0b010), ONE);
    assert_eq!(mcx.get(0b111, 0b111), ONE);
    // embedding: wire 0 is the high bit
    let u = random_unitary(1, &mut rng);
    assert!(embed(&u, &[0], 2).max_diff(&u.kron(&id2())) < 1e-15);
    assert!(embed(&u, &[1], 2).max_diff(&id2().kron(&u)) < 1e-15);
    let u2w = random_unitary(2, &mut rng);
    let swapped = swap_mat().mul(&u2w).mul(&swap_mat());
    assert!(embed(&u2w, &[1, 0], 2).max_diff(&swapped) < 1e-15);
    // embed and apply_local agree
    let psi = random_state(5, &mut rng);
    let u3w = random_unitary(3, &mut rng);
    for wires in [[2usize, 0, 3], [4, 1, 0], [0, 1, 2]] {
        let a = embed(&u3w, &wires, 5).matvec(&psi);
        let b = apply_local(&u3w, &wires, &psi);
        assert!(max_diff(&a, &b) < 1e-14);
    }
}

/// A circuit holding every gate (random wires, random inverse flags, constants and
/// shared theta columns) against the product of the embedded reference matrices.
fn check_random_circuit<T: Real>(seed: u64) {
    let n = 4;
    let p = 5;
    let mut rng = Rng::new(seed);
    let mut ops: Vec<Op> = Vec::new();
    for _ in 0..2 {
        for &g in Gate::ALL {
            ops.push(random_op(g, n, p, &mut rng));
        }
    }
    let tape = tape_of(n, p, ops);
    let batch = 3;
    let theta = random_theta(batch, p, &mut rng);
    let psi = random_state(n, &mut rng);
    let got = run_state::<T>(&tape, &theta, batch, &psi);
    for b in 0..batch {
        let u = ref_unitary(&tape, &theta[b * p..(b + 1) * p]);
        let want = u.matvec(&psi);
        let tolerance = if std::mem::size_of::<T>() == 8 {
            1e-12
        } else {
            2e-5
        };
        assert_states_close(
            &got[b << n..(b + 1) << n],
            &want,
            tolerance,
            &format!("random circuit seed {seed}, sample {b}"),
        );
    }
}

#[test]
fn random_circuits_of_all_gates_f64() {
    for seed in 0..4 {
        check_random_circuit::<f64>(seed);
    }
}

#[test]
fn random_circuits_of_all_gates_f32() {
    for seed in 10..14 {
        check_random_circuit::<f32>(seed);
    }
}

#[test]
fn init_zero_and_per_sample() {
    let n = 4;
    let p = 3;
    let mut rng = Rng::new(99);
    let ops = parametrised_gates()
        .into_iter()
        .map(|g| random_op(g, n, p, &mut rng))
        .collect();
    let tape = tape_of(n, p, ops);
    let batch = 3;
    let theta = random_theta(batch, p, &mut rng);

    // Init::Zero is |0000>
    let got = simple::state::<f64>(&tape, &theta, batch, Init::Zero).unwrap();
    for b in 0..batch {
        let want = ref_unitary(&tape, &theta[b * p..(b + 1) * p]).matvec(&basis_state(n, 0));
        assert_states_close(&got[b << n..(b + 1) << n], &want, 1e-12, "Init::Zero");
    }

    // Init::PerSample: a different state per sample
    let states: Vec<Vec<C64>> = (0..batch).map(|_| random_state(n, &mut rng)).collect();
    let flat: Vec<C64> = states.concat();
    let got = simple::state::<f64>(&tape, &theta, batch, Init::PerSample(&flat)).unwrap();
    for (b, s) in states.iter().enumerate() {
        let want = ref_unitary(&tape, &theta[b * p..(b + 1) * p]).matvec(s);
        assert_states_close(&got[b << n..(b + 1) << n], &want, 1e-12, "Init::PerSample");
    }

    // The same in f32
    let flat32 = to_prec::<f32>(&flat);
    let got = simple::state::<f32>(&tape, &theta, batch, Init::PerSample(&flat32)).unwrap();
    for (b, s) in states.iter().enumerate() {
        let want = ref_unitary(&tape, &theta[b * p..(b + 1) * p]).matvec(s);
        assert_states_close(
            &widen(&got[b << n..(b + 1) << n]),
            &want,
            1e-5,
            "Init::PerSample f32",
        );
    }
}

#[test]
fn empty_tape_returns_the_initial_state() {
    let mut rng = Rng::new(5);
    let psi = random_state(3, &mut rng);
    let tape = tape_of(3, 0, vec![]);
    let got = run_state::<f64>(&tape, &[], 2, &psi);
    assert_eq!(&got[..8], &psi[..]);
    assert_eq!(&got[8..], &psi[..]);
    let zero = simple::state::<f64>(&tape, &[], 1, Init::Zero).unwrap();
    assert_eq!(zero, basis_state(3, 0));
}

#[test]
fn gate_then_inverse_is_identity() {
    let n = 5;
    let p = 3;
    let mut rng = Rng::new(2024);
    let psi = random_state(n, &mut rng);
    for &g in Gate::ALL {
        let o = random_op(g, n, p, &mut rng);
        let mut inv = o.clone();
        inv.inverse = !o.inverse;
        let tape = tape_of(n, p, vec![o, inv]);
        let theta = random_theta(1, p, &mut rng);
        let got = run_state::<f64>(&tape, &theta, 1, &psi);
        assert_states_close(&got, &psi, 1e-12, &format!("{} then inverse", g.name()));
    }
}

/// A few exact basis-state actions, independent of any matrix code.
#[test]
fn basis_state_actions() {
    let n = 3;
    let e = |g: Gate, wires: &[usize], from: usize| {
        let tape = tape_of(n, 0, vec![op(g, wires, vec![])]);
        run_state::<f64>(&tape, &[], 1, &basis_state(n, from))
    };
    // CNOT(control 0, target 2): |100> -> |101>
    assert_eq!(e(Gate::CNOT, &[0, 2], 0b100), basis_state(n, 0b101));
    // CNOT(control 2, target 0): |001> -> |101>; |100> unchanged
    assert_eq!(e(Gate::CNOT, &[2, 0], 0b001), basis_state(n, 0b101));
    assert_eq!(e(Gate::CNOT, &[2, 0], 0b100), basis_state(n, 0b100));
    // PauliX on wire 0 flips the most significant bit
    assert_eq!(e(Gate::PauliX, &[0], 0b000), basis_state(n, 0b100));
    // Toffoli(0, 1 -> 2)
    assert_eq!(e(Gate::Toffoli, &[0, 1, 2], 0b110), basis_state(n, 0b111));
    assert_eq!(e(Gate::Toffoli, &[0, 1, 2], 0b100), basis_state(n, 0b100));
    // CSWAP(0; 1, 2)
    assert_eq!(e(Gate::CSWAP, &[0, 1, 2], 0b110), basis_state(n, 0b101));
    assert_eq!(e(Gate::CSWAP, &[0, 1, 2], 0b010), basis_state(n, 0b010));
    // SWAP(2, 0)
    assert_eq!(e(Gate::SWAP, &[2, 0], 0b001), basis_state(n, 0b100));
    // MultiControlledX with control values [false, true] on wires [0, 1] -> 2
    let mut o = op(Gate::MultiControlledX, &[0, 1, 2], vec![]);
    o.control_values = vec![false, true];
    let tape = tape_of(n, 0, vec![o]);
    let got = run_state::<f64>(&tape, &[], 1, &basis_state(n, 0b010));
    assert_eq!(got, basis_state(n, 0b011));
    let got = run_state::<f64>(&tape, &[], 1, &basis_state(n, 0b110));
    assert_eq!(got, basis_state(n, 0b110));
    // ISWAP: |01> -> i|10>
    let got = e(Gate::ISWAP, &[1, 2], 0b001);
    let mut want = vec![ZERO; 8];
    want[0b010] = I;
    assert_states_close(&got, &want, 1e-15, "ISWAP");
}

/// Runs of single-qubit gates on one wire (which the forward pass may fuse into one
/// 2x2 matrix) interleaved with gates that touch, control or phase that wire.
fn check_single_qubit_runs<T: Real>(n: usize, seed: u64, n_ops: usize) {
    let p = 3;
    let mut rng = Rng::new(seed);
    let singles = [
        Gate::Identity,
        Gate::Hadamard,
        Gate::PauliX,
        Gate::PauliY,
        Gate::PauliZ,
        Gate::S,
        Gate::T,
        Gate::SX,
        Gate::RX,
        Gate::RY,
        Gate::RZ,
        Gate::PhaseShift,
        Gate::Rot,
        Gate::U1,
        Gate::U2,
        Gate::U3,
    ];
    let others = [
        Gate::CNOT,
        Gate::CRX,
        Gate::CRZ,
        Gate::IsingZZ,
        Gate::IsingXX,
        Gate::MultiRZ,
        Gate::GlobalPhase,
        Gate::MultiControlledX,
        Gate::SWAP,
        Gate::ISWAP,
        Gate::Toffoli,
        Gate::QubitUnitary,
        Gate::CSWAP,
    ];
    let mut ops = Vec::new();
    for _ in 0..n_ops {
        if rng.coin(0.75) {
            let g = singles[rng.below(singles.len())];
            let mut o = random_op(g, n, p, &mut rng);
            // concentrate on two wires (a high and a low bit) so that runs form
            o.wires = vec![if rng.coin(0.5) { 0 } else { n - 1 }];
            ops.push(o);
        } else {
            ops.push(random_op(others[rng.below(others.len())], n, p, &mut rng));
        }
    }
    // products that are exactly diagonal or the identity
    for (g1, g2) in [
        (Gate::PauliX, Gate::PauliX),
        (Gate::PauliX, Gate::PauliY),
        (Gate::Hadamard, Gate::Hadamard),
        (Gate::SX, Gate::SX),
    ] {
        ops.push(op(g1, &[1], vec![]));
        ops.push(op(g2, &[1], vec![]));
        ops.push(op(Gate::CNOT, &[1, 0], vec![]));
    }
    let tape = tape_of(n, p, ops);
    let batch = 2;
    let theta = random_theta(batch, p, &mut rng);
    let psi = random_state(n, &mut rng);
    let got = run_state::<T>(&tape, &theta, batch, &psi);
    let tol = if std::mem::size_of::<T>() == 8 {
        1e-11
    } else {
        5e-5
    };
    for b in 0..batch {
        let want = ref_state(&tape, &theta[b * p..(b + 1) * p], &psi);
        assert_states_close(
            &got[b << n..(b + 1) << n],
            &want,
            tol,
            &format!("single-qubit runs, {n} qubits, seed {seed}, sample {b}"),
        );
    }
}

#[test]
fn single_qubit_runs_small_register() {
    for seed in 0..6 {
        check_single_qubit_runs::<f64>(4, seed, 120);
        check_single_qubit_runs::<f32>(4, seed + 100, 60);
    }
}

#[test]
fn single_qubit_runs_large_register() {
    check_single_qubit_runs::<f64>(15, 7, 60);
    check_single_qubit_runs::<f32>(15, 8, 40);
}

/// Number of leading control wires of a gate on k wires (PennyLane's convention).
fn ref_n_controls(g: Gate, k: usize) -> usize {
    use Gate::*;
    match g {
        CNOT | CY | CZ | CRX | CRY | CRZ | CRot | ControlledPhaseShift | CSWAP => 1,
        Toffoli => 2,
        MultiControlledX => k - 1,
        _ => 0,
    }
}

/// `Kernel::inner` is <bra|K|ket> summed over the control-matching subspace; and the
/// dagger kernel gives the conjugate-transposed inner product.
#[test]
fn kernel_inner_products() {
    let n = 5;
    let mut rng = Rng::new(4321);
    let bra = random_state(n, &mut rng);
    let ket = random_state(n, &mut rng);
    for &g in Gate::ALL {
        for _ in 0..4 {
            let o = random_op(g, n, 0, &mut rng);
            let angles = op_angles(&o, &[]);
            let nc = ref_n_controls(g, o.wires.len());
            let uket = apply_local(&op_matrix(&o, &[]), &o.wires, &ket);
            let want: C64 = (0..1usize << n)
                .filter(|&i| {
                    (0..nc).all(|j| {
                        let v = o.control_values.get(j).copied().unwrap_or(true);
                        wire_bit(i, o.wires[j], n) == v as usize
                    })
                })
                .map(|i| bra[i].conj() * uket[i])
                .sum();
            let k = o.kernel::<f64>(&angles, n);
            let got = k.inner(&bra, &ket, false);
            let ctx = format!(
                "{}{} on {:?}",
                g.name(),
                if o.inverse { "†" } else { "" },
                o.wires
            );
            assert!(
                (got - want).norm() < 1e-12,
                "{ctx}: inner {got}, want {want}"
            );
            let back = k.dagger().inner(&ket, &bra, false);
            assert!(
                (back - want.conj()).norm() < 1e-12,
                "{ctx}: dagger inner {back}, want {}",
                want.conj()
            );
            // f32 kernels too
            let k32 = o.kernel::<f32>(&angles, n);
            let got32 = k32.inner(&to_prec::<f32>(&bra), &to_prec::<f32>(&ket), false);
            assert!(
                (got32 - want).norm() < 1e-5,
                "{ctx}: f32 inner {got32}, want {want}"
            );
        }
    }
}

/// Gates holding many bits (controls + targets): multi-controlled X with up to 7
/// controls and QubitUnitary on up to 6 wires, in both precisions, small and large
/// registers, kernels applied serially and in parallel.
fn check_wide_gates<T: Real>(n: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let psi = random_state(n, &mut rng);
    let psi_t = to_prec::<T>(&psi);
    let tol = if std::mem::size_of::<T>() == 8 {
        1e-12
    } else {
        2e-5
    };
    let mut ops = Vec::new();
    for k in [5, 6, 7, 8] {
        for with_values in [false, true] {
            let mut o = op(Gate::MultiControlledX, &rng.distinct(n, k), vec![]);
            if with_values {
                o.control_values = (0..k - 1).map(|j| j % 3 != 1).collect();
            }
            ops.push(o);
        }
    }
    for k in [4, 5, 6] {
        let mut o = op(Gate::QubitUnitary, &rng.distinct(n, k), vec![]);
        o.matrix = Some(random_unitary(k, &mut rng).to_arc());
        o.inverse = k == 5;
        ops.push(o);
    }
    let mut m = op(Gate::MultiRZ, &rng.distinct(n, 7), vec![Param::Const(0.8)]);
    m.inverse = true;
    ops.push(m);
    ops.push(op(
        Gate::GlobalPhase,
        &rng.distinct(n, 6),
        vec![Param::Const(-1.1)],
    ));
    for o in ops {
        let ctx = format!(
            "{} on {:?} (control values {:?}, {n} qubits, {})",
            o.gate.name(),
            o.wires,
            o.control_values,
            std::any::type_name::<T>()
        );
        let want = apply_local(&op_matrix(&o, &[]), &o.wires, &psi);
        let tape = tape_of(n, 0, vec![o.clone()]);
        let got = simple::state::<T>(&tape, &[], 1, Init::Shared(&psi_t)).unwrap();
        assert_states_close(&widen(&got), &want, tol, &ctx);
        let k = o.kernel::<T>(&op_angles(&o, &[]), n);
        let mut par = psi_t.clone();
        qoxide_core::pool::install(|| k.apply(&mut par, true));
        assert_states_close(&widen(&par), &want, tol, &format!("{ctx}, parallel kernel"));
    }
}

#[test]
fn wide_gates_small_register() {
    check_wide_gates::<f64>(8, 1);
    check_wide_gates::<f32>(8, 2);
}

#[test]
fn wide_gates_large_register() {
    check_wide_gates::<f64>(15, 3);
    check_wide_gates::<f32>(15, 4);
}
