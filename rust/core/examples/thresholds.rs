//! Measures where amplitude parallelism starts to pay: one RY (dense 1q) and one CNOT
//! applied serially vs on the pool, for registers of 2^10 .. 2^20 amplitudes.
//! `cargo run --release --example thresholds -p qoxide-core` (run on an idle machine).
use qoxide_core::state::{zero_state, Ctrl, Kernel};
use qoxide_core::{pool, C};
use std::time::Instant;

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    println!("threads: {}", pool::num_threads());
    println!(
        "{:>6} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}",
        "qubits", "ry serial", "ry par", "ratio", "cnot serial", "cnot par", "ratio"
    );
    for n in 10..=20u32 {
        let mut s = zero_state::<f64>(n as usize);
        let c = C::new(0.8f64, 0.0);
        let sn = C::new(0.6f64, 0.0);
        let ry = Kernel::Mat1 {
            t: n / 2,
            m: [c, -sn, sn, c],
            ctrl: Ctrl::NONE,
        };
        let cnot = Kernel::Flip {
            t: 1,
            ctrl: Ctrl {
                mask: 1 << (n - 1),
                value: 1 << (n - 1),
            },
        };
        let reps = (1usize << 24 >> n).max(5);
        let mut row = Vec::new();
        for k in [&ry, &cnot] {
            let ser = time(reps, || k.apply(&mut s, false));
            let par = pool::install(|| time(reps, || k.apply(&mut s, true)));
            row.push((ser, par));
        }
        println!(
            "{:>6} {:>10.2}us {:>10.2}us {:>8.2} {:>10.2}us {:>10.2}us {:>8.2}",
            n,
            row[0].0 * 1e6,
            row[0].1 * 1e6,
            row[0].0 / row[0].1,
            row[1].0 * 1e6,
            row[1].1 * 1e6,
            row[1].0 / row[1].1
        );
    }
}
