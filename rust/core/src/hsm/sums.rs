//! Pauli sums with real coefficients over a fixed list of strings, grouped by x mask.
//!
//! For a group with x mask `x` and members c_t P_t (P_t = i^{ny_t} X^x Z^{z_t}), the group
//! acts as (Σ_t c_t P_t φ)_i = F[i ^ x] φ[i ^ x] with the diagonal table
//! F[j] = Σ_t c_t i^{ny_t} (-1)^{|j & z_t|}: one pass over the state per group. A table is
//! a Walsh–Hadamard transform of the coefficients placed at their z masks, so it costs
//! d log d per group (or d per member when the group is small). Overlaps ⟨u|P_t|v⟩ for all
//! members at once are the same transform of w[j] = conj(u[j ^ x]) v[j].

use crate::error::Result;
use crate::hsm::map_batch;
use crate::hsm::strings::{check_distinct, MAX_HSM_QUBITS};
use crate::memory::ensure_fits;
use crate::pauli::{group_by_x, PauliWord};
use crate::scalar::C64;
use crate::value_err;
use num_traits::Zero;

/// A member of an x group: its position in the string list, z mask and phase i^{ny}.
#[derive(Clone, Debug)]
struct Member {
    index: usize,
    z: usize,
    phase: C64,
}

#[derive(Clone, Debug)]
struct Group {
    x: usize,
    members: Vec<Member>,
}

/// A fixed list of distinct Pauli strings on `n_qubits`, grouped by x mask.
#[derive(Clone, Debug)]
pub struct Grouping {
    pub n_qubits: usize,
    pub words: Vec<PauliWord>,
    groups: Vec<Group>,
}

#[inline(always)]
fn parity_sign(v: usize) -> f64 {
    if v.count_ones() & 1 == 1 {
        -1.0
    } else {
        1.0
    }
}

crate::cpu::multiversion! {
/// out[i] += f[i ^ x] v[i ^ x]: one x group with its table f.
fn group_apply_acc(x: usize, f: &[C64], v: &[C64], out: &mut [C64]) {
    let d = out.len();
    if d >= 4 && x & 3 != 0 {
        // aligned quads map to aligned quads, permuted by the low bits of x
        let (hi, lo) = (x & !3, x & 3);
        for base in (0..d).step_by(4) {
            let src = base ^ hi;
            let (fs, vs) = (&f[src..src + 4], &v[src..src + 4]);
            for (l, ol) in out[base..base + 4].iter_mut().enumerate() {
                *ol += fs[l ^ lo] * vs[l ^ lo];
            }
        }
        return;
    }
    // blocks below the lowest set bit of x map to contiguous source blocks
    let blk = if x == 0 { d } else { 1 << x.trailing_zeros() };
    for base in (0..d).step_by(blk) {
        let src = base ^ x;
        let (fs, vs) = (&f[src..src + blk], &v[src..src + blk]);
        for ((oi, &fj), &vj) in out[base..base + blk].iter_mut().zip(fs).zip(vs) {
            *oi += fj * vj;
        }
    }
}
}

crate::cpu::multiversion! {
/// w[j] += conj(u[j ^ x]) v[j], in aligned blocks that XOR maps to aligned blocks.
fn xor_products_acc(x: usize, u: &[C64], v: &[C64], w: &mut [C64]) {
    let d = w.len();
    if d >= 4 && x & 3 != 0 {
        let (hi, lo) = (x & !3, x & 3);
        for base in (0..d).step_by(4) {
            let us = &u[(base ^ hi)..(base ^ hi) + 4];
            let (vs, ws) = (&v[base..base + 4], &mut w[base..base + 4]);
            for (l, wl) in ws.iter_mut().enumerate() {
                *wl += us[l ^ lo].conj() * vs[l];
            }
        }
        return;
    }
    let blk = if x == 0 { d } else { 1 << x.trailing_zeros() };
    for base in (0..d).step_by(blk) {
        let us = &u[(base ^ x)..(base ^ x) + blk];
        let (vs, ws) = (&v[base..base + blk], &mut w[base..base + blk]);
        for ((wl, ul), vl) in ws.iter_mut().zip(us).zip(vs) {
            *wl += ul.conj() * vl;
        }
    }
}
}

/// In-place Walsh–Hadamard transform: w[j] ← Σ_z (-1)^{|j & z|} w[z].
pub fn wht(w: &mut [C64]) {
    let d = w.len();
    let mut h = 1;
    while h < d {
        for base in (0..d).step_by(2 * h) {
            let (lo, hi) = w[base..base + 2 * h].split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let (s, t) = (*a + *b, *a - *b);
                *a = s;
                *b = t;
            }
        }
        h *= 2;
    }
}

impl Grouping {
    pub fn new(n_qubits: usize, words: Vec<PauliWord>) -> Result<Grouping> {
        if n_qubits == 0 || n_qubits > MAX_HSM_QUBITS {
            return value_err!("n_qubits must be in 1..={MAX_HSM_QUBITS}, got {n_qubits}");
        }
        let limit = 1usize << n_qubits;
        if let Some((i, w)) = words
            .iter()
            .enumerate()
            .find(|(_, w)| w.x >= limit || w.z >= limit)
        {
            return value_err!(
                "Pauli string {i} (x mask {:#x}, z mask {:#x}) acts outside {n_qubits} qubits",
                w.x,
                w.z
            );
        }
        check_distinct(&words)?;
        let groups = group_by_x(words.iter().copied())
            .into_iter()
            .map(|(x, members)| Group {
                x,
                members: (members.into_iter())
                    .map(|(index, w)| Member {
                        index,
                        z: w.z,
                        phase: w.phase(),
                    })
                    .collect(),
            })
            .collect();
        Ok(Grouping {
            n_qubits,
            words,
            groups,
        })
    }

    pub fn dim(&self) -> usize {
        1 << self.n_qubits
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// A group is transformed member by member when that is cheaper than a full WHT.
    fn direct(&self, g: &Group) -> bool {
        g.members.len() <= self.n_qubits
    }

    /// Tables F_g for coefficients `c` (one per string): `out` is [n_groups, d].
    pub fn tables_into(&self, c: &[f64], out: &mut [C64]) {
        let d = self.dim();
        debug_assert_eq!(c.len(), self.len());
        debug_assert_eq!(out.len(), self.n_groups() * d);
        for (g, f) in self.groups.iter().zip(out.chunks_exact_mut(d)) {
            if self.direct(g) {
                f.fill(C64::zero());
                for m in &g.members {
                    let a = m.phase * c[m.index];
                    for (j, fj) in f.iter_mut().enumerate() {
                        *fj += a * parity_sign(j & m.z);
                    }
                }
            } else {
                f.fill(C64::zero());
                for m in &g.members {
                    f[m.z] += m.phase * c[m.index];
                }
                wht(f);
            }
        }
    }

    pub fn tables(&self, c: &[f64]) -> Vec<C64> {
        let mut out = vec![C64::zero(); self.n_groups() * self.dim()];
        self.tables_into(c, &mut out);
        out
    }

    /// out += Σ_t c_t P_t v, with `tables` from [`Grouping::tables`].
    pub fn apply_acc(&self, tables: &[C64], v: &[C64], out: &mut [C64]) {
        let d = self.dim();
        for (g, f) in self.groups.iter().zip(tables.chunks_exact(d)) {
            group_apply_acc(g.x, f, v, out);
        }
    }

    /// Given w[j] for group `g`, write i^{ny_t} Σ_j w[j] (-1)^{|j & z_t|} for each member t
    /// into `out[t]` (w is used as scratch).
    fn transform(&self, g: &Group, w: &mut [C64], mut put: impl FnMut(usize, C64)) {
        if self.direct(g) {
            for m in &g.members {
                let mut acc = C64::zero();
                for (j, &wj) in w.iter().enumerate() {
                    acc += wj * parity_sign(j & m.z);
                }
                put(m.index, m.phase * acc);
            }
        } else {
            wht(w);
            for m in &g.members {
                put(m.index, m.phase * w[m.z]);
            }
        }
    }

    /// ⟨u|P_t|v⟩ for every string t of one sample: `out` has one entry per string.
    pub fn overlaps_into(&self, u: &[C64], v: &[C64], scratch: &mut Vec<C64>, out: &mut [C64]) {
        let d = self.dim();
        scratch.resize(d, C64::zero());
        for g in &self.groups {
            scratch.fill(C64::zero());
            xor_products_acc(g.x, u, v, scratch);
            self.transform(g, scratch, |t, val| out[t] = val);
        }
    }

    /// Σ_b ⟨u_b|P_t|v_b⟩ for every string t; u, v are [batch, d]. Parallel over x groups.
    pub fn overlaps_summed(&self, u: &[C64], v: &[C64]) -> Vec<C64> {
        let d = self.dim();
        let per_group = map_batch(self.n_groups(), u.len() * self.n_groups(), |i| {
            let g = &self.groups[i];
            let mut w = vec![C64::zero(); d];
            for (ub, vb) in u.chunks_exact(d).zip(v.chunks_exact(d)) {
                xor_products_acc(g.x, ub, vb, &mut w);
            }
            let mut vals = Vec::with_capacity(g.members.len());
            self.transform(g, &mut w, |t, val| vals.push((t, val)));
            vals
        });
        let mut out = vec![C64::zero(); self.len()];
        for (t, val) in per_group.into_iter().flatten() {
            out[t] = val;
        }
        out
    }

    /// The dense matrix Σ_t c_t P_t (row-major d×d) into `out`.
    pub fn dense_into(&self, c: &[f64], out: &mut [C64]) {
        let d = self.dim();
        out.fill(C64::zero());
        let tables = self.tables(c);
        for (g, f) in self.groups.iter().zip(tables.chunks_exact(d)) {
            for i in 0..d {
                let j = i ^ g.x;
                out[i * d + j] = f[j];
            }
        }
    }

    /// The adjoint of [`Grouping::dense_into`] for real coefficients: for a gradient G of
    /// the dense matrix (torch's convention, ∂L/∂Re + i ∂L/∂Im), ∂L/∂c_t = Re Σ_ij
    /// conj(G_ij) (P_t)_ij.
    pub fn project_into(&self, m: &[C64], scratch: &mut Vec<C64>, out: &mut [f64]) {
        let d = self.dim();
        scratch.resize(d, C64::zero());
        for g in &self.groups {
            // (P_t)_{i, i^x} with j = i ^ x: i^{ny} (-1)^{|j & z|}
            for (j, wj) in scratch.iter_mut().enumerate() {
                *wj = m[(j ^ g.x) * d + j].conj();
            }
            self.transform(g, scratch, |t, val| out[t] = val.re);
        }
    }
}

/// Batched entry points (over the pool when the batch is large enough).
impl Grouping {
    /// Dense matrices for coefficient rows `c` [M, N]: [M, d, d].
    pub fn dense_batch(&self, c: &[f64]) -> Result<Vec<C64>> {
        let (n, d) = (self.len().max(1), self.dim());
        let m = c.len() / n;
        ensure_fits((m * d * d * 16) as u128, "dense Pauli sums")?;
        Ok(map_batch(m, m * d * d, |i| {
            let mut o = vec![C64::zero(); d * d];
            self.dense_into(&c[i * n..(i + 1) * n], &mut o);
            o
        })
        .concat())
    }

    /// [`Grouping::project_into`] for matrices [M, d, d]: [M, N].
    pub fn project_batch(&self, mats: &[C64]) -> Vec<f64> {
        let (n, d) = (self.len().max(1), self.dim());
        let m = mats.len() / (d * d);
        map_batch(m, m * d * d, |i| {
            let mut o = vec![0.0; n];
            self.project_into(&mats[i * d * d..(i + 1) * d * d], &mut Vec::new(), &mut o);
            o
        })
        .concat()
    }

    /// Σ_t c[b, t] P_t |states[b]⟩ for coefficient rows c [B, N] and states [B, d].
    pub fn apply_batch(&self, c: &[f64], states: &[C64]) -> Vec<C64> {
        let (n, d) = (self.len().max(1), self.dim());
        let batch = states.len() / d;
        map_batch(batch, batch * self.n_groups() * d, |b| {
            let mut o = vec![C64::zero(); d];
            let tables = self.tables(&c[b * n..(b + 1) * n]);
            self.apply_acc(&tables, &states[b * d..(b + 1) * d], &mut o);
            o
        })
        .concat()
    }

    /// ⟨u_b|P_t|v_b⟩ for u, v [B, d]: [B, N].
    pub fn overlaps_batch(&self, u: &[C64], v: &[C64]) -> Vec<C64> {
        let (n, d) = (self.len().max(1), self.dim());
        let batch = u.len() / d;
        map_batch(batch, batch * self.n_groups() * d, |b| {
            let mut o = vec![C64::zero(); n];
            let (ub, vb) = (&u[b * d..(b + 1) * d], &v[b * d..(b + 1) * d]);
            self.overlaps_into(ub, vb, &mut Vec::new(), &mut o);
            o
        })
        .concat()
    }
}
