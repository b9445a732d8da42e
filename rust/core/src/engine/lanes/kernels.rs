//! Gate kernels on a block of `L` states stored amplitude-major: row `i` holds amplitude
//! `i` of every lane, real and imaginary parts as separate `[T; L]` arrays. Every gate
//! then becomes loops over whole rows with per-lane coefficients (each lane is a sample
//! with its own angles), which the compiler turns into SIMD over lanes.
//!
//! The hot functions here are `#[inline(always)]` so that they are compiled inside the
//! `#[target_feature]` block drivers of the engine (`forward_avx2`, `backward_avx2`).

use crate::scalar::{Real, C, C64};
use crate::state::{Ctrl, Kernel};

/// One complex number per lane: an amplitude row of a block, or a per-lane coefficient.
#[derive(Clone, Copy, Debug)]
pub(super) struct Z<T, const L: usize> {
    pub re: [T; L],
    pub im: [T; L],
}

impl<T: Real, const L: usize> Z<T, L> {
    #[inline(always)]
    pub fn splat(c: C<T>) -> Self {
        Z {
            re: [c.re; L],
            im: [c.im; L],
        }
    }

    #[inline(always)]
    pub fn zero() -> Self {
        Self::splat(C::new(T::zero(), T::zero()))
    }

    #[inline(always)]
    pub fn get(&self, b: usize) -> C<T> {
        C::new(self.re[b], self.im[b])
    }

    #[inline(always)]
    pub fn set(&mut self, b: usize, c: C<T>) {
        self.re[b] = c.re;
        self.im[b] = c.im;
    }

    #[inline(always)]
    pub fn is_real(&self) -> bool {
        self.im.iter().all(|x| x.is_zero())
    }

    #[inline(always)]
    fn is_imaginary(&self) -> bool {
        self.re.iter().all(|x| x.is_zero())
    }

    #[inline(always)]
    pub fn is_zero(&self) -> bool {
        self.is_real() && self.is_imaginary()
    }

    #[inline(always)]
    fn is_one(&self) -> bool {
        self.re.iter().all(|x| x.is_one()) && self.is_real()
    }

    #[inline(always)]
    pub fn conj(&mut self) {
        for b in 0..L {
            self.im[b] = -self.im[b];
        }
    }

    /// self *= c
    #[inline(always)]
    fn scale(&mut self, c: &Self) {
        for b in 0..L {
            let (xr, xi) = (self.re[b], self.im[b]);
            self.re[b] = c.re[b] * xr - c.im[b] * xi;
            self.im[b] = c.re[b] * xi + c.im[b] * xr;
        }
    }

    /// self *= w (real, per lane)
    #[inline(always)]
    pub fn scale_real(&mut self, w: &[T; L]) {
        for ((re, im), &x) in self.re.iter_mut().zip(&mut self.im).zip(w) {
            *re *= x;
            *im *= x;
        }
    }

    /// self += c·v
    #[inline(always)]
    fn mul_acc(&mut self, c: &Self, v: &Self) {
        for b in 0..L {
            self.re[b] += c.re[b] * v.re[b] - c.im[b] * v.im[b];
            self.im[b] += c.re[b] * v.im[b] + c.im[b] * v.re[b];
        }
    }

    /// self += conj(a)·v
    #[inline(always)]
    fn dot_acc(&mut self, a: &Self, v: &Self) {
        for b in 0..L {
            self.re[b] += a.re[b] * v.re[b] + a.im[b] * v.im[b];
            self.im[b] += a.re[b] * v.im[b] - a.im[b] * v.re[b];
        }
    }

    /// a·b
    #[inline(always)]
    pub fn mul(a: &Self, b: &Self) -> Self {
        let mut p = *b;
        p.scale(a);
        p
    }
}

/// What a kernel does, without its coefficients: the same for every lane of a block.
/// Coefficients are a `[Z]` in the order of the crate's `Kernel` fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Shape {
    Identity,
    /// 2x2 matrix on bit `t`: m00 m01 m10 m11
    Mat1 {
        t: u32,
        ctrl: Ctrl,
    },
    /// diag(d0, d1) on bit `t`
    Diag1 {
        t: u32,
        ctrl: Ctrl,
    },
    Flip {
        t: u32,
        ctrl: Ctrl,
    },
    Swap {
        t0: u32,
        t1: u32,
        ctrl: Ctrl,
    },
    /// 4x4 row-major on bits (t0 high, t1 low)
    Mat2 {
        t0: u32,
        t1: u32,
    },
    /// phase `even` or `odd` by the parity of `index & mask`
    Parity {
        mask: usize,
    },
}

impl Shape {
    /// The shape of `k`, passing its coefficients in order to `coef`; None for dense
    /// matrices on 3+ bits.
    pub fn of<T: Real>(k: &Kernel<T>, mut coef: impl FnMut(C<T>)) -> Option<Shape> {
        let (shape, c): (Shape, &[C<T>]) = match k {
            Kernel::Identity => (Shape::Identity, &[]),
            Kernel::Mat1 { t, m, ctrl } => (Shape::Mat1 { t: *t, ctrl: *ctrl }, m),
            Kernel::Diag1 { t, d, ctrl } => (Shape::Diag1 { t: *t, ctrl: *ctrl }, d),
            Kernel::Flip { t, ctrl } => (Shape::Flip { t: *t, ctrl: *ctrl }, &[]),
            Kernel::Swap { t0, t1, ctrl } => {
                let (t0, t1, ctrl) = (*t0, *t1, *ctrl);
                (Shape::Swap { t0, t1, ctrl }, &[])
            }
            Kernel::Mat2 { t0, t1, m } => (Shape::Mat2 { t0: *t0, t1: *t1 }, &m[..]),
            Kernel::Parity { mask, even, odd } => {
                coef(*even);
                coef(*odd);
                return Some(Shape::Parity { mask: *mask });
            }
            Kernel::MatK { .. } => return None,
        };
        c.iter().for_each(|&z| coef(z));
        Some(shape)
    }

    /// Number of coefficients.
    pub fn n_coefs(self) -> usize {
        match self {
            Shape::Mat1 { .. } => 4,
            Shape::Mat2 { .. } => 16,
            Shape::Diag1 { .. } | Shape::Parity { .. } => 2,
            Shape::Identity | Shape::Flip { .. } | Shape::Swap { .. } => 0,
        }
    }

    /// Index bits the kernel reads or writes.
    pub fn support(self) -> usize {
        match self {
            Shape::Identity => 0,
            Shape::Mat1 { t, ctrl } | Shape::Diag1 { t, ctrl } | Shape::Flip { t, ctrl } => {
                (1 << t) | ctrl.mask
            }
            Shape::Swap { t0, t1, ctrl } => (1 << t0) | (1 << t1) | ctrl.mask,
            Shape::Mat2 { t0, t1 } => (1 << t0) | (1 << t1),
            Shape::Parity { mask } => mask,
        }
    }

    /// The target bit of an uncontrolled single-qubit kernel (one that can be fused).
    pub fn single_qubit(self) -> Option<u32> {
        match self {
            Shape::Mat1 { t, ctrl } | Shape::Diag1 { t, ctrl } | Shape::Flip { t, ctrl }
                if ctrl.is_none() =>
            {
                Some(t)
            }
            _ => None,
        }
    }
}

/// `m` as a 2x2 matrix, for a shape whose `single_qubit` is Some.
#[inline(always)]
pub(super) fn as_mat1<T: Real, const L: usize>(shape: Shape, m: &[Z<T, L>]) -> [Z<T, L>; 4] {
    let (o, z) = (Z::splat(C::new(T::one(), T::zero())), Z::zero());
    match shape {
        Shape::Mat1 { .. } => [m[0], m[1], m[2], m[3]],
        Shape::Diag1 { .. } => [m[0], z, z, m[1]],
        _ => [z, o, o, z],
    }
}

/// a·b for per-lane 2x2 matrices.
#[inline(always)]
pub(super) fn mul2<T: Real, const L: usize>(a: &[Z<T, L>; 4], b: &[Z<T, L>; 4]) -> [Z<T, L>; 4] {
    let mut p = [Z::zero(); 4];
    for (k, pk) in p.iter_mut().enumerate() {
        let (r, c) = (k / 2, k % 2);
        *pk = Z::mul(&a[2 * r], &b[c]);
        pk.mul_acc(&a[2 * r + 1], &b[2 + c]);
    }
    p
}

/// Coefficients of K† from those of K.
pub(super) fn dagger<T: Real, const L: usize>(shape: Shape, m: &mut [Z<T, L>]) {
    m.iter_mut().for_each(Z::conj);
    match shape {
        Shape::Mat1 { .. } => m.swap(1, 2),
        Shape::Mat2 { .. } => {
            for r in 0..4 {
                for c in r + 1..4 {
                    m.swap(4 * r + c, 4 * c + r)
                }
            }
        }
        _ => {}
    }
}

/// Bases of the groups a kernel acts on, ascending: the indices below `dim` whose `hold`
/// bits equal `value` (free bits enumerated by carrying through the held ones).
#[inline(always)]
fn groups(dim: usize, hold: usize, value: usize) -> impl Iterator<Item = usize> {
    let free = (dim - 1) & !hold;
    let mut next = Some(0usize);
    std::iter::from_fn(move || {
        let i = next?;
        next = (i != free).then(|| (i | !free).wrapping_add(1) & free);
        Some(i | value)
    })
}

/// Held bits, their required values and the row offsets inside a group, for the shapes
/// that act on groups of 2 or 4 rows.
#[inline(always)]
fn layout(shape: Shape) -> (usize, usize, [usize; 4]) {
    match shape {
        Shape::Mat1 { t, ctrl } | Shape::Diag1 { t, ctrl } | Shape::Flip { t, ctrl } => {
            ((1 << t) | ctrl.mask, ctrl.value, [0, 1 << t, 0, 0])
        }
        Shape::Swap { t0, t1, ctrl } => {
            let (a, b) = (1 << t1, 1 << t0);
            (a | b | ctrl.mask, ctrl.value, [0, a, b, a | b])
        }
        Shape::Mat2 { t0, t1 } => {
            let (a, b) = (1 << t1, 1 << t0);
            (a | b, 0, [0, a, b, a | b])
        }
        Shape::Identity | Shape::Parity { .. } => (0, 0, [0; 4]),
    }
}

/// Which parts of a dense kernel's coefficients are used.
const COMPLEX: u8 = 0;
/// All coefficients are real: half the multiplies (H, RY and their products).
const RE: u8 = 1;
/// All coefficients are imaginary, K = i·R: only for inner products (the Y generator).
const IM: u8 = 2;
/// Real coefficients on a real state: the imaginary parts are neither read nor written.
const RR: u8 = 3;

/// `Σ_c m[K·r + c]·v_c` in lane `b`.
#[inline(always)]
fn row<T: Real, const L: usize, const K: usize, const MODE: u8>(
    m: &[Z<T, L>],
    r: usize,
    b: usize,
    v: &[(T, T); K],
) -> (T, T) {
    let (mut wr, mut wi) = (T::zero(), T::zero());
    for (c, &(vr, vi)) in v.iter().enumerate() {
        let z = &m[K * r + c];
        let (x, y) = match MODE {
            COMPLEX => (z.re[b] * vr - z.im[b] * vi, z.re[b] * vi + z.im[b] * vr),
            RE => (z.re[b] * vr, z.re[b] * vi),
            RR => (z.re[b] * vr, T::zero()),
            _ => (z.im[b] * vr, z.im[b] * vi),
        };
        if c == 0 {
            (wr, wi) = (x, y);
        } else {
            wr += x;
            wi += y;
        }
    }
    (wr, wi)
}

// The dense kernels take each row of a group as its own reference argument: inlined,
// these stay known not to alias, and the lane loops vectorise (with the rows copied to
// a local array or reached through one slice they were often left scalar).

/// `(x, y) <- m (x, y)` lane by lane.
#[inline(always)]
fn mat2x2<T: Real, const L: usize, const MODE: u8>(
    m: &[Z<T, L>],
    x: &mut Z<T, L>,
    y: &mut Z<T, L>,
) {
    if MODE == RR {
        for b in 0..L {
            let v = [(x.re[b], T::zero()), (y.re[b], T::zero())];
            x.re[b] = row::<T, L, 2, MODE>(m, 0, b, &v).0;
            y.re[b] = row::<T, L, 2, MODE>(m, 1, b, &v).0;
        }
        return;
    }
    for b in 0..L {
        let v = [(x.re[b], x.im[b]), (y.re[b], y.im[b])];
        (x.re[b], x.im[b]) = row::<T, L, 2, MODE>(m, 0, b, &v);
        (y.re[b], y.im[b]) = row::<T, L, 2, MODE>(m, 1, b, &v);
    }
}

/// `(r0..r3) <- m (r0..r3)` lane by lane.
#[inline(always)]
fn mat4x4<T: Real, const L: usize, const MODE: u8>(
    m: &[Z<T, L>],
    r0: &mut Z<T, L>,
    r1: &mut Z<T, L>,
    r2: &mut Z<T, L>,
    r3: &mut Z<T, L>,
) {
    if MODE == RR {
        for b in 0..L {
            let v = [r0.re[b], r1.re[b], r2.re[b], r3.re[b]].map(|x| (x, T::zero()));
            r0.re[b] = row::<T, L, 4, MODE>(m, 0, b, &v).0;
            r1.re[b] = row::<T, L, 4, MODE>(m, 1, b, &v).0;
            r2.re[b] = row::<T, L, 4, MODE>(m, 2, b, &v).0;
            r3.re[b] = row::<T, L, 4, MODE>(m, 3, b, &v).0;
        }
        return;
    }
    for b in 0..L {
        let v = [
            (r0.re[b], r0.im[b]),
            (r1.re[b], r1.im[b]),
            (r2.re[b], r2.im[b]),
            (r3.re[b], r3.im[b]),
        ];
        (r0.re[b], r0.im[b]) = row::<T, L, 4, MODE>(m, 0, b, &v);
        (r1.re[b], r1.im[b]) = row::<T, L, 4, MODE>(m, 1, b, &v);
        (r2.re[b], r2.im[b]) = row::<T, L, 4, MODE>(m, 2, b, &v);
        (r3.re[b], r3.im[b]) = row::<T, L, 4, MODE>(m, 3, b, &v);
    }
}

/// `acc += Σ_r conj(bra_r)·(m ket)_r` lane by lane.
#[inline(always)]
fn inner_group<T: Real, const L: usize, const K: usize, const MODE: u8>(
    m: &[Z<T, L>],
    acc: &mut Z<T, L>,
    bra: [&Z<T, L>; K],
    ket: [&Z<T, L>; K],
) {
    for b in 0..L {
        let v = ket.map(|r| (r.re[b], r.im[b]));
        for (r, a) in bra.iter().enumerate() {
            let (wr, wi) = row::<T, L, K, MODE>(m, r, b, &v);
            acc.re[b] += a.re[b] * wr + a.im[b] * wi;
            acc.im[b] += a.re[b] * wi - a.im[b] * wr;
        }
    }
}

/// Exchange two rows (`slice::swap` on these 128-512 byte rows was not vectorised);
/// `real`: their real parts only (the imaginary ones are zero).
#[inline(always)]
fn swap_rows<T: Real, const L: usize>(x: &mut Z<T, L>, y: &mut Z<T, L>, real: bool) {
    for b in 0..L {
        (x.re[b], y.re[b]) = (y.re[b], x.re[b]);
    }
    if !real {
        for b in 0..L {
            (x.im[b], y.im[b]) = (y.im[b], x.im[b]);
        }
    }
}

/// The rows `idx` of `s` as distinct mutable references.
#[inline(always)]
fn rows_mut<T, const L: usize, const K: usize>(
    s: &mut [Z<T, L>],
    idx: [usize; K],
) -> [&mut Z<T, L>; K] {
    for (k, &i) in idx.iter().enumerate() {
        assert!(i < s.len() && !idx[..k].contains(&i));
    }
    let p = s.as_mut_ptr();
    // SAFETY: in bounds and pairwise distinct (checked above)
    idx.map(|i| unsafe { &mut *p.add(i) })
}

/// `s <- K s` for a dense K on groups of `K` rows.
#[inline(always)]
fn dense<T: Real, const L: usize, const K: usize, const MODE: u8>(
    s: &mut [Z<T, L>],
    shape: Shape,
    m: &[Z<T, L>],
) {
    let (hold, value, off) = layout(shape);
    let m = &m[..K * K];
    for i in groups(s.len(), hold, value) {
        let mut idx = [i; K];
        for (x, o) in idx.iter_mut().zip(off) {
            *x += o;
        }
        match rows_mut(s, idx).as_mut_slice() {
            [x, y] => mat2x2::<T, L, MODE>(m, x, y),
            [r0, r1, r2, r3] => mat4x4::<T, L, MODE>(m, r0, r1, r2, r3),
            _ => unreachable!("dense kernels act on 2 or 4 rows"),
        }
    }
}

/// Per-lane `<bra| K |ket>` over groups of `K` rows (mode `IM`: without the factor i).
#[inline(always)]
fn dense_inner<T: Real, const L: usize, const K: usize, const MODE: u8>(
    bra: &[Z<T, L>],
    ket: &[Z<T, L>],
    shape: Shape,
    m: &[Z<T, L>],
) -> Z<T, L> {
    let (hold, value, off) = layout(shape);
    let m = &m[..K * K];
    let mut acc = Z::zero();
    for i in groups(ket.len(), hold, value) {
        let bra: [&Z<T, L>; K] = std::array::from_fn(|c| &bra[i + off[c]]);
        let ket: [&Z<T, L>; K] = std::array::from_fn(|c| &ket[i + off[c]]);
        inner_group::<T, L, K, MODE>(m, &mut acc, bra, ket);
    }
    acc
}

/// `s <- K s` for a dense K, taking the real path when every coefficient is real.
#[inline(always)]
fn apply_dense<T: Real, const L: usize, const K: usize>(
    s: &mut [Z<T, L>],
    shape: Shape,
    m: &[Z<T, L>],
) {
    if m[..K * K].iter().all(Z::is_real) {
        dense::<T, L, K, RE>(s, shape, m)
    } else {
        dense::<T, L, K, COMPLEX>(s, shape, m)
    }
}

/// `<bra| K |ket>` for a dense K; a real or purely imaginary K (RY, Y) takes the real path.
#[inline(always)]
fn inner_dense<T: Real, const L: usize, const K: usize>(
    bra: &[Z<T, L>],
    ket: &[Z<T, L>],
    shape: Shape,
    m: &[Z<T, L>],
) -> Z<T, L> {
    let m = &m[..K * K];
    if m.iter().all(Z::is_real) {
        dense_inner::<T, L, K, RE>(bra, ket, shape, m)
    } else if m.iter().all(Z::is_imaginary) {
        // K = i·R: <bra|K|ket> = i <bra|R|ket>
        let z = dense_inner::<T, L, K, IM>(bra, ket, shape, m);
        Z {
            re: z.im.map(|x| -x),
            im: z.re,
        }
    } else {
        dense_inner::<T, L, K, COMPLEX>(bra, ket, shape, m)
    }
}

#[inline(always)]
fn parity_odd(i: usize, mask: usize) -> bool {
    (i & mask).count_ones() & 1 == 1
}

/// `s <- K s`, lane b with the coefficients `m[..][b]`.
#[inline(always)]
pub(super) fn apply<T: Real, const L: usize>(shape: Shape, m: &[Z<T, L>], s: &mut [Z<T, L>]) {
    apply_to(shape, m, s, false)
}

/// `apply` for a real `s` and a kernel with real coefficients (the caller's check): the
/// dense kernels and the row exchanges leave the zero imaginary parts alone.
#[inline(always)]
pub(super) fn apply_real<T: Real, const L: usize>(shape: Shape, m: &[Z<T, L>], s: &mut [Z<T, L>]) {
    debug_assert!(m[..shape.n_coefs()].iter().all(Z::is_real));
    apply_to(shape, m, s, true)
}

/// `apply`; `real`: as `apply_real`.
#[inline(always)]
fn apply_to<T: Real, const L: usize>(shape: Shape, m: &[Z<T, L>], s: &mut [Z<T, L>], real: bool) {
    let (hold, value, off) = layout(shape);
    match shape {
        Shape::Identity => {}
        Shape::Mat1 { .. } if real => dense::<T, L, 2, RR>(s, shape, m),
        Shape::Mat2 { .. } if real => dense::<T, L, 4, RR>(s, shape, m),
        Shape::Mat1 { .. } => apply_dense::<T, L, 2>(s, shape, m),
        Shape::Mat2 { .. } => apply_dense::<T, L, 4>(s, shape, m),
        Shape::Diag1 { .. } => {
            // d0 = 1 (phase shifts, CZ) leaves the first row of each pair alone
            let skip0 = m[0].is_one();
            for i in groups(s.len(), hold, value) {
                if !skip0 {
                    s[i].scale(&m[0]);
                }
                s[i + off[1]].scale(&m[1]);
            }
        }
        Shape::Flip { .. } => {
            for i in groups(s.len(), hold, value) {
                let [x, y] = rows_mut(s, [i, i + off[1]]);
                swap_rows(x, y, real);
            }
        }
        Shape::Swap { .. } => {
            for i in groups(s.len(), hold, value) {
                let [x, y] = rows_mut(s, [i + off[1], i + off[2]]);
                swap_rows(x, y, real);
            }
        }
        Shape::Parity { mask } => {
            for (i, x) in s.iter_mut().enumerate() {
                x.scale(&m[parity_odd(i, mask) as usize]);
            }
        }
    }
}

/// Per-lane `<bra| K |ket>` over the control-matching subspace (the adjoint method's
/// use: derivative kernels vanish off it), accumulated in the state's precision.
#[inline(always)]
pub(super) fn inner<T: Real, const L: usize>(
    shape: Shape,
    m: &[Z<T, L>],
    bra: &[Z<T, L>],
    ket: &[Z<T, L>],
) -> Z<T, L> {
    let (hold, value, off) = layout(shape);
    let mut acc = Z::zero();
    match shape {
        Shape::Mat1 { .. } => return inner_dense::<T, L, 2>(bra, ket, shape, m),
        Shape::Mat2 { .. } => return inner_dense::<T, L, 4>(bra, ket, shape, m),
        Shape::Identity => {
            for (a, v) in bra.iter().zip(ket) {
                acc.dot_acc(a, v);
            }
        }
        Shape::Diag1 { .. } => {
            // d0 Σ<bra_lo|ket_lo> + d1 Σ<bra_hi|ket_hi>
            let mut hi = Z::zero();
            for i in groups(ket.len(), hold, value) {
                acc.dot_acc(&bra[i], &ket[i]);
                hi.dot_acc(&bra[i + off[1]], &ket[i + off[1]]);
            }
            acc.scale(&m[0]);
            acc.mul_acc(&m[1], &hi);
        }
        Shape::Flip { .. } => {
            for i in groups(ket.len(), hold, value) {
                let j = i + off[1];
                acc.dot_acc(&bra[i], &ket[j]);
                acc.dot_acc(&bra[j], &ket[i]);
            }
        }
        Shape::Swap { .. } => {
            for i in groups(ket.len(), hold, value) {
                let (a, b, ab) = (i + off[1], i + off[2], i + off[3]);
                acc.dot_acc(&bra[i], &ket[i]);
                acc.dot_acc(&bra[a], &ket[b]);
                acc.dot_acc(&bra[b], &ket[a]);
                acc.dot_acc(&bra[ab], &ket[ab]);
            }
        }
        Shape::Parity { mask } => {
            let mut odd = Z::zero();
            for (i, (a, v)) in bra.iter().zip(ket).enumerate() {
                if parity_odd(i, mask) {
                    odd.dot_acc(a, v);
                } else {
                    acc.dot_acc(a, v);
                }
            }
            acc.scale(&m[0]);
            acc.mul_acc(&m[1], &odd);
        }
    }
    acc
}

/// Which sums of the fused backward step (`avx512::undo_rotation`) a generator needs:
/// bit `2r + c` for Σ Re(conj(λ_r)·φ_c) (entry `rc` of c·G has a real part), bit
/// `4 + 2r + c` for Σ Im(conj(λ_r)·φ_c) (it has an imaginary part).
pub(super) fn sums_needed(cg: &[C64; 4]) -> u8 {
    let mut nz = 0;
    for (k, z) in cg.iter().enumerate() {
        nz |= ((z.re != 0.0) as u8) << k | ((z.im != 0.0) as u8) << (4 + k);
    }
    nz
}
