//! Profile helper: one cache-resident tile (2^15 amplitudes) through a layer of
//! single-qubit gates and a CNOT chain on bits 0..15, as separate kernels and as register
//! blocks of 2..4 bits. `cargo run --release --example regblock -p qoxide-core [reps]
//! [block bits] [c64|c128]` (one configuration: for `perf stat`, which counts cycles the
//! process ran, steadier than wall time on a shared machine).
use qoxide_core::state::regblock::passes;
use qoxide_core::state::{Ctrl, Kernel};
use qoxide_core::{Real, C};
use std::time::Instant;

fn kernels<T: Real>(bits: std::ops::Range<u32>) -> Vec<Kernel<T>> {
    let c = |re: f64, im: f64| C::new(T::of(re), T::of(im));
    let mut ks = Vec::new();
    for layer in 0..4 {
        for b in bits.clone() {
            let a = 0.3 + b as f64 + layer as f64;
            let m = [
                c(a.cos(), 0.1),
                c(-a.sin(), 0.2),
                c(a.sin(), -0.2),
                c(a.cos(), 0.1),
            ];
            ks.push(Kernel::Mat1 {
                t: b,
                m,
                ctrl: Ctrl::NONE,
            });
        }
        for b in bits.clone().skip(1) {
            ks.push(Kernel::Flip {
                t: b,
                ctrl: Ctrl {
                    mask: 1 << (b - 1),
                    value: 1 << (b - 1),
                },
            });
        }
    }
    ks
}

fn time<T: Real>(name: &str, reps: usize, only: Option<u32>) {
    let n = 15;
    let mut s: Vec<C<T>> = (0..1usize << n)
        .map(|i| C::new(T::of((i as f64).sin()), T::zero()))
        .collect();
    let ks = kernels::<T>(0..n);
    let gates = ks.len();
    for max_bits in [0u32, 2, 3, 4] {
        if only.is_some_and(|k| k != max_bits) {
            continue;
        }
        let ps = passes(ks.clone(), max_bits);
        let t = Instant::now();
        for _ in 0..reps {
            ps.iter().for_each(|p| p.apply(&mut s));
        }
        let ns = t.elapsed().as_secs_f64() * 1e9 / (reps * gates * s.len()) as f64;
        println!(
            "{name} block bits {max_bits}: {} passes, {ns:.3} ns per amplitude per gate",
            ps.len()
        );
    }
}

fn main() {
    let arg = |k| std::env::args().nth(k);
    let reps = arg(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let only = arg(2).and_then(|a| a.parse().ok());
    let prec = arg(3).unwrap_or_default();
    if prec != "c128" {
        time::<f32>("c64 ", reps, only);
    }
    if prec != "c64" {
        time::<f64>("c128", reps, only);
    }
}
