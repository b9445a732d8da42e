//! AVX-512 kernels for f64 blocks of 16 lanes: the real or imaginary parts of a row fill
//! two registers. The compiler's vectorisation of the fused backward step (written as
//! plain lane loops in kernels.rs) left the lanes scalar or spilled the rows to the stack,
//! so this hot step is written with intrinsics.

use super::kernels::Z;
use crate::scalar::C64;
use std::arch::x86_64::*;

type Row = Z<f64, 16>;
/// (re, im) of 8 lanes
type V = (__m512d, __m512d);

/// Lanes `8h..8h + 8` of `row`.
#[inline(always)]
unsafe fn load(row: &Row, h: usize) -> V {
    let o = 8 * h;
    (
        _mm512_loadu_pd(row.re.as_ptr().add(o)),
        _mm512_loadu_pd(row.im.as_ptr().add(o)),
    )
}

#[inline(always)]
unsafe fn store(row: &mut Row, h: usize, v: V) {
    let o = 8 * h;
    _mm512_storeu_pd(row.re.as_mut_ptr().add(o), v.0);
    _mm512_storeu_pd(row.im.as_mut_ptr().add(o), v.1);
}

/// u·x + w·y lane by lane (`REAL`: u and w have no imaginary part).
#[inline(always)]
unsafe fn mul_add2<const REAL: bool>(u: V, w: V, x: V, y: V) -> V {
    if REAL {
        (
            _mm512_fmadd_pd(u.0, x.0, _mm512_mul_pd(w.0, y.0)),
            _mm512_fmadd_pd(u.0, x.1, _mm512_mul_pd(w.0, y.1)),
        )
    } else {
        let wy_re = _mm512_fmsub_pd(w.0, y.0, _mm512_mul_pd(w.1, y.1));
        let wy_im = _mm512_fmadd_pd(w.0, y.1, _mm512_mul_pd(w.1, y.0));
        (
            _mm512_fmadd_pd(u.0, x.0, _mm512_fnmadd_pd(u.1, x.1, wy_re)),
            _mm512_fmadd_pd(u.0, x.1, _mm512_fmadd_pd(u.1, x.0, wy_im)),
        )
    }
}

/// `kernels::undo_rotation` (same arguments and result) for f64 and 16 lanes.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn undo_rotation<const REAL: bool, const NZ: u8>(
    both: &mut [Row],
    dim: usize,
    t: u32,
    undo: &[Row],
    cg: &[C64; 4],
) -> [f64; 16] {
    let (phi, lam) = both.split_at_mut(dim);
    let (undo, low) = (&undo[..4], (1usize << t) - 1);
    assert!(low + 1 < dim && lam.len() >= dim);
    let mut out = [0.0; 16];
    for h in 0..2 {
        let z = _mm512_setzero_pd();
        let mut u = [(z, z); 4];
        for (uk, row) in u.iter_mut().zip(undo) {
            *uk = load(row, h);
        }
        // Σ Re(conj(λ_r)·φ_c), Σ Im(conj(λ_r)·φ_c), for rc = 2r + c
        let (mut re, mut im) = ([z; 4], [z; 4]);
        for k in 0..dim / 2 {
            let i = ((k & !low) << 1) | (k & low);
            let j = i | (low + 1);
            let p = [load(&phi[i], h), load(&phi[j], h)];
            let l = [load(&lam[i], h), load(&lam[j], h)];
            for rc in 0..4 {
                let (x, y) = (l[rc / 2], p[rc % 2]);
                if NZ >> rc & 1 != 0 {
                    re[rc] = _mm512_fmadd_pd(x.0, y.0, _mm512_fmadd_pd(x.1, y.1, re[rc]));
                }
                if NZ >> (4 + rc) & 1 != 0 {
                    im[rc] = _mm512_fnmadd_pd(x.1, y.0, _mm512_fmadd_pd(x.0, y.1, im[rc]));
                }
            }
            store(&mut phi[i], h, mul_add2::<REAL>(u[0], u[1], p[0], p[1]));
            store(&mut phi[j], h, mul_add2::<REAL>(u[2], u[3], p[0], p[1]));
            store(&mut lam[i], h, mul_add2::<REAL>(u[0], u[1], l[0], l[1]));
            store(&mut lam[j], h, mul_add2::<REAL>(u[2], u[3], l[0], l[1]));
        }
        // Re(cg_rc·(re + i·im)) summed over rc
        let mut acc = z;
        for rc in 0..4 {
            acc = _mm512_fmadd_pd(_mm512_set1_pd(cg[rc].re), re[rc], acc);
            acc = _mm512_fnmadd_pd(_mm512_set1_pd(cg[rc].im), im[rc], acc);
        }
        _mm512_storeu_pd(out.as_mut_ptr().add(8 * h), acc);
    }
    out
}

/// `s <- K s` for an uncontrolled 2x2 `K` on bit `t` (coefficients `m`: K00 K01 K10 K11
/// per lane; `REAL`: no imaginary parts), f64 and 16 lanes; `s` may hold several states
/// one after the other (φ then λ), the kernel only looks at bit `t` of a row's index.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn mat1<const REAL: bool>(s: &mut [Row], t: u32, m: &[Row]) {
    let (m, low) = (&m[..4], (1usize << t) - 1);
    assert!(s.len().is_multiple_of(2 * (low + 1)));
    for h in 0..2 {
        let z = _mm512_setzero_pd();
        let mut u = [(z, z); 4];
        for (uk, row) in u.iter_mut().zip(m) {
            *uk = load(row, h);
        }
        for k in 0..s.len() / 2 {
            let i = ((k & !low) << 1) | (k & low);
            let j = i | (low + 1);
            let p = [load(&s[i], h), load(&s[j], h)];
            store(&mut s[i], h, mul_add2::<REAL>(u[0], u[1], p[0], p[1]));
            store(&mut s[j], h, mul_add2::<REAL>(u[2], u[3], p[0], p[1]));
        }
    }
}
