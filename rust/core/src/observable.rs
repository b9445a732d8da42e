//! Observables: Pauli sums (bit masks), Hermitian matrices on any wires, basis-state
//! projectors, and weighted sums of these. Each can give ⟨O⟩ and accumulate O|φ⟩
//! (the adjoint method starts its backward sweep from Σ_m g_m O_m |φ⟩).

use crate::error::Result;
use crate::gates::{self, Form, Gate};
use crate::memory::MAX_MATRIX_WIRES;
use crate::pauli::{PauliSum, PauliWord};
use crate::scalar::{Real, C, C64};
use crate::state::reduce::{for_ranges, sum_ranges_real, SharedMut};
use crate::state::{alloc, Kernel, CHUNK_AMPS};
use crate::tape::nan_max;
use crate::value_err;
use std::sync::Arc;

/// Tolerance of the Hermiticity check (max |M - M†|), as PennyLane's.
pub const HERMITIAN_ATOL: f64 = 1e-6;

#[derive(Clone, Debug)]
pub enum Observable {
    Pauli(PauliSum),
    /// A Hermitian matrix on `wires` (row-major, wires[0] the high local bit).
    Dense {
        wires: Vec<usize>,
        m: Arc<[C64]>,
    },
    /// |b><b| on `wires`: index bits under `mask` equal `value`.
    Projector {
        mask: usize,
        value: usize,
    },
    /// Σ c_k O_k.
    Sum(Vec<(f64, Observable)>),
}

/// An observable tied to a register size (its bit masks depend on it).
#[derive(Clone, Debug)]
pub struct Obs {
    pub n_qubits: usize,
    pub op: Observable,
}

fn check_wires(n: usize, wires: &[usize], what: &str) -> Result<()> {
    for (j, &w) in wires.iter().enumerate() {
        if w >= n {
            return value_err!("{what}: wire {w} is out of range for a {n}-qubit circuit");
        }
        if wires[..j].contains(&w) {
            return value_err!("{what}: wire {w} is repeated in {wires:?}");
        }
    }
    Ok(())
}

impl Obs {
    /// The real diagonals of `obs`, `[M, dim]` row after row, if every one is diagonal
    /// (`Observable::diagonal`).
    pub(crate) fn diagonals(obs: &[Obs], dim: usize) -> Option<Vec<f64>> {
        let diag: Option<Vec<Vec<f64>>> = obs.iter().map(|o| o.op.diagonal(dim)).collect();
        diag.map(|d| d.concat())
    }

    /// Σ_t c_t P_t; each word is a list of (wire, 'I'|'X'|'Y'|'Z').
    pub fn pauli(n: usize, terms: &[(f64, Vec<(usize, char)>)]) -> Result<Obs> {
        let mut words = Vec::with_capacity(terms.len());
        for (c, factors) in terms {
            let wires: Vec<usize> = factors.iter().map(|f| f.0).collect();
            check_wires(n, &wires, "Pauli observable")?;
            let w = PauliWord::from_factors(factors.iter().map(|&(w, p)| ((n - 1 - w) as u32, p)));
            match w {
                Some(w) => words.push((*c, w)),
                None => {
                    return value_err!(
                        "Pauli observable: factors must be I, X, Y or Z, got {factors:?}"
                    )
                }
            }
        }
        Ok(Obs {
            n_qubits: n,
            op: Observable::Pauli(PauliSum::new(&words)),
        })
    }

    pub fn hermitian(n: usize, wires: Vec<usize>, m: Vec<C64>) -> Result<Obs> {
        check_wires(n, &wires, "Hermitian")?;
        if wires.len() > MAX_MATRIX_WIRES {
            return value_err!(
                "Hermitian acts on at most {MAX_MATRIX_WIRES} wires, got {}",
                wires.len()
            );
        }
        let dim = 1usize << wires.len();
        if wires.is_empty() || m.len() != dim * dim {
            return value_err!(
                "Hermitian on {} wire(s) needs a {dim}x{dim} matrix, got {} entries",
                wires.len(),
                m.len()
            );
        }
        let mut worst = 0.0f64;
        for r in 0..dim {
            for c in 0..dim {
                worst = nan_max(worst, (m[r * dim + c] - m[c * dim + r].conj()).norm());
            }
        }
        if worst.is_nan() || worst > HERMITIAN_ATOL {
            return value_err!("Hermitian matrix is not Hermitian: max |M - M†| = {worst:.3e}");
        }
        Ok(Obs {
            n_qubits: n,
            op: Observable::Dense { wires, m: m.into() },
        })
    }

    /// Projector onto the basis state `bits` of `wires`.
    pub fn projector(n: usize, wires: &[usize], bits: &[u8]) -> Result<Obs> {
        check_wires(n, wires, "Projector")?;
        if bits.len() != wires.len() || bits.iter().any(|&b| b > 1) {
            return value_err!(
                "Projector: basis state must be {} bits (0/1) for wires {wires:?}, got {bits:?}",
                wires.len()
            );
        }
        let (mut mask, mut value) = (0, 0);
        for (&w, &b) in wires.iter().zip(bits) {
            mask |= 1usize << (n - 1 - w);
            value |= (b as usize) << (n - 1 - w);
        }
        Ok(Obs {
            n_qubits: n,
            op: Observable::Projector { mask, value },
        })
    }

    pub fn sum(terms: Vec<(f64, Obs)>) -> Result<Obs> {
        let Some(n) = terms.first().map(|t| t.1.n_qubits) else {
            return value_err!("a sum of observables needs at least one term");
        };
        if terms.iter().any(|t| t.1.n_qubits != n) {
            return value_err!("all terms of a sum must be built for the same number of qubits");
        }
        Ok(Obs {
            n_qubits: n,
            op: Observable::Sum(terms.into_iter().map(|(c, o)| (c, o.op)).collect()),
        })
    }
}

fn dense_kernel<T: Real>(wires: &[usize], m: &Arc<[C64]>, n: usize) -> Kernel<T> {
    gates::place(&Form::MK(m.clone()), Gate::QubitUnitary, wires, &[], n)
}

impl Observable {
    /// The real diagonal over `dim` basis states if the observable is diagonal: Z words
    /// (the identity among them), projectors and real sums of these.
    pub(crate) fn diagonal(&self, dim: usize) -> Option<Vec<f64>> {
        match self {
            Observable::Pauli(_) => {
                let terms = self.z_terms()?;
                let sign = |x: usize, z: usize| 1.0 - 2.0 * ((x & z).count_ones() & 1) as f64;
                Some(
                    (0..dim)
                        .map(|x| terms.iter().map(|&(z, c)| c * sign(x, z)).sum())
                        .collect(),
                )
            }
            Observable::Projector { mask, value } => {
                Some((0..dim).map(|x| f64::from(x & mask == *value)).collect())
            }
            Observable::Sum(terms) => {
                let mut d = vec![0.0; dim];
                for (c, t) in terms {
                    d.iter_mut()
                        .zip(t.diagonal(dim)?)
                        .for_each(|(x, y)| *x += c * y);
                }
                Some(d)
            }
            Observable::Dense { .. } => None,
        }
    }

    /// `Σ c_t Z-word(mask_t)` as (mask, c) terms if the observable is a real combination
    /// of Z strings (diagonal Pauli words), else None.
    pub fn z_terms(&self) -> Option<Vec<(usize, f64)>> {
        match self {
            Observable::Pauli(p) if p.groups.iter().all(|g| g.x == 0) => Some(
                (p.groups.iter())
                    .flat_map(|g| g.terms.iter().map(|&(z, c)| (z, c.re)))
                    .collect(),
            ),
            Observable::Sum(terms) => {
                let mut out = Vec::new();
                for (c, o) in terms {
                    out.extend(o.z_terms()?.into_iter().map(|(z, v)| (z, c * v)));
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// ⟨φ|O|φ⟩
    pub fn expval<T: Real>(&self, s: &[C<T>], par: bool) -> f64 {
        let n = s.len().trailing_zeros() as usize;
        match self {
            Observable::Pauli(p) => p.expval(s, par),
            Observable::Dense { wires, m } => dense_kernel::<T>(wires, m, n).inner(s, s, par).re,
            Observable::Projector { mask, value } => {
                let (mask, value) = (*mask, *value);
                sum_ranges_real::<T>(s.len(), par, |r| {
                    r.filter(|i| i & mask == value)
                        .map(|i| s[i].norm_sqr())
                        .sum()
                })
            }
            Observable::Sum(terms) => terms.iter().map(|(c, o)| c * o.expval(s, par)).sum(),
        }
    }

    /// out += scale · O φ. `scratch` is reused for dense terms.
    pub fn apply_acc<T: Real>(
        &self,
        s: &[C<T>],
        out: &mut [C<T>],
        scale: f64,
        scratch: &mut Vec<C<T>>,
        par: bool,
    ) {
        let n = s.len().trailing_zeros() as usize;
        match self {
            Observable::Pauli(p) => p.apply_acc(s, out, scale, par),
            Observable::Dense { wires, m } => {
                scratch.clear();
                scratch.extend_from_slice(s);
                dense_kernel::<T>(wires, m, n).apply(scratch, par);
                let sc = T::of(scale);
                axpy(out, scratch, sc, par);
            }
            Observable::Projector { mask, value } => {
                let (mask, value, sc) = (*mask, *value, T::of(scale));
                let p = SharedMut(out.as_mut_ptr());
                for_ranges(s.len(), CHUNK_AMPS, par, |r| {
                    for i in r.filter(|i| i & mask == value) {
                        unsafe { p.set(i, p.get(i) + s[i] * sc) }
                    }
                });
            }
            Observable::Sum(terms) => {
                for (c, o) in terms {
                    o.apply_acc(s, out, scale * c, scratch, par)
                }
            }
        }
    }

    /// Var = ‖O φ‖² − ⟨φ|O|φ⟩² (O Hermitian).
    pub fn var<T: Real>(&self, s: &[C<T>], scratch: &mut Vec<C<T>>, par: bool) -> f64 {
        let mut os = alloc::zeroed::<T>(s.len());
        self.apply_acc(s, &mut os, 1.0, scratch, par);
        let sq = sum_ranges_real::<T>(s.len(), par, |r| r.map(|i| os[i].norm_sqr()).sum());
        let e = self.expval(s, par);
        sq - e * e
    }
}

/// y += a·x
fn axpy<T: Real>(y: &mut [C<T>], x: &[C<T>], a: T, par: bool) {
    let p = SharedMut(y.as_mut_ptr());
    for_ranges(y.len(), CHUNK_AMPS, par, |r| {
        for i in r {
            unsafe { p.set(i, p.get(i) + x[i] * a) }
        }
    });
}
