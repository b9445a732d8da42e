//! Time of one gate pass vs one in-place scale of the state (both on all pool threads),
//! for complex128 and complex64 at 20..24 qubits: how close each kernel runs to memory speed.
//! `cargo run --release --example gate_passes -p qoxide-core [max_qubits]` (idle machine).
use qoxide_core::state::{zero_state, Ctrl, Kernel};
use qoxide_core::{pool, Real, C};
use rayon::prelude::*;
use std::time::Instant;

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    ts[reps / 2]
}

fn kernels<T: Real>(n: u32) -> Vec<(&'static str, Kernel<T>)> {
    let (c, s) = (T::of(0.8), T::of(0.6));
    let ry = |t| Kernel::Mat1 {
        t,
        m: [
            C::new(c, T::zero()),
            C::new(-s, T::zero()),
            C::new(s, T::zero()),
            C::new(c, T::zero()),
        ],
        ctrl: Ctrl::NONE,
    };
    let rx = |t| Kernel::Mat1 {
        t,
        m: [
            C::new(c, T::zero()),
            C::new(T::zero(), -s),
            C::new(T::zero(), -s),
            C::new(c, T::zero()),
        ],
        ctrl: Ctrl::NONE,
    };
    let hi = n - 1;
    vec![
        ("ry bit0", ry(0)),
        ("ry mid", ry(n / 2)),
        ("ry high", ry(hi)),
        ("rx mid", rx(n / 2)),
        (
            "rz mid",
            Kernel::Diag1 {
                t: n / 2,
                d: [C::new(c, -s), C::new(c, s)],
                ctrl: Ctrl::NONE,
            },
        ),
        (
            "cnot hi->lo",
            Kernel::Flip {
                t: 1,
                ctrl: Ctrl {
                    mask: 1 << hi,
                    value: 1 << hi,
                },
            },
        ),
        (
            "cnot lo->hi",
            Kernel::Flip {
                t: hi,
                ctrl: Ctrl { mask: 2, value: 2 },
            },
        ),
    ]
}

fn run<T: Real>(n: u32, label: &str) {
    let mut s = zero_state::<T>(n as usize);
    let reps = 7;
    let k = C::new(T::one(), T::zero());
    let scale = pool::install(|| {
        time(reps, || {
            s.par_chunks_mut(1 << 14)
                .for_each(|c| c.iter_mut().for_each(|x| *x *= k))
        })
    });
    print!("{label} {n:>2}q scale {:>8.2} ms |", scale * 1e3);
    for (name, kern) in kernels::<T>(n) {
        let t = pool::install(|| time(reps, || kern.apply(&mut s, true)));
        print!(" {name} {:.2}x", t / scale);
    }
    println!();
}

fn main() {
    let max: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(24);
    println!(
        "threads: {} (ratios: gate time / scale pass time)",
        pool::num_threads()
    );
    for n in (20..=max).step_by(2) {
        run::<f64>(n, "c128");
        run::<f32>(n, "c64 ");
    }
}
