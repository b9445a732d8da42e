//! Pauli words and sums as bit masks, applied matrix-free.
//!
//! A word P = i^{ny} X^x Z^z (Z applied first, ny = number of Y factors) acts as
//! P|j> = i^{ny} (-1)^{popcount(j & z)} |j ^ x>, so (P φ)_i = i^{ny} (-1)^{popcount((i^x) & z)} φ_{i^x}.
//! Terms sharing an x mask are applied in one pass over the state.

use crate::scalar::{cast, Real, C, C64};
use crate::state::parity::parity_sums;
use crate::state::reduce::{for_ranges, sum_ranges, SharedMut};
use crate::state::CHUNK_AMPS;
use num_traits::Zero;

/// One Pauli word on index bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PauliWord {
    pub x: usize,
    pub z: usize,
}

impl PauliWord {
    /// Build from (bit position, 'I'|'X'|'Y'|'Z') factors.
    pub fn from_factors(factors: impl IntoIterator<Item = (u32, char)>) -> Option<PauliWord> {
        let (mut x, mut z) = (0usize, 0usize);
        for (b, p) in factors {
            match p {
                'I' => {}
                'X' => x |= 1 << b,
                'Z' => z |= 1 << b,
                'Y' => {
                    x |= 1 << b;
                    z |= 1 << b
                }
                _ => return None,
            }
        }
        Some(PauliWord { x, z })
    }

    /// i^{number of Y factors}
    pub fn phase(&self) -> C64 {
        match (self.x & self.z).count_ones() % 4 {
            0 => C64::new(1.0, 0.0),
            1 => C64::new(0.0, 1.0),
            2 => C64::new(-1.0, 0.0),
            _ => C64::new(0.0, -1.0),
        }
    }
}

/// Words grouped by x mask, groups in order of first appearance: for each group its x mask
/// and the (position in `words`, word) of its members, in order. Terms that share an x
/// mask act in one pass over a state; observables (`PauliSum`) and the HSM string lists
/// (`hsm::Grouping`) both group this way.
pub fn group_by_x(
    words: impl IntoIterator<Item = PauliWord>,
) -> Vec<(usize, Vec<(usize, PauliWord)>)> {
    let mut at: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut groups: Vec<(usize, Vec<(usize, PauliWord)>)> = Vec::new();
    for (index, w) in words.into_iter().enumerate() {
        let g = *at.entry(w.x).or_insert_with(|| {
            groups.push((w.x, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push((index, w));
    }
    groups
}

/// Terms c_t P_t that share one x mask: (z mask, c_t · i^{ny_t}).
#[derive(Clone, Debug, PartialEq)]
pub struct XGroup {
    pub x: usize,
    pub terms: Vec<(usize, C64)>,
}

/// A weighted sum of Pauli words, grouped by x mask.
#[derive(Clone, Debug, PartialEq)]
pub struct PauliSum {
    pub groups: Vec<XGroup>,
}

impl PauliSum {
    pub fn new(terms: &[(f64, PauliWord)]) -> PauliSum {
        let groups = group_by_x(terms.iter().map(|&(_, w)| w))
            .into_iter()
            .map(|(x, members)| {
                let mut zs: Vec<(usize, C64)> = Vec::with_capacity(members.len());
                for (index, w) in members {
                    let coeff = w.phase() * terms[index].0;
                    // a repeated word adds up
                    match zs.iter_mut().find(|(z, _)| *z == w.z) {
                        Some(t) => t.1 += coeff,
                        None => zs.push((w.z, coeff)),
                    }
                }
                XGroup { x, terms: zs }
            })
            .collect();
        PauliSum { groups }
    }

    /// ⟨φ|H|φ⟩ (real part; H is Hermitian by construction with real coefficients).
    pub fn expval<T: Real>(&self, s: &[C<T>], par: bool) -> f64 {
        self.groups.iter().map(|g| group_expval(g, s, par)).sum()
    }

    /// out += scale · H φ
    pub fn apply_acc<T: Real>(&self, s: &[C<T>], out: &mut [C<T>], scale: f64, par: bool) {
        for g in &self.groups {
            let terms: Vec<(usize, C<T>)> = g
                .terms
                .iter()
                .map(|&(z, c)| (z, cast::<T>(c * scale)))
                .collect();
            let x = g.x;
            let p = SharedMut(out.as_mut_ptr());
            for_ranges(s.len(), CHUNK_AMPS, par, |r| {
                for i in r {
                    let j = i ^ x;
                    let f = factor(&terms, j);
                    unsafe { p.set(i, p.get(i) + f * s[j]) };
                }
            });
        }
    }
}

/// Σ_t c_t (-1)^{popcount(j & z_t)}
#[inline(always)]
fn factor<T: Real>(terms: &[(usize, C<T>)], j: usize) -> C<T> {
    let mut f = C::<T>::zero();
    for &(z, c) in terms {
        if (j & z).count_ones() & 1 == 1 {
            f -= c
        } else {
            f += c
        }
    }
    f
}

fn group_expval<T: Real>(g: &XGroup, s: &[C<T>], par: bool) -> f64 {
    let x = g.x;
    if x == 0 {
        // diagonal: Σ_t c_t Σ_i |φ_i|² (-1)^{popcount(i & z_t)}, real coefficients
        let masks: Vec<usize> = g.terms.iter().map(|&(z, _)| z).collect();
        let sums = parity_sums(s, &masks, par);
        return g.terms.iter().zip(&sums).map(|(&(_, c), v)| c.re * v).sum();
    }
    let terms: Vec<(usize, C<T>)> = g.terms.iter().map(|&(z, c)| (z, cast::<T>(c))).collect();
    sum_ranges::<T>(s.len(), par, |r| {
        let mut acc = C::<T>::zero();
        for i in r {
            let j = i ^ x;
            acc += s[i].conj() * factor(&terms, j) * s[j];
        }
        acc
    })
    .re
}
