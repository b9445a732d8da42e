//! Precision genericity: every kernel runs on complex64 or complex128.

use num_complex::Complex;
use num_traits::{Float, FromPrimitive, NumAssign, ToPrimitive};
use std::fmt::Debug;
use std::iter::Sum;

pub type C<T> = Complex<T>;
pub type C64 = Complex<f64>;

pub trait Real:
    crate::state::simd::SimdRuns
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
