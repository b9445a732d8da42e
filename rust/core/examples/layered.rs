//! Profile helper: forward of the layered benchmark circuit (4 layers of RX, RY, RZ on every
//! wire, then a CNOT ring) on one sample, fused and unfused, complex128 and complex64.
//! `cargo run --release --example layered -p qoxide-core [qubits] [reps]`; JAC=1 times the
//! adjoint Jacobian of every ⟨Z_i⟩ instead, ALL_Z=1 measures every ⟨Z_i⟩ in the forward
//! too (as benches/scale.py does; default ⟨Z_0⟩ only), TILE=k forces the fusion tile to k
//! qubits, BLOCK=k the register blocks inside tiles to k bits (0: none). Each forward line also
//! gives the mean thread CPU time of one rep (for A/B runs on a shared machine: run with
//! RAYON_NUM_THREADS=1, the work then stays on this thread).
use qoxide_core::{adjoint, measure, Engine, Gate, Init, Obs, Op, Options, Param, Program, Tape};
use std::sync::Arc;
use std::time::Instant;

/// As in the Python extension: large states on page boundaries.
#[global_allocator]
static ALLOC: qoxide_core::StateAllocator = qoxide_core::StateAllocator;

fn main() {
    let arg = |k: usize, d: usize| {
        std::env::args()
            .nth(k)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (n, reps) = (arg(1, 20), arg(2, 5));
    let layers = 4;
    let mut tape = Tape::new(n, layers * n * 3).unwrap();
    for l in 0..layers {
        for i in 0..n {
            for (k, g) in [Gate::RX, Gate::RY, Gate::RZ].into_iter().enumerate() {
                tape.push(Op::new(g, vec![i], vec![Param::Col((l * n + i) * 3 + k)]))
                    .unwrap();
            }
        }
        for i in 0..n {
            tape.push(Op::new(Gate::CNOT, vec![i, (i + 1) % n], vec![]))
                .unwrap();
        }
    }
    let theta: Vec<f64> = (0..tape.n_params)
        .map(|k| (k as f64 * 0.37).sin())
        .collect();
    let obs = vec![Obs::pauli(n, &[(1.0, vec![(0, 'Z')])]).unwrap()];
    let all_z: Vec<Obs> = (0..n)
        .map(|i| Obs::pauli(n, &[(1.0, vec![(i, 'Z')])]).unwrap())
        .collect();
    if let Some(k) = std::env::var("BLOCK").ok().and_then(|k| k.parse().ok()) {
        qoxide_core::fusion::set_block_bits(k);
    }
    let forward_obs = if std::env::var("ALL_Z").is_ok() {
        &all_z
    } else {
        &obs
    };
    let tile: Option<u32> = std::env::var("TILE").ok().and_then(|t| t.parse().ok());
    let opts = |fused: bool| Options {
        engine: Some(if fused {
            Engine::Tiled
        } else {
            Engine::PerSample
        }),
        tile_qubits: tile,
        ..Options::default()
    };
    let tape = Arc::new(tape);
    let (p64, p32) = (Program::<f64>::new(tape.clone()), Program::<f32>::new(tape));
    if std::env::var("JAC").is_ok() {
        for on in [false, true] {
            let t = Instant::now();
            for _ in 0..reps {
                let j = adjoint::jacobian(&p64, &theta, 1, &all_z, Init::Zero, &opts(on));
                std::hint::black_box(j.unwrap());
            }
            let ms = t.elapsed().as_secs_f64() / reps as f64 * 1e3;
            println!("jacobian, fusion {on}: {ms:.2} ms");
        }
        return;
    }
    let modes: &[bool] = if std::env::var("FUSED_ONLY").is_ok() {
        &[true]
    } else {
        &[false, true]
    };
    for &on in modes {
        for (prec, f32) in [("c128", false), ("c64", true)] {
            if std::env::var("PREC").is_ok_and(|p| p != prec) {
                continue;
            }
            let t = Instant::now();
            let mut cpu = Vec::with_capacity(reps);
            for _ in 0..reps {
                let c0 = thread_cpu_ms();
                let e = if f32 {
                    measure::expval(&p32, &theta, 1, forward_obs, Init::Zero, &opts(on))
                } else {
                    measure::expval(&p64, &theta, 1, forward_obs, Init::Zero, &opts(on))
                };
                std::hint::black_box(e.unwrap());
                cpu.push(thread_cpu_ms() - c0);
            }
            let ms = t.elapsed().as_secs_f64() / reps as f64 * 1e3;
            // the mean, not the median: the kernel may count thread time in whole ticks
            let mean = cpu.iter().sum::<f64>() / reps as f64;
            println!("forward {prec}, fusion {on}: {ms:.2} ms (mean thread CPU {mean:.2} ms)");
        }
    }
}

/// CPU time of the calling thread so far, in ms (Linux: the first field of its schedstat).
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-6)
}
