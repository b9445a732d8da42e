//! Profile helper: the seed dressed circuit (4 qubits) on a batch, expval + vjp.
//! `cargo run --release --example small_batch -p qoxide-core`
use qoxide_core::{adjoint, execute, Gate, Init, Obs, Op, Param, Tape};
use std::time::Instant;

fn main() {
    let (n, depth, batch) = (4usize, 6usize, 64usize);
    let mut tape = Tape::new(n, n + depth * n).unwrap();
    for i in 0..n {
        tape.push(Op::new(Gate::Hadamard, vec![i], vec![])).unwrap();
        tape.push(Op::new(Gate::RY, vec![i], vec![Param::Col(i)]))
            .unwrap();
    }
    for k in 0..depth {
        for i in [0, 2, 1] {
            tape.push(Op::new(Gate::CNOT, vec![i, i + 1], vec![]))
                .unwrap();
        }
        for i in 0..n {
            tape.push(Op::new(Gate::RY, vec![i], vec![Param::Col(n + k * n + i)]))
                .unwrap();
        }
    }
    let obs: Vec<Obs> = (0..n)
        .map(|i| Obs::pauli(n, &[(1.0, vec![(i, 'Z')])]).unwrap())
        .collect();
    let theta: Vec<f64> = (0..batch * tape.n_params)
        .map(|k| (k as f64 * 0.37).sin())
        .collect();
    let g = vec![1.0; batch * n];
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(
            execute::expval::<f64>(&tape, &theta, batch, &obs, Init::Zero).unwrap(),
        );
    }
    println!(
        "expval {:.1} us",
        t.elapsed().as_secs_f64() / reps as f64 * 1e6
    );
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(
            adjoint::vjp::<f64>(&tape, &theta, batch, &obs, &g, Init::Zero).unwrap(),
        );
    }
    println!(
        "vjp {:.1} us",
        t.elapsed().as_secs_f64() / reps as f64 * 1e6
    );
}
