//! Matrix-free ground states and the deflated linear solve of the HSM backward.
//!
//! Lanczos with full reorthogonalisation (classical Gram–Schmidt, repeated when it cancels
//! much of the new vector) finds the lowest eigenpair; the Krylov space restarts from the
//! current Ritz vector when it reaches `max_krylov` vectors. Convergence is the Ritz residual
//! ‖Hψ − θψ‖ = β_k |s_k| against `tol · ‖T‖`, tested at every step (bisection on the small
//! tridiagonal costs little next to a matrix-vector product). The backward system
//! (H − E₀ + ε)χ = P⊥ r is solved by conjugate gradients on ψ₀⊥, where the operator is
//! positive definite (smallest eigenvalue gap + ε).
//!
//! Both solvers are state machines that ask for one product H·v at a time ([`Run`]), so a
//! batch of samples can advance in lockstep: [`drive`] multiplies the pending vectors of all
//! unfinished samples in one block product (which reads shared operator data once for the
//! whole block) and finished samples leave the block.

use crate::cpu::multiversion;
use crate::hsm::dense::{eigenvector, lowest_eigenvalue};
use crate::scalar::C64;
use num_traits::Zero;

/// A Hermitian operator on C^d applied matrix-free.
pub trait LinOp {
    fn dim(&self) -> usize;
    /// out = H v (out is overwritten).
    fn apply(&self, v: &[C64], out: &mut [C64]);
}

#[derive(Clone, Copy, Debug)]
pub struct KrylovOpts {
    /// Relative residual at which an eigenpair (or a linear solve) counts as converged.
    pub tol: f64,
    /// Krylov vectors kept before a restart.
    pub max_krylov: usize,
    /// Cap on matrix-vector products per sample (eigen solve or linear solve).
    pub max_matvecs: usize,
}

impl Default for KrylovOpts {
    fn default() -> Self {
        KrylovOpts {
            tol: 1e-10,
            max_krylov: 120,
            max_matvecs: 5000,
        }
    }
}

multiversion! {
/// ⟨a|b⟩
pub(crate) fn dot(a: &[C64], b: &[C64]) -> C64 {
    let mut acc = C64::zero();
    for (x, y) in a.iter().zip(b) {
        acc += x.conj() * y;
    }
    acc
}
}

multiversion! {
pub(crate) fn norm(a: &[C64]) -> f64 {
    a.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt()
}
}

multiversion! {
/// y += a x
fn axpy(y: &mut [C64], a: C64, x: &[C64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}
}

/// A reproducible pseudo-random start vector (splitmix64), different per `seed`.
pub fn random_vector(d: usize, seed: u64) -> Vec<C64> {
    let mut state = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    (0..d).map(|_| C64::new(next(), next())).collect()
}

/// An iterative solver that needs one product H·v per step.
pub trait Run {
    /// The vector to multiply next (None once finished).
    fn pending(&self) -> Option<&[C64]>;
    /// Continue with hv = H · pending().
    fn feed(&mut self, hv: &[C64]);
}

/// Run a solver to the end with `op`.
fn drive(run: &mut impl Run, op: &impl LinOp) {
    let mut hv = vec![C64::zero(); op.dim()];
    while let Some(v) = run.pending() {
        op.apply(v, &mut hv);
        run.feed(&hv);
    }
}

#[derive(Clone, Debug)]
pub struct Eigenpair {
    pub value: f64,
    pub vector: Vec<C64>,
    /// Matrix-vector products used.
    pub matvecs: usize,
    /// ‖Hψ − Eψ‖ of the returned pair, recomputed explicitly.
    pub residual: f64,
}

enum Phase {
    /// Building the Krylov space: the pending vector is basis vector `k`.
    Krylov,
    /// Pending ψ for its Rayleigh quotient and explicit residual.
    Check,
    Done,
}

/// Restarted Lanczos for the lowest eigenpair, one product at a time.
pub struct Lanczos {
    d: usize,
    m: usize,
    opts: KrylovOpts,
    basis: Vec<C64>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    coeffs: Vec<C64>,
    w: Vec<C64>,
    psi: Vec<C64>,
    phase: Phase,
    pub result: Option<Eigenpair>,
    matvecs: usize,
}

impl Lanczos {
    /// Start from `start` (need not be normalised; a zero vector starts at random).
    pub fn new(start: Vec<C64>, opts: &KrylovOpts) -> Lanczos {
        let d = start.len();
        let m = opts.max_krylov.clamp(2, d.max(2));
        let mut run = Lanczos {
            d,
            m,
            opts: *opts,
            basis: Vec::with_capacity(m * d),
            alpha: Vec::with_capacity(m),
            beta: Vec::with_capacity(m),
            coeffs: vec![C64::zero(); m],
            w: vec![C64::zero(); d],
            psi: Vec::new(),
            phase: Phase::Krylov,
            result: None,
            matvecs: 0,
        };
        let n0 = norm(&start);
        let start = if n0.is_finite() && n0 > 0.0 {
            start
        } else {
            random_vector(d, 0)
        };
        run.restart(start);
        run
    }

    fn restart(&mut self, v0: Vec<C64>) {
        let n0 = norm(&v0);
        self.basis.clear();
        self.basis.extend(v0.iter().map(|x| x / n0));
        self.alpha.clear();
        self.beta.clear();
        self.phase = Phase::Krylov;
    }

    /// One Lanczos step with w = H v_k; returns true when the Ritz pair should be formed.
    fn step(&mut self, hv: &[C64]) -> (bool, bool) {
        let (d, k) = (self.d, self.alpha.len());
        self.w.copy_from_slice(hv);
        let w = &mut self.w;
        let basis = &self.basis;
        // three-term recurrence, then full reorthogonalisation (classical Gram–Schmidt),
        // repeated once when it removed a large part of w ("twice is enough", DGKS)
        let mut a = dot(&basis[k * d..(k + 1) * d], w).re;
        axpy(w, C64::new(-a, 0.0), &basis[k * d..(k + 1) * d]);
        if k > 0 {
            axpy(
                w,
                C64::new(-self.beta[k - 1], 0.0),
                &basis[(k - 1) * d..k * d],
            );
        }
        let mut before = norm(w);
        let mut passes = 0;
        let b = loop {
            for j in 0..=k {
                self.coeffs[j] = dot(&basis[j * d..(j + 1) * d], w);
            }
            for j in 0..=k {
                axpy(w, -self.coeffs[j], &basis[j * d..(j + 1) * d]);
            }
            a += self.coeffs[k].re;
            passes += 1;
            let after = norm(w);
            if after > 0.7 * before || passes == 2 {
                break after;
            }
            before = after;
        };
        self.alpha.push(a);
        let theta = lowest_eigenvalue(&self.alpha, &self.beta);
        let ritz = eigenvector(&self.alpha, &self.beta, theta);
        let scale = self
            .alpha
            .iter()
            .chain(self.beta.iter())
            .fold(theta.abs(), |s, x| s.max(x.abs()))
            .max(f64::MIN_POSITIVE);
        let converged =
            b * ritz[k].abs() <= self.opts.tol * scale || b <= f64::EPSILON * scale || k + 1 >= d;
        let stop = converged || self.matvecs >= self.opts.max_matvecs;
        if stop || k + 1 >= self.m {
            self.psi = vec![C64::zero(); d];
            for (j, &s) in ritz.iter().enumerate() {
                axpy(&mut self.psi, C64::new(s, 0.0), &basis[j * d..(j + 1) * d]);
            }
            return (true, stop);
        }
        self.beta.push(b);
        self.basis.extend(self.w.iter().map(|x| x / b));
        (false, false)
    }
}

impl Run for Lanczos {
    fn pending(&self) -> Option<&[C64]> {
        match self.phase {
            Phase::Krylov => {
                let k = self.alpha.len();
                Some(&self.basis[k * self.d..(k + 1) * self.d])
            }
            Phase::Check => Some(&self.psi),
            Phase::Done => None,
        }
    }

    fn feed(&mut self, hv: &[C64]) {
        self.matvecs += 1;
        match self.phase {
            Phase::Krylov => match self.step(hv) {
                (false, _) => {}
                (true, true) => {
                    let n = norm(&self.psi);
                    self.psi.iter_mut().for_each(|x| *x /= n);
                    self.phase = Phase::Check;
                }
                (true, false) => {
                    let psi = std::mem::take(&mut self.psi);
                    self.restart(psi);
                }
            },
            Phase::Check => {
                let value = dot(&self.psi, hv).re;
                let mut r = hv.to_vec();
                axpy(&mut r, C64::new(-value, 0.0), &self.psi);
                self.result = Some(Eigenpair {
                    value,
                    vector: std::mem::take(&mut self.psi),
                    matvecs: self.matvecs,
                    residual: norm(&r),
                });
                self.basis = Vec::new();
                self.phase = Phase::Done;
            }
            Phase::Done => {}
        }
    }
}

/// Lowest eigenpair of `op` by restarted Lanczos from `start` (need not be normalised).
pub fn lanczos_ground(op: &impl LinOp, start: Vec<C64>, opts: &KrylovOpts) -> Eigenpair {
    let mut run = Lanczos::new(start, opts);
    drive(&mut run, op);
    run.result.expect("a finished Lanczos run has a result")
}

/// Result of a linear solve.
#[derive(Clone, Debug)]
pub struct Solve {
    pub x: Vec<C64>,
    pub matvecs: usize,
    /// ‖b − Ax‖ / ‖b‖ as tracked by the iteration.
    pub rel_residual: f64,
}

/// Conjugate gradients for x ⊥ ψ with (H − e0 + eps) x = P⊥ r (ψ unit norm).
pub struct DeflatedCg {
    psi: Vec<C64>,
    shift: C64,
    tol: f64,
    max_matvecs: usize,
    x: Vec<C64>,
    r: Vec<C64>,
    p: Vec<C64>,
    rr: f64,
    bnorm: f64,
    matvecs: usize,
    done: bool,
}

impl DeflatedCg {
    pub fn new(psi: &[C64], e0: f64, eps: f64, r: &[C64], opts: &KrylovOpts) -> DeflatedCg {
        let mut res = r.to_vec();
        project(psi, &mut res);
        let bnorm = norm(&res);
        DeflatedCg {
            psi: psi.to_vec(),
            shift: C64::new(eps - e0, 0.0),
            tol: opts.tol,
            max_matvecs: opts.max_matvecs,
            x: vec![C64::zero(); r.len()],
            p: res.clone(),
            r: res,
            rr: bnorm * bnorm,
            bnorm,
            matvecs: 0,
            done: bnorm == 0.0 || opts.max_matvecs == 0,
        }
    }

    pub fn result(mut self) -> Solve {
        project(&self.psi, &mut self.x);
        Solve {
            x: self.x,
            matvecs: self.matvecs,
            rel_residual: if self.bnorm > 0.0 {
                self.rr.sqrt() / self.bnorm
            } else {
                0.0
            },
        }
    }
}

/// v −= ψ ⟨ψ|v⟩
fn project(psi: &[C64], v: &mut [C64]) {
    let c = dot(psi, v);
    axpy(v, -c, psi);
}

impl Run for DeflatedCg {
    fn pending(&self) -> Option<&[C64]> {
        (!self.done).then_some(&self.p[..])
    }

    fn feed(&mut self, hp: &[C64]) {
        self.matvecs += 1;
        let mut ap = hp.to_vec();
        axpy(&mut ap, self.shift, &self.p);
        project(&self.psi, &mut ap);
        let pap = dot(&self.p, &ap).re;
        if pap.is_nan() || pap <= 0.0 {
            self.done = true; // not positive on ψ⊥: ψ is not the ground state, or converged
            return;
        }
        let a = self.rr / pap;
        axpy(&mut self.x, C64::new(a, 0.0), &self.p);
        axpy(&mut self.r, C64::new(-a, 0.0), &ap);
        let rr_new = self.r.iter().map(|z| z.norm_sqr()).sum::<f64>();
        let bcoef = rr_new / self.rr;
        self.rr = rr_new;
        if rr_new.sqrt() <= self.tol * self.bnorm || self.matvecs >= self.max_matvecs {
            self.done = true;
            return;
        }
        for (pi, &ri) in self.p.iter_mut().zip(self.r.iter()) {
            *pi = ri + *pi * bcoef;
        }
        project(&self.psi, &mut self.p);
    }
}

/// x ⊥ ψ with (H − e0 + eps) x = P⊥ r by conjugate gradients on ψ⊥ (ψ unit norm).
pub fn solve_deflated(
    op: &impl LinOp,
    psi: &[C64],
    e0: f64,
    eps: f64,
    r: &[C64],
    opts: &KrylovOpts,
) -> Solve {
    let mut run = DeflatedCg::new(psi, e0, eps, r, opts);
    drive(&mut run, op);
    run.result()
}
