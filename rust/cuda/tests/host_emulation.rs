//! The CUDA kernels compiled for the host (host/shim.h: real threads, __syncthreads a
//! barrier) against qoxide-core's CPU engine on random circuits: every gate kind the
//! kernel takes, 1..=12 qubits, controls (incl. control values), non-adjacent and reversed
//! wires, inverse ops, constants and shared columns, uneven batches, both precisions;
//! final states, Pauli expectation values and the adjoint VJP.
#![cfg(feature = "host-emulation")]

mod common;

use common::*;
use qoxide_core::gates::{form, Form};
use qoxide_core::{Gate, Init, Op, Param, Tape};
use qoxide_cuda::host::run;
use qoxide_cuda::{Adjoint, CudaError, Precision, SmallProgram};

/// One random case: kernel (host emulation) vs the CPU engine.
fn check(seed: u64, n: usize, n_ops: usize, batch: usize, prec: Precision, max_tps: u32) {
    let c = random_case(seed, n, n_ops, batch, prec);
    let prog = SmallProgram::new(&c.tape, &c.obs).unwrap();
    let ctx = format!(
        "seed {seed}, {n} qubits, {} ops, batch {batch}, {prec:?}, tps<={max_tps}",
        c.tape.ops.len()
    );
    check_forward_and_vjp(&ctx, &c, |adjoint, want_state| {
        run(&prog, &c.theta, batch, prec, adjoint, want_state, max_tps).unwrap()
    });
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
