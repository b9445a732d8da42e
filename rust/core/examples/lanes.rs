//! The batch-lane engine against the per-sample engine (`Options::with_engine`) on the
//! dressed circuit of PennyLane's quantum transfer learning demo (n qubits, H+RY embedding,
//! depth 6 of CNOTs + RY): forward (final states) and VJP from given final states, medians
//! of interleaved calls; with REF=0 also the lane engine's VJP from |0> (forward and
//! sweep in one call, as when the final states were not kept).
//! `cargo run --release --example lanes -p qoxide-core`
//! Environment: QUBITS=4,6 BATCHES=16,64 pick the cases, F32=0 skips f32, ROT=1 turns
//! every RY into a Rot (no generator: per-lane forms), REF=0 skips the per-sample engine
//! (for profiling the lane engine alone), SHARED=0 gives every sample its own weights (by
//! default the weight columns, past the n inputs, hold one angle in every sample, as the
//! theta map of a layer fills them), RAYON_NUM_THREADS as usual.
//! GF/s: the nominal flops per sample of the 4-qubit circuit (21696: each
//! one-qubit gate a dense complex 2x2, 28 flops per amplitude pair, three times) over the
//! lane engine's forward + VJP time.

use qoxide_core::{
    adjoint, measure, Engine, Gate, Init, Obs, Op, Options, Param, Program, Real, Tape,
};
use std::sync::Arc;
use std::time::Instant;

/// As in the Python extension: large states on page boundaries.
#[global_allocator]
static ALLOC: qoxide_core::StateAllocator = qoxide_core::StateAllocator;

fn dressed(n: usize, depth: usize) -> Tape {
    let mut tape = Tape::new(n, n + depth * n).unwrap();
    for i in 0..n {
        tape.push(Op::new(Gate::Hadamard, vec![i], vec![])).unwrap();
        tape.push(Op::new(Gate::RY, vec![i], vec![Param::Col(i)]))
            .unwrap();
    }
    for k in 0..depth {
        for i in (0..n - 1).step_by(2).chain((1..n - 1).step_by(2)) {
            tape.push(Op::new(Gate::CNOT, vec![i, i + 1], vec![]))
                .unwrap();
        }
        for i in 0..n {
            tape.push(Op::new(Gate::RY, vec![i], vec![Param::Col(n + k * n + i)]))
                .unwrap();
        }
    }
    tape
}

/// Median wall time in microseconds of each of `fs` over `reps` rounds; the calls are
/// interleaved so that load from other processes hits all of them alike.
fn medians_us<const N: usize>(reps: usize, mut fs: [&mut dyn FnMut(); N]) -> [f64; N] {
    let mut t = vec![[0.0; N]; reps];
    for round in t.iter_mut() {
        for (x, f) in round.iter_mut().zip(fs.iter_mut()) {
            let s = Instant::now();
            f();
            *x = s.elapsed().as_secs_f64() * 1e6;
        }
    }
    std::array::from_fn(|k| {
        let mut v: Vec<f64> = t.iter().map(|r| r[k]).collect();
        v.sort_by(f64::total_cmp);
        v[reps / 2]
    })
}

fn bench<T: Real>(n: usize, batch: usize) {
    let mut tape = dressed(n, 6);
    if std::env::var("ROT").is_ok() {
        // every RY(θ) as Rot(θ, 0.3, θ) (no generator: per-lane forms)
        for op in &mut tape.ops {
            if let (Gate::RY, [Param::Col(c)]) = (op.gate, op.params.as_slice()) {
                let c = *c;
                *op = Op::new(
                    Gate::Rot,
                    op.wires.clone(),
                    vec![Param::Col(c), Param::Const(0.3), Param::Col(c)],
                );
            }
        }
    }
    let obs: Vec<Obs> = (0..n)
        .map(|i| Obs::pauli(n, &[(1.0, vec![(i, 'Z')])]).unwrap())
        .collect();
    let (p, m) = (tape.n_params, obs.len());
    let shared = std::env::var("SHARED").map_or(true, |v| v != "0");
    let theta: Vec<f64> = (0..batch * p)
        .map(|k| match (k % p, shared) {
            (col, true) if col >= n => (col as f64 * 0.37).sin(),
            _ => (k as f64 * 0.37).sin(),
        })
        .collect();
    let g = vec![1.0; batch * m];
    let reps = (200_000 / batch).clamp(50, 5000);
    let prog = Program::<T>::new(Arc::new(tape));
    let engine =
        |on: bool| Options::with_engine(if on { Engine::Lanes } else { Engine::PerSample });
    let states = measure::state(&prog, &theta, batch, Init::Zero, &engine(true)).unwrap();
    let fwd = |on: bool| {
        let s = measure::state(&prog, &theta, batch, Init::Zero, &engine(on));
        std::hint::black_box(s.unwrap());
    };
    let vjp = |on: bool| {
        let init = Init::Final(&states);
        let v = adjoint::vjp(&prog, &theta, batch, &obs, &g, init, &engine(on));
        std::hint::black_box(v.unwrap());
    };
    let mut vjp_zero = || {
        let v = adjoint::vjp(&prog, &theta, batch, &obs, &g, Init::Zero, &engine(true));
        std::hint::black_box(v.unwrap());
    };
    let reference = std::env::var("REF").map_or(true, |v| v != "0");
    let (mut old_fwd, mut old_vjp) = (|| fwd(false), || vjp(false));
    let (mut new_fwd, mut new_vjp) = (|| fwd(true), || vjp(true));
    let ([old_fwd, old_vjp, new_fwd, new_vjp], zero) = if reference {
        let t = medians_us(
            reps,
            [&mut old_fwd, &mut old_vjp, &mut new_fwd, &mut new_vjp],
        );
        (t, String::new())
    } else {
        let [f, v, z] = medians_us(reps, [&mut new_fwd, &mut new_vjp, &mut vjp_zero]);
        let zero = format!("   vjp from |0> {z:7.1} us");
        ([f64::NAN, f64::NAN, f, v], zero)
    };
    let gflops = if n == 4 {
        format!(
            "  {:5.1} GF/s",
            21696.0 * batch as f64 / (new_fwd + new_vjp) / 1e3
        )
    } else {
        String::new()
    };
    println!(
        "{:>4} {n:>2}q batch {batch:>4}: forward {old_fwd:8.1} -> {new_fwd:7.1} us ({:4.1}x)   \
         vjp {old_vjp:8.1} -> {new_vjp:7.1} us ({:4.1}x)   total {:8.1} -> {:7.1} us ({:4.1}x){gflops}{zero}",
        std::any::type_name::<T>(),
        old_fwd / new_fwd,
        old_vjp / new_vjp,
        old_fwd + old_vjp,
        new_fwd + new_vjp,
        (old_fwd + old_vjp) / (new_fwd + new_vjp)
    );
}

fn main() {
    let list = |var: &str, default: &[usize]| -> Vec<usize> {
        std::env::var(var).ok().map_or(default.to_vec(), |s| {
            s.split(',').map(|x| x.parse().unwrap()).collect()
        })
    };
    let f32s = list("F32", &[1])[0] == 1;
    for n in list("QUBITS", &[4]) {
        for batch in list("BATCHES", &[1, 2, 4, 8, 16, 64, 256]) {
            bench::<f64>(n, batch);
            if f32s {
                bench::<f32>(n, batch);
            }
        }
    }
}
