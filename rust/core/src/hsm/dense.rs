//! Ground states of small dense Hermitian matrices without a full eigendecomposition.
//!
//! H = Q T Q^H by Householder reflections (LAPACK zhetd2's lower variant, T real
//! symmetric tridiagonal); the lowest eigenvalue of T by Sturm-sequence bisection, its
//! eigenvector by inverse iteration, ψ₀ = Q s₀. The backward solve
//! (H − E₀ + ε) χ = P⊥ r, χ ⊥ ψ₀, reuses the factorisation: O(d²) per right-hand side
//! instead of the O(d³) a full eigendecomposition costs.

use crate::cpu::multiversion;
use crate::error::Result;
use crate::scalar::C64;
use crate::value_err;
use num_traits::Zero;

/// H = Q T Q^H, Q = H_0 H_1 … H_{d-2}, H_k = I − τ_k v_k v_k^H acting on indices k+1..d.
#[derive(Clone, Debug)]
pub struct Tridiag {
    pub d: usize,
    pub diag: Vec<f64>,
    pub off: Vec<f64>,
    /// v_k (length d − 1 − k, v_k[0] = 1) packed one after another.
    v: Vec<C64>,
    tau: Vec<C64>,
}

impl Tridiag {
    /// Reduce the Hermitian row-major `a` (d×d, overwritten).
    pub fn new(a: &mut [C64], d: usize) -> Tridiag {
        tridiagonalize(a, d)
    }

    /// Offset of v_k in the packed store.
    fn v_at(&self, k: usize) -> usize {
        // Σ_{i<k} (d − 1 − i)
        k * (self.d - 1) - k * (k.saturating_sub(1)) / 2
    }

    /// s ← Q s
    pub fn apply_q(&self, s: &mut [C64]) {
        for k in (0..self.d.saturating_sub(1)).rev() {
            self.reflect(k, self.tau[k], s);
        }
    }

    /// r ← Q^H r
    pub fn apply_qh(&self, r: &mut [C64]) {
        for k in 0..self.d.saturating_sub(1) {
            self.reflect(k, self.tau[k].conj(), r);
        }
    }

    /// s[k+1..] −= t v_k (v_k^H s[k+1..])
    fn reflect(&self, k: usize, t: C64, s: &mut [C64]) {
        if t == C64::zero() {
            return;
        }
        let m = self.d - 1 - k;
        let v = &self.v[self.v_at(k)..self.v_at(k) + m];
        let tail = &mut s[k + 1..];
        let dot: C64 = v
            .iter()
            .zip(tail.iter())
            .map(|(vi, si)| vi.conj() * si)
            .sum();
        let c = t * dot;
        for (si, &vi) in tail.iter_mut().zip(v) {
            *si -= c * vi;
        }
    }
}

multiversion! {
/// LAPACK zhetd2's lower variant on a full Hermitian matrix (both triangles updated).
fn tridiagonalize(a: &mut [C64], d: usize) -> Tridiag {
    let mut diag = vec![0.0; d];
    let mut off = vec![0.0; d.saturating_sub(1)];
    let mut vs = Vec::with_capacity(d * d.saturating_sub(1) / 2);
    let mut tau = vec![C64::zero(); d.saturating_sub(1)];
    let mut w = vec![C64::zero(); d];
    for k in 0..d.saturating_sub(1) {
        diag[k] = a[k * d + k].re;
        let m = d - 1 - k;
        let start = vs.len();
        // x = A[k+1.., k]
        vs.extend((0..m).map(|i| a[(k + 1 + i) * d + k]));
        let alpha = vs[start];
        let xnorm2: f64 = vs[start + 1..].iter().map(|z| z.norm_sqr()).sum();
        if xnorm2 == 0.0 && alpha.im == 0.0 {
            // already real and reduced: H_k = I
            off[k] = alpha.re;
            vs[start] = C64::new(1.0, 0.0);
            continue;
        }
        let beta = -(alpha.norm_sqr() + xnorm2).sqrt().copysign(alpha.re);
        let t = C64::new((beta - alpha.re) / beta, -alpha.im / beta);
        let scale = (alpha - beta).inv();
        for z in &mut vs[start + 1..] {
            *z *= scale;
        }
        vs[start] = C64::new(1.0, 0.0);
        tau[k] = t;
        off[k] = beta;
        let v = &vs[start..];
        // p = τ A22 v; w = p − ½ τ (p^H v) v; A22 −= v w^H + w v^H
        let o = k + 1;
        let p = &mut w[..m];
        for (i, pi) in p.iter_mut().enumerate() {
            let row = &a[(o + i) * d + o..(o + i) * d + o + m];
            let mut acc = C64::zero();
            for (&aij, &vj) in row.iter().zip(v) {
                acc += aij * vj;
            }
            *pi = t * acc;
        }
        let phv: C64 = p.iter().zip(v).map(|(pi, vi)| pi.conj() * vi).sum();
        let c = t * phv * -0.5;
        for (pi, &vi) in p.iter_mut().zip(v) {
            *pi += c * vi;
        }
        for i in 0..m {
            let (vi, wi) = (v[i], p[i]);
            let row = &mut a[(o + i) * d + o..(o + i) * d + o + m];
            for ((aij, &vj), &wj) in row.iter_mut().zip(v).zip(p.iter()) {
                *aij -= vi * wj.conj() + wi * vj.conj();
            }
        }
    }
    if d > 0 {
        diag[d - 1] = a[d * d - 1].re;
    }
    Tridiag {
        d,
        diag,
        off,
        v: vs,
        tau,
    }
}
}

/// Number of eigenvalues of the symmetric tridiagonal (diag, off) below `sigma`.
fn sturm_count(diag: &[f64], off: &[f64], sigma: f64, pivmin: f64) -> usize {
    let mut count = 0;
    let mut q = 1.0;
    for i in 0..diag.len() {
        q = diag[i]
            - sigma
            - if i > 0 {
                off[i - 1] * off[i - 1] / q
            } else {
                0.0
            };
        if q.abs() < pivmin {
            q = -pivmin;
        }
        if q < 0.0 {
            count += 1;
        }
    }
    count
}

/// Smallest eigenvalue of the symmetric tridiagonal (diag, off), to a few ulps of ‖T‖.
pub fn lowest_eigenvalue(diag: &[f64], off: &[f64]) -> f64 {
    let n = diag.len();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut tnorm = 0.0f64;
    for i in 0..n {
        let r = if i > 0 { off[i - 1].abs() } else { 0.0 } + off.get(i).map_or(0.0, |e| e.abs());
        lo = lo.min(diag[i] - r);
        hi = hi.max(diag[i] + r);
        tnorm = tnorm.max(diag[i].abs() + r);
    }
    if n == 1 {
        return diag[0];
    }
    let pivmin = f64::MIN_POSITIVE.max(f64::EPSILON * f64::EPSILON * tnorm * tnorm);
    let tol = 2.0 * f64::EPSILON * tnorm + pivmin;
    lo -= tol;
    hi += tol;
    while hi - lo > tol {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if sturm_count(diag, off, mid, pivmin) >= 1 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    0.5 * (lo + hi)
}

/// LU with partial pivoting of a real tridiagonal matrix (LAPACK dgttrf), solving for
/// complex right-hand sides. Exactly singular pivots are nudged to `tiny` (inverse
/// iteration wants the nearly singular solve; callers with a regular matrix never hit it).
struct TriLu {
    dl: Vec<f64>,
    d: Vec<f64>,
    du: Vec<f64>,
    du2: Vec<f64>,
    swap: Vec<bool>,
}

impl TriLu {
    fn new(diag: &[f64], off: &[f64], shift: f64, tiny: f64) -> TriLu {
        let n = diag.len();
        let mut dl = off.to_vec();
        let mut d: Vec<f64> = diag.iter().map(|x| x - shift).collect();
        let mut du = off.to_vec();
        let mut du2 = vec![0.0; n.saturating_sub(2)];
        let mut swap = vec![false; n.saturating_sub(1)];
        for i in 0..n.saturating_sub(1) {
            if d[i].abs() >= dl[i].abs() {
                if d[i] == 0.0 {
                    d[i] = tiny;
                }
                let fact = dl[i] / d[i];
                dl[i] = fact;
                d[i + 1] -= fact * du[i];
            } else {
                let fact = d[i] / dl[i];
                d[i] = dl[i];
                dl[i] = fact;
                let temp = du[i];
                du[i] = d[i + 1];
                d[i + 1] = temp - fact * d[i + 1];
                if i + 2 < n {
                    du2[i] = du[i + 1];
                    du[i + 1] *= -fact;
                }
                swap[i] = true;
            }
        }
        if n > 0 && d[n - 1] == 0.0 {
            d[n - 1] = tiny;
        }
        TriLu {
            dl,
            d,
            du,
            du2,
            swap,
        }
    }

    fn solve<S>(&self, b: &mut [S])
    where
        S: Copy
            + std::ops::Sub<Output = S>
            + std::ops::Mul<f64, Output = S>
            + std::ops::Div<f64, Output = S>,
    {
        let n = self.d.len();
        for i in 0..n.saturating_sub(1) {
            if self.swap[i] {
                let temp = b[i];
                b[i] = b[i + 1];
                b[i + 1] = temp - b[i] * self.dl[i];
            } else {
                b[i + 1] = b[i + 1] - b[i] * self.dl[i];
            }
        }
        for i in (0..n).rev() {
            let mut x = b[i];
            if i + 1 < n {
                x = x - b[i + 1] * self.du[i];
            }
            if i + 2 < n {
                x = x - b[i + 2] * self.du2[i];
            }
            b[i] = x / self.d[i];
        }
    }
}

fn tnorm(diag: &[f64], off: &[f64]) -> f64 {
    let d = diag.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let e = off.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    (d + 2.0 * e).max(f64::MIN_POSITIVE)
}

/// Eigenvector of the tridiagonal for eigenvalue `lambda` by inverse iteration, on the
/// matrix scaled to unit norm (so that a zero or 1e-300-sized matrix gives a finite unit
/// vector: its nearly singular pivots stay ~ε, not denormal).
pub fn eigenvector(diag: &[f64], off: &[f64], lambda: f64) -> Vec<f64> {
    let n = diag.len();
    let norm = tnorm(diag, off);
    let diag: Vec<f64> = diag.iter().map(|x| x / norm).collect();
    let off: Vec<f64> = off.iter().map(|x| x / norm).collect();
    let lu = TriLu::new(&diag, &off, lambda / norm, f64::EPSILON);
    // a start vector with no special structure (a constant vector can be orthogonal to s₀)
    let mut s: Vec<f64> = (0..n)
        .map(|i| 1.0 + 0.5 * ((i as f64 + 1.0) * 0.618_033_988_749_895).fract())
        .collect();
    for _ in 0..3 {
        lu.solve(&mut s);
        let nrm = s.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(nrm.is_finite() && nrm > 0.0) {
            break;
        }
        s.iter_mut().for_each(|x| *x /= nrm);
    }
    s
}

/// The ground state of one Hermitian matrix and what its backward solve needs.
#[derive(Clone, Debug)]
pub struct DenseGround {
    pub e0: f64,
    pub psi: Vec<C64>,
    tri: Tridiag,
    s0: Vec<f64>,
}

impl DenseGround {
    /// Overwrites `a` (row-major d×d, Hermitian: both triangles are read).
    pub fn new(a: &mut [C64], d: usize) -> Result<DenseGround> {
        if a.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
            return value_err!("Hamiltonian has non-finite entries");
        }
        let (scale, asym) = hermiticity(a, d);
        if asym > HERMITIAN_RTOL * scale.max(f64::MIN_POSITIVE) {
            return value_err!(
                "Hamiltonian is not Hermitian: max |H - H^†| = {asym:.3e} (max |H| = {scale:.3e})"
            );
        }
        let tri = Tridiag::new(a, d);
        let e0 = lowest_eigenvalue(&tri.diag, &tri.off);
        let s0 = eigenvector(&tri.diag, &tri.off, e0);
        let mut psi: Vec<C64> = s0.iter().map(|&x| C64::new(x, 0.0)).collect();
        tri.apply_q(&mut psi);
        Ok(DenseGround { e0, psi, tri, s0 })
    }

    /// χ ⊥ ψ₀ with (H − E₀ + ε) χ = P⊥ r, P⊥ = 1 − ψ₀ψ₀^H. Needs ε > 0 unless the ground
    /// state is separated by a gap.
    pub fn solve(&self, r: &[C64], eps: f64) -> Vec<C64> {
        let mut y = r.to_vec();
        self.tri.apply_qh(&mut y);
        project_out(&mut y, &self.s0);
        let norm = tnorm(&self.tri.diag, &self.tri.off);
        let lu = TriLu::new(
            &self.tri.diag,
            &self.tri.off,
            self.e0 - eps,
            f64::EPSILON * norm,
        );
        lu.solve(&mut y);
        project_out(&mut y, &self.s0);
        self.tri.apply_q(&mut y);
        y
    }
}

/// Relative tolerance of the Hermiticity check (rounding of H built as A + A^† is ~1e-16).
const HERMITIAN_RTOL: f64 = 1e-10;

/// (max |a_ij|, max |a_ij − conj(a_ji)|) of a row-major d×d matrix.
fn hermiticity(a: &[C64], d: usize) -> (f64, f64) {
    let (mut scale, mut asym) = (0.0f64, 0.0f64);
    for i in 0..d {
        for j in 0..d {
            scale = scale.max(a[i * d + j].norm());
            if j >= i {
                asym = asym.max((a[i * d + j] - a[j * d + i].conj()).norm());
            }
        }
    }
    (scale, asym)
}

/// y −= s (sᵀ y) for a real unit vector s.
fn project_out(y: &mut [C64], s: &[f64]) {
    let c: C64 = y.iter().zip(s).map(|(yi, &si)| yi * si).sum();
    for (yi, &si) in y.iter_mut().zip(s) {
        *yi -= c * si;
    }
}
