//! Batched HSM ground states: dense matrices (small d) and matrix-free Pauli
//! Hamiltonians H_b = Σ_u σ_u P_u + Σ_s c_{b,s} P_s (large d), with the backward pass.
//!
//! For a Pauli HSM the shared part Σ_u σ_u P_u is ½ Σ_k A_k² (strings u: products of
//! input strings) and the per-sample part is −Σ_k x̃_{b,k} A_k (strings s: the input
//! strings); Python builds σ and c with torch so autograd chains to the coefficients.

use crate::error::Result;
use crate::hsm::dense::DenseGround;
use crate::hsm::krylov::{lanczos_ground, random_vector, solve_deflated, KrylovOpts, LinOp};
use crate::hsm::map_batch;
use crate::hsm::sums::Grouping;
use crate::memory::ensure_fits;
use crate::pool;
use crate::scalar::C64;
use crate::value_err;
use num_traits::Zero;

/// Ground states of a batch of dense Hermitian matrices `h` [batch, d, d] (row-major).
pub fn dense_ground(h: &[C64], batch: usize, d: usize) -> Result<Vec<DenseGround>> {
    if d == 0 || h.len() != batch * d * d {
        return value_err!(
            "Hamiltonians must be [batch, d, d] with d >= 1; got {} entries for batch {batch}, d {d}",
            h.len()
        );
    }
    map_batch(batch, batch * d * d * d, |b| {
        DenseGround::new(&mut h[b * d * d..(b + 1) * d * d].to_vec(), d)
    })
    .into_iter()
    .collect()
}

/// χ_b ⊥ ψ₀ with (H_b − E₀ + ε)χ_b = P⊥ r_b for every sample; `r` is [batch, d].
pub fn dense_solve(grounds: &[DenseGround], r: &[C64], eps: f64) -> Result<Vec<C64>> {
    let d = grounds.first().map_or(0, |g| g.psi.len());
    if r.len() != grounds.len() * d {
        return value_err!(
            "right-hand sides must be [{}, {d}], got {} entries",
            grounds.len(),
            r.len()
        );
    }
    let solved = map_batch(grounds.len(), grounds.len() * d * d * 8, |b| {
        grounds[b].solve(&r[b * d..(b + 1) * d], eps)
    });
    Ok(solved.concat())
}

/// Relative size of the random component mixed into a warm start.
pub const WARM_START_MIX: f64 = 1e-4;

/// A warm start: the given vector plus a small random component, so that a start that is
/// (nearly) an excited eigenvector of the new Hamiltonian — say after a level crossing —
/// cannot satisfy the residual test before the true ground state enters the Krylov space.
fn warm_start(v: &[C64], seed: u64) -> Vec<C64> {
    let nv = v.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
    let r = random_vector(v.len(), seed);
    let nr = r.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
    let mix = WARM_START_MIX / nr;
    v.iter().zip(&r).map(|(&a, &b)| a / nv + b * mix).collect()
}

/// Strings and groupings of a Pauli HSM.
pub struct PauliHsm<'a> {
    /// Strings of the shared part (products of input strings).
    pub shared: &'a Grouping,
    /// Input strings (the per-sample part).
    pub local: &'a Grouping,
    /// Output strings (expectation values reported per sample).
    pub output: &'a Grouping,
}

/// One sample's Hamiltonian: shared tables + its own tables.
struct Ham<'a> {
    shared: &'a Grouping,
    shared_tables: &'a [C64],
    local: &'a Grouping,
    local_tables: Vec<C64>,
}

impl LinOp for Ham<'_> {
    fn dim(&self) -> usize {
        self.shared.dim()
    }
    fn apply(&self, v: &[C64], out: &mut [C64]) {
        out.fill(C64::zero());
        self.shared.apply_acc(self.shared_tables, v, out);
        self.local.apply_acc(&self.local_tables, v, out);
    }
}

/// Forward results: E₀ [B], ψ₀ [B, d], ⟨ψ₀|P_v|ψ₀⟩ [B, n_output], matvecs and residuals [B].
pub struct PauliForward {
    pub e0: Vec<f64>,
    pub psi: Vec<C64>,
    pub expvals: Vec<f64>,
    pub matvecs: Vec<usize>,
    pub residuals: Vec<f64>,
}

/// Backward results: ∂L/∂σ [n_shared], ∂L/∂c [B, n_local], CG matvecs and residuals [B].
pub struct PauliBackward {
    pub grad_sigma: Vec<f64>,
    pub grad_c: Vec<f64>,
    pub matvecs: Vec<usize>,
    pub residuals: Vec<f64>,
}

impl<'a> PauliHsm<'a> {
    pub fn new(shared: &'a Grouping, local: &'a Grouping, output: &'a Grouping) -> Result<Self> {
        let n = shared.n_qubits;
        if local.n_qubits != n || output.n_qubits != n {
            return value_err!(
                "shared, input and output strings must be on the same qubits, got {n}, {} and {}",
                local.n_qubits,
                output.n_qubits
            );
        }
        Ok(PauliHsm {
            shared,
            local,
            output,
        })
    }

    fn check(&self, sigma: &[f64], c: &[f64], batch: usize) -> Result<()> {
        if sigma.len() != self.shared.len() {
            return value_err!(
                "sigma has {} coefficients, expected {} (one per shared string)",
                sigma.len(),
                self.shared.len()
            );
        }
        if c.len() != batch * self.local.len() {
            return value_err!(
                "c must be [batch, {}], got {} entries for batch {batch}",
                self.local.len(),
                c.len()
            );
        }
        if let Some(bad) = sigma.iter().chain(c).find(|v| !v.is_finite()) {
            return value_err!("Hamiltonian coefficients must be finite, got {bad}");
        }
        let d = self.shared.dim() as u128;
        let per_task = (self.local.n_groups() as u128 + 4) * d * 16;
        ensure_fits(
            self.shared.n_groups() as u128 * d * 16
                + batch as u128 * d * 32
                + pool::num_threads() as u128 * per_task,
            "Pauli HSM ground states",
        )
    }

    /// Complex multiply-adds of one matrix-vector product.
    fn matvec_work(&self) -> usize {
        (self.shared.n_groups() + self.local.n_groups()) * self.shared.dim()
    }

    fn ham<'h>(&'h self, shared_tables: &'h [C64], c_b: &[f64]) -> Ham<'h> {
        Ham {
            shared: self.shared,
            shared_tables,
            local: self.local,
            local_tables: self.local.tables(c_b),
        }
    }

    /// Ground states of H_b for every sample. `init` ([B, d], optional) gives warm starts
    /// (see [`WARM_START_MIX`]); a zero row (or none) starts from a fixed pseudo-random vector.
    pub fn forward(
        &self,
        sigma: &[f64],
        c: &[f64],
        batch: usize,
        init: Option<&[C64]>,
        opts: &KrylovOpts,
    ) -> Result<PauliForward> {
        self.check(sigma, c, batch)?;
        let d = self.shared.dim();
        if let Some(init) = init {
            if init.len() != batch * d {
                return value_err!("init must be [{batch}, {d}], got {} entries", init.len());
            }
        }
        let (n_local, n_out) = (self.local.len(), self.output.len());
        let shared_tables = self.shared.tables(sigma);
        let per_sample = map_batch(batch, batch * self.matvec_work() * 50, |b| {
            let ham = self.ham(&shared_tables, &c[b * n_local..(b + 1) * n_local]);
            let start = match init {
                Some(v) if v[b * d..(b + 1) * d].iter().any(|z| !z.is_zero()) => {
                    warm_start(&v[b * d..(b + 1) * d], b as u64)
                }
                _ => random_vector(d, b as u64),
            };
            let pair = lanczos_ground(&ham, start, opts);
            let mut ov = vec![C64::zero(); n_out];
            self.output
                .overlaps_into(&pair.vector, &pair.vector, &mut Vec::new(), &mut ov);
            (pair, ov)
        });
        let mut out = PauliForward {
            e0: Vec::with_capacity(batch),
            psi: Vec::with_capacity(batch * d),
            expvals: Vec::with_capacity(batch * n_out),
            matvecs: Vec::with_capacity(batch),
            residuals: Vec::with_capacity(batch),
        };
        for (pair, ov) in per_sample {
            out.e0.push(pair.value);
            out.psi.extend_from_slice(&pair.vector);
            out.expvals.extend(ov.iter().map(|z| z.re));
            out.matvecs.push(pair.matvecs);
            out.residuals.push(pair.residual);
        }
        Ok(out)
    }

    /// Gradients of L through y_b = Σ_v coefficient · ⟨ψ_b|P_v|ψ_b⟩ and E₀: `gamma`
    /// [B, n_output] is ∂L/∂⟨P_v⟩, `g_e` [B] is ∂L/∂E₀. With χ_b ⊥ ψ_b solving
    /// (H_b − E₀ + ε)χ_b = −P⊥ B_g ψ_b (B_g = Σ_v γ_bv P_v) and φ_b = χ_b + ½ g_e ψ_b,
    /// ∂L/∂c_bs = 2 Re⟨φ_b|P_s|ψ_b⟩ and ∂L/∂σ_u = Σ_b 2 Re⟨φ_b|P_u|ψ_b⟩.
    #[allow(clippy::too_many_arguments)] // the saved forward state and both cotangents
    pub fn backward(
        &self,
        sigma: &[f64],
        c: &[f64],
        batch: usize,
        psi: &[C64],
        e0: &[f64],
        gamma: &[f64],
        g_e: &[f64],
        eps: f64,
        opts: &KrylovOpts,
    ) -> Result<PauliBackward> {
        self.check(sigma, c, batch)?;
        let d = self.shared.dim();
        let (n_local, n_out) = (self.local.len(), self.output.len());
        if psi.len() != batch * d || e0.len() != batch || g_e.len() != batch {
            return value_err!("psi must be [{batch}, {d}], e0 and g_e [{batch}]");
        }
        if gamma.len() != batch * n_out {
            return value_err!(
                "gamma must be [{batch}, {n_out}], got {} entries",
                gamma.len()
            );
        }
        if eps.is_nan() || eps < 0.0 {
            return value_err!("eigh_eps must be >= 0, got {eps}");
        }
        let shared_tables = self.shared.tables(sigma);
        let per_sample = map_batch(batch, batch * self.matvec_work() * 50, |b| {
            let ham = self.ham(&shared_tables, &c[b * n_local..(b + 1) * n_local]);
            let psi_b = &psi[b * d..(b + 1) * d];
            let gam = &gamma[b * n_out..(b + 1) * n_out];
            let mut phi = vec![C64::zero(); d];
            let (mut matvecs, mut residual) = (0, 0.0);
            if gam.iter().any(|&g| g != 0.0) {
                // χ solves (H − E₀ + ε)χ = −P⊥ B_g ψ
                let mut r = vec![C64::zero(); d];
                self.output
                    .apply_acc(&self.output.tables(gam), psi_b, &mut r);
                r.iter_mut().for_each(|z| *z = -*z);
                let s = solve_deflated(&ham, psi_b, e0[b], eps, &r, opts);
                (phi, matvecs, residual) = (s.x, s.matvecs, s.rel_residual);
            }
            let half = C64::new(0.5 * g_e[b], 0.0);
            for (p, &q) in phi.iter_mut().zip(psi_b) {
                *p += half * q;
            }
            let mut ov = vec![C64::zero(); n_local];
            self.local
                .overlaps_into(&phi, psi_b, &mut Vec::new(), &mut ov);
            (phi, ov, matvecs, residual)
        });
        let mut phis = Vec::with_capacity(batch * d);
        let mut out = PauliBackward {
            grad_sigma: Vec::new(),
            grad_c: Vec::with_capacity(batch * n_local),
            matvecs: Vec::with_capacity(batch),
            residuals: Vec::with_capacity(batch),
        };
        for (phi, ov, m, r) in per_sample {
            phis.extend_from_slice(&phi);
            out.grad_c.extend(ov.iter().map(|z| 2.0 * z.re));
            out.matvecs.push(m);
            out.residuals.push(r);
        }
        out.grad_sigma = self
            .shared
            .overlaps_summed(&phis, psi)
            .iter()
            .map(|z| 2.0 * z.re)
            .collect();
        Ok(out)
    }
}
