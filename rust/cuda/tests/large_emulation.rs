//! The large-register plan and kernels (kernels/large.cu, src/large.rs) compiled for the
//! host (host/shim.h) against qoxide-core's CPU engine on random circuits: every gate
//! kind, 1..=14 qubits, controls (incl. control values) above and below the segment bits,
//! non-adjacent and reversed wires, ops that fuse into shared-memory segments and ops that
//! run over the whole vector (small segment tiles force both), both precisions; final
//! states, Pauli expectation values, the adjoint VJP and Jacobian.
#![cfg(feature = "host-emulation")]

mod common;

use common::*;
use qoxide_core::gates::{form, Form};
use qoxide_core::{Gate, Init, Op, Param, Tape};
use qoxide_cuda::host_large::run;
use qoxide_cuda::large::Step;
use qoxide_cuda::{Adjoint, CudaError, LargeProgram, LaunchShape, Precision};

/// Host threads stay few: every emulated CUDA thread is an OS thread.
const SHAPE: LaunchShape = LaunchShape {
    block: 8,
    grid_cap: 4,
};

struct Case {
    seed: u64,
    n: usize,
    n_ops: usize,
    seg_bits: usize,
    batch: usize,
    jacobian: bool,
}

fn check(c: Case, prec: Precision, shape: LaunchShape) {
    let Case {
        seed,
        n,
        n_ops,
        seg_bits,
        batch,
        jacobian,
    } = c;
    let c = random_case(seed, n, n_ops, batch, prec);
    let prog = LargeProgram::with_seg_bits(&c.tape, &c.obs, seg_bits).unwrap();
    let ctx = format!(
        "seed {seed}, {n} qubits, {} ops, tiles 2^{}, {} steps, batch {batch}, {prec:?}, {shape:?}",
        c.tape.ops.len(),
        prog.seg_bits,
        prog.forward.len()
    );
    check_forward_and_vjp(&ctx, &c, |adjoint, want_state| {
        run(&prog, &c.theta, batch, prec, adjoint, want_state, shape).unwrap()
    });
    if jacobian {
        let j = run(
            &prog,
            &c.theta,
            batch,
            prec,
            Adjoint::Jacobian,
            false,
            shape,
        )
        .unwrap();
        let want =
            qoxide_core::jacobian::<f64>(&c.tape, &c.theta, batch, &c.cobs, Init::Zero).unwrap();
        close(
            &format!("jacobian ({ctx})"),
            j.jac.as_ref().unwrap(),
            &want,
            c.tol * 10.0,
        );
    }
}

/// Both precisions; the Jacobian (M sweeps) in complex128 only, where it is checked tightly.
fn both(c: impl Fn() -> Case, shape: LaunchShape) {
    check(c(), Precision::C128, shape);
    check(
        Case {
            jacobian: false,
            ..c()
        },
        Precision::C64,
        shape,
    );
}

#[test]
fn small_tiles_every_gate_kind() {
    // tiles of 2^2 or 2^3: most ops run over the whole vector, the rest fuse
    for n in 1..=8 {
        both(
            || Case {
                seed: 10 * n as u64,
                n,
                n_ops: 40,
                seg_bits: 2 + n % 2,
                batch: 1 + n % 2,
                jacobian: true,
            },
            SHAPE,
        );
    }
}

#[test]
fn whole_state_in_one_tile() {
    // n <= seg_bits: the whole circuit is one segment of one tile
    for n in [3, 6, 9] {
        both(
            || Case {
                seed: 500 + n as u64,
                n,
                n_ops: 40,
                seg_bits: 10,
                batch: 1,
                jacobian: n < 9,
            },
            SHAPE,
        );
    }
}

#[test]
fn default_tiles_up_to_14_qubits() {
    // the GPU's tile (2^10): ops on the top wires run over the whole vector
    for n in [11, 12, 14] {
        both(
            || Case {
                seed: 900 + n as u64,
                n,
                n_ops: 36,
                seg_bits: 10,
                batch: 1,
                jacobian: false,
            },
            LaunchShape {
                block: 16,
                grid_cap: 8,
            },
        );
    }
    check(
        Case {
            seed: 911,
            n: 11,
            n_ops: 30,
            seg_bits: 10,
            batch: 1,
            jacobian: true,
        },
        Precision::C128,
        SHAPE,
    );
}

#[test]
fn launch_shapes() {
    // one thread per block, blocks wider than a tile, a single block grid-striding
    for (block, grid_cap) in [(1, 3), (32, 1), (16, 64)] {
        both(
            || Case {
                seed: 77,
                n: 7,
                n_ops: 40,
                seg_bits: 4,
                batch: 1,
                jacobian: true,
            },
            LaunchShape { block, grid_cap },
        );
    }
}

/// Each parametrised gate alone on the top wires (whole-vector kernels) and on the bottom
/// wires (a segment), every parameter a column, with a control above the tile where the
/// gate takes one: the in-kernel forms and derivatives against the CPU engine.
#[test]
fn jacobian_per_gate_kind_inside_and_outside_tiles() {
    let n = 5;
    let mut bad = vec![];
    for &g in Gate::ALL {
        if g.n_params() == 0 {
            continue;
        }
        let k = g.n_wires().unwrap_or(2);
        for wires in [(0..k).collect::<Vec<_>>(), (n - k..n).rev().collect()] {
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
            let params = (0..g.n_params()).map(Param::Col).collect();
            t.push(Op::new(g, wires.clone(), params)).unwrap();
            let obs = random_obs(&mut rng, n);
            let cobs = core_obs(n, &obs);
            let theta: Vec<f64> = (0..3).map(|_| rng.angle()).collect();
            let prog = LargeProgram::with_seg_bits(&t, &obs, 2).unwrap();
            let r = run(
                &prog,
                &theta,
                1,
                Precision::C128,
                Adjoint::Jacobian,
                false,
                SHAPE,
            )
            .unwrap();
            let w = qoxide_core::jacobian::<f64>(&t, &theta, 1, &cobs, Init::Zero).unwrap();
            let got = r.jac.as_ref().unwrap();
            if got.iter().zip(&w).any(|(a, b)| (a - b).abs() > 1e-9) {
                bad.push((g, wires));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "Jacobian differs from the CPU engine for {bad:?}"
    );
}

/// Controls (and control values) above the tile on ops that fuse, a diagonal gate on a
/// high wire with its control in the tile, controlled swaps and permutations across it.
#[test]
fn controls_above_and_below_the_tile() {
    let n = 6;
    let mut t = Tape::new(n, 2).unwrap();
    for w in 0..n {
        t.push(Op::new(
            Gate::RY,
            vec![w],
            vec![Param::Const(0.4 + 0.3 * w as f64)],
        ))
        .unwrap();
    }
    let c = |g: Gate, w: &[usize], p: Vec<Param>| Op::new(g, w.to_vec(), p);
    let mut mcx = c(Gate::MultiControlledX, &[0, 2, 5], vec![]);
    mcx.control_values = vec![false, true];
    let mut mcx_low = c(Gate::MultiControlledX, &[5, 1, 3], vec![]);
    mcx_low.control_values = vec![false, false];
    for op in [
        c(Gate::CRY, &[1, 4], vec![Param::Col(0)]),
        mcx,
        c(Gate::CRZ, &[5, 0], vec![Param::Col(1)]),
        c(Gate::ControlledPhaseShift, &[4, 2], vec![Param::Col(0)]),
        c(Gate::CSWAP, &[0, 5, 4], vec![]),
        c(Gate::Toffoli, &[5, 1, 0], vec![]),
        mcx_low,
        c(
            Gate::CRot,
            &[2, 5],
            vec![Param::Col(1), Param::Col(0), Param::Const(0.7)],
        ),
        c(Gate::MultiRZ, &[0, 3, 5], vec![Param::Col(1)]),
        c(Gate::IsingXY, &[5, 4], vec![Param::Col(0)]),
    ] {
        t.push(op).unwrap();
    }
    let mut rng = Rng(3);
    let obs = random_obs(&mut rng, n);
    let cobs = core_obs(n, &obs);
    let theta = [0.9, -1.3];
    let prog = LargeProgram::with_seg_bits(&t, &obs, 2).unwrap();
    let want_state = qoxide_core::state::<f64>(&t, &theta, 1, Init::Zero).unwrap();
    let ws: Vec<f64> = want_state.iter().flat_map(|z| [z.re, z.im]).collect();
    let r = run(
        &prog,
        &theta,
        1,
        Precision::C128,
        Adjoint::None,
        true,
        SHAPE,
    )
    .unwrap();
    close("state", r.state.as_ref().unwrap(), &ws, 1e-12);
    let j = run(
        &prog,
        &theta,
        1,
        Precision::C128,
        Adjoint::Jacobian,
        false,
        SHAPE,
    )
    .unwrap();
    let want = qoxide_core::jacobian::<f64>(&t, &theta, 1, &cobs, Init::Zero).unwrap();
    close("jacobian", j.jac.as_ref().unwrap(), &want, 1e-11);
}

#[test]
fn plan_fuses_low_targets_only() {
    // 6 qubits, tiles of 2^3: wires 3..5 are tile bits, wires 0..2 are not
    let mut t = Tape::new(6, 1).unwrap();
    let h = |w: usize| Op::new(Gate::Hadamard, vec![w], vec![]);
    t.push(h(5)).unwrap();
    t.push(h(3)).unwrap();
    // a controlled rotation with its control above the tile fuses
    t.push(Op::new(Gate::CRX, vec![0, 4], vec![Param::Col(0)]))
        .unwrap();
    // a diagonal gate on a high wire fuses
    t.push(Op::new(Gate::RZ, vec![1], vec![Param::Col(0)]))
        .unwrap();
    t.push(h(0)).unwrap();
    t.push(Op::new(Gate::SWAP, vec![3, 2], vec![])).unwrap();
    t.push(h(4)).unwrap();
    let p = LargeProgram::with_seg_bits(&t, &[], 3).unwrap();
    assert_eq!(
        p.forward,
        vec![
            Step::Seg { first: 0, last: 4 },
            Step::Gate { op: 4 },
            Step::Gate { op: 5 },
            Step::Seg { first: 6, last: 7 },
        ]
    );
    assert_eq!(p.dcols, vec![0, 0]);
}

#[test]
fn unsupported_is_a_clear_error() {
    let mut t = Tape::new(3, 0).unwrap();
    let mut rng = Rng(5);
    let mut op = Op::new(Gate::QubitUnitary, vec![0, 1, 2], vec![]);
    let Form::M2(a) = form(Gate::IsingXX, &[rng.angle()], None) else {
        unreachable!()
    };
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
    let e = LargeProgram::new(&t, &[]).unwrap_err();
    assert!(
        matches!(e, CudaError::Unsupported(ref s) if s.contains("QubitUnitary on 3 wires")),
        "{e:?}"
    );
    let big = Tape::new(33, 0).unwrap();
    let e = LargeProgram::new(&big, &[]).unwrap_err();
    assert!(
        matches!(e, CudaError::Unsupported(ref s) if s.contains("1 to 32 qubits")),
        "{e:?}"
    );
}
