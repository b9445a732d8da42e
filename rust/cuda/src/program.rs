//! The compact op list the small-register kernel runs (layout documented in
//! kernels/common.cuh), built from qoxide-core's `Tape`, and its launch shape.
//! Depends only on `Tape`, `Op`, `Param`, `Gate` and `gates::form`.

use crate::error::{CudaError, Result};
use qoxide_core::gates::{self, Form};
use qoxide_core::{Gate, Param, Tape};

/// Largest register the small-register kernel takes (the state lives in shared memory).
pub const MAX_SMALL_QUBITS: usize = 12;
/// Threads per sample at most (a power of two).
pub const MAX_THREADS_PER_SAMPLE: u32 = 256;
/// Threads per block aimed at when several samples share a block (registers ≤ 5 qubits).
pub const PACKED_BLOCK: u32 = 128;

const OP_INTS: usize = 12;
const K_ID: i32 = 0;
const K_MAT1: i32 = 1;
const K_DIAG1: i32 = 2;
const K_FLIP: i32 = 3;
const K_SWAP: i32 = 4;
const K_MAT2: i32 = 5;
const K_PARITY: i32 = 6;

const G_FIXED: i32 = 0;
const G_RX: i32 = 1;
const G_RY: i32 = 2;
const G_RZ: i32 = 3;
const G_PHASE: i32 = 4;
const G_ROT: i32 = 5;
const G_U2: i32 = 6;
const G_U3: i32 = 7;
const G_IXX: i32 = 8;
const G_IYY: i32 = 9;
const G_IZZ: i32 = 10;
const G_IXY: i32 = 11;
const G_GPHASE: i32 = 12;

/// One Pauli word with a real coefficient: factors (wire, 'I' | 'X' | 'Y' | 'Z').
#[derive(Clone, Debug, PartialEq)]
pub struct PauliTerm {
    pub coef: f64,
    pub word: Vec<(usize, char)>,
}

/// An observable the kernels measure: Σ_t c_t P_t.
pub type PauliObs = Vec<PauliTerm>;

/// State precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    C64,
    C128,
}

impl Precision {
    pub fn complex_bytes(self) -> usize {
        match self {
            Precision::C64 => 8,
            Precision::C128 => 16,
        }
    }
    pub fn kernel(self) -> &'static str {
        match self {
            Precision::C64 => "qx_small_c64",
            Precision::C128 => "qx_small_c128",
        }
    }
}

/// A tape and its observables as the kernel's flat arrays.
#[derive(Clone, Debug)]
pub struct SmallProgram {
    pub n_qubits: usize,
    pub n_params: usize,
    pub n_ops: usize,
    pub ops: Vec<i32>,
    pub consts: Vec<f64>,
    pub mats: Vec<f64>,
    pub n_obs: usize,
    pub obs_start: Vec<i32>,
    pub terms: Vec<i32>,
    pub coefs: Vec<f64>,
}

/// What a launch computes after the forward pass and the expectation values.
#[derive(Clone, Copy, Debug)]
pub enum Adjoint<'a> {
    None,
    /// Σ_m grad_out[b, m] ∂⟨O_m⟩/∂θ: grad_out [B, M] in, [B, P] out.
    Vjp(&'a [f64]),
    /// ∂⟨O_m⟩/∂θ_p: [B, M, P] (one sweep per observable).
    Jacobian,
}

impl Adjoint<'_> {
    pub fn is_some(&self) -> bool {
        !matches!(self, Adjoint::None)
    }
    pub fn grad_out(&self) -> Option<&[f64]> {
        match self {
            Adjoint::Vjp(g) => Some(g),
            _ => None,
        }
    }
}

/// What one launch returns (host arrays).
#[derive(Clone, Debug, Default)]
pub struct RunOutput {
    /// [B, M]
    pub expval: Vec<f64>,
    /// [B, 2^n] complex, interleaved (re, im), when asked for.
    pub state: Option<Vec<f64>>,
    /// [B, P] for Adjoint::Vjp.
    pub grad: Option<Vec<f64>>,
    /// [B, M, P] for Adjoint::Jacobian.
    pub jac: Option<Vec<f64>>,
}

/// Launch shape: `tps` threads per sample, `spb` samples per block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Launch {
    pub tps: u32,
    pub spb: u32,
    pub block: u32,
    pub grid: u32,
    pub shared_bytes: usize,
}

/// Controls of a gate on `n` wires (the leading wires), as in qoxide-core.
fn n_controls(g: Gate, n: usize) -> usize {
    use Gate::*;
    match g {
        CNOT | CY | CZ | CRX | CRY | CRZ | CRot | ControlledPhaseShift | CSWAP => 1,
        Toffoli => 2,
        MultiControlledX => n - 1,
        _ => 0,
    }
}

/// The in-kernel code and form kind of a parametrised gate.
fn param_code(g: Gate) -> Option<(i32, i32)> {
    use Gate::*;
    Some(match g {
        RX | CRX => (G_RX, K_MAT1),
        RY | CRY => (G_RY, K_MAT1),
        RZ | CRZ => (G_RZ, K_DIAG1),
        PhaseShift | U1 | ControlledPhaseShift => (G_PHASE, K_DIAG1),
        Rot | CRot => (G_ROT, K_MAT1),
        U2 => (G_U2, K_MAT1),
        U3 => (G_U3, K_MAT1),
        IsingXX => (G_IXX, K_MAT2),
        IsingYY => (G_IYY, K_MAT2),
        IsingXY => (G_IXY, K_MAT2),
        IsingZZ | MultiRZ => (G_IZZ, K_PARITY),
        GlobalPhase => (G_GPHASE, K_PARITY),
        _ => return None,
    })
}

/// Parameters of an encoded gate code (qx_gate_nparams in kernels/common.cuh).
pub(crate) fn gate_nparams(code: i32) -> usize {
    match code {
        G_ROT | G_U3 => 3,
        G_U2 => 2,
        G_FIXED => 0,
        _ => 1,
    }
}

/// The form kinds that move amplitudes (kernels/common.cuh): the large-register plan
/// keeps them on tiles only when their targets are in the tile.
pub(crate) mod kind {
    pub const MAT1: i32 = super::K_MAT1;
    pub const FLIP: i32 = super::K_FLIP;
    pub const SWAP: i32 = super::K_SWAP;
    pub const MAT2: i32 = super::K_MAT2;
}

/// Ints per encoded op.
pub(crate) const OP_LEN: usize = OP_INTS;

fn i32_of(x: usize, what: &str) -> Result<i32> {
    i32::try_from(x).map_err(|_| CudaError::Value(format!("{what} = {x} is too large")))
}

impl SmallProgram {
    pub fn new(tape: &Tape, observables: &[PauliObs]) -> Result<SmallProgram> {
        let n = tape.n_qubits;
        if n == 0 || n > MAX_SMALL_QUBITS {
            return Err(CudaError::Unsupported(format!(
                "the CUDA small-register kernel runs 1 to {MAX_SMALL_QUBITS} qubits, got {n}"
            )));
        }
        Self::encode(tape, observables)
    }

    /// The op and observable encoding for any register of 1 to 32 qubits (bit masks are
    /// 32-bit); `new` adds the small kernel's limit, `LargeProgram` uses it as it is.
    pub(crate) fn encode(tape: &Tape, observables: &[PauliObs]) -> Result<SmallProgram> {
        let n = tape.n_qubits;
        debug_assert!((1..=32).contains(&n));
        let bit = |w: usize| (n - 1 - w) as i32;
        let mut p = SmallProgram {
            n_qubits: n,
            n_params: tape.n_params,
            n_ops: 0,
            ops: Vec::with_capacity(tape.ops.len() * OP_INTS),
            consts: Vec::new(),
            mats: Vec::new(),
            n_obs: observables.len(),
            obs_start: vec![0],
            terms: Vec::new(),
            coefs: Vec::new(),
        };
        i32_of(tape.n_params, "the number of parameters")?;
        for op in &tape.ops {
            let g = op.gate;
            let nc = n_controls(g, op.wires.len());
            let (mut cmask, mut cval) = (0i32, 0i32);
            for (j, &w) in op.wires[..nc].iter().enumerate() {
                cmask |= 1 << bit(w);
                if op.control_values.get(j).copied().unwrap_or(true) {
                    cval |= 1 << bit(w);
                }
            }
            let t = &op.wires[nc..];
            let pmask: i32 = t.iter().map(|&w| 1i32 << bit(w)).sum();
            let t0 = t.first().map_or(0, |&w| bit(w));
            let t1 = t.get(1).map_or(0, |&w| bit(w));
            let mut refs = [0i32; 3];
            let (kind, code, mat_off) = if op.is_parametrised() {
                let (code, kind) = param_code(g).ok_or_else(|| {
                    CudaError::Unsupported(format!("{} has no in-kernel form", g.name()))
                })?;
                for (r, prm) in refs.iter_mut().zip(&op.params) {
                    *r = match *prm {
                        Param::Col(c) => i32_of(c, "a parameter column")?,
                        Param::Const(v) => {
                            p.consts.push(v);
                            -(p.consts.len() as i32)
                        }
                    };
                }
                (kind, code, 0)
            } else {
                let angles: Vec<f64> = op
                    .params
                    .iter()
                    .map(|q| match *q {
                        Param::Const(v) => v,
                        Param::Col(_) => unreachable!(),
                    })
                    .collect();
                let off = i32_of(p.mats.len() / 2, "the fixed-matrix table")?;
                let mut push = |m: &[num_complex::Complex<f64>]| {
                    for z in m {
                        p.mats.push(z.re);
                        p.mats.push(z.im);
                    }
                };
                let kind = match gates::form(g, &angles, op.matrix.as_ref()) {
                    Form::Id => K_ID,
                    Form::M1(m) => {
                        push(&m);
                        K_MAT1
                    }
                    Form::D1(d) => {
                        push(&d);
                        K_DIAG1
                    }
                    Form::X => K_FLIP,
                    Form::Swap => K_SWAP,
                    Form::M2(m) => {
                        push(&m);
                        K_MAT2
                    }
                    Form::Parity(e, o) => {
                        push(&[e, o]);
                        K_PARITY
                    }
                    Form::MK(m) => match t.len() {
                        1 => {
                            push(&m);
                            K_MAT1
                        }
                        2 => {
                            push(&m);
                            K_MAT2
                        }
                        k => {
                            return Err(CudaError::Unsupported(format!(
                                "QubitUnitary on {k} wires is not supported by the CUDA \
                                 kernels yet (1 or 2 wires are)"
                            )))
                        }
                    },
                };
                (kind, G_FIXED, off)
            };
            p.ops.extend_from_slice(&[
                kind,
                code,
                t0,
                t1,
                cmask,
                cval,
                pmask,
                op.inverse as i32,
                refs[0],
                refs[1],
                refs[2],
                mat_off,
            ]);
            p.n_ops += 1;
        }
        for (m, o) in observables.iter().enumerate() {
            for term in o {
                let (mut x, mut z, mut ny) = (0i32, 0i32, 0i32);
                for (j, &(w, c)) in term.word.iter().enumerate() {
                    if w >= n {
                        return Err(CudaError::Value(format!(
                            "observable {m}: wire {w} is out of range for a {n}-qubit circuit"
                        )));
                    }
                    if term.word[..j].iter().any(|f| f.0 == w) {
                        return Err(CudaError::Value(format!(
                            "observable {m}: wire {w} is repeated in {:?}",
                            term.word
                        )));
                    }
                    let b = 1 << bit(w);
                    match c {
                        'I' => {}
                        'X' => x |= b,
                        'Y' => {
                            x |= b;
                            z |= b;
                            ny += 1;
                        }
                        'Z' => z |= b,
                        _ => {
                            return Err(CudaError::Value(format!(
                                "observable {m}: Pauli factors are I, X, Y or Z, got {c:?}"
                            )))
                        }
                    }
                }
                p.terms.extend_from_slice(&[x, z, ny & 3]);
                p.coefs.push(term.coef);
            }
            p.obs_start
                .push(i32_of(p.coefs.len(), "the number of Pauli terms")?);
        }
        Ok(p)
    }

    /// Shapes of theta [batch, P] and grad_out [batch, M].
    pub fn check_inputs(
        &self,
        theta: &[f64],
        batch: usize,
        grad_out: Option<&[f64]>,
    ) -> Result<()> {
        if theta.len() != batch * self.n_params {
            return Err(CudaError::Value(format!(
                "theta must hold batch x {} = {} values, got {}",
                self.n_params,
                batch * self.n_params,
                theta.len()
            )));
        }
        if let Some(g) = grad_out {
            if g.len() != batch * self.n_obs {
                return Err(CudaError::Value(format!(
                    "grad_out must hold batch x {} = {} values, got {}",
                    self.n_obs,
                    batch * self.n_obs,
                    g.len()
                )));
            }
        }
        Ok(())
    }

    /// Launch shape for `batch` samples; `max_tps` caps the threads per sample (the
    /// device uses MAX_THREADS_PER_SAMPLE; the host emulation may use fewer).
    pub fn launch(
        &self,
        batch: usize,
        adjoint: bool,
        prec: Precision,
        max_tps: u32,
    ) -> Result<Launch> {
        let dim = 1u32 << self.n_qubits;
        let tps = (dim / 2).clamp(1, max_tps.clamp(1, MAX_THREADS_PER_SAMPLE));
        if !tps.is_power_of_two() {
            return Err(CudaError::Value(format!(
                "threads per sample must be a power of two, got {tps}"
            )));
        }
        let mut spb = if self.n_qubits <= 5 {
            (PACKED_BLOCK / tps).max(1)
        } else {
            1
        };
        spb = spb.min(batch.max(1).min(u32::MAX as usize) as u32);
        let grid = batch.div_ceil(spb as usize);
        let grid = u32::try_from(grid.max(1))
            .map_err(|_| CudaError::Value(format!("batch {batch} is too large for one launch")))?;
        let block = spb * tps;
        let c = prec.complex_bytes();
        let shared_bytes =
            spb as usize * dim as usize * c * if adjoint { 2 } else { 1 } + block as usize * c / 2;
        i32_of(batch, "the batch size")?;
        Ok(Launch {
            tps,
            spb,
            block,
            grid,
            shared_bytes,
        })
    }
}
