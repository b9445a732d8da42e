//! AVX2+FMA versions of the hottest loops, chosen at run time: single-qubit dense and
//! diagonal gates on contiguous runs of amplitudes. The wheel is built for baseline
//! x86-64 (SSE2: one complex128 per register); with AVX2 one FMA handles two complex128
//! or four complex64, and the complex products need no scalar shuffling.
//! Every entry returns false when it has no fast path, and the caller runs its generic
//! loop (other CPUs, other architectures).

use num_complex::Complex as C;

pub use crate::scalar::SimdRuns;

#[cfg(target_arch = "x86_64")]
use crate::cpu::has_avx2_fma as avx2;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use num_complex::Complex as C;
    use std::arch::x86_64::*;

    /// Complex `z` as the two vectors that multiply a register of interleaved
    /// (re, im) pairs `u` and its pair-swapped copy: z·u = re·u + im·swap(u).
    #[inline(always)]
    unsafe fn split64(z: C<f64>) -> (__m256d, __m256d) {
        (
            _mm256_set1_pd(z.re),
            _mm256_setr_pd(-z.im, z.im, -z.im, z.im),
        )
    }

    #[inline(always)]
    unsafe fn split32(z: C<f32>) -> (__m256, __m256) {
        (
            _mm256_set1_ps(z.re),
            _mm256_setr_ps(-z.im, z.im, -z.im, z.im, -z.im, z.im, -z.im, z.im),
        )
    }

    /// Generates the f64 / f32 kernels from one body: `$w` complex numbers per register.
    macro_rules! kernels {
        ($mat1:ident, $mat1_real:ident, $scale:ident, $t:ty, $w:expr, $split:ident,
         $load:ident, $store:ident, $set1:ident, $swap:expr, $mul:ident, $fma:ident) => {
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $mat1(x: &mut [C<$t>], y: &mut [C<$t>], m: &[C<$t>; 4]) {
                let n = x.len().min(y.len());
                let (px, py) = (x.as_mut_ptr() as *mut $t, y.as_mut_ptr() as *mut $t);
                let [(ar, ai), (br, bi), (cr, ci), (dr, di)] = m.map(|z| $split(z));
                let mut j = 0;
                while j + $w <= n {
                    let (u, v) = ($load(px.add(2 * j)), $load(py.add(2 * j)));
                    let (us, vs) = ($swap(u), $swap(v));
                    let xn = $fma(ar, u, $fma(ai, us, $fma(br, v, $mul(bi, vs))));
                    let yn = $fma(cr, u, $fma(ci, us, $fma(dr, v, $mul(di, vs))));
                    $store(px.add(2 * j), xn);
                    $store(py.add(2 * j), yn);
                    j += $w;
                }
                for k in j..n {
                    let (u, v) = (x[k], y[k]);
                    x[k] = m[0] * u + m[1] * v;
                    y[k] = m[2] * u + m[3] * v;
                }
            }

            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $mat1_real(x: &mut [C<$t>], y: &mut [C<$t>], m: &[$t; 4]) {
                let n = x.len().min(y.len());
                let (px, py) = (x.as_mut_ptr() as *mut $t, y.as_mut_ptr() as *mut $t);
                let [a, b, c, d] = m.map(|r| $set1(r));
                let mut j = 0;
                while j + $w <= n {
                    let (u, v) = ($load(px.add(2 * j)), $load(py.add(2 * j)));
                    $store(px.add(2 * j), $fma(a, u, $mul(b, v)));
                    $store(py.add(2 * j), $fma(c, u, $mul(d, v)));
                    j += $w;
                }
                for k in j..n {
                    let (u, v) = (x[k], y[k]);
                    x[k] = u * m[0] + v * m[1];
                    y[k] = u * m[2] + v * m[3];
                }
            }

            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $scale(x: &mut [C<$t>], z: C<$t>) {
                let n = x.len();
                let px = x.as_mut_ptr() as *mut $t;
                let (zr, zi) = $split(z);
                let mut j = 0;
                while j + $w <= n {
                    let u = $load(px.add(2 * j));
                    $store(px.add(2 * j), $fma(zr, u, $mul(zi, $swap(u))));
                    j += $w;
                }
                for v in &mut x[j..] {
                    *v *= z;
                }
            }
        };
    }

    #[inline(always)]
    unsafe fn swap64(u: __m256d) -> __m256d {
        _mm256_permute_pd::<0b0101>(u)
    }

    #[inline(always)]
    unsafe fn swap32(u: __m256) -> __m256 {
        _mm256_permute_ps::<0b1011_0001>(u)
    }

    /// Complex per-lane coefficients: lanes (re, im) of `zs`, as `split64` builds them.
    #[inline(always)]
    unsafe fn lanes64(zs: [C<f64>; 2]) -> (__m256d, __m256d) {
        let [a, b] = zs;
        (
            _mm256_setr_pd(a.re, a.re, b.re, b.re),
            _mm256_setr_pd(-a.im, a.im, -b.im, b.im),
        )
    }

    #[inline(always)]
    unsafe fn lanes32(zs: [C<f32>; 4]) -> (__m256, __m256) {
        let [a, b, c, d] = zs;
        (
            _mm256_setr_ps(a.re, a.re, b.re, b.re, c.re, c.re, d.re, d.re),
            _mm256_setr_ps(-a.im, a.im, -b.im, b.im, -c.im, c.im, -d.im, d.im),
        )
    }

    /// Bit 0 of complex128: one register holds a pair (u, v); out = [m0 u + m1 v, m2 u + m3 v].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn mat1_low_f64(s: &mut [C<f64>], t: u32, m: &[C<f64>; 4]) {
        if t > 0 {
            let half = 1usize << t;
            for b in s.chunks_exact_mut(2 * half) {
                let (x, y) = b.split_at_mut(half);
                mat1_f64(x, y, m);
            }
            return;
        }
        let (ar, ai) = lanes64([m[0], m[2]]);
        let (br, bi) = lanes64([m[1], m[3]]);
        let p = s.as_mut_ptr() as *mut f64;
        for j in (0..s.len()).step_by(2) {
            let x = _mm256_loadu_pd(p.add(2 * j));
            let u = _mm256_permute2f128_pd::<0x00>(x, x);
            let v = _mm256_permute2f128_pd::<0x11>(x, x);
            let out = _mm256_fmadd_pd(
                ar,
                u,
                _mm256_fmadd_pd(
                    ai,
                    swap64(u),
                    _mm256_fmadd_pd(br, v, _mm256_mul_pd(bi, swap64(v))),
                ),
            );
            _mm256_storeu_pd(p.add(2 * j), out);
        }
    }

    /// Bits 0 and 1 of complex64: a register holds two pairs, (u0 v0 u1 v1) or (u0 u1 v0 v1).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn mat1_low_f32(s: &mut [C<f32>], t: u32, m: &[C<f32>; 4]) {
        if t > 1 {
            let half = 1usize << t;
            for b in s.chunks_exact_mut(2 * half) {
                let (x, y) = b.split_at_mut(half);
                mat1_f32(x, y, m);
            }
            return;
        }
        let [m0, m1, m2, m3] = *m;
        let (a, b) = if t == 0 {
            (lanes32([m0, m2, m0, m2]), lanes32([m1, m3, m1, m3]))
        } else {
            (lanes32([m0, m0, m2, m2]), lanes32([m1, m1, m3, m3]))
        };
        let p = s.as_mut_ptr() as *mut f32;
        for j in (0..s.len()).step_by(4) {
            let x = _mm256_loadu_ps(p.add(2 * j));
            let (u, v) = if t == 0 {
                let xd = _mm256_castps_pd(x);
                (
                    _mm256_castpd_ps(_mm256_movedup_pd(xd)),
                    _mm256_castpd_ps(_mm256_permute_pd::<0b1111>(xd)),
                )
            } else {
                (
                    _mm256_permute2f128_ps::<0x00>(x, x),
                    _mm256_permute2f128_ps::<0x11>(x, x),
                )
            };
            let out = _mm256_fmadd_ps(
                a.0,
                u,
                _mm256_fmadd_ps(
                    a.1,
                    swap32(u),
                    _mm256_fmadd_ps(b.0, v, _mm256_mul_ps(b.1, swap32(v))),
                ),
            );
            _mm256_storeu_ps(p.add(2 * j), out);
        }
    }

    /// Generates `dot` for f64 / f32: Σ conj(a_j) b_j, `$w` complex numbers per register.
    /// Lanes accumulate a·b (re·re, im·im) and a·swap(b) (re·im, im·re); two independent
    /// accumulator pairs hide the FMA latency.
    macro_rules! dot {
        ($name:ident, $t:ty, $w:expr, $zero:ident, $load:ident, $store:ident, $add:ident,
         $swap:ident, $fma:ident) => {
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $name(a: &[C<$t>], b: &[C<$t>]) -> C<$t> {
                let n = a.len().min(b.len());
                let (pa, pb) = (a.as_ptr() as *const $t, b.as_ptr() as *const $t);
                let (mut same, mut cross) = ($zero(), $zero());
                let (mut same2, mut cross2) = ($zero(), $zero());
                let mut j = 0;
                while j + 2 * $w <= n {
                    let x = $load(pa.add(2 * j));
                    let y = $load(pb.add(2 * j));
                    let x2 = $load(pa.add(2 * j + 2 * $w));
                    let y2 = $load(pb.add(2 * j + 2 * $w));
                    same = $fma(x, y, same);
                    cross = $fma(x, $swap(y), cross);
                    same2 = $fma(x2, y2, same2);
                    cross2 = $fma(x2, $swap(y2), cross2);
                    j += 2 * $w;
                }
                same = $add(same, same2);
                cross = $add(cross, cross2);
                while j + $w <= n {
                    let x = $load(pa.add(2 * j));
                    let y = $load(pb.add(2 * j));
                    same = $fma(x, y, same);
                    cross = $fma(x, $swap(y), cross);
                    j += $w;
                }
                let (mut s, mut c) = ([0.0 as $t; 2 * $w], [0.0 as $t; 2 * $w]);
                $store(s.as_mut_ptr(), same);
                $store(c.as_mut_ptr(), cross);
                // im = Σ re_a·im_b − im_a·re_b: even lanes minus odd lanes of `cross`
                let re: $t = s.iter().sum();
                let im: $t =
                    c.iter().step_by(2).sum::<$t>() - c.iter().skip(1).step_by(2).sum::<$t>();
                let mut acc = C::new(re, im);
                for k in j..n {
                    acc += a[k].conj() * b[k];
                }
                acc
            }
        };
    }

    dot!(
        dot_f64,
        f64,
        2,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_add_pd,
        swap64,
        _mm256_fmadd_pd
    );
    dot!(
        dot_f32,
        f32,
        4,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_add_ps,
        swap32,
        _mm256_fmadd_ps
    );

    /// Generates `dot_re` for f64 / f32: `$w` reals per register, four accumulators to
    /// hide the FMA latency.
    macro_rules! dot_re {
        ($name:ident, $t:ty, $w:expr, $vt:ty, $zero:ident, $load:ident, $store:ident,
         $add:ident, $fma:ident) => {
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $name(a: &[C<$t>], b: &[C<$t>]) -> $t {
                let n = 2 * a.len().min(b.len());
                let (pa, pb) = (a.as_ptr() as *const $t, b.as_ptr() as *const $t);
                let mut acc: [$vt; 4] = [$zero(); 4];
                let mut j = 0;
                while j + 4 * $w <= n {
                    for (k, s) in acc.iter_mut().enumerate() {
                        let o = j + k * $w;
                        *s = $fma($load(pa.add(o)), $load(pb.add(o)), *s);
                    }
                    j += 4 * $w;
                }
                while j + $w <= n {
                    acc[0] = $fma($load(pa.add(j)), $load(pb.add(j)), acc[0]);
                    j += $w;
                }
                let v = $add($add(acc[0], acc[1]), $add(acc[2], acc[3]));
                let mut lanes = [0.0 as $t; $w];
                $store(lanes.as_mut_ptr(), v);
                let mut sum: $t = lanes.iter().sum();
                while j < n {
                    sum += *pa.add(j) * *pb.add(j);
                    j += 1;
                }
                sum
            }
        };
    }

    dot_re!(
        dot_re_f64,
        f64,
        4,
        __m256d,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_add_pd,
        _mm256_fmadd_pd
    );
    dot_re!(
        dot_re_f32,
        f32,
        8,
        __m256,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_add_ps,
        _mm256_fmadd_ps
    );

    kernels!(
        mat1_f64,
        mat1_real_f64,
        scale_f64,
        f64,
        2,
        split64,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_set1_pd,
        swap64,
        _mm256_mul_pd,
        _mm256_fmadd_pd
    );
    kernels!(
        mat1_f32,
        mat1_real_f32,
        scale_f32,
        f32,
        4,
        split32,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        swap32,
        _mm256_mul_ps,
        _mm256_fmadd_ps
    );
}

macro_rules! dispatch {
    ($t:ty, $mat1:ident, $mat1_real:ident, $scale:ident, $low:ident, $dot:ident, $dot_re:ident) => {
        impl SimdRuns for $t {
            #[inline]
            fn available() -> bool {
                #[cfg(target_arch = "x86_64")]
                return avx2();
                #[cfg(not(target_arch = "x86_64"))]
                false
            }
            #[inline]
            fn mat1(x: &mut [C<$t>], y: &mut [C<$t>], m: &[C<$t>; 4]) -> bool {
                #[cfg(target_arch = "x86_64")]
                if avx2() {
                    // SAFETY: the CPU has AVX2 and FMA (checked above)
                    unsafe { x86::$mat1(x, y, m) };
                    return true;
                }
                let _ = (x, y, m);
                false
            }
            #[inline]
            fn mat1_real(x: &mut [C<$t>], y: &mut [C<$t>], m: &[$t; 4]) -> bool {
                #[cfg(target_arch = "x86_64")]
                if avx2() {
                    // SAFETY: as above
                    unsafe { x86::$mat1_real(x, y, m) };
                    return true;
                }
                let _ = (x, y, m);
                false
            }
            #[inline]
            fn scale(x: &mut [C<$t>], d: C<$t>) -> bool {
                #[cfg(target_arch = "x86_64")]
                if avx2() {
                    // SAFETY: as above
                    unsafe { x86::$scale(x, d) };
                    return true;
                }
                let _ = (x, d);
                false
            }
            #[inline]
            fn mat1_low(s: &mut [C<$t>], t: u32, m: &[C<$t>; 4]) -> bool {
                #[cfg(target_arch = "x86_64")]
                if avx2() && t < 3 && s.len() % 8 == 0 {
                    // SAFETY: as above
                    unsafe { x86::$low(s, t, m) };
                    return true;
                }
                let _ = (s, t, m);
                false
            }
            #[inline]
            fn dot(a: &[C<$t>], b: &[C<$t>]) -> Option<C<$t>> {
                #[cfg(target_arch = "x86_64")]
                if avx2() {
                    // SAFETY: as above
                    return Some(unsafe { x86::$dot(a, b) });
                }
                let _ = (a, b);
                None
            }
            #[inline]
            fn dot_re(a: &[C<$t>], b: &[C<$t>]) -> Option<$t> {
                #[cfg(target_arch = "x86_64")]
                if avx2() {
                    // SAFETY: as above
                    return Some(unsafe { x86::$dot_re(a, b) });
                }
                let _ = (a, b);
                None
            }
        }
    };
}

dispatch!(
    f64,
    mat1_f64,
    mat1_real_f64,
    scale_f64,
    mat1_low_f64,
    dot_f64,
    dot_re_f64
);
dispatch!(
    f32,
    mat1_f32,
    mat1_real_f32,
    scale_f32,
    mat1_low_f32,
    dot_f32,
    dot_re_f32
);

#[cfg(test)]
mod tests {
    use super::*;

    fn runs<T: crate::Real>(len: usize) -> (Vec<C<T>>, Vec<C<T>>) {
        let z =
            |k: usize, a: f64| C::new(T::of((k as f64 * a).sin()), T::of((k as f64 * 0.7).cos()));
        (
            (0..len).map(|k| z(k, 0.3)).collect(),
            (0..len).map(|k| z(k, 1.1)).collect(),
        )
    }

    fn check<T: crate::Real + SimdRuns>(tol: f64) {
        let m = [(0.6, 0.1), (0.0, -0.8), (0.3, 0.2), (-0.5, 0.4)]
            .map(|(a, b)| C::new(T::of(a), T::of(b)));
        let r = [0.6, -0.8, 0.8, 0.6].map(T::of);
        for len in [1, 2, 3, 5, 8, 13, 21, 40, 67] {
            let close = |a: &[C<T>], b: &[C<T>]| {
                a.iter().zip(b).all(|(p, q)| {
                    (crate::scalar::widen(*p) - crate::scalar::widen(*q)).norm() < tol
                })
            };
            let (x0, y0) = runs::<T>(len);
            let (mut x, mut y) = (x0.clone(), y0.clone());
            if T::mat1(&mut x, &mut y, &m) {
                let ex: Vec<_> = x0
                    .iter()
                    .zip(&y0)
                    .map(|(u, v)| m[0] * u + m[1] * v)
                    .collect();
                let ey: Vec<_> = x0
                    .iter()
                    .zip(&y0)
                    .map(|(u, v)| m[2] * u + m[3] * v)
                    .collect();
                assert!(close(&x, &ex) && close(&y, &ey));
            }
            let (mut x, mut y) = (x0.clone(), y0.clone());
            if T::mat1_real(&mut x, &mut y, &r) {
                let ex: Vec<_> = x0
                    .iter()
                    .zip(&y0)
                    .map(|(u, v)| *u * r[0] + *v * r[1])
                    .collect();
                let ey: Vec<_> = x0
                    .iter()
                    .zip(&y0)
                    .map(|(u, v)| *u * r[2] + *v * r[3])
                    .collect();
                assert!(close(&x, &ex) && close(&y, &ey));
            }
            if let Some(d) = T::dot(&x0, &y0) {
                let e: C<T> = x0.iter().zip(&y0).map(|(a, b)| a.conj() * b).sum();
                assert!(
                    (crate::scalar::widen(d) - crate::scalar::widen(e)).norm() < tol * len as f64
                );
            }
            if let Some(d) = T::dot_re(&x0, &y0) {
                let e: f64 = x0
                    .iter()
                    .zip(&y0)
                    .map(|(a, b)| (a.conj() * b).re.f64())
                    .sum();
                assert!((d.f64() - e).abs() < tol * len as f64);
            }
            let mut x = x0.clone();
            if T::scale(&mut x, m[1]) {
                let ex: Vec<_> = x0.iter().map(|u| m[1] * u).collect();
                assert!(close(&x, &ex));
            }
        }
    }

    fn check_low<T: crate::Real + SimdRuns>(tol: f64) {
        let m = [(0.6, 0.1), (0.0, -0.8), (0.3, 0.2), (-0.5, 0.4)]
            .map(|(a, b)| C::new(T::of(a), T::of(b)));
        for t in 0..3u32 {
            let (s0, _) = runs::<T>(32);
            let mut s = s0.clone();
            if !T::mat1_low(&mut s, t, &m) {
                continue;
            }
            let o = 1usize << t;
            for i in (0..32).filter(|i| i & o == 0) {
                let (u, v) = (s0[i], s0[i | o]);
                let (ex, ey) = (m[0] * u + m[1] * v, m[2] * u + m[3] * v);
                let d = crate::scalar::widen(s[i] - ex).norm()
                    + crate::scalar::widen(s[i | o] - ey).norm();
                assert!(d < tol, "bit {t}, index {i}: {d}");
            }
        }
    }

    #[test]
    fn low_bit_paths_equal_scalar_math() {
        check_low::<f64>(1e-14);
        check_low::<f32>(1e-5);
    }

    #[test]
    fn vector_paths_equal_scalar_math() {
        check::<f64>(1e-14);
        check::<f32>(1e-5);
    }
}
