//! Chunked loops and reductions over index ranges, parallel on request.
//!
//! Sums are accumulated per chunk in the state's precision and across chunks in f64,
//! which keeps complex64 reductions accurate on large registers.

use super::CHUNK_AMPS;
use crate::scalar::{widen, Real, C, C64};
use rayon::prelude::*;
use std::ops::Range;

/// Call `f` on consecutive sub-ranges covering `0..count` (in parallel if `par`).
#[inline]
pub fn for_ranges(count: usize, chunk: usize, par: bool, f: impl Fn(Range<usize>) + Sync + Send) {
    let chunk = chunk.max(1);
    if par && count > chunk {
        (0..count.div_ceil(chunk))
            .into_par_iter()
            .for_each(|c| f(c * chunk..((c + 1) * chunk).min(count)));
    } else {
        f(0..count)
    }
}

/// Σ f(range) over consecutive sub-ranges of `0..count`.
#[inline]
pub fn sum_ranges<T: Real>(
    count: usize,
    par: bool,
    f: impl Fn(Range<usize>) -> C<T> + Sync + Send,
) -> C64 {
    let chunk = CHUNK_AMPS;
    let nchunks = count.div_ceil(chunk).max(1);
    let one = |c: usize| widen(f(c * chunk..((c + 1) * chunk).min(count)));
    if par && nchunks > 1 {
        (0..nchunks).into_par_iter().map(one).sum()
    } else {
        (0..nchunks).map(one).sum()
    }
}

/// Σ f(range) for real-valued f.
#[inline]
pub fn sum_ranges_real<T: Real>(
    count: usize,
    par: bool,
    f: impl Fn(Range<usize>) -> T + Sync + Send,
) -> f64 {
    sum_ranges::<T>(count, par, |r| C::new(f(r), T::zero())).re
}

/// Re⟨a|b⟩ = Σ (a.re b.re + a.im b.im) of whole states (chunk sums in f64).
pub fn re_inner<T: Real>(a: &[C<T>], b: &[C<T>], par: bool) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    sum_ranges_real::<T>(b.len(), par, |r| re_dot(&a[r.clone()], &b[r]))
}

/// Re⟨a|b⟩ of two runs, in their precision, on the vector path where the CPU has one.
#[inline(always)]
pub fn re_dot<T: Real>(a: &[C<T>], b: &[C<T>]) -> T {
    T::dot_re(a, b).unwrap_or_else(|| {
        a.iter()
            .zip(b)
            .fold(T::zero(), |acc, (x, y)| acc + x.re * y.re + x.im * y.im)
    })
}

/// A raw pointer that may cross threads. Callers guarantee that concurrent users
/// touch disjoint indices (each gate group is owned by exactly one work item).
#[derive(Clone, Copy)]
pub struct SharedMut<T>(pub *mut T);
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

impl<T: Copy> SharedMut<T> {
    /// # Safety
    /// `i` is in bounds and no other thread writes index `i` concurrently.
    #[inline(always)]
    pub unsafe fn get(self, i: usize) -> T {
        *self.0.add(i)
    }
    /// # Safety
    /// `i` is in bounds and no other thread reads or writes index `i` concurrently.
    #[inline(always)]
    pub unsafe fn set(self, i: usize, v: T) {
        *self.0.add(i) = v
    }
}
