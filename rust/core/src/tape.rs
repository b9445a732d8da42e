//! The compiled program: a register size, a list of ops and the width of theta.

use crate::error::Result;
use crate::gates::{self, Gate};
use crate::memory::{MAX_MATRIX_WIRES, MAX_QUBITS};
use crate::scalar::{Real, C64};
use crate::state::Kernel;
use crate::{shape_err, value_err, wire_err};
use std::sync::Arc;

/// A gate parameter: a column of the per-sample angle matrix theta, or a constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Param {
    Const(f64),
    Col(usize),
}

#[derive(Clone, Debug)]
pub struct Op {
    pub gate: Gate,
    pub wires: Vec<usize>,
    pub params: Vec<Param>,
    /// Apply the adjoint (inverse) of the gate.
    pub inverse: bool,
    /// QubitUnitary only: row-major 2^k x 2^k.
    pub matrix: Option<Arc<[C64]>>,
    /// MultiControlledX only: required value of each control (default all true).
    pub control_values: Vec<bool>,
}

impl Op {
    pub fn new(gate: Gate, wires: Vec<usize>, params: Vec<Param>) -> Op {
        Op {
            gate,
            wires,
            params,
            inverse: false,
            matrix: None,
            control_values: Vec::new(),
        }
    }

    /// The op's angles for one sample's row of theta.
    #[inline]
    pub fn angles(&self, row: &[f64]) -> [f64; 3] {
        let mut a = [0.0; 3];
        for (x, p) in a.iter_mut().zip(&self.params) {
            *x = match *p {
                Param::Const(v) => v,
                Param::Col(c) => row[c],
            };
        }
        a
    }

    /// Does any parameter depend on theta?
    pub fn is_parametrised(&self) -> bool {
        self.params.iter().any(|p| matches!(p, Param::Col(_)))
    }

    /// Mask of the index bits the op touches (its wires' bits) in an `n_qubits` register.
    pub fn support(&self, n_qubits: usize) -> usize {
        self.wires
            .iter()
            .map(|w| 1usize << (n_qubits - 1 - w))
            .sum()
    }

    /// The kernel applying this op (or its inverse) with the given angles.
    pub fn kernel<T: Real>(&self, angles: &[f64], n_qubits: usize) -> Kernel<T> {
        let f = gates::form(self.gate, angles, self.matrix.as_ref());
        let k = gates::place(&f, self.gate, &self.wires, &self.control_values, n_qubits);
        if self.inverse {
            k.dagger()
        } else {
            k
        }
    }

    /// For a one-parameter gate with dU/dθ = c·G·U: the kernel of G and c (conjugated for
    /// the inverse gate, whose derivative is c̄·G·U†).
    pub fn generator<T: Real>(&self, n_qubits: usize) -> Option<(Kernel<T>, C64)> {
        let (form, c) = gates::generator(self.gate)?;
        let k = gates::place(
            &form,
            self.gate,
            &self.wires,
            &self.control_values,
            n_qubits,
        );
        Some((k, if self.inverse { c.conj() } else { c }))
    }

    /// The kernel of d(op)/d(parameter k).
    pub fn derivative<T: Real>(&self, angles: &[f64], k: usize, n_qubits: usize) -> Kernel<T> {
        let f = gates::derivative_form(self.gate, angles, k);
        let d = gates::place(&f, self.gate, &self.wires, &self.control_values, n_qubits);
        if self.inverse {
            d.dagger()
        } else {
            d
        }
    }
}

/// An op validated for a register size and theta width (`Tape::check_op`).
#[derive(Clone, Debug)]
pub struct CheckedOp {
    op: Op,
    n_qubits: usize,
    n_params: usize,
}

#[derive(Clone, Debug)]
pub struct Tape {
    pub n_qubits: usize,
    /// Width P of theta.
    pub n_params: usize,
    pub ops: Vec<Op>,
}

/// Tolerance of the unitarity check on QubitUnitary (max |U U† - I|), as PennyLane's.
pub const UNITARY_ATOL: f64 = 1e-6;

impl Tape {
    pub fn new(n_qubits: usize, n_params: usize) -> Result<Tape> {
        if n_qubits == 0 || n_qubits > MAX_QUBITS {
            return value_err!("n_qubits must be between 1 and {MAX_QUBITS}, got {n_qubits}");
        }
        Ok(Tape {
            n_qubits,
            n_params,
            ops: Vec::new(),
        })
    }

    /// Validate and append an op.
    pub fn push(&mut self, op: Op) -> Result<()> {
        let op = Tape::check_op(self.n_qubits, self.n_params, op)?;
        self.push_checked(op)
    }

    /// Append an op validated by `check_op` for this register and theta width.
    pub fn push_checked(&mut self, op: CheckedOp) -> Result<()> {
        if (op.n_qubits, op.n_params) != (self.n_qubits, self.n_params) {
            return Err(crate::error::QoxideError::Internal(
                "op checked for another tape".into(),
            ));
        }
        self.ops.push(op.op);
        Ok(())
    }

    /// Validate `op` for a register of `n_qubits` and theta of width `n_params` (without
    /// a tape at hand: the bindings run this, which may check a 12-wire unitary, without
    /// holding any lock).
    pub fn check_op(n_qubits: usize, n_params: usize, op: Op) -> Result<CheckedOp> {
        let g = op.gate;
        let name = g.name();
        let k = op.wires.len();
        match g.n_wires() {
            Some(n) if n != k => {
                return value_err!("{name} acts on {n} wire(s), got {k}: {:?}", op.wires)
            }
            None if k < g.min_wires() => {
                return value_err!("{name} needs at least {} wire(s), got {k}", g.min_wires())
            }
            _ => {}
        }
        for (j, &w) in op.wires.iter().enumerate() {
            if w >= n_qubits {
                return wire_err!(
                    "{name}: wire {w} is out of range for a {}-qubit circuit (wires 0..{})",
                    n_qubits,
                    n_qubits - 1
                );
            }
            if op.wires[..j].contains(&w) {
                return wire_err!("{name}: wire {w} is repeated in {:?}", op.wires);
            }
        }
        if op.params.len() != g.n_params() {
            return value_err!(
                "{name} takes {} parameter(s), got {}",
                g.n_params(),
                op.params.len()
            );
        }
        for p in &op.params {
            if let Param::Col(c) = *p {
                if c >= n_params {
                    return value_err!(
                        "{name}: parameter column {c} is out of range for theta of width {}",
                        n_params
                    );
                }
            }
        }
        if g == Gate::QubitUnitary {
            check_unitary(op.matrix.as_deref(), k)?;
        } else if op.matrix.is_some() {
            return value_err!("{name} takes no matrix");
        }
        if g == Gate::MultiControlledX {
            if !op.control_values.is_empty() && op.control_values.len() != k - 1 {
                return value_err!(
                    "MultiControlledX on {k} wires needs {} control values, got {}",
                    k - 1,
                    op.control_values.len()
                );
            }
        } else if !op.control_values.is_empty() {
            return value_err!("{name} takes no control values");
        }
        Ok(CheckedOp {
            op,
            n_qubits,
            n_params,
        })
    }

    /// Width check of a theta buffer holding `batch` rows.
    pub fn check_theta(&self, theta: &[f64], batch: usize) -> Result<()> {
        if Some(theta.len()) != batch.checked_mul(self.n_params) {
            return shape_err!(
                "theta must have shape [batch, {}] for batch {batch}, got {} values",
                self.n_params,
                theta.len()
            );
        }
        Ok(())
    }

    /// Row `b` of theta.
    #[inline]
    pub fn row<'a>(&self, theta: &'a [f64], b: usize) -> &'a [f64] {
        &theta[b * self.n_params..(b + 1) * self.n_params]
    }

    /// Wire list check for measurements (probs, sample).
    pub fn check_wires(&self, wires: &[usize], what: &str) -> Result<()> {
        for (j, &w) in wires.iter().enumerate() {
            if w >= self.n_qubits {
                return wire_err!(
                    "{what}: wire {w} is out of range for a {}-qubit circuit",
                    self.n_qubits
                );
            }
            if wires[..j].contains(&w) {
                return wire_err!("{what}: wire {w} is repeated in {wires:?}");
            }
        }
        Ok(())
    }
}

/// max that propagates NaN (f64::max ignores it, which would hide NaN matrix entries).
pub(crate) fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn check_unitary(m: Option<&[C64]>, k: usize) -> Result<()> {
    let Some(m) = m else {
        return value_err!("QubitUnitary needs a matrix");
    };
    if k > MAX_MATRIX_WIRES {
        return value_err!("QubitUnitary acts on at most {MAX_MATRIX_WIRES} wires, got {k}");
    }
    let dim = 1usize << k;
    if m.len() != dim * dim {
        return value_err!(
            "QubitUnitary on {k} wire(s) needs a {dim}x{dim} matrix, got {} entries",
            m.len()
        );
    }
    let worst = unitarity_error(m, dim);
    if worst.is_nan() || worst > UNITARY_ATOL {
        return value_err!("QubitUnitary matrix is not unitary: max |U U† - I| = {worst:.3e}");
    }
    Ok(())
}

/// Below this dimension the unitarity check forms U U† exactly (O(d³)); above, it probes
/// U†U with random vectors (O(d²) each): a 12-wire check took 262 s exactly, < 1 s probed.
const EXACT_UNITARY_MAX_DIM: usize = 64;

/// Random probes of U†U - I: each finds an entry of size ε with |v_j| ε, |v_j| ~ Rayleigh.
const UNITARY_PROBES: usize = 8;

/// max |(U U† - I)_rc| exactly for small d; for large d, the largest |(U†U - I) v|_i over
/// random ±1-phase probes v (|v_j| = 1, so an error entry ε in row i shows as about ε).
fn unitarity_error(m: &[C64], dim: usize) -> f64 {
    let mut worst = 0.0f64;
    if dim <= EXACT_UNITARY_MAX_DIM {
        for r in 0..dim {
            for c in 0..dim {
                let dot: C64 = (0..dim)
                    .map(|j| m[r * dim + j] * m[c * dim + j].conj())
                    .sum();
                let want = if r == c { 1.0 } else { 0.0 };
                worst = nan_max(worst, (dot - want).norm());
            }
        }
        return worst;
    }
    // all probes at once, so U is read twice in all (it is 256 MiB at 12 wires): W = U V,
    // then U† W; layouts [d][K] keep the K probes of one index together
    const K: usize = UNITARY_PROBES;
    let mut rng = crate::rng::SplitMix64::new(0x5EED_u64 ^ dim as u64);
    let v: Vec<C64> = (0..dim * K)
        .map(|_| C64::from_polar(1.0, rng.uniform() * std::f64::consts::TAU))
        .collect();
    let mut w = vec![C64::new(0.0, 0.0); dim * K];
    for (row, wr) in m.chunks_exact(dim).zip(w.chunks_exact_mut(K)) {
        for (a, vj) in row.iter().zip(v.chunks_exact(K)) {
            for (x, y) in wr.iter_mut().zip(vj) {
                *x += a * y;
            }
        }
    }
    let mut u = vec![C64::new(0.0, 0.0); dim * K];
    for (row, wr) in m.chunks_exact(dim).zip(w.chunks_exact(K)) {
        for (a, uj) in row.iter().zip(u.chunks_exact_mut(K)) {
            let a = a.conj();
            for (x, y) in uj.iter_mut().zip(wr) {
                *x += a * y;
            }
        }
    }
    for (uc, vc) in u.iter().zip(&v) {
        worst = nan_max(worst, (uc - vc).norm());
    }
    worst
}
