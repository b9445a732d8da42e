//! Independent dense reference for the integration tests.
//!
//! Everything here is written from PennyLane's definitions, not from the crate's
//! code: gate matrices are built by hand (rotations as matrix exponentials of their
//! generators), placed on wires by explicit index arithmetic (wire 0 = most
//! significant bit of the basis index), and observables are dense matrices.
//! Only the plain data types of the crate (`Op`, `Param`, `Gate`) are read.

#![allow(dead_code)]

use num_complex::Complex;
use qoxide_core::{Gate, Obs, Op, Param, Real, Tape, C};
use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::sync::Arc;

pub type C64 = Complex<f64>;

pub fn c(re: f64, im: f64) -> C64 {
    Complex::new(re, im)
}

pub const ZERO: C64 = Complex::new(0.0, 0.0);
pub const ONE: C64 = Complex::new(1.0, 0.0);
pub const I: C64 = Complex::new(0.0, 1.0);

/// e^{i p}
pub fn eip(p: f64) -> C64 {
    c(p.cos(), p.sin())
}

// ---------------------------------------------------------------------------------
// Deterministic PRNG (xorshift64*), independent of the crate's SplitMix64.
// ---------------------------------------------------------------------------------

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // avoid the all-zero state, and spread small seeds
        Rng((seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x1234_5678_9ABC_DEF1) | 1)
    }

    /// Seed from a string (e.g. a gate name) plus a number.
    pub fn from_str(s: &str, k: u64) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in s.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        Rng::new(h ^ k.wrapping_mul(0x9E37_79B9))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// A random angle in [-2π, 2π).
    pub fn angle(&mut self) -> f64 {
        self.range(-2.0 * PI, 2.0 * PI)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }

    pub fn complex(&mut self) -> C64 {
        c(self.normal(), self.normal())
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn coin(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// k distinct values of 0..n in random order.
    pub fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

// ---------------------------------------------------------------------------------
// Dense complex matrices.
// ---------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct Mat {
    pub dim: usize,
    /// Row-major.
    pub a: Vec<C64>,
}

impl Mat {
    pub fn zeros(dim: usize) -> Mat {
        Mat {
            dim,
            a: vec![ZERO; dim * dim],
        }
    }

    pub fn identity(dim: usize) -> Mat {
        let mut m = Mat::zeros(dim);
        for i in 0..dim {
            m.a[i * dim + i] = ONE;
        }
        m
    }

    pub fn from_rows(rows: &[&[C64]]) -> Mat {
        let dim = rows.len();
        let mut a = Vec::with_capacity(dim * dim);
        for r in rows {
            assert_eq!(r.len(), dim, "Mat::from_rows: not square");
            a.extend_from_slice(r);
        }
        Mat { dim, a }
    }

    pub fn from_real(rows: &[&[f64]]) -> Mat {
        let dim = rows.len();
        let mut a = Vec::with_capacity(dim * dim);
        for r in rows {
            assert_eq!(r.len(), dim);
            a.extend(r.iter().map(|&x| c(x, 0.0)));
        }
        Mat { dim, a }
    }

    pub fn diag(d: &[C64]) -> Mat {
        let mut m = Mat::zeros(d.len());
        for (i, &x) in d.iter().enumerate() {
            m.a[i * d.len() + i] = x;
        }
        m
    }

    pub fn get(&self, r: usize, col: usize) -> C64 {
        self.a[r * self.dim + col]
    }

    pub fn set(&mut self, r: usize, col: usize, v: C64) {
        self.a[r * self.dim + col] = v;
    }

    pub fn mul(&self, o: &Mat) -> Mat {
        assert_eq!(self.dim, o.dim);
        let d = self.dim;
        let mut m = Mat::zeros(d);
        for r in 0..d {
            for k in 0..d {
                let x = self.a[r * d + k];
                if x == ZERO {
                    continue;
                }
                for col in 0..d {
                    m.a[r * d + col] += x * o.a[k * d + col];
                }
            }
        }
        m
    }

    /// self ⊗ o (self on the high bits).
    pub fn kron(&self, o: &Mat) -> Mat {
        let d = self.dim * o.dim;
        let mut m = Mat::zeros(d);
        for r1 in 0..self.dim {
            for c1 in 0..self.dim {
                for r2 in 0..o.dim {
                    for c2 in 0..o.dim {
                        m.set(
                            r1 * o.dim + r2,
                            c1 * o.dim + c2,
                            self.get(r1, c1) * o.get(r2, c2),
                        );
                    }
                }
            }
        }
        m
    }

    pub fn dagger(&self) -> Mat {
        let d = self.dim;
        let mut m = Mat::zeros(d);
        for r in 0..d {
            for col in 0..d {
                m.a[col * d + r] = self.a[r * d + col].conj();
            }
        }
        m
    }

    pub fn scale(&self, s: C64) -> Mat {
        Mat {
            dim: self.dim,
            a: self.a.iter().map(|&x| x * s).collect(),
        }
    }

    pub fn add(&self, o: &Mat) -> Mat {
        assert_eq!(self.dim, o.dim);
        Mat {
            dim: self.dim,
            a: self.a.iter().zip(&o.a).map(|(&x, &y)| x + y).collect(),
        }
    }

    pub fn matvec(&self, v: &[C64]) -> Vec<C64> {
        assert_eq!(v.len(), self.dim);
        self.a
            .chunks_exact(self.dim)
            .map(|row| row.iter().zip(v).map(|(&x, &y)| x * y).sum())
            .collect()
    }

    /// max |self - o| entrywise.
    pub fn max_diff(&self, o: &Mat) -> f64 {
        assert_eq!(self.dim, o.dim);
        self.a
            .iter()
            .zip(&o.a)
            .map(|(&x, &y)| (x - y).norm())
            .fold(0.0, nan_max)
    }

    fn norm1(&self) -> f64 {
        self.a.iter().map(|x| x.norm()).sum()
    }

    /// Matrix exponential (scaling and squaring with a long Taylor series).
    pub fn expm(&self) -> Mat {
        let mut s = 0;
        let mut scaled = self.clone();
        while scaled.norm1() > 0.25 {
            scaled = scaled.scale(c(0.5, 0.0));
            s += 1;
        }
        let mut result = Mat::identity(self.dim);
        let mut term = Mat::identity(self.dim);
        for k in 1..30 {
            term = term.mul(&scaled).scale(c(1.0 / k as f64, 0.0));
            result = result.add(&term);
        }
        for _ in 0..s {
            result = result.mul(&result);
        }
        result
    }

    /// max |M M† - I|
    pub fn unitarity_error(&self) -> f64 {
        self.mul(&self.dagger()).max_diff(&Mat::identity(self.dim))
    }

    pub fn to_arc(&self) -> Arc<[C64]> {
        self.a.clone().into()
    }
}

pub fn id2() -> Mat {
    Mat::identity(2)
}
pub fn px() -> Mat {
    Mat::from_real(&[&[0.0, 1.0], &[1.0, 0.0]])
}
pub fn py() -> Mat {
    Mat::from_rows(&[&[ZERO, -I], &[I, ZERO]])
}
pub fn pz() -> Mat {
    Mat::from_real(&[&[1.0, 0.0], &[0.0, -1.0]])
}
pub fn pauli(p: char) -> Mat {
    match p {
        'I' => id2(),
        'X' => px(),
        'Y' => py(),
        'Z' => pz(),
        _ => panic!("not a Pauli: {p}"),
    }
}

/// Kronecker product of a list (first factor on the high bits).
pub fn kron_all(ms: &[Mat]) -> Mat {
    ms.iter()
        .skip(1)
        .fold(ms.first().cloned().unwrap_or(Mat::identity(1)), |acc, m| {
            acc.kron(m)
        })
}

/// exp(-i t/2 G)
pub fn rotation(g: &Mat, t: f64) -> Mat {
    g.scale(c(0.0, -t / 2.0)).expm()
}

// ---------------------------------------------------------------------------------
// Gate matrices (PennyLane's definitions), on all of the gate's wires.
// ---------------------------------------------------------------------------------

pub fn h_mat() -> Mat {
    Mat::from_real(&[&[1.0, 1.0], &[1.0, -1.0]]).scale(c(FRAC_1_SQRT_2, 0.0))
}
pub fn rx(t: f64) -> Mat {
    rotation(&px(), t)
}
pub fn ry(t: f64) -> Mat {
    rotation(&py(), t)
}
pub fn rz(t: f64) -> Mat {
    rotation(&pz(), t)
}
pub fn phase_shift(p: f64) -> Mat {
    Mat::diag(&[ONE, eip(p)])
}
pub fn rot(a: f64, b: f64, cc: f64) -> Mat {
    rz(cc).mul(&ry(b)).mul(&rz(a))
}
pub fn u2(phi: f64, lam: f64) -> Mat {
    Mat::from_rows(&[&[ONE, -eip(lam)], &[eip(phi), eip(phi + lam)]]).scale(c(FRAC_1_SQRT_2, 0.0))
}
pub fn u3(t: f64, phi: f64, lam: f64) -> Mat {
    let (s, co) = ((t / 2.0).sin(), (t / 2.0).cos());
    Mat::from_rows(&[
        &[c(co, 0.0), -eip(lam) * s],
        &[eip(phi) * s, eip(phi + lam) * co],
    ])
}
pub fn swap_mat() -> Mat {
    Mat::from_real(&[
        &[1.0, 0.0, 0.0, 0.0],
        &[0.0, 0.0, 1.0, 0.0],
        &[0.0, 1.0, 0.0, 0.0],
        &[0.0, 0.0, 0.0, 1.0],
    ])
}
pub fn iswap_mat() -> Mat {
    Mat::from_rows(&[
        &[ONE, ZERO, ZERO, ZERO],
        &[ZERO, ZERO, I, ZERO],
        &[ZERO, I, ZERO, ZERO],
        &[ZERO, ZERO, ZERO, ONE],
    ])
}
pub fn ising_xy(t: f64) -> Mat {
    let (s, co) = ((t / 2.0).sin(), (t / 2.0).cos());
    Mat::from_rows(&[
        &[ONE, ZERO, ZERO, ZERO],
        &[ZERO, c(co, 0.0), c(0.0, s), ZERO],
        &[ZERO, c(0.0, s), c(co, 0.0), ZERO],
        &[ZERO, ZERO, ZERO, ONE],
    ])
}
pub fn sx_mat() -> Mat {
    Mat::from_rows(&[&[c(1.0, 1.0), c(1.0, -1.0)], &[c(1.0, -1.0), c(1.0, 1.0)]]).scale(c(0.5, 0.0))
}

/// Controlled-U with `nc` leading control wires; control j must equal `values[j]`
/// (default true).
pub fn controlled(u: &Mat, nc: usize, values: &[bool]) -> Mat {
    let dim = u.dim << nc;
    let mut pattern = 0usize;
    for j in 0..nc {
        if values.get(j).copied().unwrap_or(true) {
            pattern |= 1 << (nc - 1 - j);
        }
    }
    let mut m = Mat::identity(dim);
    let base = pattern * u.dim;
    for r in 0..u.dim {
        for col in 0..u.dim {
            m.set(base + r, base + col, u.get(r, col));
        }
    }
    m
}

/// Number of parameters of each gate, as PennyLane defines them.
pub fn ref_n_params(g: Gate) -> usize {
    use Gate::*;
    match g {
        Identity | Hadamard | PauliX | PauliY | PauliZ | S | T | SX | CNOT | CY | CZ | SWAP
        | ISWAP | Toffoli | CSWAP | MultiControlledX | QubitUnitary => 0,
        RX | RY | RZ | PhaseShift | U1 | CRX | CRY | CRZ | ControlledPhaseShift | IsingXX
        | IsingYY | IsingZZ | IsingXY | MultiRZ | GlobalPhase => 1,
        U2 => 2,
        Rot | U3 | CRot => 3,
    }
}

/// The matrix of `g` on its `k` wires with angles `p`.
pub fn gate_matrix(
    g: Gate,
    p: &[f64],
    k: usize,
    matrix: Option<&[C64]>,
    control_values: &[bool],
) -> Mat {
    use Gate::*;
    let m = match g {
        Identity => id2(),
        Hadamard => h_mat(),
        PauliX => px(),
        PauliY => py(),
        PauliZ => pz(),
        S => Mat::diag(&[ONE, I]),
        T => Mat::diag(&[ONE, eip(PI / 4.0)]),
        SX => sx_mat(),
        RX => rx(p[0]),
        RY => ry(p[0]),
        RZ => rz(p[0]),
        PhaseShift | U1 => phase_shift(p[0]),
        Rot => rot(p[0], p[1], p[2]),
        U2 => u2(p[0], p[1]),
        U3 => u3(p[0], p[1], p[2]),
        CNOT => controlled(&px(), 1, &[]),
        CY => controlled(&py(), 1, &[]),
        CZ => controlled(&pz(), 1, &[]),
        SWAP => swap_mat(),
        ISWAP => iswap_mat(),
        CRX => controlled(&rx(p[0]), 1, &[]),
        CRY => controlled(&ry(p[0]), 1, &[]),
        CRZ => controlled(&rz(p[0]), 1, &[]),
        CRot => controlled(&rot(p[0], p[1], p[2]), 1, &[]),
        ControlledPhaseShift => controlled(&phase_shift(p[0]), 1, &[]),
        IsingXX => rotation(&px().kron(&px()), p[0]),
        IsingYY => rotation(&py().kron(&py()), p[0]),
        IsingZZ => rotation(&pz().kron(&pz()), p[0]),
        IsingXY => ising_xy(p[0]),
        MultiRZ => rotation(&kron_all(&vec![pz(); k]), p[0]),
        Toffoli => controlled(&px(), 2, &[]),
        CSWAP => controlled(&swap_mat(), 1, &[]),
        MultiControlledX => controlled(&px(), k - 1, control_values),
        QubitUnitary => {
            let a = matrix.expect("QubitUnitary needs a matrix").to_vec();
            Mat { dim: 1 << k, a }
        }
        GlobalPhase => Mat::identity(1 << k).scale(eip(-p[0])),
    };
    assert_eq!(
        m.dim,
        1 << k,
        "{}: reference matrix of the wrong size",
        g.name()
    );
    m
}

/// Angles of an op for one theta row (read from the op's plain data).
pub fn op_angles(op: &Op, row: &[f64]) -> Vec<f64> {
    op.params
        .iter()
        .map(|p| match *p {
            Param::Const(v) => v,
            Param::Col(col) => row[col],
        })
        .collect()
}

/// The matrix of an op (inverse applied) on its own wires.
pub fn op_matrix(op: &Op, row: &[f64]) -> Mat {
    let m = gate_matrix(
        op.gate,
        &op_angles(op, row),
        op.wires.len(),
        op.matrix.as_deref(),
        &op.control_values,
    );
    if op.inverse {
        m.dagger()
    } else {
        m
    }
}

// ---------------------------------------------------------------------------------
// Placing matrices on wires (wire 0 = most significant bit of the basis index).
// ---------------------------------------------------------------------------------

/// Bit of wire `w` in basis index `i` of an `n`-qubit register.
pub fn wire_bit(i: usize, w: usize, n: usize) -> usize {
    (i >> (n - 1 - w)) & 1
}

/// Local index of basis index `i` on `wires` (wires[0] the high local bit).
pub fn local_index(i: usize, wires: &[usize], n: usize) -> usize {
    let k = wires.len();
    wires
        .iter()
        .enumerate()
        .map(|(j, &w)| wire_bit(i, w, n) << (k - 1 - j))
        .sum()
}

/// Full 2^n x 2^n matrix of a k-wire matrix acting on `wires`.
pub fn embed(m: &Mat, wires: &[usize], n: usize) -> Mat {
    assert_eq!(m.dim, 1 << wires.len());
    let dim = 1usize << n;
    let wmask: usize = wires.iter().map(|&w| 1usize << (n - 1 - w)).sum();
    let mut full = Mat::zeros(dim);
    for i in 0..dim {
        for j in 0..dim {
            if i & !wmask == j & !wmask {
                full.set(
                    i,
                    j,
                    m.get(local_index(i, wires, n), local_index(j, wires, n)),
                );
            }
        }
    }
    full
}

/// `m` on `wires` applied to `state` by index arithmetic (no 2^n x 2^n matrix).
pub fn apply_local(m: &Mat, wires: &[usize], state: &[C64]) -> Vec<C64> {
    let n = state.len().trailing_zeros() as usize;
    assert_eq!(state.len(), 1 << n);
    let k = wires.len();
    assert_eq!(m.dim, 1 << k);
    let wmask: usize = wires.iter().map(|&w| 1usize << (n - 1 - w)).sum();
    // offset of each local basis state
    let offs: Vec<usize> = (0..1usize << k)
        .map(|l| {
            (0..k)
                .filter(|j| (l >> (k - 1 - j)) & 1 == 1)
                .map(|j| 1usize << (n - 1 - wires[j]))
                .sum()
        })
        .collect();
    (0..state.len())
        .map(|i| {
            let base = i & !wmask;
            let l = local_index(i, wires, n);
            (0..offs.len())
                .map(|lp| m.get(l, lp) * state[base | offs[lp]])
                .sum()
        })
        .collect()
}

/// The reference final state of a tape for one theta row.
pub fn ref_state(tape: &Tape, row: &[f64], init: &[C64]) -> Vec<C64> {
    let mut s = init.to_vec();
    for op in &tape.ops {
        s = apply_local(&op_matrix(op, row), &op.wires, &s);
    }
    s
}

/// The full unitary of a tape (small n only).
pub fn ref_unitary(tape: &Tape, row: &[f64]) -> Mat {
    let n = tape.n_qubits;
    let mut u = Mat::identity(1 << n);
    for op in &tape.ops {
        u = embed(&op_matrix(op, row), &op.wires, n).mul(&u);
    }
    u
}

// ---------------------------------------------------------------------------------
// States and random matrices.
// ---------------------------------------------------------------------------------

pub fn normalise(v: &mut [C64]) {
    let norm = v.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}

pub fn random_state(n: usize, rng: &mut Rng) -> Vec<C64> {
    let mut v: Vec<C64> = (0..1usize << n).map(|_| rng.complex()).collect();
    normalise(&mut v);
    v
}

pub fn basis_state(n: usize, index: usize) -> Vec<C64> {
    let mut v = vec![ZERO; 1 << n];
    v[index] = ONE;
    v
}

/// A Haar-ish random unitary on k qubits (Gram-Schmidt of a Gaussian matrix).
pub fn random_unitary(k: usize, rng: &mut Rng) -> Mat {
    let d = 1usize << k;
    let mut rows: Vec<Vec<C64>> = (0..d)
        .map(|_| (0..d).map(|_| rng.complex()).collect())
        .collect();
    for i in 0..d {
        for j in 0..i {
            let (done, rest) = rows.split_at_mut(i);
            let dot: C64 = done[j]
                .iter()
                .zip(&rest[0])
                .map(|(a, b)| a.conj() * b)
                .sum();
            for (x, y) in rest[0].iter_mut().zip(&done[j]) {
                *x -= dot * y;
            }
        }
        normalise(&mut rows[i]);
    }
    let m = Mat {
        dim: d,
        a: rows.concat(),
    };
    assert!(m.unitarity_error() < 1e-12);
    m
}

/// A random Hermitian matrix on k qubits.
pub fn random_hermitian(k: usize, rng: &mut Rng) -> Mat {
    let d = 1usize << k;
    let a = Mat {
        dim: d,
        a: (0..d * d).map(|_| rng.complex()).collect(),
    };
    a.add(&a.dagger()).scale(c(0.5, 0.0))
}

// ---------------------------------------------------------------------------------
// Precision conversion and comparisons.
// ---------------------------------------------------------------------------------

pub fn to_prec<T: Real>(v: &[C64]) -> Vec<C<T>> {
    v.iter().map(|z| C::new(T::of(z.re), T::of(z.im))).collect()
}

pub fn widen<T: Real>(v: &[C<T>]) -> Vec<C64> {
    v.iter().map(|z| c(z.re.f64(), z.im.f64())).collect()
}

/// max that propagates NaN (f64::max drops it).
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

pub fn max_diff(a: &[C64], b: &[C64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, nan_max)
}

pub fn assert_states_close(got: &[C64], want: &[C64], tol: f64, ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: length mismatch");
    let (mut worst, mut at) = (0.0f64, 0);
    for (i, (x, y)) in got.iter().zip(want).enumerate() {
        let d = (x - y).norm();
        // a NaN difference must fail too
        if d.is_nan() {
            worst = d;
            at = i;
            break;
        }
        if d > worst {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol,
        "{ctx}: max |got - want| = {worst:.3e} > {tol:.1e} at index {at}: got {}, want {}",
        got[at],
        want[at]
    );
}

pub fn assert_reals_close(got: &[f64], want: &[f64], tol: f64, ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: length mismatch");
    for (i, (x, y)) in got.iter().zip(want).enumerate() {
        assert!(
            (x - y).abs() <= tol,
            "{ctx}: entry {i}: got {x}, want {y} (diff {:.3e} > {tol:.1e})",
            (x - y).abs()
        );
    }
}

/// Tolerances by precision: (amplitudes, reductions).
pub fn tol<T: Real>() -> f64 {
    if std::mem::size_of::<T>() == 8 {
        1e-12
    } else {
        1e-5
    }
}

// ---------------------------------------------------------------------------------
// Observables as dense matrices.
// ---------------------------------------------------------------------------------

/// Full matrix of a Pauli word given as (wire, 'I'|'X'|'Y'|'Z') factors.
pub fn pauli_word_matrix(n: usize, factors: &[(usize, char)]) -> Mat {
    let mut m = Mat::identity(1 << n);
    for &(w, p) in factors {
        m = embed(&pauli(p), &[w], n).mul(&m);
    }
    m
}

/// Full matrix of Σ c_t P_t.
pub fn pauli_sum_matrix(n: usize, terms: &[(f64, Vec<(usize, char)>)]) -> Mat {
    terms.iter().fold(Mat::zeros(1 << n), |acc, (coef, f)| {
        acc.add(&pauli_word_matrix(n, f).scale(c(*coef, 0.0)))
    })
}

/// Full matrix of the projector onto basis state `bits` of `wires`.
pub fn projector_matrix(n: usize, wires: &[usize], bits: &[u8]) -> Mat {
    let k = wires.len();
    let mut local = Mat::zeros(1 << k);
    let idx: usize = bits
        .iter()
        .enumerate()
        .map(|(j, &b)| (b as usize) << (k - 1 - j))
        .sum();
    local.set(idx, idx, ONE);
    embed(&local, wires, n)
}

/// ⟨ψ|M|ψ⟩ (real part) for a full matrix.
pub fn expval_dense(m: &Mat, psi: &[C64]) -> f64 {
    let mpsi = m.matvec(psi);
    psi.iter()
        .zip(&mpsi)
        .map(|(a, b)| a.conj() * b)
        .sum::<C64>()
        .re
}

/// ⟨M²⟩ − ⟨M⟩² for a Hermitian full matrix.
pub fn var_dense(m: &Mat, psi: &[C64]) -> f64 {
    let mpsi = m.matvec(psi);
    let sq: f64 = mpsi.iter().map(|x| x.norm_sqr()).sum();
    let e = expval_dense(m, psi);
    sq - e * e
}

/// Marginal probabilities of `wires` (wires[0] the high bit of the outcome).
pub fn ref_probs(psi: &[C64], wires: &[usize]) -> Vec<f64> {
    let n = psi.len().trailing_zeros() as usize;
    let mut p = vec![0.0; 1 << wires.len()];
    for (i, a) in psi.iter().enumerate() {
        p[local_index(i, wires, n)] += a.norm_sqr();
    }
    p
}

// ---------------------------------------------------------------------------------
// Building tapes.
// ---------------------------------------------------------------------------------

pub fn op(g: Gate, wires: &[usize], params: Vec<Param>) -> Op {
    Op::new(g, wires.to_vec(), params)
}

pub fn tape_of(n: usize, n_params: usize, ops: Vec<Op>) -> Tape {
    let mut t = Tape::new(n, n_params).expect("Tape::new");
    for o in ops {
        let name = o.gate.name();
        let wires = o.wires.clone();
        t.push(o)
            .unwrap_or_else(|e| panic!("push {name} {wires:?}: {e}"));
    }
    t
}

/// Random theta of `batch` rows of width `p`.
pub fn random_theta(batch: usize, p: usize, rng: &mut Rng) -> Vec<f64> {
    (0..batch * p).map(|_| rng.angle()).collect()
}

/// Number of wires to use for `g` in random circuits.
pub fn random_arity(g: Gate, n: usize, rng: &mut Rng) -> usize {
    match g.n_wires() {
        Some(k) => k,
        None => match g {
            Gate::GlobalPhase => rng.below(3.min(n + 1)),
            Gate::MultiControlledX => 2 + rng.below(3.min(n - 1)),
            _ => 1 + rng.below(3.min(n)),
        },
    }
}

/// A random, valid op of kind `g` on an n-qubit register with theta of width `p`:
/// random distinct wires, parameters mostly theta columns (some constants), random
/// inverse flag, random matrix / control values where the gate takes them.
pub fn random_op(g: Gate, n: usize, p: usize, rng: &mut Rng) -> Op {
    let k = random_arity(g, n, rng);
    let wires = rng.distinct(n, k);
    let params = (0..g.n_params())
        .map(|_| {
            if p == 0 || rng.coin(0.2) {
                Param::Const(rng.angle())
            } else {
                Param::Col(rng.below(p))
            }
        })
        .collect();
    let mut o = Op::new(g, wires, params);
    o.inverse = rng.coin(0.35);
    if g == Gate::QubitUnitary {
        o.matrix = Some(random_unitary(k, rng).to_arc());
    }
    if g == Gate::MultiControlledX && rng.coin(0.5) {
        o.control_values = (0..k - 1).map(|_| rng.coin(0.5)).collect();
    }
    o
}

/// The parametrised gates.
pub fn parametrised_gates() -> Vec<Gate> {
    Gate::ALL
        .iter()
        .copied()
        .filter(|g| g.n_params() > 0)
        .collect()
}

/// Apply one op (via the crate) to a single state with a theta row.
pub fn run_state<T: Real>(tape: &Tape, theta: &[f64], batch: usize, init: &[C64]) -> Vec<C64> {
    let init_t = to_prec::<T>(init);
    let out =
        qoxide_core::simple::state::<T>(tape, theta, batch, qoxide_core::Init::Shared(&init_t))
            .expect("simple::state");
    widen(&out)
}

/// A few observables of every kind on an n-qubit register (n >= 3), with their
/// dense matrices.
pub fn mixed_observables(n: usize, rng: &mut Rng) -> Vec<(Obs, Mat)> {
    let mut out = Vec::new();
    let w = rng.distinct(n, 3);
    // Pauli sum with X/Y/Z mixes
    let terms = vec![
        (0.7, vec![(w[0], 'Z')]),
        (-1.3, vec![(w[1], 'X'), (w[0], 'Y')]),
        (0.4, vec![(w[2], 'Y'), (w[1], 'Y'), (w[0], 'X')]),
        (0.25, vec![]),
    ];
    out.push((Obs::pauli(n, &terms).unwrap(), pauli_sum_matrix(n, &terms)));
    // Hermitian on two wires, reversed order
    let h = random_hermitian(2, rng);
    out.push((
        Obs::hermitian(n, vec![w[2], w[0]], h.a.clone()).unwrap(),
        embed(&h, &[w[2], w[0]], n),
    ));
    // Projector
    let bits = [1u8, 0];
    out.push((
        Obs::projector(n, &[w[1], w[2]], &bits).unwrap(),
        projector_matrix(n, &[w[1], w[2]], &bits),
    ));
    // Sum of a Hermitian on one wire and a Pauli word
    let h1 = random_hermitian(1, rng);
    let t2 = vec![(1.0, vec![(w[0], 'X'), (w[2], 'Z')])];
    let s = Obs::sum(vec![
        (0.5, Obs::hermitian(n, vec![w[1]], h1.a.clone()).unwrap()),
        (-2.0, Obs::pauli(n, &t2).unwrap()),
    ])
    .unwrap();
    let sm = embed(&h1, &[w[1]], n)
        .scale(c(0.5, 0.0))
        .add(&pauli_sum_matrix(n, &t2).scale(c(-2.0, 0.0)));
    out.push((s, sm));
    out
}

/// The same kinds of observables as `mixed_observables`, without dense matrices
/// (for large registers).
pub fn mixed_obs_only(n: usize, rng: &mut Rng) -> Vec<Obs> {
    let w = rng.distinct(n, 3);
    let terms = vec![
        (0.7, vec![(w[0], 'Z')]),
        (-1.3, vec![(w[1], 'X'), (w[0], 'Y')]),
        (0.4, vec![(w[2], 'Y'), (w[1], 'Y'), (w[0], 'X')]),
        (0.25, vec![]),
    ];
    let t2 = vec![(1.0, vec![(w[0], 'X'), (w[2], 'Z')])];
    vec![
        Obs::pauli(n, &terms).unwrap(),
        Obs::hermitian(n, vec![w[2], w[0]], random_hermitian(2, rng).a).unwrap(),
        Obs::projector(n, &[w[1], w[2]], &[1, 0]).unwrap(),
        Obs::sum(vec![
            (
                0.5,
                Obs::hermitian(n, vec![w[1]], random_hermitian(1, rng).a).unwrap(),
            ),
            (-2.0, Obs::pauli(n, &t2).unwrap()),
        ])
        .unwrap(),
    ]
}
