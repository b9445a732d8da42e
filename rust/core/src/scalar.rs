//! Precision genericity: every kernel runs on complex64 or complex128.

use num_complex::Complex;
use num_traits::{Float, FromPrimitive, NumAssign, ToPrimitive};
use std::fmt::Debug;
use std::iter::Sum;

pub type C<T> = Complex<T>;

/// Runs of complex amplitudes for which a vector path may exist (implemented for f32 and
/// f64 in `state::simd`, with AVX2 paths).
pub trait SimdRuns: Sized + Copy {
    /// Whether this CPU has the vector paths (then every entry below takes them).
    fn available() -> bool;
    /// `(x, y) <- (m0 x + m1 y, m2 x + m3 y)` elementwise, complex `m`.
    fn mat1(x: &mut [Complex<Self>], y: &mut [Complex<Self>], m: &[Complex<Self>; 4]) -> bool;
    /// The same with a real matrix.
    fn mat1_real(x: &mut [Complex<Self>], y: &mut [Complex<Self>], m: &[Self; 4]) -> bool;
    /// `x <- d x` elementwise.
    fn scale(x: &mut [Complex<Self>], d: Complex<Self>) -> bool;
    /// The 2x2 matrix `m` on a low bit `t` < 3 of `s` (length a multiple of 8), where runs
    /// are too short for `mat1`: lanes of one register hold both halves of a pair.
    fn mat1_low(s: &mut [Complex<Self>], t: u32, m: &[Complex<Self>; 4]) -> bool;
    /// Σ_j conj(a_j) b_j.
    fn dot(a: &[Complex<Self>], b: &[Complex<Self>]) -> Option<Complex<Self>>;
    /// Re Σ_j conj(a_j) b_j = Σ_j (a.re b.re + a.im b.im): a real dot product of the
    /// interleaved parts, half the work of `dot`.
    fn dot_re(a: &[Complex<Self>], b: &[Complex<Self>]) -> Option<Self>;
}

pub type C64 = Complex<f64>;

pub trait Real:
    SimdRuns
    + Float
    + FromPrimitive
    + ToPrimitive
    + Sum
    + Default
    + Debug
    + Send
    + Sync
    + NumAssign
    + 'static
{
    fn of(x: f64) -> Self;
    fn f64(self) -> f64;
}

impl Real for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

/// `a * b + c`, in one rounding if `FMA` (where the CPU lacks FMA, `mul_add` is a slow
/// library routine: callers pass whether the code is compiled with it enabled).
#[inline(always)]
pub fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
pub fn cast<T: Real>(z: C64) -> C<T> {
    C::new(T::of(z.re), T::of(z.im))
}

#[inline(always)]
pub fn widen<T: Real>(z: C<T>) -> C64 {
    C64::new(z.re.f64(), z.im.f64())
}

/// a·b for row-major 2x2 complex matrices.
#[inline]
pub fn mul2<T: Real>(a: &[C<T>; 4], b: &[C<T>; 4]) -> [C<T>; 4] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
    ]
}
