//! Gate kernels: a gate with resolved angles becomes one `Kernel`, specialised by
//! structure (dense, diagonal, permutation, parity phase) and optional control bits.
//!
//! Two operations per kernel:
//! - `apply`: `state <- K state`, in place;
//! - `inner`: `<bra| K |ket>` summed over the control-matching subspace only. Used by
//!   the adjoint method with derivative kernels dU/dθ, which vanish off that subspace.
//!
//! Bit positions are index bits (wire w of n is bit n-1-w).

use super::index::set_bits;
use super::reduce::{for_ranges, re_dot, re_inner, sum_ranges, SharedMut};
use super::CHUNK_AMPS;
use crate::scalar::{widen, Real, C, C64};
use crate::with_groups;
use num_traits::{One, Zero};
use rayon::prelude::*;
use std::sync::Arc;

/// Control bits: the kernel acts where `index & mask == value`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ctrl {
    pub mask: usize,
    pub value: usize,
}

impl Ctrl {
    pub const NONE: Ctrl = Ctrl { mask: 0, value: 0 };

    #[inline(always)]
    pub fn is_none(&self) -> bool {
        self.mask == 0
    }
}

#[derive(Clone, Debug)]
pub enum Kernel<T> {
    Identity,
    /// 2x2 matrix (row-major) on bit `t`.
    Mat1 {
        t: u32,
        m: [C<T>; 4],
        ctrl: Ctrl,
    },
    /// diag(d0, d1) on bit `t`.
    Diag1 {
        t: u32,
        d: [C<T>; 2],
        ctrl: Ctrl,
    },
    /// Pauli X on bit `t` (a permutation: swaps, no arithmetic).
    Flip {
        t: u32,
        ctrl: Ctrl,
    },
    /// 4x4 matrix on bits (t0, t1); t0 is the high bit of the local index.
    Mat2 {
        t0: u32,
        t1: u32,
        m: Box<[C<T>; 16]>,
    },
    /// Swap of bits t0 and t1.
    Swap {
        t0: u32,
        t1: u32,
        ctrl: Ctrl,
    },
    /// Multiply each amplitude by `even` or `odd` by the parity of `index & mask`.
    Parity {
        mask: usize,
        even: C<T>,
        odd: C<T>,
    },
    /// Dense 2^k x 2^k matrix on `bits` (bits[0] is the high bit of the local index).
    MatK {
        bits: Vec<u32>,
        m: Arc<[C<T>]>,
    },
}

#[inline(always)]
fn zero<T: Real>() -> C<T> {
    C::zero()
}

/// Apply `f(base)` to every group of the kernel, each group touched by one work item.
fn each_group<T: Real>(
    s: &mut [C<T>],
    targets: &[u32],
    ctrl: Ctrl,
    par: bool,
    f: impl Fn(SharedMut<C<T>>, usize) + Sync + Send,
) {
    let n = s.len().trailing_zeros();
    let p = SharedMut(s.as_mut_ptr());
    let per_chunk = (CHUNK_AMPS >> targets.len()).max(1);
    with_groups!(n, targets, ctrl.mask, ctrl.value, |gi| {
        for_ranges(gi.count(), per_chunk, par, |r| {
            for g in r {
                f(p, gi.base(g))
            }
        })
    })
}

/// Σ over groups of `f(base)`.
fn sum_groups<T: Real>(
    n: u32,
    targets: &[u32],
    ctrl: Ctrl,
    par: bool,
    f: impl Fn(usize) -> C<T> + Sync + Send,
) -> C64 {
    with_groups!(n, targets, ctrl.mask, ctrl.value, |gi| {
        sum_ranges::<T>(gi.count(), par, |r| {
            let mut acc = zero::<T>();
            for g in r {
                acc += f(gi.base(g));
            }
            acc
        })
    })
}

/// Call `f(low, high)` on matching slices of amplitudes whose bit `t` is 0 / 1.
/// Contiguous slices let the compiler vectorise the inner loop.
fn pairs<T: Send>(s: &mut [T], t: u32, par: bool, f: impl Fn(&mut [T], &mut [T]) + Sync + Send) {
    let half = 1usize << t;
    let block = half << 1;
    let visit = |blk: &mut [T]| {
        for b in blk.chunks_exact_mut(block) {
            let (x, y) = b.split_at_mut(half);
            f(x, y)
        }
    };
    if !par {
        visit(s)
    } else if block <= s.len() / 16 {
        s.par_chunks_mut(block.max(CHUNK_AMPS)).for_each(visit)
    } else {
        for b in s.chunks_exact_mut(block) {
            let (x, y) = b.split_at_mut(half);
            x.par_chunks_mut(CHUNK_AMPS / 2)
                .zip(y.par_chunks_mut(CHUNK_AMPS / 2))
                .for_each(|(x, y)| f(x, y));
        }
    }
}

/// Σ f(bra_lo, bra_hi, ket_lo, ket_hi) over matching runs of amplitudes whose bit `t`
/// is 0 / 1: the read-only twin of `pairs`, vectorisable the same way.
fn pair_sum<T: Real>(
    bra: &[C<T>],
    ket: &[C<T>],
    t: u32,
    par: bool,
    f: impl Fn(&[C<T>], &[C<T>], &[C<T>], &[C<T>]) -> C<T> + Sync + Send,
) -> C64 {
    let half = 1usize << t;
    let per = half.min(CHUNK_AMPS / 2);
    let items_per_block = half / per;
    let n_items = (ket.len() / (2 * half)) * items_per_block;
    let item = |k: usize| {
        let lo = (k / items_per_block) * 2 * half + (k % items_per_block) * per;
        let hi = lo + half;
        widen(f(
            &bra[lo..lo + per],
            &bra[hi..hi + per],
            &ket[lo..lo + per],
            &ket[hi..hi + per],
        ))
    };
    if par && n_items > 1 {
        (0..n_items).into_par_iter().map(item).sum()
    } else {
        (0..n_items).map(item).sum()
    }
}

/// Σ conj(a_j) b_j, on the vector path where the CPU has one.
#[inline(always)]
fn dot<T: Real>(a: &[C<T>], b: &[C<T>]) -> C<T> {
    T::dot(a, b).unwrap_or_else(|| {
        a.iter()
            .zip(b)
            .fold(zero(), |acc, (x, y)| acc + x.conj() * y)
    })
}

/// A 2x2 matrix entry: complex, or real (a real times a complex amplitude is half the
/// multiplies of a complex product).
trait Coef<T: Real>: Copy + Send + Sync {
    fn times(self, u: C<T>) -> C<T>;
    fn complex(self) -> C<T>;
    /// The vector path for runs `(x, y) <- m (x, y)`, if the CPU has one.
    fn simd_runs(m: &[Self; 4], x: &mut [C<T>], y: &mut [C<T>]) -> bool;
}

impl<T: Real> Coef<T> for T {
    #[inline(always)]
    fn times(self, u: C<T>) -> C<T> {
        u * self
    }
    #[inline(always)]
    fn complex(self) -> C<T> {
        C::new(self, T::zero())
    }
    #[inline(always)]
    fn simd_runs(m: &[T; 4], x: &mut [C<T>], y: &mut [C<T>]) -> bool {
        T::mat1_real(x, y, m)
    }
}

impl<T: Real> Coef<T> for C<T> {
    #[inline(always)]
    fn times(self, u: C<T>) -> C<T> {
        self * u
    }
    #[inline(always)]
    fn complex(self) -> C<T> {
        self
    }
    #[inline(always)]
    fn simd_runs(m: &[C<T>; 4], x: &mut [C<T>], y: &mut [C<T>]) -> bool {
        T::mat1(x, y, m)
    }
}

/// `s <- m s` for the 2x2 matrix `m` on bit `t`.
fn apply_mat1<T: Real, M: Coef<T>>(s: &mut [C<T>], t: u32, m: [M; 4], ctrl: Ctrl, par: bool) {
    let [m0, m1, m2, m3] = m;
    if ctrl.is_none() && t >= MIN_RUN {
        pairs(s, t, par, |a, b| mat1_runs(a, b, &m))
    } else if ctrl.is_none() && s.len() >= 8 && T::available() {
        let mc = m.map(M::complex);
        let low = |c: &mut [C<T>]| {
            T::mat1_low(c, t, &mc);
        };
        if par {
            s.par_chunks_mut(CHUNK_AMPS).for_each(low)
        } else {
            low(s)
        }
    } else {
        let o = 1usize << t;
        each_group(s, &[t], ctrl, par, |p, i| unsafe {
            let (u, v) = (p.get(i), p.get(i | o));
            p.set(i, m0.times(u) + m1.times(v));
            p.set(i | o, m2.times(u) + m3.times(v));
        })
    }
}

/// `(a, b) <- m (a, b)` elementwise on matching runs whose bit t is 0 / 1.
#[inline(always)]
fn mat1_runs<T: Real, M: Coef<T>>(a: &mut [C<T>], b: &mut [C<T>], m: &[M; 4]) {
    if M::simd_runs(m, a, b) {
        return;
    }
    let [m0, m1, m2, m3] = *m;
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        let (u, v) = (*x, *y);
        *x = m0.times(u) + m1.times(v);
        *y = m2.times(u) + m3.times(v);
    }
}

/// `x <- d x` elementwise, on the vector path where the CPU has one.
#[inline(always)]
pub(crate) fn scale_run<T: Real>(x: &mut [C<T>], d: C<T>) {
    if !T::scale(x, d) {
        x.iter_mut().for_each(|v| *v *= d);
    }
}

/// `(a, b) <- (d0 a, d1 b)` elementwise (d0 == 1 skipped).
#[inline(always)]
fn diag1_runs<T: Real>(a: &mut [C<T>], b: &mut [C<T>], [d0, d1]: [C<T>; 2]) {
    if d0 != C::one() {
        scale_run(a, d0);
    }
    scale_run(b, d1);
}

/// `<bra| m |ket>` for the 2x2 matrix `m` on bit `t`, over the control-matching subspace.
fn inner_mat1<T: Real, M: Coef<T>>(
    bra: &[C<T>],
    ket: &[C<T>],
    t: u32,
    m: [M; 4],
    ctrl: Ctrl,
    par: bool,
) -> C64 {
    let [m0, m1, m2, m3] = m;
    if ctrl.is_none() && t >= MIN_RUN {
        // four dot products (each a vector loop) instead of one scalar loop
        let [c0, c1, c2, c3] = m.map(M::complex);
        // (zero entries skipped: generators such as Y are half zeros)
        let term = |c: C<T>, a: &[C<T>], b: &[C<T>]| if c == zero() { c } else { c * dot(a, b) };
        pair_sum(bra, ket, t, par, |bl, bh, kl, kh| {
            term(c0, bl, kl) + term(c1, bl, kh) + term(c2, bh, kl) + term(c3, bh, kh)
        })
    } else {
        let o = 1usize << t;
        sum_groups(ket.len().trailing_zeros(), &[t], ctrl, par, |i| {
            let (u, v) = (ket[i], ket[i | o]);
            bra[i].conj() * (m0.times(u) + m1.times(v))
                + bra[i | o].conj() * (m2.times(u) + m3.times(v))
        })
    }
}

/// `(phase, r)` with `m = phase · r`, `r` real and `phase` 1 or i, if `m` has that form.
#[inline]
fn real_or_imaginary<T: Real>(m: &[C<T>; 4]) -> Option<(C<T>, [T; 4])> {
    if m.iter().all(|z| z.im == T::zero()) {
        Some((C::one(), m.map(|z| z.re)))
    } else if m.iter().all(|z| z.re == T::zero()) {
        Some((C::i(), m.map(|z| z.im)))
    } else {
        None
    }
}

/// Slices are worth it only when runs of equal bit `t` are long enough to vectorise.
const MIN_RUN: u32 = 3;

/// A kernel on matching runs whose bit t is 0 / 1.
type RunOp<'a, T> = dyn Fn(&mut [C<T>], &mut [C<T>]) + 'a;

/// Amplitudes per chunk in `apply_after_re_inner`: a chunk of every ket and of one λ
/// (4 KiB each in complex128) stay in L1 while all the λ pass.
const FUSED_CHUNK: usize = 256;

/// The bit of a single control that must be 1, if that is what `ctrl` is.
fn single_control(ctrl: Ctrl) -> Option<u32> {
    (ctrl.mask.count_ones() == 1 && ctrl.value == ctrl.mask).then(|| ctrl.mask.trailing_zeros())
}

/// CNOT (control bit `c`, target bit `t`, both >= MIN_RUN) as swaps of contiguous runs:
/// memcpy-speed, where the generic path computes an index per amplitude.
fn cnot_runs<T: Real>(s: &mut [C<T>], c: u32, t: u32, par: bool) {
    let run = 1usize << c;
    if c > t {
        // the control bit is constant on each half-block of size 2^c: flip inside the upper half
        let block = run << 1;
        let flip_upper =
            |blk: &mut [C<T>]| pairs(&mut blk[run..], t, false, |a, b| a.swap_with_slice(b));
        if par && s.len() / block >= 16 {
            s.par_chunks_mut(block).for_each(flip_upper)
        } else if par {
            for blk in s.chunks_exact_mut(block) {
                pairs(&mut blk[run..], t, true, |a, b| a.swap_with_slice(b))
            }
        } else {
            s.chunks_exact_mut(block).for_each(flip_upper)
        }
    } else {
        // inside each target half the control bit alternates in runs of 2^c: swap the odd runs
        pairs(s, t, par, |a, b| {
            for (x, y) in a
                .chunks_exact_mut(run << 1)
                .zip(b.chunks_exact_mut(run << 1))
            {
                x[run..].swap_with_slice(&mut y[run..])
            }
        })
    }
}

#[inline(always)]
fn parity_phase<T: Real>(i: usize, mask: usize, even: C<T>, odd: C<T>) -> C<T> {
    if (i & mask).count_ones() & 1 == 1 {
        odd
    } else {
        even
    }
}

impl<T: Real> Kernel<T> {
    /// `state <- K state`.
    pub fn apply(&self, s: &mut [C<T>], par: bool) {
        match self {
            Kernel::Identity => {}
            Kernel::Mat1 { t, m, ctrl } => match real_or_imaginary(m) {
                // real matrix (H, RY, their products): half the multiplies of the complex path
                Some((phase, r)) if phase == C::one() => apply_mat1(s, *t, r, *ctrl, par),
                _ => apply_mat1(s, *t, *m, *ctrl, par),
            },
            Kernel::Diag1 { t, d, ctrl } => {
                let [d0, d1] = *d;
                let skip0 = d0 == C::one();
                if ctrl.is_none() && *t >= MIN_RUN {
                    pairs(s, *t, par, |a, b| diag1_runs(a, b, *d))
                } else {
                    let o = 1usize << t;
                    each_group(s, &[*t], *ctrl, par, |p, i| unsafe {
                        if !skip0 {
                            p.set(i, p.get(i) * d0);
                        }
                        p.set(i | o, p.get(i | o) * d1);
                    })
                }
            }
            Kernel::Flip { t, ctrl } => {
                if ctrl.is_none() && *t >= MIN_RUN {
                    pairs(s, *t, par, |a, b| a.swap_with_slice(b))
                } else if let Some(c) =
                    single_control(*ctrl).filter(|&c| c >= MIN_RUN && *t >= MIN_RUN)
                {
                    cnot_runs(s, c, *t, par)
                } else {
                    let o = 1usize << t;
                    each_group(s, &[*t], *ctrl, par, |p, i| unsafe {
                        let u = p.get(i);
                        p.set(i, p.get(i | o));
                        p.set(i | o, u);
                    })
                }
            }
            Kernel::Swap { t0, t1, ctrl } => {
                let (a, b) = (1usize << t1, 1usize << t0);
                each_group(s, &[*t0, *t1], *ctrl, par, |p, i| unsafe {
                    let u = p.get(i | a);
                    p.set(i | a, p.get(i | b));
                    p.set(i | b, u);
                })
            }
            Kernel::Mat2 { t0, t1, m } => {
                let off = [
                    0,
                    1usize << t1,
                    1usize << t0,
                    (1usize << t0) | (1usize << t1),
                ];
                each_group(s, &[*t0, *t1], Ctrl::NONE, par, |p, i| unsafe {
                    let v = [
                        p.get(i),
                        p.get(i | off[1]),
                        p.get(i | off[2]),
                        p.get(i | off[3]),
                    ];
                    for (r, o) in off.iter().enumerate() {
                        let row = &m[4 * r..4 * r + 4];
                        p.set(
                            i | o,
                            row[0] * v[0] + row[1] * v[1] + row[2] * v[2] + row[3] * v[3],
                        );
                    }
                })
            }
            Kernel::Parity { mask, even, odd } => {
                let (mask, even, odd) = (*mask, *even, *odd);
                let p = SharedMut(s.as_mut_ptr());
                for_ranges(s.len(), CHUNK_AMPS, par, |r| {
                    for i in r {
                        unsafe { p.set(i, p.get(i) * parity_phase(i, mask, even, odd)) }
                    }
                })
            }
            Kernel::MatK { bits, m } => {
                let off = local_offsets(bits);
                let dim = off.len();
                let n = s.len().trailing_zeros();
                let p = SharedMut(s.as_mut_ptr());
                with_groups!(n, bits, 0, 0, |gi| {
                    for_ranges(gi.count(), (CHUNK_AMPS / dim).max(1), par, |r| {
                        let mut v = vec![zero::<T>(); dim];
                        for g in r {
                            let i = gi.base(g);
                            for (x, o) in v.iter_mut().zip(&off) {
                                *x = unsafe { p.get(i | o) };
                            }
                            for (row, o) in m.chunks_exact(dim).zip(&off) {
                                let acc = row
                                    .iter()
                                    .zip(&v)
                                    .fold(zero::<T>(), |a, (x, y)| a + *x * *y);
                                unsafe { p.set(i | o, acc) };
                            }
                        }
                    })
                })
            }
        }
    }

    /// `dots[l * K + k] = Re⟨lams[l]|kets[k]⟩` for the states before the kernel, then
    /// `lams[l] <- K lams[l]`: the adjoint's gradient terms and undo for every λ. Serial,
    /// in chunks of FUSED_CHUNK amplitudes (or of run pairs, for a kernel on a higher bit)
    /// taken for all λ in turn: each ket chunk is read from L1 by every λ, and each λ
    /// chunk is rewritten while the dots have just brought it into L1. Kernels that mix
    /// amplitudes further apart (controls or bits above the chunk), and `par`, take the
    /// dots and then `apply`, λ by λ.
    pub fn apply_after_re_inner(
        &self,
        lams: &mut [&mut [C<T>]],
        kets: &[Vec<C<T>>],
        dots: &mut [f64],
        par: bool,
    ) {
        let nk = kets.len();
        dots.iter_mut().for_each(|x| *x = 0.0);
        let len = lams.first().map_or(0, |l| l.len());
        if !par && len >= FUSED_CHUNK && self.support() < FUSED_CHUNK {
            // every amplitude the kernel mixes lies in one aligned chunk
            for lo in (0..len).step_by(FUSED_CHUNK) {
                let r = lo..lo + FUSED_CHUNK;
                for (lam, d) in lams.iter_mut().zip(dots.chunks_exact_mut(nk)) {
                    let chunk = &mut lam[r.clone()];
                    for (x, ket) in d.iter_mut().zip(kets) {
                        *x += re_dot(chunk, &ket[r.clone()]).f64();
                    }
                    self.apply(chunk, false);
                }
            }
            return;
        }
        let mut runs = |t: u32, run: &RunOp<'_, T>| {
            let half = 1usize << t;
            for base in (0..len).step_by(2 * half) {
                for lo in (0..half).step_by(FUSED_CHUNK) {
                    let a = base + lo..base + (lo + FUSED_CHUNK).min(half);
                    let b = a.start + half..a.end + half;
                    for (lam, d) in lams.iter_mut().zip(dots.chunks_exact_mut(nk)) {
                        let (x, y) = lam[a.start..b.end].split_at_mut(half);
                        let (x, y) = (&mut x[..a.len()], &mut y[..b.len()]);
                        for (o, ket) in d.iter_mut().zip(kets) {
                            *o += (re_dot(x, &ket[a.clone()]) + re_dot(y, &ket[b.clone()])).f64();
                        }
                        run(x, y);
                    }
                }
            }
        };
        match self {
            Kernel::Mat1 { t, m, ctrl } if !par && ctrl.is_none() && *t >= MIN_RUN => {
                match real_or_imaginary(m) {
                    Some((phase, r)) if phase == C::one() => runs(*t, &|a, b| mat1_runs(a, b, &r)),
                    _ => runs(*t, &|a, b| mat1_runs(a, b, m)),
                }
            }
            Kernel::Diag1 { t, d, ctrl } if !par && ctrl.is_none() && *t >= MIN_RUN => {
                runs(*t, &|a, b| diag1_runs(a, b, *d))
            }
            _ => {
                for (lam, d) in lams.iter_mut().zip(dots.chunks_exact_mut(nk)) {
                    for (o, ket) in d.iter_mut().zip(kets) {
                        *o = re_inner(lam, ket, par);
                    }
                    self.apply(lam, par);
                }
            }
        }
    }

    /// `<bra| K |ket>` over the control-matching subspace (zero elsewhere).
    pub fn inner(&self, bra: &[C<T>], ket: &[C<T>], par: bool) -> C64 {
        debug_assert_eq!(bra.len(), ket.len());
        let n = ket.len().trailing_zeros();
        match self {
            Kernel::Identity => sum_ranges::<T>(ket.len(), par, |r| {
                r.fold(zero(), |a, i| a + bra[i].conj() * ket[i])
            }),
            Kernel::Mat1 { t, m, ctrl } => match real_or_imaginary(m) {
                // m = phase · r with r real (RY, H; Y, the RY generator): real coefficients,
                // one complex multiply at the end
                Some((phase, r)) => inner_mat1(bra, ket, *t, r, *ctrl, par) * widen(phase),
                None => inner_mat1(bra, ket, *t, *m, *ctrl, par),
            },
            Kernel::Diag1 { t, d, ctrl } if ctrl.is_none() && *t >= MIN_RUN => {
                let [d0, d1] = *d;
                pair_sum(bra, ket, *t, par, |bl, bh, kl, kh| {
                    d0 * dot(bl, kl) + d1 * dot(bh, kh)
                })
            }
            Kernel::Flip { t, ctrl } if ctrl.is_none() && *t >= MIN_RUN => {
                pair_sum(bra, ket, *t, par, |bl, bh, kl, kh| {
                    dot(bl, kh) + dot(bh, kl)
                })
            }
            Kernel::Diag1 { t, d, ctrl } => {
                let o = 1usize << t;
                sum_groups(n, &[*t], *ctrl, par, |i| {
                    bra[i].conj() * d[0] * ket[i] + bra[i | o].conj() * d[1] * ket[i | o]
                })
            }
            Kernel::Flip { t, ctrl } => {
                let o = 1usize << t;
                sum_groups(n, &[*t], *ctrl, par, |i| {
                    bra[i].conj() * ket[i | o] + bra[i | o].conj() * ket[i]
                })
            }
            Kernel::Swap { t0, t1, ctrl } => {
                let (a, b) = (1usize << t1, 1usize << t0);
                sum_groups(n, &[*t0, *t1], *ctrl, par, |i| {
                    bra[i].conj() * ket[i]
                        + bra[i | a].conj() * ket[i | b]
                        + bra[i | b].conj() * ket[i | a]
                        + bra[i | a | b].conj() * ket[i | a | b]
                })
            }
            Kernel::Mat2 { t0, t1, m } => {
                let off = [
                    0,
                    1usize << t1,
                    1usize << t0,
                    (1usize << t0) | (1usize << t1),
                ];
                sum_groups(n, &[*t0, *t1], Ctrl::NONE, par, |i| {
                    let v = [ket[i], ket[i | off[1]], ket[i | off[2]], ket[i | off[3]]];
                    let mut acc = zero::<T>();
                    for (r, o) in off.iter().enumerate() {
                        let row = &m[4 * r..4 * r + 4];
                        acc += bra[i | o].conj()
                            * (row[0] * v[0] + row[1] * v[1] + row[2] * v[2] + row[3] * v[3]);
                    }
                    acc
                })
            }
            Kernel::Parity { mask, even, odd } => sum_ranges::<T>(ket.len(), par, |r| {
                r.fold(zero(), |a, i| {
                    a + bra[i].conj() * parity_phase(i, *mask, *even, *odd) * ket[i]
                })
            }),
            Kernel::MatK { bits, m } => {
                let off = local_offsets(bits);
                let dim = off.len();
                sum_groups(n, bits, Ctrl::NONE, par, |i| {
                    let mut acc = zero::<T>();
                    for (row, o) in m.chunks_exact(dim).zip(&off) {
                        let kv = row
                            .iter()
                            .zip(&off)
                            .fold(zero::<T>(), |a, (x, oc)| a + *x * ket[i | oc]);
                        acc += bra[i | o].conj() * kv;
                    }
                    acc
                })
            }
        }
    }

    /// The 2x2 matrix of an uncontrolled single-qubit kernel, with its bit.
    pub fn as_single_qubit(&self) -> Option<(u32, [C<T>; 4])> {
        let (o, z) = (C::one(), zero::<T>());
        match self {
            Kernel::Mat1 { t, m, ctrl } if ctrl.is_none() => Some((*t, *m)),
            Kernel::Diag1 { t, d, ctrl } if ctrl.is_none() => Some((*t, [d[0], z, z, d[1]])),
            Kernel::Flip { t, ctrl } if ctrl.is_none() => Some((*t, [z, o, o, z])),
            _ => None,
        }
    }

    /// A single-qubit kernel from a 2x2 matrix, diagonal when the matrix is.
    pub fn single_qubit(t: u32, m: [C<T>; 4]) -> Kernel<T> {
        if m[1] == zero() && m[2] == zero() {
            Kernel::Diag1 {
                t,
                d: [m[0], m[3]],
                ctrl: Ctrl::NONE,
            }
        } else {
            Kernel::Mat1 {
                t,
                m,
                ctrl: Ctrl::NONE,
            }
        }
    }

    /// Mask of the index bits the kernel reads or writes.
    /// Whether no control bits restrict the kernel; then `inner(bra, ket)` is
    /// ⟨bra|apply(ket)⟩ (a controlled kernel's `inner` counts only the amplitudes its
    /// controls select, where `apply` leaves the others unchanged).
    pub fn uncontrolled(&self) -> bool {
        match self {
            Kernel::Mat1 { ctrl, .. }
            | Kernel::Diag1 { ctrl, .. }
            | Kernel::Flip { ctrl, .. }
            | Kernel::Swap { ctrl, .. } => ctrl.is_none(),
            Kernel::Identity
            | Kernel::Mat2 { .. }
            | Kernel::Parity { .. }
            | Kernel::MatK { .. } => true,
        }
    }

    pub fn support(&self) -> usize {
        match self {
            Kernel::Identity => 0,
            Kernel::Mat1 { t, ctrl, .. }
            | Kernel::Diag1 { t, ctrl, .. }
            | Kernel::Flip { t, ctrl } => (1usize << t) | ctrl.mask,
            Kernel::Mat2 { t0, t1, .. } => (1usize << t0) | (1usize << t1),
            Kernel::Swap { t0, t1, ctrl } => (1usize << t0) | (1usize << t1) | ctrl.mask,
            Kernel::Parity { mask, .. } => *mask,
            Kernel::MatK { bits, .. } => bits.iter().map(|b| 1usize << b).sum(),
        }
    }

    /// The same kernel with every bit position `b` moved to `f(b)` (tiles run kernels on
    /// a gathered copy of some bits of the state, renumbered from 0).
    pub fn map_bits(&self, f: impl Fn(u32) -> u32) -> Kernel<T> {
        let mask = |m: usize| set_bits(m).map(|b| 1usize << f(b)).sum::<usize>();
        let ctrl = |c: &Ctrl| Ctrl {
            mask: mask(c.mask),
            value: mask(c.value),
        };
        match self {
            Kernel::Identity => Kernel::Identity,
            Kernel::Mat1 { t, m, ctrl: c } => Kernel::Mat1 {
                t: f(*t),
                m: *m,
                ctrl: ctrl(c),
            },
            Kernel::Diag1 { t, d, ctrl: c } => Kernel::Diag1 {
                t: f(*t),
                d: *d,
                ctrl: ctrl(c),
            },
            Kernel::Flip { t, ctrl: c } => Kernel::Flip {
                t: f(*t),
                ctrl: ctrl(c),
            },
            Kernel::Mat2 { t0, t1, m } => Kernel::Mat2 {
                t0: f(*t0),
                t1: f(*t1),
                m: m.clone(),
            },
            Kernel::Swap { t0, t1, ctrl: c } => Kernel::Swap {
                t0: f(*t0),
                t1: f(*t1),
                ctrl: ctrl(c),
            },
            Kernel::Parity { mask: m, even, odd } => Kernel::Parity {
                mask: mask(*m),
                even: *even,
                odd: *odd,
            },
            Kernel::MatK { bits, m } => Kernel::MatK {
                bits: bits.iter().map(|&b| f(b)).collect(),
                m: m.clone(),
            },
        }
    }

    /// The adjoint K†.
    pub fn dagger(&self) -> Kernel<T> {
        match self {
            Kernel::Mat1 { t, m, ctrl } => Kernel::Mat1 {
                t: *t,
                m: [m[0].conj(), m[2].conj(), m[1].conj(), m[3].conj()],
                ctrl: *ctrl,
            },
            Kernel::Diag1 { t, d, ctrl } => Kernel::Diag1 {
                t: *t,
                d: [d[0].conj(), d[1].conj()],
                ctrl: *ctrl,
            },
            Kernel::Mat2 { t0, t1, m } => {
                let mut h = [zero::<T>(); 16];
                for r in 0..4 {
                    for c in 0..4 {
                        h[4 * r + c] = m[4 * c + r].conj();
                    }
                }
                Kernel::Mat2 {
                    t0: *t0,
                    t1: *t1,
                    m: Box::new(h),
                }
            }
            Kernel::Parity { mask, even, odd } => Kernel::Parity {
                mask: *mask,
                even: even.conj(),
                odd: odd.conj(),
            },
            Kernel::MatK { bits, m } => {
                let dim = 1usize << bits.len();
                let h: Vec<C<T>> = (0..dim * dim)
                    .map(|k| m[(k % dim) * dim + k / dim].conj())
                    .collect();
                Kernel::MatK {
                    bits: bits.clone(),
                    m: h.into(),
                }
            }
            // permutations here are involutions
            k @ (Kernel::Identity | Kernel::Flip { .. } | Kernel::Swap { .. }) => k.clone(),
        }
    }
}

/// Index offsets of the 2^k local basis states of `bits` (bits[0] = high local bit).
pub fn local_offsets(bits: &[u32]) -> Vec<usize> {
    let k = bits.len();
    (0..1usize << k)
        .map(|l| {
            bits.iter()
                .enumerate()
                .filter(|(j, _)| (l >> (k - 1 - j)) & 1 == 1)
                .map(|(_, b)| 1usize << b)
                .sum()
        })
        .collect()
}
