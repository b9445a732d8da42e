//! The CUDA kernels compiled for the host (host/shim.h: real threads, __syncthreads a
//! barrier) against qoxide-core's CPU engine on random circuits: every gate kind the
//! kernel takes, 1..=12 qubits, controls (incl. control values), non-adjacent and reversed
//! wires, inverse ops, constants and shared columns, uneven batches, both precisions;
//! final states, Pauli expectation values and the adjoint VJP.
#![cfg(feature = "host-emulation")]

use num_complex::Complex;
use qoxide_core::gates::{form, Form};
use qoxide_core::{Gate, Init, Obs, Op, Param, Tape};
use qoxide_cuda::host::run;
use qoxide_cuda::{Adjoint, CudaError, PauliObs, PauliTerm, Precision, SmallProgram};
use std::sync::Arc;

type C64 = Complex<f64>;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unif(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn angle(&mut self) -> f64 {
        (self.unif() * 2.0 - 1.0) * 3.5
    }
    fn wires(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

fn mul4(a: &[C64; 16], b: &[C64; 16]) -> Vec<C64> {
    let mut m = vec![C64::new(0.0, 0.0); 16];
    for r in 0..4 {
        for c in 0..4 {
            m[4 * r + c] = (0..4).map(|k| a[4 * r + k] * b[4 * k + c]).sum();
        }
    }
    m
}

fn random_unitary(rng: &mut Rng, k: usize) -> Arc<[C64]> {
    if k == 1 {
        match form(Gate::Rot, &[rng.angle(), rng.angle(), rng.angle()], None) {
            Form::M1(m) => m.to_vec().into(),
            _ => unreachable!(),
        }
    } else {
        let (Form::M2(a), Form::M2(b)) = (
            form(Gate::IsingXY, &[rng.angle()], None),
            form(Gate::IsingYY, &[rng.angle()], None),
        ) else {
            unreachable!()
        };
        let Form::M2(c) = form(Gate::IsingXX, &[rng.angle()], None) else {
            unreachable!()
        };
        let ab: [C64; 16] = mul4(&a, &b).try_into().unwrap();
        // a phase on one entry's row keeps it unitary and breaks the symmetry
        let mut m = mul4(&ab, &c);
        let ph = C64::from_polar(1.0, rng.angle());
        for v in &mut m[4..8] {
            *v *= ph;
        }
        m.into()
    }
}

/// Gates the kernel runs (all but QubitUnitary on more than 2 wires).
fn random_op(rng: &mut Rng, n: usize, n_params: usize, gate: Gate) -> Option<Op> {
    let k = match gate.n_wires() {
        Some(k) => k,
        None => match gate {
            Gate::MultiRZ => 1 + rng.below(n.min(3)),
            Gate::MultiControlledX if n < 2 => return None,
            Gate::MultiControlledX => 2 + rng.below(n.min(4) - 1),
            Gate::GlobalPhase => rng.below(n.min(2) + 1),
            Gate::QubitUnitary => 1 + rng.below(n.min(2)),
            _ => unreachable!(),
        },
    };
    if k > n {
        return None;
    }
    let wires = rng.wires(n, k);
    let params = (0..gate.n_params())
        .map(|_| {
            if n_params > 0 && rng.below(4) != 0 {
                Param::Col(rng.below(n_params))
            } else {
                Param::Const(rng.angle())
            }
        })
        .collect();
    let mut op = Op::new(gate, wires, params);
    op.inverse = rng.below(4) == 0;
    if gate == Gate::QubitUnitary {
        op.matrix = Some(random_unitary(rng, k));
    }
    if gate == Gate::MultiControlledX && rng.below(2) == 0 {
        op.control_values = (0..k - 1).map(|_| rng.below(2) == 0).collect();
    }
    Some(op)
}

fn random_tape(rng: &mut Rng, n: usize, n_ops: usize, n_params: usize) -> Tape {
    let mut t = Tape::new(n, n_params).unwrap();
    // every gate kind at least once (where it fits), then random ones
    let mut kinds: Vec<Gate> = Gate::ALL.to_vec();
    while kinds.len() < n_ops {
        kinds.push(Gate::ALL[rng.below(Gate::ALL.len())]);
    }
    for i in (1..kinds.len()).rev() {
        let j = rng.below(i + 1);
        kinds.swap(i, j);
    }
    // start from a spread state so that diagonal gates matter
    for w in 0..n {
        t.push(Op::new(Gate::Hadamard, vec![w], vec![])).unwrap();
    }
    for g in kinds {
        if let Some(op) = random_op(rng, n, n_params, g) {
            t.push(op).unwrap();
        }
    }
    t
}

fn random_obs(rng: &mut Rng, n: usize) -> Vec<PauliObs> {
    let mut obs: Vec<PauliObs> = (0..n)
        .map(|i| {
            vec![PauliTerm {
                coef: 1.0,
                word: vec![(i, 'Z')],
            }]
        })
        .collect();
    let word = |rng: &mut Rng| {
        let k = 1 + rng.below(n.min(3));
        rng.wires(n, k)
            .into_iter()
            .map(|w| (w, ['X', 'Y', 'Z', 'I'][rng.below(4)]))
            .collect::<Vec<_>>()
    };
    for _ in 0..2 {
        obs.push(vec![PauliTerm {
            coef: 1.0,
            word: word(rng),
        }]);
    }
    obs.push(
        (0..3)
            .map(|_| PauliTerm {
                coef: rng.angle(),
                word: word(rng),
            })
            .collect(),
    );
    obs
}

fn core_obs(n: usize, obs: &[PauliObs]) -> Vec<Obs> {
    obs.iter()
        .map(|o| {
            let terms: Vec<(f64, Vec<(usize, char)>)> =
                o.iter().map(|t| (t.coef, t.word.clone())).collect();
            Obs::pauli(n, &terms).unwrap()
        })
        .collect()
}

fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: kernel {g} vs CPU engine {w} (tol {tol})"
        );
    }
}

/// One random case: kernel (host emulation) vs the CPU engine.
fn check(seed: u64, n: usize, n_ops: usize, batch: usize, prec: Precision, max_tps: u32) {
    let mut rng = Rng(seed);
    let n_params = 5;
    let tape = random_tape(&mut rng, n, n_ops, n_params);
    let obs = random_obs(&mut rng, n);
    let cobs = core_obs(n, &obs);
    let theta: Vec<f64> = (0..batch * n_params).map(|_| rng.angle()).collect();
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.angle()).collect();
    let prog = SmallProgram::new(&tape, &obs).unwrap();
    let tol = match prec {
        Precision::C128 => 1e-10,
        Precision::C64 => 3e-5 * (1.0 + tape.ops.len() as f64).sqrt(),
    };
    let ctx = format!(
        "seed {seed}, {n} qubits, {} ops, batch {batch}, {prec:?}, tps<={max_tps}",
        tape.ops.len()
    );

    let fwd = run(&prog, &theta, batch, prec, Adjoint::None, true, max_tps).unwrap();
    let want_state = qoxide_core::state::<f64>(&tape, &theta, batch, Init::Zero).unwrap();
    let ws: Vec<f64> = want_state.iter().flat_map(|z| [z.re, z.im]).collect();
    close(
        &format!("state ({ctx})"),
        fwd.state.as_ref().unwrap(),
        &ws,
        tol,
    );
    let want_ev = qoxide_core::expval::<f64>(&tape, &theta, batch, &cobs, Init::Zero).unwrap();
    close(&format!("expval ({ctx})"), &fwd.expval, &want_ev, tol);

    let back = run(&prog, &theta, batch, prec, Adjoint::Vjp(&g), false, max_tps).unwrap();
    close(
        &format!("expval in the VJP launch ({ctx})"),
        &back.expval,
        &want_ev,
        tol,
    );
    let want_vjp = qoxide_core::vjp::<f64>(&tape, &theta, batch, &cobs, &g, Init::Zero).unwrap();
    close(
        &format!("vjp ({ctx})"),
        back.grad.as_ref().unwrap(),
        &want_vjp,
        tol * 10.0,
    );
}

#[test]
fn small_registers_both_precisions() {
    // 1..=5 qubits: several samples per block; batches not a multiple of it
    for n in 1..=5 {
        for (i, batch) in [1usize, 7, 19].into_iter().enumerate() {
            for prec in [Precision::C128, Precision::C64] {
                check(100 * n as u64 + i as u64, n, 45, batch, prec, 256);
            }
        }
    }
}

#[test]
fn medium_registers() {
    for n in 6..=9 {
        for prec in [Precision::C128, Precision::C64] {
            check(1000 + n as u64, n, 40, 3, prec, 16);
        }
    }
}

#[test]
fn large_registers() {
    for n in 10..=12 {
        let prec = if n % 2 == 0 {
            Precision::C128
        } else {
            Precision::C64
        };
        check(2000 + n as u64, n, 38, 2, prec, 16);
    }
}

#[test]
fn real_launch_shapes() {
    // the device's own shapes: 256 threads per sample at 12 qubits, 2^(n-1) below
    check(3012, 12, 36, 2, Precision::C128, 256);
    check(3009, 9, 36, 2, Precision::C64, 256);
    check(3006, 6, 36, 5, Precision::C128, 256);
}

#[test]
fn unsupported_is_a_clear_error() {
    let mut t = Tape::new(3, 0).unwrap();
    let mut rng = Rng(5);
    let mut op = Op::new(Gate::QubitUnitary, vec![0, 1, 2], vec![]);
    let Form::M2(a) = form(Gate::IsingXX, &[rng.angle()], None) else {
        unreachable!()
    };
    // a 3-qubit unitary: I ⊗ IsingXX
    let mut m = vec![C64::new(0.0, 0.0); 64];
    for r in 0..8 {
        for c in 0..8 {
            if r >> 2 == c >> 2 {
                m[8 * r + c] = a[4 * (r & 3) + (c & 3)];
            }
        }
    }
    op.matrix = Some(m.into());
    t.push(op).unwrap();
    let e = SmallProgram::new(&t, &[]).unwrap_err();
    assert!(
        matches!(e, CudaError::Unsupported(ref s) if s.contains("QubitUnitary on 3 wires")),
        "{e:?}"
    );
    let big = Tape::new(13, 0).unwrap();
    assert!(matches!(
        SmallProgram::new(&big, &[]),
        Err(CudaError::Unsupported(_))
    ));
}

/// Each parametrised gate alone after a rotation layer, every parameter a column: the
/// kernel's in-kernel form and derivative of that gate against the CPU engine.
#[test]
fn vjp_per_gate_kind() {
    let n = 3;
    let mut bad = vec![];
    for &g in Gate::ALL {
        if g.n_params() == 0 {
            continue;
        }
        let mut rng = Rng(7);
        let mut t = Tape::new(n, 3).unwrap();
        for w in 0..n {
            t.push(Op::new(
                Gate::RY,
                vec![w],
                vec![Param::Const(0.3 + w as f64)],
            ))
            .unwrap();
        }
        let k = g.n_wires().unwrap_or(2);
        let params = (0..g.n_params()).map(Param::Col).collect();
        t.push(Op::new(g, (0..k).collect(), params)).unwrap();
        let obs = random_obs(&mut rng, n);
        let cobs = core_obs(n, &obs);
        let theta: Vec<f64> = (0..3).map(|_| rng.angle()).collect();
        let gg: Vec<f64> = (0..obs.len()).map(|_| rng.angle()).collect();
        let prog = SmallProgram::new(&t, &obs).unwrap();
        let r = run(
            &prog,
            &theta,
            1,
            Precision::C128,
            Adjoint::Vjp(&gg),
            false,
            4,
        )
        .unwrap();
        let w = qoxide_core::vjp::<f64>(&t, &theta, 1, &cobs, &gg, Init::Zero).unwrap();
        if r.grad
            .as_ref()
            .unwrap()
            .iter()
            .zip(&w)
            .any(|(a, b)| (a - b).abs() > 1e-9)
        {
            bad.push(g);
        }
    }
    assert!(
        bad.is_empty(),
        "VJP differs from the CPU engine for {bad:?}"
    );
}
