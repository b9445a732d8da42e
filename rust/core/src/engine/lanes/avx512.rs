//! AVX-512 kernels for f64 blocks of `L` lanes, a multiple of 8: the real or imaginary
//! parts of a row fill `L / 8` registers. The compiler's vectorisation of the fused backward step (written as
//! plain lane loops in kernels.rs) left the lanes scalar or spilled the rows to the stack,
//! so this hot step is written with intrinsics.
//!
//! `RS` (real state): every amplitude of φ and λ is real and stays real (real coefficients
//! only, checked by the caller), so the imaginary rows are neither read nor written: half
//! the loads, stores and multiply-adds.

use super::kernels::Z;
use crate::scalar::C64;
use std::arch::x86_64::*;

type Row<const L: usize> = Z<f64, L>;
/// (re, im) of 8 lanes
type V = (__m512d, __m512d);

/// Lanes `8h..8h + 8` of `row` (`RS`: the real parts, the imaginary ones taken as zero).
#[inline(always)]
unsafe fn load<const RS: bool, const L: usize>(row: &Row<L>, h: usize) -> V {
    let o = 8 * h;
    let re = _mm512_loadu_pd(row.re.as_ptr().add(o));
    if RS {
        (re, _mm512_setzero_pd())
    } else {
        (re, _mm512_loadu_pd(row.im.as_ptr().add(o)))
    }
}

/// (`RS`: the real parts only.)
#[inline(always)]
unsafe fn store<const RS: bool, const L: usize>(row: &mut Row<L>, h: usize, v: V) {
    let o = 8 * h;
    _mm512_storeu_pd(row.re.as_mut_ptr().add(o), v.0);
    if !RS {
        _mm512_storeu_pd(row.im.as_mut_ptr().add(o), v.1);
    }
}

/// u·x + w·y lane by lane (`REAL`: u and w have no imaginary part; `RS`: neither have x
/// and y, and the imaginary part of the result is not computed).
#[inline(always)]
unsafe fn mul_add2<const REAL: bool, const RS: bool>(u: V, w: V, x: V, y: V) -> V {
    if RS {
        (_mm512_fmadd_pd(u.0, x.0, _mm512_mul_pd(w.0, y.0)), x.1)
    } else if REAL {
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

/// The fused backward step of a one-qubit rotation on bit `t`, f64 and `L` lanes: per lane
/// Re Σ_rc cg_rc·conj(λ_r)·φ_c (half the gradient term, c·G = `cg`; `NZ`: the sums it
/// needs, `kernels::sums_needed`), then φ and λ (`both`, `dim` rows each) undone by the
/// 2x2 `undo` (`REAL`: real coefficients), in one pass over the rows.
///
/// # Safety
/// The CPU must support AVX-512 F; `RS` needs `REAL` and real φ and λ.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn undo_rotation<
    const REAL: bool,
    const NZ: u8,
    const RS: bool,
    const L: usize,
>(
    both: &mut [Row<L>],
    dim: usize,
    t: u32,
    undo: &[Row<L>],
    cg: &[C64; 4],
) -> [f64; L] {
    let (phi, lam) = both.split_at_mut(dim);
    let (undo, low) = (&undo[..4], (1usize << t) - 1);
    assert!(L.is_multiple_of(8) && low + 1 < dim && lam.len() >= dim);
    let mut out = [0.0; L];
    for h in 0..L / 8 {
        let z = _mm512_setzero_pd();
        let mut u = [(z, z); 4];
        for (uk, row) in u.iter_mut().zip(undo) {
            *uk = load::<false, L>(row, h);
        }
        // Σ Re(conj(λ_r)·φ_c), Σ Im(conj(λ_r)·φ_c), for rc = 2r + c
        let (mut re, mut im) = ([z; 4], [z; 4]);
        for k in 0..dim / 2 {
            let i = ((k & !low) << 1) | (k & low);
            let j = i | (low + 1);
            let p = [load::<RS, L>(&phi[i], h), load::<RS, L>(&phi[j], h)];
            let l = [load::<RS, L>(&lam[i], h), load::<RS, L>(&lam[j], h)];
            for rc in 0..4 {
                let (x, y) = (l[rc / 2], p[rc % 2]);
                if NZ >> rc & 1 != 0 {
                    re[rc] = if RS {
                        _mm512_fmadd_pd(x.0, y.0, re[rc])
                    } else {
                        _mm512_fmadd_pd(x.0, y.0, _mm512_fmadd_pd(x.1, y.1, re[rc]))
                    };
                }
                // real φ and λ: every Im(conj(λ_r)·φ_c) is zero
                if !RS && NZ >> (4 + rc) & 1 != 0 {
                    im[rc] = _mm512_fnmadd_pd(x.1, y.0, _mm512_fmadd_pd(x.0, y.1, im[rc]));
                }
            }
            let f = mul_add2::<REAL, RS>;
            store::<RS, L>(&mut phi[i], h, f(u[0], u[1], p[0], p[1]));
            store::<RS, L>(&mut phi[j], h, f(u[2], u[3], p[0], p[1]));
            store::<RS, L>(&mut lam[i], h, f(u[0], u[1], l[0], l[1]));
            store::<RS, L>(&mut lam[j], h, f(u[2], u[3], l[0], l[1]));
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
/// per lane; `REAL`: no imaginary parts), f64 and `L` lanes; `s` may hold several states
/// one after the other (φ then λ), the kernel only looks at bit `t` of a row's index.
///
/// # Safety
/// The CPU must support AVX-512 F; `RS` needs `REAL` and a real `s`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn mat1<const REAL: bool, const RS: bool, const L: usize>(
    s: &mut [Row<L>],
    t: u32,
    m: &[Row<L>],
) {
    let (m, low) = (&m[..4], (1usize << t) - 1);
    assert!(L.is_multiple_of(8) && s.len().is_multiple_of(2 * (low + 1)));
    for h in 0..L / 8 {
        let z = _mm512_setzero_pd();
        let mut u = [(z, z); 4];
        for (uk, row) in u.iter_mut().zip(m) {
            *uk = load::<false, L>(row, h);
        }
        for k in 0..s.len() / 2 {
            let i = ((k & !low) << 1) | (k & low);
            let j = i | (low + 1);
            let p = [load::<RS, L>(&s[i], h), load::<RS, L>(&s[j], h)];
            store::<RS, L>(&mut s[i], h, mul_add2::<REAL, RS>(u[0], u[1], p[0], p[1]));
            store::<RS, L>(&mut s[j], h, mul_add2::<REAL, RS>(u[2], u[3], p[0], p[1]));
        }
    }
}
