//! Bad input returns a value error (`QoxideError::Value`, or its `Wire` / `Shape` kinds,
//! which Python sees as ValueError subclasses) naming the problem; NaN angles give NaN
//! results, not panics.

use crate::common::*;
use qoxide_core::{simple, Gate, Init, Obs, Op, Param, QoxideError, Tape};

/// Assert a value error (Value, Wire or Shape) whose message contains every one of
/// `needles`.
#[track_caller]
fn expect_value<T: std::fmt::Debug>(r: qoxide_core::Result<T>, needles: &[&str]) {
    match r {
        Err(e @ (QoxideError::Value(_) | QoxideError::Wire(_) | QoxideError::Shape(_))) => {
            let msg = e.to_string(); // Display shows the message itself
            for n in needles {
                assert!(msg.contains(n), "message {msg:?} does not mention {n:?}");
            }
        }
        other => panic!("expected a value error mentioning {needles:?}, got {other:?}"),
    }
}

/// Push `o` into a fresh tape and expect a Value error; the tape stays unchanged.
#[track_caller]
fn push_fails(n: usize, p: usize, o: Op, needles: &[&str]) {
    let mut t = Tape::new(n, p).unwrap();
    t.push(op(Gate::Hadamard, &[0], vec![])).unwrap();
    expect_value(t.push(o), needles);
    assert_eq!(t.ops.len(), 1, "a rejected op must not be appended");
}

#[test]
fn register_size() {
    expect_value(Tape::new(0, 0), &["n_qubits", "0"]);
    expect_value(Tape::new(41, 0), &["n_qubits", "41"]);
    assert!(Tape::new(1, 0).is_ok());
    assert!(Tape::new(40, 0).is_ok());
}

#[test]
fn wire_out_of_range() {
    push_fails(
        3,
        0,
        op(Gate::PauliX, &[3], vec![]),
        &["PauliX", "wire 3", "out of range"],
    );
    push_fails(
        3,
        0,
        op(Gate::CNOT, &[0, 7], vec![]),
        &["CNOT", "wire 7", "out of range"],
    );
    push_fails(
        3,
        1,
        op(Gate::MultiRZ, &[0, 1, 2, 3], vec![Param::Col(0)]),
        &["MultiRZ", "wire 3", "out of range"],
    );
    push_fails(
        3,
        0,
        op(Gate::MultiControlledX, &[5, 0], vec![]),
        &["wire 5", "out of range"],
    );
}

#[test]
fn repeated_wire() {
    push_fails(
        3,
        0,
        op(Gate::CNOT, &[1, 1], vec![]),
        &["CNOT", "wire 1", "repeated"],
    );
    push_fails(
        3,
        0,
        op(Gate::Toffoli, &[0, 2, 0], vec![]),
        &["Toffoli", "wire 0", "repeated"],
    );
    push_fails(
        4,
        0,
        op(Gate::MultiControlledX, &[0, 1, 2, 1], vec![]),
        &["wire 1", "repeated"],
    );
    let mut u = op(Gate::QubitUnitary, &[2, 2], vec![]);
    u.matrix = Some(Mat::identity(4).to_arc());
    push_fails(3, 0, u, &["wire 2", "repeated"]);
}

#[test]
fn wrong_number_of_wires() {
    push_fails(
        3,
        0,
        op(Gate::CNOT, &[0], vec![]),
        &["CNOT", "2 wire", "got 1"],
    );
    push_fails(
        3,
        0,
        op(Gate::Hadamard, &[0, 1], vec![]),
        &["Hadamard", "1 wire", "got 2"],
    );
    push_fails(
        3,
        0,
        op(Gate::Toffoli, &[0, 1], vec![]),
        &["Toffoli", "3 wire"],
    );
    push_fails(
        3,
        0,
        op(Gate::MultiControlledX, &[0], vec![]),
        &["MultiControlledX", "at least 2"],
    );
    push_fails(
        3,
        1,
        op(Gate::MultiRZ, &[], vec![Param::Col(0)]),
        &["MultiRZ", "at least 1"],
    );
}

#[test]
fn wrong_parameter_count() {
    push_fails(
        2,
        3,
        op(Gate::RX, &[0], vec![]),
        &["RX", "1 parameter", "got 0"],
    );
    push_fails(
        2,
        3,
        op(Gate::Rot, &[0], vec![Param::Col(0), Param::Col(1)]),
        &["Rot", "3 parameter", "got 2"],
    );
    push_fails(
        2,
        3,
        op(Gate::Hadamard, &[0], vec![Param::Const(1.0)]),
        &["Hadamard", "0 parameter", "got 1"],
    );
    push_fails(
        2,
        3,
        op(Gate::U2, &[0], vec![Param::Col(0); 3]),
        &["U2", "2 parameter", "got 3"],
    );
}

#[test]
fn parameter_column_out_of_range() {
    push_fails(
        2,
        2,
        op(Gate::RY, &[1], vec![Param::Col(2)]),
        &["RY", "column 2", "out of range", "width 2"],
    );
    push_fails(
        2,
        0,
        op(Gate::IsingXX, &[0, 1], vec![Param::Col(0)]),
        &["IsingXX", "column 0", "width 0"],
    );
    push_fails(
        2,
        3,
        op(
            Gate::U3,
            &[1],
            vec![Param::Col(0), Param::Const(1.0), Param::Col(9)],
        ),
        &["U3", "column 9"],
    );
}

#[test]
fn qubit_unitary_checks() {
    let mut rng = Rng::new(3);
    // not unitary
    let mut m = random_unitary(2, &mut rng);
    m.a[5] += c(1e-3, 0.0);
    let mut o = op(Gate::QubitUnitary, &[0, 1], vec![]);
    o.matrix = Some(m.to_arc());
    push_fails(2, 0, o, &["QubitUnitary", "not unitary"]);
    // a plain non-unitary matrix
    let mut o = op(Gate::QubitUnitary, &[1], vec![]);
    o.matrix = Some(Mat::from_real(&[&[1.0, 1.0], &[0.0, 1.0]]).to_arc());
    push_fails(2, 0, o, &["not unitary"]);
    // an infinite entry
    let mut inf = Mat::identity(2);
    inf.set(1, 1, c(f64::INFINITY, 0.0));
    let mut o = op(Gate::QubitUnitary, &[0], vec![]);
    o.matrix = Some(inf.to_arc());
    push_fails(2, 0, o, &["not unitary"]);
    // wrong size
    let mut o = op(Gate::QubitUnitary, &[0, 1], vec![]);
    o.matrix = Some(random_unitary(1, &mut rng).to_arc());
    push_fails(2, 0, o, &["QubitUnitary", "4x4", "got 4 entries"]);
    // missing
    push_fails(
        2,
        0,
        op(Gate::QubitUnitary, &[0], vec![]),
        &["QubitUnitary", "matrix"],
    );
    // a matrix on another gate
    let mut o = op(Gate::PauliX, &[0], vec![]);
    o.matrix = Some(Mat::identity(2).to_arc());
    push_fails(2, 0, o, &["PauliX", "no matrix"]);
    // within PennyLane's tolerance (1e-6): accepted
    let mut near = random_unitary(1, &mut rng);
    near.a[0] += c(1e-8, 0.0);
    let mut o = op(Gate::QubitUnitary, &[0], vec![]);
    o.matrix = Some(near.to_arc());
    let mut t = Tape::new(1, 0).unwrap();
    t.push(o).unwrap();
}

/// tape.rs `check_unitary` folds the errors with `f64::max`, which drops NaN, so a
/// matrix with NaN entries gets a finite `worst` and passes the NaN-aware guard
/// (`worst.is_nan() || worst > UNITARY_ATOL`) that was meant to reject it.
#[test]
fn qubit_unitary_with_nan_entries_is_rejected() {
    for (r, col) in [(0, 0), (0, 1)] {
        let mut nan = Mat::identity(2);
        nan.set(r, col, c(f64::NAN, 0.0));
        let mut o = op(Gate::QubitUnitary, &[1], vec![]);
        o.matrix = Some(nan.to_arc());
        push_fails(2, 0, o, &["not unitary"]);
    }
}

/// observable.rs `Obs::hermitian` has the same `f64::max` fold: NaN entries pass.
#[test]
fn hermitian_with_nan_entries_is_rejected() {
    let mut rng = Rng::new(10);
    for k in [0, 1] {
        let mut nan = random_hermitian(1, &mut rng);
        nan.a[k] = c(f64::NAN, 0.0);
        expect_value(Obs::hermitian(3, vec![0], nan.a), &["not Hermitian"]);
    }
}

#[test]
fn control_value_checks() {
    let mut o = op(Gate::MultiControlledX, &[0, 1, 2], vec![]);
    o.control_values = vec![true];
    push_fails(3, 0, o, &["MultiControlledX", "2 control values", "got 1"]);
    let mut o = op(Gate::CNOT, &[0, 1], vec![]);
    o.control_values = vec![false];
    push_fails(3, 0, o, &["CNOT", "no control values"]);
}

fn small_tape() -> Tape {
    tape_of(
        3,
        2,
        vec![
            op(Gate::RX, &[0], vec![Param::Col(0)]),
            op(Gate::CNOT, &[0, 2], vec![]),
            op(Gate::RY, &[2], vec![Param::Col(1)]),
        ],
    )
}

#[test]
fn wrong_theta_width_and_batch() {
    let t = small_tape();
    let z = Obs::pauli(3, &[(1.0, vec![(0, 'Z')])]).unwrap();
    let obs = [z];
    let bad = [0.1, 0.2, 0.3];
    expect_value(
        simple::state::<f64>(&t, &bad, 1, Init::Zero),
        &["theta", "[batch, 2]", "got 3"],
    );
    expect_value(
        simple::state::<f64>(&t, &bad, 2, Init::Zero),
        &["theta", "got 3"],
    );
    expect_value(
        simple::expval::<f64>(&t, &bad, 1, &obs, Init::Zero),
        &["theta"],
    );
    expect_value(
        simple::var::<f32>(&t, &bad, 1, &obs, Init::Zero),
        &["theta"],
    );
    expect_value(
        simple::probs::<f64>(&t, &bad, 1, &[0], Init::Zero),
        &["theta"],
    );
    expect_value(
        simple::sample::<f64>(&t, &bad, 1, &[0], 3, 1, Init::Zero),
        &["theta"],
    );
    expect_value(
        simple::jacobian::<f64>(&t, &bad, 1, &obs, Init::Zero),
        &["theta"],
    );
    expect_value(
        simple::vjp::<f64>(&t, &bad, 1, &obs, &[1.0], Init::Zero),
        &["theta"],
    );
    expect_value(
        simple::state::<f64>(&t, &[], 0, Init::Zero),
        &["batch size"],
    );
    expect_value(
        simple::jacobian::<f64>(&t, &[], 0, &obs, Init::Zero),
        &["batch"],
    );
}

#[test]
fn wrong_initial_state_size() {
    let t = small_tape();
    let theta = [0.1, 0.2, 0.3, 0.4];
    let s = vec![c(1.0, 0.0); 4];
    expect_value(
        simple::state::<f64>(&t, &theta, 2, Init::Shared(&s)),
        &["initial state", "8 amplitudes", "got 4"],
    );
    let s = vec![c(1.0, 0.0); 8];
    expect_value(
        simple::state::<f64>(&t, &theta, 2, Init::PerSample(&s)),
        &["initial states", "[2, 8]", "got 8"],
    );
}

#[test]
fn observable_for_another_register() {
    let t = small_tape();
    let theta = [0.1, 0.2];
    let good = Obs::pauli(3, &[(1.0, vec![(0, 'Z')])]).unwrap();
    let bad = Obs::pauli(4, &[(1.0, vec![(0, 'Z')])]).unwrap();
    let obs = [good, bad];
    let needles = ["observable 1", "4 qubits", "circuit has 3"];
    expect_value(
        simple::expval::<f64>(&t, &theta, 1, &obs, Init::Zero),
        &needles,
    );
    expect_value(
        simple::var::<f64>(&t, &theta, 1, &obs, Init::Zero),
        &needles,
    );
    expect_value(
        simple::jacobian::<f64>(&t, &theta, 1, &obs, Init::Zero),
        &needles,
    );
    expect_value(
        simple::vjp::<f64>(&t, &theta, 1, &obs, &[1.0, 1.0], Init::Zero),
        &needles,
    );
}

#[test]
fn vjp_cotangent_shape() {
    let t = small_tape();
    let obs = [Obs::pauli(3, &[(1.0, vec![(0, 'Z')])]).unwrap()];
    expect_value(
        simple::vjp::<f64>(&t, &[0.1, 0.2, 0.3, 0.4], 2, &obs, &[1.0], Init::Zero),
        &["grad_out", "[2, 1]", "got 1"],
    );
}

#[test]
fn measurement_wires() {
    let t = small_tape();
    let theta = [0.1, 0.2];
    expect_value(
        simple::probs::<f64>(&t, &theta, 1, &[0, 3], Init::Zero),
        &["probs", "wire 3", "out of range"],
    );
    expect_value(
        simple::probs::<f64>(&t, &theta, 1, &[2, 2], Init::Zero),
        &["probs", "wire 2", "repeated"],
    );
    expect_value(
        simple::sample::<f64>(&t, &theta, 1, &[4], 10, 0, Init::Zero),
        &["sample", "wire 4", "out of range"],
    );
    expect_value(
        simple::sample::<f64>(&t, &theta, 1, &[1, 0, 1], 10, 0, Init::Zero),
        &["sample", "wire 1", "repeated"],
    );
}

#[test]
fn observable_construction() {
    // Pauli
    expect_value(
        Obs::pauli(3, &[(1.0, vec![(3, 'Z')])]),
        &["Pauli", "wire 3", "out of range"],
    );
    expect_value(
        Obs::pauli(3, &[(1.0, vec![(1, 'Z'), (1, 'X')])]),
        &["Pauli", "wire 1", "repeated"],
    );
    expect_value(Obs::pauli(3, &[(1.0, vec![(1, 'Q')])]), &["I, X, Y or Z"]);
    expect_value(Obs::pauli(3, &[(1.0, vec![(1, 'x')])]), &["I, X, Y or Z"]);
    // Hermitian
    let mut rng = Rng::new(9);
    let h = random_hermitian(1, &mut rng);
    expect_value(
        Obs::hermitian(3, vec![3], h.a.clone()),
        &["Hermitian", "wire 3", "out of range"],
    );
    expect_value(
        Obs::hermitian(3, vec![0, 0], random_hermitian(2, &mut rng).a),
        &["Hermitian", "wire 0", "repeated"],
    );
    expect_value(
        Obs::hermitian(3, vec![0, 1], h.a.clone()),
        &["Hermitian", "4x4", "got 4 entries"],
    );
    expect_value(Obs::hermitian(3, vec![], vec![c(1.0, 0.0)]), &["Hermitian"]);
    let mut nh = random_hermitian(2, &mut rng);
    nh.a[1] += c(0.0, 1e-3);
    expect_value(Obs::hermitian(3, vec![0, 2], nh.a), &["not Hermitian"]);
    // Projector
    expect_value(
        Obs::projector(3, &[0, 1], &[1]),
        &["Projector", "2 bits", "[0, 1]"],
    );
    expect_value(Obs::projector(3, &[0], &[2]), &["Projector", "0/1"]);
    expect_value(
        Obs::projector(3, &[5], &[1]),
        &["Projector", "wire 5", "out of range"],
    );
    expect_value(
        Obs::projector(3, &[1, 1], &[1, 1]),
        &["Projector", "repeated"],
    );
    // Sum
    expect_value(Obs::sum(vec![]), &["at least one term"]);
    expect_value(
        Obs::sum(vec![
            (1.0, Obs::projector(3, &[0], &[1]).unwrap()),
            (1.0, Obs::projector(2, &[0], &[1]).unwrap()),
        ]),
        &["same number of qubits"],
    );
}

#[test]
fn too_large_register_is_a_memory_error() {
    let t = tape_of(40, 0, vec![op(Gate::Hadamard, &[39], vec![])]);
    match simple::state::<f64>(&t, &[], 1, Init::Zero) {
        Err(QoxideError::Memory(msg)) => assert!(msg.contains("GiB") || msg.contains("bytes")),
        other => panic!("expected a Memory error, got {:?}", other.map(|v| v.len())),
    }
    match simple::probs::<f64>(&t, &[], 1, &[0], Init::Zero) {
        Err(QoxideError::Memory(_)) => {}
        other => panic!("expected a Memory error, got {other:?}"),
    }
}

#[test]
fn nan_angles_give_nan_not_panic() {
    let n = 3;
    let obs = [Obs::pauli(n, &[(1.0, vec![(0, 'Z')])]).unwrap()];
    for g in parametrised_gates() {
        let k = match g.n_wires() {
            Some(k) => k,
            None => n,
        };
        let wires: Vec<usize> = (0..k).collect();
        let np = g.n_params();
        // a preparing layer so that every control subspace has weight
        let mut ops: Vec<Op> = (0..n).map(|w| op(Gate::Hadamard, &[w], vec![])).collect();
        ops.push(op(g, &wires, (0..np).map(Param::Col).collect()));
        ops.push(op(Gate::Hadamard, &[0], vec![]));
        let tape = tape_of(n, np, ops);
        let mut theta = vec![0.3; np];
        theta[0] = f64::NAN;
        let s = simple::state::<f64>(&tape, &theta, 1, Init::Zero).unwrap();
        assert!(
            s.iter().any(|a| a.re.is_nan() || a.im.is_nan()),
            "{}: no NaN in the state",
            g.name()
        );
        let s32 = simple::state::<f32>(&tape, &theta, 1, Init::Zero).unwrap();
        assert!(
            s32.iter().any(|a| a.re.is_nan() || a.im.is_nan()),
            "{}: no NaN (f32)",
            g.name()
        );
        let e = simple::expval::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
        assert!(e[0].is_nan(), "{}: expval {} is not NaN", g.name(), e[0]);
        let v = simple::var::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
        assert!(v[0].is_nan(), "{}: var {} is not NaN", g.name(), v[0]);
        let p = simple::probs::<f64>(&tape, &theta, 1, &[0, 1], Init::Zero).unwrap();
        assert!(p.iter().any(|x| x.is_nan()), "{}: probs {p:?}", g.name());
        let j = simple::jacobian::<f64>(&tape, &theta, 1, &obs, Init::Zero).unwrap();
        assert!(j.iter().any(|x| x.is_nan()), "{}: jacobian {j:?}", g.name());
        let vj = simple::vjp::<f64>(&tape, &theta, 1, &obs, &[1.0], Init::Zero).unwrap();
        assert!(vj.iter().any(|x| x.is_nan()), "{}: vjp {vj:?}", g.name());
        // sampling from NaN probabilities must not panic; bits stay 0/1
        let smp = simple::sample::<f64>(&tape, &theta, 1, &[0, 2], 20, 5, Init::Zero).unwrap();
        assert_eq!(smp.len(), 40);
        assert!(smp.iter().all(|&b| b <= 1));
    }
    // a NaN constant parameter too, and a NaN row in a batch leaves other rows finite
    let tape = tape_of(
        n,
        1,
        vec![
            op(Gate::RX, &[0], vec![Param::Col(0)]),
            op(Gate::RY, &[1], vec![Param::Const(f64::NAN)]),
        ],
    );
    let e = simple::expval::<f64>(&tape, &[0.5, f64::NAN], 2, &obs, Init::Zero).unwrap();
    assert!(e[0].is_nan() && e[1].is_nan());
    let tape = tape_of(n, 1, vec![op(Gate::RX, &[0], vec![Param::Col(0)])]);
    let e = simple::expval::<f64>(&tape, &[0.5, f64::NAN, 1.0], 3, &obs, Init::Zero).unwrap();
    assert!((e[0] - 0.5f64.cos()).abs() < 1e-14);
    assert!(e[1].is_nan());
    assert!((e[2] - 1.0f64.cos()).abs() < 1e-14);
}

/// A sample request too large for memory is refused before allocating.
#[test]
fn huge_sample_request_is_a_memory_error() {
    let t = tape_of(2, 0, vec![op(Gate::Hadamard, &[0], vec![])]);
    match simple::sample::<f64>(&t, &[], 1, &[0], 1usize << 50, 1, Init::Zero) {
        Err(QoxideError::Memory(msg)) => assert!(msg.contains("samples"), "{msg}"),
        other => panic!("expected a Memory error, got {:?}", other.map(|v| v.len())),
    }
}

/// Regression: `sample` once sized its output as `batch * shots * k` in usize before
/// the memory check, so 2^63 shots of 2 wires wrapped to 0 and returned an empty Ok.
#[test]
fn overflowing_sample_request_is_an_error() {
    let t = tape_of(2, 0, vec![op(Gate::Hadamard, &[0], vec![])]);
    for (batch, wires, shots) in [(1, vec![0, 1], 1usize << 63), (2, vec![0], 1usize << 63)] {
        let r = simple::sample::<f64>(&t, &[], batch, &wires, shots, 1, Init::Zero);
        assert!(
            matches!(r, Err(QoxideError::Memory(_)) | Err(QoxideError::Value(_))),
            "batch {batch} x {shots} shots x {} wires: got {:?}",
            wires.len(),
            r.map(|v| v.len())
        );
    }
}

/// With a theta of width 0, any batch passes the theta check, and expval / var
/// allocate their `[batch, M]` output with no size check (unlike state, probs and
/// sample): a huge batch panics ("capacity overflow") instead of returning a Memory
/// error; a merely too-large one would fail inside the allocator.
#[test]
fn huge_batch_is_a_memory_error() {
    let t = tape_of(2, 0, vec![op(Gate::Hadamard, &[0], vec![])]);
    let obs = [Obs::pauli(2, &[(1.0, vec![(0, 'Z')])]).unwrap()];
    let r = std::panic::catch_unwind(|| {
        simple::expval::<f64>(&t, &[], 1usize << 61, &obs, Init::Zero).map(|v| v.len())
    });
    match r {
        Ok(Err(QoxideError::Memory(_))) => {}
        Ok(other) => panic!("expected a Memory error, got {other:?}"),
        Err(_) => panic!("expval panicked instead of returning a Memory error"),
    }
    let r = std::panic::catch_unwind(|| {
        simple::var::<f64>(&t, &[], 1usize << 61, &obs, Init::Zero).map(|v| v.len())
    });
    assert!(
        matches!(r, Ok(Err(QoxideError::Memory(_)))),
        "var: expected a Memory error"
    );
}

#[test]
fn dense_matrices_wider_than_the_limit() {
    use qoxide_core::memory::MAX_MATRIX_WIRES;
    let n = MAX_MATRIX_WIRES + 1;
    let wires: Vec<usize> = (0..n).collect();
    // the width check comes before the (here absent) matrix entries are looked at
    let mut o = op(Gate::QubitUnitary, &wires, vec![]);
    o.matrix = Some(vec![c(1.0, 0.0)].into());
    push_fails(n, 0, o, &["QubitUnitary", "at most", "wires"]);
    expect_value(
        Obs::hermitian(n, wires, vec![c(1.0, 0.0)]),
        &["Hermitian", "at most", "wires"],
    );
}
