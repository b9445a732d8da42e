//! Gate kinds and their matrices, following PennyLane's definitions exactly, e.g.
//! RX(t) = exp(-i t X / 2), PhaseShift(p) = diag(1, e^{ip}), IsingZZ(t) = exp(-i t ZZ / 2),
//! Rot(a, b, c) = RZ(c) RY(b) RZ(a), GlobalPhase(p) = e^{-ip} I.
//!
//! Each gate becomes a target `Form` (computed in f64) plus controls; the kernel is the
//! form cast to the working precision and placed on bit positions. Derivative forms
//! dU/dθ_k use the same layout, which is what the adjoint method needs.

use crate::scalar::{cast, mul2, Real, C64};
use crate::state::{Ctrl, Kernel};
use num_complex::Complex;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_4};
use std::sync::Arc;

macro_rules! gates {
    ($($g:ident = $name:literal, params $np:literal, wires $nw:expr, controls $nc:expr;)*) => {
        /// A gate kind, named as in PennyLane.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Gate { $($g),* }

        impl Gate {
            pub const ALL: &'static [Gate] = &[$(Gate::$g),*];

            /// PennyLane's name of the gate.
            pub fn name(self) -> &'static str {
                match self { $(Gate::$g => $name),* }
            }

            /// Number of (real) parameters.
            pub fn n_params(self) -> usize {
                match self { $(Gate::$g => $np),* }
            }

            /// Exact number of wires, or None when any number (>= `min_wires`) is allowed.
            pub fn n_wires(self) -> Option<usize> {
                match self { $(Gate::$g => $nw),* }
            }

            /// Leading wires that are controls (for a gate on `n` wires).
            fn n_controls(self, n: usize) -> usize {
                let f: fn(usize) -> usize = match self { $(Gate::$g => $nc),* };
                f(n)
            }
        }
    };
}

gates! {
    Identity = "Identity", params 0, wires Some(1), controls |_| 0;
    Hadamard = "Hadamard", params 0, wires Some(1), controls |_| 0;
    PauliX = "PauliX", params 0, wires Some(1), controls |_| 0;
    PauliY = "PauliY", params 0, wires Some(1), controls |_| 0;
    PauliZ = "PauliZ", params 0, wires Some(1), controls |_| 0;
    S = "S", params 0, wires Some(1), controls |_| 0;
    T = "T", params 0, wires Some(1), controls |_| 0;
    SX = "SX", params 0, wires Some(1), controls |_| 0;
    RX = "RX", params 1, wires Some(1), controls |_| 0;
    RY = "RY", params 1, wires Some(1), controls |_| 0;
    RZ = "RZ", params 1, wires Some(1), controls |_| 0;
    PhaseShift = "PhaseShift", params 1, wires Some(1), controls |_| 0;
    Rot = "Rot", params 3, wires Some(1), controls |_| 0;
    U1 = "U1", params 1, wires Some(1), controls |_| 0;
    U2 = "U2", params 2, wires Some(1), controls |_| 0;
    U3 = "U3", params 3, wires Some(1), controls |_| 0;
    CNOT = "CNOT", params 0, wires Some(2), controls |_| 1;
    CY = "CY", params 0, wires Some(2), controls |_| 1;
    CZ = "CZ", params 0, wires Some(2), controls |_| 1;
    SWAP = "SWAP", params 0, wires Some(2), controls |_| 0;
    ISWAP = "ISWAP", params 0, wires Some(2), controls |_| 0;
    CRX = "CRX", params 1, wires Some(2), controls |_| 1;
    CRY = "CRY", params 1, wires Some(2), controls |_| 1;
    CRZ = "CRZ", params 1, wires Some(2), controls |_| 1;
    CRot = "CRot", params 3, wires Some(2), controls |_| 1;
    ControlledPhaseShift = "ControlledPhaseShift", params 1, wires Some(2), controls |_| 1;
    IsingXX = "IsingXX", params 1, wires Some(2), controls |_| 0;
    IsingYY = "IsingYY", params 1, wires Some(2), controls |_| 0;
    IsingZZ = "IsingZZ", params 1, wires Some(2), controls |_| 0;
    IsingXY = "IsingXY", params 1, wires Some(2), controls |_| 0;
    MultiRZ = "MultiRZ", params 1, wires None, controls |_| 0;
    Toffoli = "Toffoli", params 0, wires Some(3), controls |_| 2;
    CSWAP = "CSWAP", params 0, wires Some(3), controls |_| 1;
    MultiControlledX = "MultiControlledX", params 0, wires None, controls |n| n - 1;
    QubitUnitary = "QubitUnitary", params 0, wires None, controls |_| 0;
    GlobalPhase = "GlobalPhase", params 1, wires None, controls |_| 0;
}

impl Gate {
    /// Parse PennyLane's name (plus the alias "CPhase").
    pub fn from_name(name: &str) -> Option<Gate> {
        if name == "CPhase" {
            return Some(Gate::ControlledPhaseShift);
        }
        Gate::ALL.iter().copied().find(|g| g.name() == name)
    }

    /// Fewest wires the gate accepts.
    pub fn min_wires(self) -> usize {
        match self {
            Gate::MultiControlledX => 2,
            Gate::GlobalPhase => 0,
            g => g.n_wires().unwrap_or(1),
        }
    }
}

/// What a gate does on its target wires, in f64.
#[derive(Clone, Debug)]
pub enum Form {
    Id,
    M1([C64; 4]),
    D1([C64; 2]),
    X,
    M2([C64; 16]),
    Swap,
    /// Phase by the parity of the target bits: (even, odd).
    Parity(C64, C64),
    MK(Arc<[C64]>),
}

const ZERO: C64 = Complex::new(0.0, 0.0);
const ONE: C64 = Complex::new(1.0, 0.0);
const I: C64 = Complex::new(0.0, 1.0);

fn c(re: f64, im: f64) -> C64 {
    Complex::new(re, im)
}

fn eip(p: f64) -> C64 {
    Complex::from_polar(1.0, p)
}

fn diag2(d: [C64; 2]) -> [C64; 4] {
    [d[0], ZERO, ZERO, d[1]]
}

fn half(t: f64) -> (f64, f64) {
    (t / 2.0).sin_cos()
}

fn rx(t: f64) -> [C64; 4] {
    let (s, co) = half(t);
    [c(co, 0.0), c(0.0, -s), c(0.0, -s), c(co, 0.0)]
}
fn drx(t: f64) -> [C64; 4] {
    let (s, co) = half(t);
    [
        c(-s / 2.0, 0.0),
        c(0.0, -co / 2.0),
        c(0.0, -co / 2.0),
        c(-s / 2.0, 0.0),
    ]
}
fn ry(t: f64) -> [C64; 4] {
    let (s, co) = half(t);
    [c(co, 0.0), c(-s, 0.0), c(s, 0.0), c(co, 0.0)]
}
fn dry(t: f64) -> [C64; 4] {
    let (s, co) = half(t);
    [
        c(-s / 2.0, 0.0),
        c(-co / 2.0, 0.0),
        c(co / 2.0, 0.0),
        c(-s / 2.0, 0.0),
    ]
}
fn rz(t: f64) -> [C64; 2] {
    [eip(-t / 2.0), eip(t / 2.0)]
}
fn drz(t: f64) -> [C64; 2] {
    [-I / 2.0 * eip(-t / 2.0), I / 2.0 * eip(t / 2.0)]
}
fn rot(a: f64, b: f64, cc: f64) -> [C64; 4] {
    mul2(&diag2(rz(cc)), &mul2(&ry(b), &diag2(rz(a))))
}
fn drot(a: f64, b: f64, cc: f64, k: usize) -> [C64; 4] {
    match k {
        0 => mul2(&diag2(rz(cc)), &mul2(&ry(b), &diag2(drz(a)))),
        1 => mul2(&diag2(rz(cc)), &mul2(&dry(b), &diag2(rz(a)))),
        _ => mul2(&diag2(drz(cc)), &mul2(&ry(b), &diag2(rz(a)))),
    }
}
fn u2(phi: f64, lam: f64) -> [C64; 4] {
    let r = FRAC_1_SQRT_2;
    [c(r, 0.0), -eip(lam) * r, eip(phi) * r, eip(phi + lam) * r]
}
fn du2(phi: f64, lam: f64, k: usize) -> [C64; 4] {
    let r = FRAC_1_SQRT_2;
    match k {
        0 => [ZERO, ZERO, I * eip(phi) * r, I * eip(phi + lam) * r],
        _ => [ZERO, -I * eip(lam) * r, ZERO, I * eip(phi + lam) * r],
    }
}
fn u3(t: f64, phi: f64, lam: f64) -> [C64; 4] {
    let (s, co) = half(t);
    [c(co, 0.0), -eip(lam) * s, eip(phi) * s, eip(phi + lam) * co]
}
fn du3(t: f64, phi: f64, lam: f64, k: usize) -> [C64; 4] {
    let (s, co) = half(t);
    match k {
        0 => [
            c(-s / 2.0, 0.0),
            -eip(lam) * co / 2.0,
            eip(phi) * co / 2.0,
            -eip(phi + lam) * s / 2.0,
        ],
        1 => [ZERO, ZERO, I * eip(phi) * s, I * eip(phi + lam) * co],
        _ => [ZERO, -I * eip(lam) * s, ZERO, I * eip(phi + lam) * co],
    }
}

/// Kronecker product of two 2x2 matrices (a on the high bit).
fn kron2(a: &[C64; 4], b: &[C64; 4]) -> [C64; 16] {
    let mut m = [ZERO; 16];
    for r in 0..4 {
        for col in 0..4 {
            m[4 * r + col] = a[2 * (r >> 1) + (col >> 1)] * b[2 * (r & 1) + (col & 1)];
        }
    }
    m
}

/// exp(-i t G / 2) for an involution G (G^2 = I) and its derivative in t.
fn exp_involution(g: &[C64; 16], t: f64, derivative: bool) -> [C64; 16] {
    let (s, co) = half(t);
    let (a, b) = if derivative {
        (c(-s / 2.0, 0.0), c(0.0, -co / 2.0))
    } else {
        (c(co, 0.0), c(0.0, -s))
    };
    let mut m = [ZERO; 16];
    for k in 0..16 {
        m[k] = b * g[k] + if k % 5 == 0 { a } else { ZERO };
    }
    m
}

const PX: [C64; 4] = [ZERO, ONE, ONE, ZERO];
const PY: [C64; 4] = [ZERO, Complex::new(0.0, -1.0), I, ZERO];

fn ising_xy(t: f64, derivative: bool) -> [C64; 16] {
    let (s, co) = half(t);
    let (diag, off, corner) = if derivative {
        (c(-s / 2.0, 0.0), c(0.0, co / 2.0), ZERO)
    } else {
        (c(co, 0.0), c(0.0, s), ONE)
    };
    let mut m = [ZERO; 16];
    m[0] = corner;
    m[15] = corner;
    m[5] = diag;
    m[10] = diag;
    m[6] = off;
    m[9] = off;
    m
}

/// The gate's action on its target wires for angles `p`.
pub fn form(gate: Gate, p: &[f64], matrix: Option<&Arc<[C64]>>) -> Form {
    use Gate::*;
    let s2 = FRAC_1_SQRT_2;
    match gate {
        Identity => Form::Id,
        Hadamard => Form::M1([c(s2, 0.0), c(s2, 0.0), c(s2, 0.0), c(-s2, 0.0)]),
        PauliX | CNOT | Toffoli | MultiControlledX => Form::X,
        PauliY | CY => Form::M1(PY),
        PauliZ | CZ => Form::D1([ONE, -ONE]),
        S => Form::D1([ONE, I]),
        T => Form::D1([ONE, eip(FRAC_PI_4)]),
        SX => Form::M1([c(0.5, 0.5), c(0.5, -0.5), c(0.5, -0.5), c(0.5, 0.5)]),
        RX | CRX => Form::M1(rx(p[0])),
        RY | CRY => Form::M1(ry(p[0])),
        RZ | CRZ => Form::D1(rz(p[0])),
        PhaseShift | U1 | ControlledPhaseShift => Form::D1([ONE, eip(p[0])]),
        Rot | CRot => Form::M1(rot(p[0], p[1], p[2])),
        U2 => Form::M1(u2(p[0], p[1])),
        U3 => Form::M1(u3(p[0], p[1], p[2])),
        SWAP | CSWAP => Form::Swap,
        ISWAP => {
            let mut m = [ZERO; 16];
            m[0] = ONE;
            m[6] = I;
            m[9] = I;
            m[15] = ONE;
            Form::M2(m)
        }
        IsingXX => Form::M2(exp_involution(&kron2(&PX, &PX), p[0], false)),
        IsingYY => Form::M2(exp_involution(&kron2(&PY, &PY), p[0], false)),
        IsingXY => Form::M2(ising_xy(p[0], false)),
        IsingZZ | MultiRZ => Form::Parity(eip(-p[0] / 2.0), eip(p[0] / 2.0)),
        GlobalPhase => Form::Parity(eip(-p[0]), eip(-p[0])),
        QubitUnitary => Form::MK(matrix.expect("QubitUnitary without matrix").clone()),
    }
}

/// dU/dθ_k on the target wires (zero off the control subspace).
pub fn derivative_form(gate: Gate, p: &[f64], k: usize) -> Form {
    use Gate::*;
    match gate {
        RX | CRX => Form::M1(drx(p[0])),
        RY | CRY => Form::M1(dry(p[0])),
        RZ | CRZ => Form::D1(drz(p[0])),
        PhaseShift | U1 | ControlledPhaseShift => Form::D1([ZERO, I * eip(p[0])]),
        Rot | CRot => Form::M1(drot(p[0], p[1], p[2], k)),
        U2 => Form::M1(du2(p[0], p[1], k)),
        U3 => Form::M1(du3(p[0], p[1], p[2], k)),
        IsingXX => Form::M2(exp_involution(&kron2(&PX, &PX), p[0], true)),
        IsingYY => Form::M2(exp_involution(&kron2(&PY, &PY), p[0], true)),
        IsingXY => Form::M2(ising_xy(p[0], true)),
        IsingZZ | MultiRZ => Form::Parity(-I / 2.0 * eip(-p[0] / 2.0), I / 2.0 * eip(p[0] / 2.0)),
        GlobalPhase => Form::Parity(-I * eip(-p[0]), -I * eip(-p[0])),
        g => unreachable!("{} has no parameters", g.name()),
    }
}

/// For gates U(θ) = exp(i f θ G)-like with dU/dθ = c·G·U (G Hermitian, commuting with U):
/// the form of G on the target wires and the factor c. The adjoint method then needs
/// only ⟨λ|G|φ_after⟩ — a fixed kernel, no trigonometry per sample.
pub fn generator(gate: Gate) -> Option<(Form, C64)> {
    use Gate::*;
    let half = c(0.0, -0.5);
    Some(match gate {
        RX | CRX => (Form::X, half),
        RY | CRY => (Form::M1(PY), half),
        RZ | CRZ => (Form::D1([ONE, -ONE]), half),
        IsingXX => (Form::M2(kron2(&PX, &PX)), half),
        IsingYY => (Form::M2(kron2(&PY, &PY)), half),
        IsingZZ | MultiRZ => (Form::Parity(ONE, -ONE), half),
        PhaseShift | U1 | ControlledPhaseShift => (Form::D1([ZERO, ONE]), I),
        GlobalPhase => (Form::Parity(ONE, ONE), -I),
        IsingXY => {
            let xx = kron2(&PX, &PX);
            let yy = kron2(&PY, &PY);
            (
                Form::M2(std::array::from_fn(|k| xx[k] + yy[k])),
                c(0.0, 0.25),
            )
        }
        _ => return None,
    })
}

/// Place a form on wires (`n_qubits` register): controls first, then targets.
pub fn place<T: Real>(
    form: &Form,
    gate: Gate,
    wires: &[usize],
    control_values: &[bool],
    n_qubits: usize,
) -> Kernel<T> {
    let bit = |w: usize| (n_qubits - 1 - w) as u32;
    let nc = gate.n_controls(wires.len());
    let mut ctrl = Ctrl::NONE;
    for (j, &w) in wires[..nc].iter().enumerate() {
        ctrl.mask |= 1usize << bit(w);
        if control_values.get(j).copied().unwrap_or(true) {
            ctrl.value |= 1usize << bit(w);
        }
    }
    let t = &wires[nc..];
    let cast4 = |m: &[C64; 4]| [cast(m[0]), cast(m[1]), cast(m[2]), cast(m[3])];
    match form {
        Form::Id => Kernel::Identity,
        Form::M1(m) => Kernel::Mat1 {
            t: bit(t[0]),
            m: cast4(m),
            ctrl,
        },
        Form::D1(d) => Kernel::Diag1 {
            t: bit(t[0]),
            d: [cast(d[0]), cast(d[1])],
            ctrl,
        },
        Form::X => Kernel::Flip { t: bit(t[0]), ctrl },
        Form::Swap => Kernel::Swap {
            t0: bit(t[0]),
            t1: bit(t[1]),
            ctrl,
        },
        Form::M2(m) => Kernel::Mat2 {
            t0: bit(t[0]),
            t1: bit(t[1]),
            m: Box::new(std::array::from_fn(|k| cast(m[k]))),
        },
        Form::Parity(even, odd) => Kernel::Parity {
            mask: t.iter().map(|&w| 1usize << bit(w)).sum(),
            even: cast(*even),
            odd: cast(*odd),
        },
        Form::MK(m) => match t.len() {
            1 => Kernel::Mat1 {
                t: bit(t[0]),
                m: std::array::from_fn(|k| cast(m[k])),
                ctrl,
            },
            2 => Kernel::Mat2 {
                t0: bit(t[0]),
                t1: bit(t[1]),
                m: Box::new(std::array::from_fn(|k| cast(m[k]))),
            },
            _ => Kernel::MatK {
                bits: t.iter().map(|&w| bit(w)).collect(),
                m: m.iter().map(|&z| cast(z)).collect::<Vec<_>>().into(),
            },
        },
    }
}
