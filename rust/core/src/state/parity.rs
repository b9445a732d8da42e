//! Expectation values of diagonal Pauli words (Z strings) in one pass over the state.
//!
//! ⟨Z_S⟩ = Σ_i |φ_i|² (-1)^{popcount(i & mask_S)}. Done per word, that is a pass over the
//! state with a popcount per amplitude; QML layers measure ⟨Z_i⟩ on every wire, so at 22
//! qubits the measurement alone was 22 such passes. Here the state is read once, in
//! chunks of 2^CHUNK_BITS amplitudes: the probabilities of a chunk go to a small buffer;
//! a mask's bits above the chunk only fix the sign of the chunk's total, and a single bit
//! inside it needs the sum over the runs where that bit is set.

use crate::scalar::{Real, C};
use rayon::prelude::*;

const CHUNK_BITS: u32 = 12;

/// Σ_i |s_i|² (-1)^{popcount(i & mask)} for each mask, reading `s` once.
pub fn parity_sums<T: Real>(s: &[C<T>], masks: &[usize], par: bool) -> Vec<f64> {
    let bits = CHUNK_BITS.min(s.len().trailing_zeros());
    let len = 1usize << bits;
    let chunks = s.len() >> bits;
    let one_chunk = |mut w: Scratch<T>, k: usize| {
        let p = &mut w.p;
        p.clear();
        p.extend(s[k * len..(k + 1) * len].iter().map(|a| a.norm_sqr()));
        let total = bit_sums(p, &mut w.blocks, &mut w.sums);
        for (a, &mask) in w.acc.iter_mut().zip(masks) {
            let low = mask & (len - 1);
            let v = if low == 0 {
                total
            } else if low.is_power_of_two() {
                total - 2.0 * w.sums[low.trailing_zeros() as usize]
            } else {
                p.iter()
                    .enumerate()
                    .map(|(j, &x)| {
                        let x = x.f64();
                        if (j & low).count_ones() & 1 == 1 {
                            -x
                        } else {
                            x
                        }
                    })
                    .sum()
            };
            // the mask's bits above the chunk are the same for all of it
            let high = ((k << bits) & mask).count_ones() & 1 == 1;
            *a += if high { -v } else { v };
        }
        w
    };
    let fresh = || Scratch {
        acc: vec![0.0; masks.len()],
        p: Vec::with_capacity(len),
        blocks: Vec::with_capacity(len / 8),
        sums: Vec::with_capacity(bits as usize),
    };
    if par && chunks > 1 {
        (0..chunks)
            .into_par_iter()
            .fold(fresh, one_chunk)
            .map(|w| w.acc)
            .reduce(
                || vec![0.0; masks.len()],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            )
    } else {
        (0..chunks).fold(fresh(), one_chunk).acc
    }
}

/// One task's sums so far and buffers for a chunk.
struct Scratch<T> {
    /// a sum per mask
    acc: Vec<f64>,
    /// the chunk's probabilities
    p: Vec<T>,
    /// `bit_sums`' buffer and result
    blocks: Vec<T>,
    sums: Vec<f64>,
}

/// Σ x, and in `out` for each bit b of the index: Σ x_j over the j with bit b set (`x.len()`
/// a power of two). One pass over x, into eight lane sums (bits 0-2) and the sums of the
/// blocks of eight (the higher bits, from an eighth as many values): every ⟨Z_i⟩ inside a
/// chunk was a pass over it each.
fn bit_sums<T: Real>(x: &[T], blocks: &mut Vec<T>, out: &mut Vec<f64>) -> f64 {
    out.clear();
    let bits = x.len().trailing_zeros();
    if x.len() < 8 {
        out.extend((0..bits).map(|b| set_bit_sum(x, b)));
        return x.iter().map(|v| v.f64()).sum();
    }
    let mut lanes = [T::zero(); 8];
    blocks.clear();
    blocks.extend(x.chunks_exact(8).map(|blk| {
        lanes.iter_mut().zip(blk).for_each(|(a, v)| *a += *v);
        blk.iter().copied().sum::<T>()
    }));
    out.extend((0..3).map(|b| set_bit_sum(&lanes, b)));
    out.extend((3..bits).map(|b| set_bit_sum(blocks, b - 3)));
    lanes.iter().map(|v| v.f64()).sum()
}

/// Σ x, in eight independent partial sums (a vector loop; the order differs from a
/// sequential sum only by rounding).
fn sum<T: Real>(x: &[T]) -> f64 {
    let mut acc = [T::zero(); 8];
    let blocks = x.chunks_exact(8);
    let rest: f64 = blocks.remainder().iter().map(|v| v.f64()).sum();
    for b in blocks {
        for (a, v) in acc.iter_mut().zip(b) {
            *a += *v;
        }
    }
    acc.iter().map(|v| v.f64()).sum::<f64>() + rest
}

/// Σ x_j over the j whose bit `b` is set (`x.len()` a power of two above `b`).
fn set_bit_sum<T: Real>(x: &[T], b: u32) -> f64 {
    if x.len() < 8 {
        return (x.iter().enumerate())
            .filter(|(j, _)| j >> b & 1 == 1)
            .map(|(_, v)| v.f64())
            .sum();
    }
    if b < 3 {
        // within each block of eight: a fixed 0/1 weight per lane
        let w: [T; 8] = std::array::from_fn(|l| if l >> b & 1 == 1 { T::one() } else { T::zero() });
        let mut acc = [T::zero(); 8];
        for blk in x.chunks_exact(8) {
            for ((a, v), w) in acc.iter_mut().zip(blk).zip(&w) {
                *a += *v * *w;
            }
        }
        return acc.iter().map(|v| v.f64()).sum();
    }
    let run = 1usize << b;
    x.chunks_exact(2 * run).map(|blk| sum(&blk[run..])).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_per_amplitude_sum() {
        for n in [1u32, 3, 5, 12, 14] {
            let s: Vec<C<f64>> = (0..1usize << n)
                .map(|i| C::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
                .collect();
            let masks: Vec<usize> = [
                0usize,
                1,
                2,
                4,
                8,
                0b101,
                1 << (n - 1),
                (1 << n) - 1,
                0b11 << (n - 2),
            ]
            .into_iter()
            .chain((0..n).map(|b| 1 << b))
            .filter(|&m| m < 1 << n)
            .collect();
            for par in [false, true] {
                let got = parity_sums(&s, &masks, par);
                for (g, &mask) in got.iter().zip(&masks) {
                    let want: f64 = s
                        .iter()
                        .enumerate()
                        .map(|(i, a)| {
                            let p = a.norm_sqr();
                            if (i & mask).count_ones() % 2 == 1 {
                                -p
                            } else {
                                p
                            }
                        })
                        .sum();
                    assert!(
                        (g - want).abs() < 1e-9 * (1 << n) as f64,
                        "n {n} mask {mask:b}: {g} vs {want}"
                    );
                }
                let s32: Vec<C<f32>> = s.iter().map(|a| C::new(a.re as f32, a.im as f32)).collect();
                let got32 = parity_sums(&s32, &masks, par);
                for (a, b) in got32.iter().zip(&got) {
                    assert!((a - b).abs() < 1e-4 * (1 << n) as f64);
                }
            }
        }
    }
}
