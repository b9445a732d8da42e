//! Expectation values of diagonal Pauli words (Z strings) in one pass over the state.
//!
//! ⟨Z_S⟩ = Σ_i |φ_i|² (-1)^{popcount(i & mask_S)}. Done per word, that is a pass over the
//! state with a popcount per amplitude; QML layers measure ⟨Z_i⟩ on every wire, so at 22
//! qubits the measurement alone was 22 such passes. Here the state is read once, in
//! chunks of 2^CHUNK_BITS amplitudes: the probabilities of a chunk go to a small buffer;
//! a mask's bits above the chunk only fix the sign of the chunk's total, and a single bit
//! inside it needs the sum over the runs where that bit is set. Masks with several bits
//! inside the chunk (Z strings pulled back through a CNOT ring, `frame`) take a
//! Walsh-Hadamard transform of the chunk when there are several of them: it gives the
//! signed sum for every low mask at once, in log2(chunk) vector passes over it.

use crate::scalar::{Real, C};
use rayon::prelude::*;

const CHUNK_BITS: u32 = 12;

/// From this many masks with several bits inside a chunk, one Walsh-Hadamard transform of
/// the chunk (12 add/subtract passes over 4096 values) replaces a signed sum per mask.
const WALSH_MIN_MASKS: usize = 2;

/// Σ_i |s_i|² (-1)^{popcount(i & mask)} for each mask, reading `s` once.
pub fn parity_sums<T: Real>(s: &[C<T>], masks: &[usize], par: bool) -> Vec<f64> {
    let bits = CHUNK_BITS.min(s.len().trailing_zeros());
    let len = 1usize << bits;
    let chunks = s.len() >> bits;
    let multi = |m: usize| (m & (len - 1)).count_ones() > 1;
    let walsh = len >= 8 && masks.iter().filter(|&&m| multi(m)).count() >= WALSH_MIN_MASKS;
    let one_chunk = |mut w: Scratch<T>, k: usize| {
        let p = &mut w.p;
        p.clear();
        p.extend(s[k * len..(k + 1) * len].iter().map(|a| a.norm_sqr()));
        let total = bit_sums(p, &mut w.blocks, &mut w.sums);
        if walsh {
            w.walsh.clear();
            w.walsh.extend(p.iter().map(|x| x.f64()));
            walsh_high(&mut w.walsh);
        }
        for (a, &mask) in w.acc.iter_mut().zip(masks) {
            let low = mask & (len - 1);
            let v = if low == 0 {
                total
            } else if low.is_power_of_two() {
                total - 2.0 * w.sums[low.trailing_zeros() as usize]
            } else if walsh {
                walsh_value(&w.walsh, low)
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
        walsh: Vec::with_capacity(if walsh { len } else { 0 }),
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
    /// the chunk's probabilities transformed by `walsh_high`
    walsh: Vec<f64>,
}

/// `x` <- its Walsh-Hadamard transform over the index bits from 3 up (`x.len()` a power
/// of two, at least 8): entry `8M + l` is Σ_j x_{8j + l} (-1)^{popcount(j & M)}. The
/// signed sum for a mask L is then eight products (`walsh_value`); the stages on bits
/// 0-2, which do not vectorise, are never run. Three stages per pass over `x`.
fn walsh_high(x: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above)
        return unsafe { walsh_high_avx2(x) };
    }
    walsh_high_body(x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn walsh_high_avx2(x: &mut [f64]) {
    walsh_high_body(x)
}

#[inline(always)]
fn walsh_high_body(x: &mut [f64]) {
    let bits = x.len().trailing_zeros();
    let mut b = 3;
    while b < bits {
        let k = (bits - b).min(3);
        let h = 1usize << b;
        for blk in x.chunks_exact_mut(h << k) {
            if k == 3 {
                radix8(blk, h);
                continue;
            }
            for j in 0..k {
                let step = h << j;
                for pair in blk.chunks_exact_mut(2 * step) {
                    let (u, v) = pair.split_at_mut(step);
                    for (u, v) in u.iter_mut().zip(v.iter_mut()) {
                        (*u, *v) = (*u + *v, *u - *v);
                    }
                }
            }
        }
        b += k;
    }
}

/// Σ_j x_j (-1)^{popcount(j & mask)} from `walsh_high`'s output.
fn walsh_value(w: &[f64], mask: usize) -> f64 {
    let base = mask & !7;
    (0..8)
        .map(|l| match (l & mask).count_ones() & 1 {
            0 => w[base + l],
            _ => -w[base + l],
        })
        .sum()
}

/// Three stages on `blk` (8h values): the 8-point transform of the values h apart at each
/// offset below h, over eight contiguous runs (a vector loop).
#[inline(always)]
fn radix8(blk: &mut [f64], h: usize) {
    let (r0, rest) = blk.split_at_mut(h);
    let (r1, rest) = rest.split_at_mut(h);
    let (r2, rest) = rest.split_at_mut(h);
    let (r3, rest) = rest.split_at_mut(h);
    let (r4, rest) = rest.split_at_mut(h);
    let (r5, rest) = rest.split_at_mut(h);
    let (r6, r7) = rest.split_at_mut(h);
    let r7 = &mut r7[..h];
    let bf = |a: f64, b: f64| (a + b, a - b);
    for o in 0..h {
        let (a0, a1) = bf(r0[o], r1[o]);
        let (a2, a3) = bf(r2[o], r3[o]);
        let (a4, a5) = bf(r4[o], r5[o]);
        let (a6, a7) = bf(r6[o], r7[o]);
        let (b0, b2) = bf(a0, a2);
        let (b1, b3) = bf(a1, a3);
        let (b4, b6) = bf(a4, a6);
        let (b5, b7) = bf(a5, a7);
        (r0[o], r4[o]) = bf(b0, b4);
        (r1[o], r5[o]) = bf(b1, b5);
        (r2[o], r6[o]) = bf(b2, b6);
        (r3[o], r7[o]) = bf(b3, b7);
    }
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
                0b110,
                0b1011,
                (1 << n) - 2,
            ]
            .into_iter()
            .chain((0..n).map(|b| 1 << b))
            .filter(|&m| m < 1 << n)
            .collect();
            for par in [false, true] {
                // all masks together (a Walsh-Hadamard transform for the multi-bit ones),
                // and each alone (a signed sum)
                let got = parity_sums(&s, &masks, par);
                let alone: Vec<f64> = (masks.iter())
                    .map(|&m| parity_sums(&s, &[m], par)[0])
                    .collect();
                for ((g, &mask), one) in got.iter().zip(&masks).zip(&alone) {
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
                    for g in [g, one] {
                        assert!(
                            (g - want).abs() < 1e-9 * (1 << n) as f64,
                            "n {n} mask {mask:b}: {g} vs {want}"
                        );
                    }
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
