//! Per-lane coefficients of one-parameter rotations without a `gates::form` per sample.
//!
//! `gates::form` costs a libm sincos plus a matrix build per sample and op: about half of
//! the lane engine's time on the dressed circuit. A gate with a generator is
//! U(θ) = exp(cθG); when G's eigenvalues are in {-1, 0, 1} (every such gate but IsingXY),
//! each eigenvalue contributes 1 or e^{±iφ} with φ = Im(c)·θ, so
//!   U(θ) = A + cos φ · B + sin φ · C
//! with constant A, B, C. They are read off `gates::form` at φ = 0, π/2 and π, and the
//! identity is checked at other angles (a gate that fails keeps the per-sample forms).
//! Per lane that leaves one vectorised sincos and a few multiply-adds per coefficient.

use super::form_coefs;
use super::kernels::Z;
use crate::gates;
use crate::scalar::{madd, Real, C64};
use crate::Gate;
use std::f64::consts::{FRAC_2_PI, FRAC_PI_2, PI};
use std::sync::OnceLock;

pub(super) struct Rotation {
    /// φ = omega · θ
    omega: f64,
    /// (A, B, C) per coefficient
    abc: Vec<[C64; 3]>,
}

impl Rotation {
    /// The rotation form of a one-parameter gate, if it has one (found once per gate kind;
    /// `Gate::ALL` lists the kinds in declaration order, so `gate as usize` indexes it).
    pub fn of(gate: Gate) -> Option<&'static Rotation> {
        static TABLE: OnceLock<Vec<Option<Rotation>>> = OnceLock::new();
        TABLE.get_or_init(|| Gate::ALL.iter().map(|&g| Rotation::new(g)).collect())[gate as usize]
            .as_ref()
    }

    fn new(gate: Gate) -> Option<Rotation> {
        let (_, c) = gates::generator(gate).filter(|_| gate.n_params() == 1)?;
        let omega = c.im;
        let at = |phi: f64| {
            let mut m = Vec::new();
            form_coefs(&gates::form(gate, &[phi / omega], None), |_, z| m.push(z));
            m
        };
        let (u0, u1, u2) = (at(0.0), at(FRAC_PI_2), at(PI));
        let abc = (0..u0.len())
            .map(|k| {
                let a = (u0[k] + u2[k]) / 2.0;
                [a, (u0[k] - u2[k]) / 2.0, u1[k] - a]
            })
            .collect();
        let rot = Rotation { omega, abc };
        let holds = [0.7, -2.3, 4.0].iter().all(|&phi| {
            let (s, c) = f64::sin_cos(phi);
            (at(phi).iter().zip(&rot.abc))
                .all(|(u, [a, b, cc])| (a + b * c + cc * s - u).norm() < 1e-14)
        });
        holds.then_some(rot)
    }

    /// Whether every coefficient is real at every angle (RY).
    pub fn is_real(&self) -> bool {
        (self.abc.iter().flatten()).all(|z| z.im == 0.0)
    }

    /// Coefficients into `z` for the lane angles `theta` (`inverse`: of U(-θ) = U(θ)†).
    #[inline(always)]
    pub fn fill<T: Real, const L: usize>(
        &self,
        z: &mut Vec<Z<T, L>>,
        theta: &[f64; L],
        inverse: bool,
    ) {
        let sign = if inverse { -self.omega } else { self.omega };
        let (s, c) = sin_cos(&theta.map(|t| t * sign));
        // one loop over lanes per part: re and im written in the same loop were left
        // scalar (16 lanes unrolled, a third of a small call's time)
        z.resize(self.abc.len(), Z::zero());
        for (zk, [a, b, cc]) in z.iter_mut().zip(&self.abc) {
            let part = |out: &mut [T; L], a: f64, b: f64, cc: f64| {
                for ((o, &cl), &sl) in out.iter_mut().zip(&c).zip(&s) {
                    *o = T::of(a + b * cl + cc * sl);
                }
            };
            part(&mut zk.re, a.re, b.re, cc.re);
            part(&mut zk.im, a.im, b.im, cc.im);
        }
    }
}

/// π/2 = P1 + P2 + P3 to about 2^-122: P1 and P2 have 33 significant bits, so q·P1 and
/// q·P2 are exact for integers |q| < 2^20 (Cody & Waite's reduction).
const P1: f64 = 1.570_796_326_734_125_6;
const P2: f64 = 6.077_100_506_303_966e-11;
const P3: f64 = 2.022_266_248_795_950_6e-21;

/// Adding 1.5·2^52 rounds a float below 2^51 to an integer (in its low mantissa bits).
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Lanes beyond this |x| go through libm (the reduction above holds to about 1e6).
pub(super) const FAST_MAX: f64 = 1e5;

/// (sin x, cos x) lane by lane, within about 1 ulp: reduction by π/2, then Taylor series
/// on [-π/4, π/4] to x^17 / x^18 (truncation below 1e-17), then the quadrant. The series
/// take fused multiply-adds where the CPU has them (a third of the instructions).
#[inline(always)]
pub(super) fn sin_cos<const L: usize>(x: &[f64; L]) -> ([f64; L], [f64; L]) {
    if !x.iter().all(|v| v.abs() < FAST_MAX) {
        let (mut s, mut c) = ([0.0; L], [0.0; L]);
        for l in 0..L {
            (s[l], c[l]) = x[l].sin_cos();
        }
        return (s, c);
    }
    if crate::cpu::has_avx2_fma() {
        series::<L, true>(x)
    } else {
        series::<L, false>(x)
    }
}

/// `sin_cos` for |x| < `FAST_MAX`.
#[inline(always)]
pub(super) fn series<const L: usize, const FUSED: bool>(x: &[f64; L]) -> ([f64; L], [f64; L]) {
    let (mut s, mut c) = ([0.0; L], [0.0; L]);
    for l in 0..L {
        let qr = x[l] * FRAC_2_PI + ROUND;
        let q = qr - ROUND;
        let quadrant = qr.to_bits() & 3;
        let r = ((x[l] - q * P1) - q * P2) - q * P3;
        let r2 = r * r;
        // 1/n! for the odd (sin) and even (cos) terms, highest first
        let mut ps = 1.0 / 355_687_428_096_000.0; // 1/17!
        for k in [
            -1.0 / 1_307_674_368_000.0,
            1.0 / 6_227_020_800.0,
            -1.0 / 39_916_800.0,
        ] {
            ps = madd::<f64, FUSED>(ps, r2, k);
        }
        for k in [1.0 / 362_880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0] {
            ps = madd::<f64, FUSED>(ps, r2, k);
        }
        let mut pc = 1.0 / 6_402_373_705_728_000.0; // 1/18!
        for k in [
            -1.0 / 20_922_789_888_000.0,
            1.0 / 87_178_291_200.0,
            -1.0 / 479_001_600.0,
        ] {
            pc = madd::<f64, FUSED>(pc, r2, k);
        }
        for k in [
            1.0 / 3_628_800.0,
            -1.0 / 40320.0,
            1.0 / 720.0,
            -1.0 / 24.0,
            0.5,
        ] {
            pc = madd::<f64, FUSED>(pc, r2, k);
        }
        let (sr, cr) = (
            madd::<f64, FUSED>(r * r2, ps, r),
            madd::<f64, FUSED>(-r2, pc, 1.0),
        );
        // sin/cos of r + quadrant·π/2
        let (a, b) = if quadrant & 1 == 1 {
            (cr, sr)
        } else {
            (sr, cr)
        };
        s[l] = if quadrant & 2 != 0 { -a } else { a };
        c[l] = if (quadrant + 1) & 2 != 0 { -b } else { b };
    }
    (s, c)
}
