//! Register blocks: a run of gates on at most `MAX_BLOCK_BITS` bits applied in ONE pass.
//!
//! Applied one by one, every gate of a fused tile is a pass over the tile: a load and a
//! store of every amplitude, and a CNOT is nothing but that traffic. A register block loads
//! the 2^k amplitudes of a group (k block bits, times `LANES` neighbours along the lowest
//! bits) into registers as separate real and imaginary rows, runs every gate of the block
//! on the rows, and stores them back once. Unlike a dense 2^k x 2^k block (qsim's fusion),
//! it keeps each gate's own arithmetic: a single-qubit gate still costs 2 complex products
//! per amplitude, a diagonal one 1 (merged with its diagonal neighbours), and permutations
//! (CNOT, X, SWAP, and their controlled forms) cost nothing: they rename rows at build time.
//!
//! Block bits must be at least `LANE_BITS`: the lanes of a row are `LANES` consecutive
//! amplitudes. Gates on lower bits run as ordinary kernels.

use super::index::set_bits;
use super::Kernel;
use crate::scalar::{Real, C};

/// log2 of the lanes of a row: consecutive amplitudes processed together (16: one AVX-512
/// register of complex64 real parts).
pub const LANE_BITS: u32 = 4;
const LANES: usize = 1 << LANE_BITS;

/// The most bits a block spans: 16 rows of 8 lanes, real and imaginary parts, fill 32
/// AVX2 registers at complex64; more would spill every step.
pub const MAX_BLOCK_BITS: u32 = 4;
const MAX_ROWS: usize = 1 << MAX_BLOCK_BITS;

/// One gate of a block, on physical rows (the renaming by permutations already applied).
#[derive(Clone, Debug)]
enum Step<T> {
    /// The 2x2 matrix on each (row, row) pair.
    Mat1 { m: [C<T>; 4], pairs: Vec<(u8, u8)> },
    /// The 4x4 matrix on each quad of rows (local index 0..3 in quad order).
    Mat2 {
        m: Box<[C<T>; 16]>,
        quads: Vec<[u8; 4]>,
    },
    /// Each listed row times its factor.
    Scale { rows: Vec<(u8, C<T>)> },
}

/// Gates on a few bits, compiled to steps on rows.
#[derive(Clone, Debug)]
pub struct RegBlock<T> {
    /// Index offset of logical row r (bit j of r is block bit j).
    offsets: Vec<usize>,
    /// The physical row holding logical row r after the steps.
    slots: Vec<u8>,
    /// Block bits and lane bits: groups start at indices with none of them set.
    mask: usize,
    steps: Vec<Step<T>>,
}

impl<T: Real> RegBlock<T> {
    /// The block of `kernels` (in order) on `bits` (ascending, each >= LANE_BITS, at most
    /// MAX_BLOCK_BITS of them); None when a kernel touches other bits or has no row form
    /// (dense matrices on 3+ bits).
    pub fn new(bits: &[u32], kernels: &[&Kernel<T>]) -> Option<Self> {
        if bits.len() > MAX_BLOCK_BITS as usize || bits.iter().any(|&b| b < LANE_BITS) {
            return None;
        }
        let bit_mask: usize = bits.iter().map(|&b| 1usize << b).sum();
        let rows = 1usize << bits.len();
        let mut b = Builder {
            bits,
            slots: (0..rows as u8).collect(),
            diag: vec![C::new(T::one(), T::zero()); rows],
            steps: Vec::new(),
        };
        for k in kernels {
            if k.support() & !bit_mask != 0 || !b.add(k) {
                return None;
            }
        }
        b.flush_diag();
        Some(RegBlock {
            offsets: (0..rows)
                .map(|r| set_bits(r).map(|j| 1usize << bits[j as usize]).sum())
                .collect(),
            slots: b.slots,
            mask: bit_mask | (LANES - 1),
            steps: b.steps,
        })
    }

    /// Apply the block to `s` (a state or a gathered tile of 2^n amplitudes, n above every
    /// block bit), serially.
    pub fn apply(&self, s: &mut [C<T>]) {
        apply_block(self, s)
    }
}

struct Builder<'a, T> {
    bits: &'a [u32],
    slots: Vec<u8>,
    /// Pending diagonal factor of each PHYSICAL row (renames move rows, not factors).
    diag: Vec<C<T>>,
    steps: Vec<Step<T>>,
}

impl<T: Real> Builder<'_, T> {
    /// Row mask of a state-bit mask (every bit is a block bit).
    fn rows_of(&self, mask: usize) -> usize {
        set_bits(mask)
            .map(|b| 1usize << self.bits.iter().position(|&x| x == b).unwrap())
            .sum()
    }

    fn row_bit(&self, t: u32) -> usize {
        self.rows_of(1usize << t)
    }

    /// Logical rows selected by a control (mask, value) in state bits.
    fn selected(&self, mask: usize, value: usize) -> impl Iterator<Item = usize> {
        let (m, v) = (self.rows_of(mask), self.rows_of(value));
        (0..self.slots.len()).filter(move |r| r & m == v)
    }

    fn flush_diag(&mut self) {
        let one = C::new(T::one(), T::zero());
        let rows: Vec<(u8, C<T>)> = (self.diag.iter().enumerate())
            .filter(|(_, d)| **d != one)
            .map(|(p, d)| (p as u8, *d))
            .collect();
        if !rows.is_empty() {
            self.steps.push(Step::Scale { rows });
            self.diag.fill(one);
        }
    }

    /// Compile one kernel; false when it has no row form.
    fn add(&mut self, k: &Kernel<T>) -> bool {
        match k {
            Kernel::Identity => {}
            Kernel::Mat1 { t, m, ctrl } => {
                self.flush_diag();
                let o = self.row_bit(*t);
                let pairs = (self.selected(ctrl.mask, ctrl.value))
                    .filter(|r| r & o == 0)
                    .map(|r| (self.slots[r], self.slots[r | o]))
                    .collect();
                self.steps.push(Step::Mat1 { m: *m, pairs });
            }
            Kernel::Diag1 { t, d, ctrl } => {
                let o = self.row_bit(*t);
                for r in self.selected(ctrl.mask, ctrl.value).collect::<Vec<_>>() {
                    let p = self.slots[r] as usize;
                    self.diag[p] *= d[usize::from(r & o != 0)];
                }
            }
            Kernel::Parity { mask, even, odd } => {
                let m = self.rows_of(*mask);
                for r in 0..self.slots.len() {
                    let p = self.slots[r] as usize;
                    self.diag[p] *= if (r & m).count_ones().is_multiple_of(2) {
                        *even
                    } else {
                        *odd
                    };
                }
            }
            Kernel::Flip { t, ctrl } => {
                let o = self.row_bit(*t);
                for r in self.selected(ctrl.mask, ctrl.value).collect::<Vec<_>>() {
                    if r & o == 0 {
                        self.slots.swap(r, r | o);
                    }
                }
            }
            Kernel::Swap { t0, t1, ctrl } => {
                let (a, b) = (self.row_bit(*t0), self.row_bit(*t1));
                for r in self.selected(ctrl.mask, ctrl.value).collect::<Vec<_>>() {
                    if r & a != 0 && r & b == 0 {
                        self.slots.swap(r, r ^ a ^ b);
                    }
                }
            }
            Kernel::Mat2 { t0, t1, m } => {
                self.flush_diag();
                let (hi, lo) = (self.row_bit(*t0), self.row_bit(*t1));
                let quads = (0..self.slots.len())
                    .filter(|r| r & (hi | lo) == 0)
                    .map(|r| [r, r | lo, r | hi, r | hi | lo].map(|x| self.slots[x]))
                    .collect();
                self.steps.push(Step::Mat2 {
                    m: m.clone(),
                    quads,
                });
            }
            Kernel::MatK { .. } => return false,
        }
        true
    }
}

/// Real and imaginary parts of the rows of one group (64-byte aligned: AVX-512 rows).
#[repr(C, align(64))]
struct Rows<T> {
    re: [[T; LANES]; MAX_ROWS],
    im: [[T; LANES]; MAX_ROWS],
}

/// The block on `s`, in the widest instruction set the CPU has.
fn apply_block<T: Real>(block: &RegBlock<T>, s: &mut [C<T>]) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512() {
            // SAFETY: the CPU has AVX-512 F/VL, AVX2 and FMA (checked just above).
            return unsafe { apply_avx512(block, s) };
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { apply_avx2(block, s) };
        }
    }
    run_block::<T, false, false>(block, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn apply_avx512<T: Real>(block: &RegBlock<T>, s: &mut [C<T>]) {
    run_block::<T, true, true>(block, s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2<T: Real>(block: &RegBlock<T>, s: &mut [C<T>]) {
    run_block::<T, true, false>(block, s)
}

/// `a * b + c`, fused where the instruction set has FMA (without it `mul_add` is a
/// library call).
#[inline(always)]
fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The block's loop over groups. `FMA`: the caller enabled FMA; `WIDE`: the caller enabled
/// AVX-512, whose permutes split a row into real and imaginary parts (the compiler's own
/// split of interleaved data uses gathers).
#[inline(always)]
fn run_block<T: Real, const FMA: bool, const WIDE: bool>(block: &RegBlock<T>, s: &mut [C<T>]) {
    let z = T::zero();
    let mut x = Rows {
        re: [[z; LANES]; MAX_ROWS],
        im: [[z; LANES]; MAX_ROWS],
    };
    let mut base = 0usize;
    while base < s.len() {
        // next index with no block or lane bit set
        let next = ((base | block.mask) + 1) & !block.mask;
        #[cfg(target_arch = "x86_64")]
        if FMA && next < s.len() {
            // the rows lie 2^bit apart: the hardware prefetchers miss them
            for &off in &block.offsets {
                // SAFETY: in bounds; a prefetch never faults
                unsafe { wide::prefetch(s.as_ptr().add(next + off)) };
            }
        }
        for (r, &off) in block.offsets.iter().enumerate() {
            let src = &s[base + off..base + off + LANES];
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: WIDE callers enabled AVX-512; src holds LANES amplitudes.
                unsafe { wide::split(src, &mut x.re[r], &mut x.im[r]) };
                continue;
            }
            for (l, z) in src.iter().enumerate() {
                x.re[r][l] = z.re;
                x.im[r][l] = z.im;
            }
        }
        for step in &block.steps {
            run_step::<T, FMA>(&mut x, step);
        }
        for (r, &off) in block.offsets.iter().enumerate() {
            let p = block.slots[r] as usize;
            let dst = &mut s[base + off..base + off + LANES];
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: as above.
                unsafe { wide::join(&x.re[p], &x.im[p], dst) };
                continue;
            }
            for (l, z) in dst.iter_mut().enumerate() {
                *z = C::new(x.re[p][l], x.im[p][l]);
            }
        }
        base = next;
    }
}

/// Real and imaginary parts of LANES (= 16) interleaved amplitudes, with AVX-512 permutes
/// (`Real` is f32 or f64: whatever is not f32 is f64).
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::LANES;
    use crate::scalar::{Real, C};
    use std::any::TypeId;
    use std::arch::x86_64::*;

    const _: () = assert!(LANES == 16);

    /// Fetch the LANES amplitudes at `p` into L1.
    #[inline(always)]
    pub unsafe fn prefetch<T: Real>(p: *const C<T>) {
        let bytes = LANES * std::mem::size_of::<C<T>>();
        for line in (0..bytes).step_by(64) {
            _mm_prefetch::<_MM_HINT_T0>((p as *const i8).add(line));
        }
    }

    /// `src` into `re` and `im`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn split<T: Real>(src: &[C<T>], re: &mut [T; LANES], im: &mut [T; LANES]) {
        let p = src.as_ptr() as *const T;
        debug_assert!(src.len() == LANES);
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            let (p, re, im) = (
                p as *const f32,
                re.as_mut_ptr() as *mut f32,
                im.as_mut_ptr() as *mut f32,
            );
            let (a, b) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            _mm512_storeu_ps(re, _mm512_permutex2var_ps(a, even, b));
            _mm512_storeu_ps(im, _mm512_permutex2var_ps(a, odd, b));
        } else {
            let (p, re, im) = (
                p as *const f64,
                re.as_mut_ptr() as *mut f64,
                im.as_mut_ptr() as *mut f64,
            );
            let even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
            let odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
            for h in 0..2 {
                let (a, b) = (
                    _mm512_loadu_pd(p.add(16 * h)),
                    _mm512_loadu_pd(p.add(16 * h + 8)),
                );
                _mm512_storeu_pd(re.add(8 * h), _mm512_permutex2var_pd(a, even, b));
                _mm512_storeu_pd(im.add(8 * h), _mm512_permutex2var_pd(a, odd, b));
            }
        }
    }

    /// `re` and `im` interleaved into `dst`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn join<T: Real>(re: &[T; LANES], im: &[T; LANES], dst: &mut [C<T>]) {
        let p = dst.as_mut_ptr() as *mut T;
        debug_assert!(dst.len() == LANES);
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            let (p, re, im) = (
                p as *mut f32,
                re.as_ptr() as *const f32,
                im.as_ptr() as *const f32,
            );
            let (r, i) = (_mm512_loadu_ps(re), _mm512_loadu_ps(im));
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            _mm512_storeu_ps(p, _mm512_permutex2var_ps(r, lo, i));
            _mm512_storeu_ps(p.add(16), _mm512_permutex2var_ps(r, hi, i));
        } else {
            let (p, re, im) = (
                p as *mut f64,
                re.as_ptr() as *const f64,
                im.as_ptr() as *const f64,
            );
            let lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
            let hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
            for h in 0..2 {
                let (r, i) = (
                    _mm512_loadu_pd(re.add(8 * h)),
                    _mm512_loadu_pd(im.add(8 * h)),
                );
                _mm512_storeu_pd(p.add(16 * h), _mm512_permutex2var_pd(r, lo, i));
                _mm512_storeu_pd(p.add(16 * h + 8), _mm512_permutex2var_pd(r, hi, i));
            }
        }
    }
}

/// One step on the rows of a group: each output from copies of its inputs (rows of one
/// pair or quad are distinct, but the compiler cannot know it).
#[inline(always)]
fn run_step<T: Real, const FMA: bool>(x: &mut Rows<T>, step: &Step<T>) {
    let madd = madd::<T, FMA>;
    match step {
        Step::Mat1 { m, pairs } => {
            let [a, b, c, d] = *m;
            for &(p, q) in pairs {
                let (p, q) = (p as usize, q as usize);
                let (pr, pi, qr, qi) = (x.re[p], x.im[p], x.re[q], x.im[q]);
                for l in 0..LANES {
                    x.re[p][l] = madd(
                        -b.im,
                        qi[l],
                        madd(b.re, qr[l], madd(-a.im, pi[l], a.re * pr[l])),
                    );
                    x.im[p][l] = madd(
                        b.im,
                        qr[l],
                        madd(b.re, qi[l], madd(a.im, pr[l], a.re * pi[l])),
                    );
                    x.re[q][l] = madd(
                        -d.im,
                        qi[l],
                        madd(d.re, qr[l], madd(-c.im, pi[l], c.re * pr[l])),
                    );
                    x.im[q][l] = madd(
                        d.im,
                        qr[l],
                        madd(d.re, qi[l], madd(c.im, pr[l], c.re * pi[l])),
                    );
                }
            }
        }
        Step::Mat2 { m, quads } => {
            for q in quads {
                let q = q.map(|r| r as usize);
                let re = q.map(|r| x.re[r]);
                let im = q.map(|r| x.im[r]);
                for (i, &dst) in q.iter().enumerate() {
                    for l in 0..LANES {
                        let (mut ar, mut ai) = (T::zero(), T::zero());
                        for j in 0..4 {
                            let e = m[4 * i + j];
                            ar = madd(-e.im, im[j][l], madd(e.re, re[j][l], ar));
                            ai = madd(e.im, re[j][l], madd(e.re, im[j][l], ai));
                        }
                        x.re[dst][l] = ar;
                        x.im[dst][l] = ai;
                    }
                }
            }
        }
        Step::Scale { rows } => {
            for &(r, d) in rows {
                let r = r as usize;
                let (re, im) = (x.re[r], x.im[r]);
                for l in 0..LANES {
                    x.re[r][l] = madd(-d.im, im[l], d.re * re[l]);
                    x.im[r][l] = madd(d.im, re[l], d.re * im[l]);
                }
            }
        }
    }
}

/// Passes over a buffer: the kernels of a fused tile, runs of them on few bits merged into
/// register blocks.
#[derive(Clone, Debug)]
pub enum Pass<T> {
    One(Kernel<T>),
    Block(RegBlock<T>),
}

impl<T: Real> Pass<T> {
    pub fn apply(&self, s: &mut [C<T>]) {
        match self {
            Pass::One(k) => k.apply(s, false),
            Pass::Block(b) => b.apply(s),
        }
    }
}

/// Group `kernels` (in circuit order) into register blocks of up to `max_bits` bits,
/// moving a kernel earlier only past kernels on disjoint bits (they commute). Kernels that
/// fit no block (low bits, dense 3+ bit matrices, too wide) stay single passes (all of
/// them when `max_bits` < 2); a block of one
/// kernel is kept as that kernel (the specialised kernels are faster alone).
pub fn passes<T: Real>(kernels: Vec<Kernel<T>>, max_bits: u32) -> Vec<Pass<T>> {
    if max_bits < 2 {
        return kernels.into_iter().map(Pass::One).collect();
    }
    let low = (1usize << LANE_BITS) - 1;
    let blockable = |k: &Kernel<T>| {
        k.support() & low == 0 && !matches!(k, Kernel::MatK { .. } | Kernel::Identity)
    };
    let supports: Vec<usize> = kernels.iter().map(|k| k.support()).collect();
    let eligible: Vec<bool> = (kernels.iter())
        .map(|k| blockable(k) && k.support().count_ones() <= max_bits)
        .collect();
    let groups = crate::fusion::group(&supports, &eligible, max_bits, 0);
    let mut kernels: Vec<Option<Kernel<T>>> = kernels.into_iter().map(Some).collect();
    groups
        .into_iter()
        .map(|g| {
            if g.ops.len() == 1 {
                return Pass::One(kernels[g.ops[0]].take().unwrap());
            }
            let bits: Vec<u32> =
                set_bits(g.mask.expect("groups of several ops have bits")).collect();
            let ks: Vec<&Kernel<T>> = g
                .ops
                .iter()
                .map(|&i| kernels[i].as_ref().unwrap())
                .collect();
            let block = RegBlock::new(&bits, &ks).expect("grouped kernels have a row form");
            Pass::Block(block)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Ctrl;

    const L: u32 = LANE_BITS;
    /// Register size of the tests: room for blocks above the lane bits.
    const N: u32 = LANE_BITS + 7;

    fn state(n: u32) -> Vec<C<f64>> {
        (0..1usize << n)
            .map(|i| C::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
            .collect()
    }

    fn c<T: Real>(re: f64, im: f64) -> C<T> {
        C::new(T::of(re), T::of(im))
    }

    fn polar<T: Real>(phase: f64) -> C<T> {
        c(phase.cos(), phase.sin())
    }

    /// A unitary: phases times a rotation.
    fn m<T: Real>(seed: f64) -> [C<T>; 4] {
        let (co, si) = (seed.cos(), seed.sin());
        let (p, q) = (
            C::from_polar(1.0, seed * 0.7),
            C::from_polar(1.0, -seed * 1.3),
        );
        [p * co, p * -si, q * si, q * co].map(|z: C<f64>| c(z.re, z.im))
    }

    /// Every kernel kind with a row form, on three bits, controls both ways.
    fn every_kind<T: Real>(bits: [u32; 3]) -> Vec<Kernel<T>> {
        let [a, b, cc] = bits;
        let ctrl = |bit: u32, on: bool| Ctrl {
            mask: 1 << bit,
            value: if on { 1 << bit } else { 0 },
        };
        let mut m2 = Box::new([c(0.0, 0.0); 16]);
        for i in 0..4 {
            for j in 0..4 {
                m2[4 * i + j] = c((i * 4 + j) as f64 * 0.1, (i as f64 - j as f64) * 0.2);
            }
        }
        vec![
            Kernel::Mat1 {
                t: a,
                m: m(0.3),
                ctrl: Ctrl::NONE,
            },
            Kernel::Diag1 {
                t: b,
                d: [c(1.0, 0.0), polar(0.4)],
                ctrl: Ctrl::NONE,
            },
            Kernel::Flip {
                t: b,
                ctrl: ctrl(a, true),
            },
            Kernel::Mat1 {
                t: cc,
                m: m(1.1),
                ctrl: ctrl(b, false),
            },
            Kernel::Diag1 {
                t: a,
                d: [polar(0.2), polar(-0.9)],
                ctrl: ctrl(cc, true),
            },
            Kernel::Parity {
                mask: (1 << a) | (1 << cc),
                even: polar(0.5),
                odd: polar(-0.5),
            },
            Kernel::Swap {
                t0: a,
                t1: cc,
                ctrl: Ctrl::NONE,
            },
            Kernel::Mat2 {
                t0: cc,
                t1: a,
                m: m2,
            },
            Kernel::Flip {
                t: a,
                ctrl: Ctrl::NONE,
            },
            Kernel::Swap {
                t0: b,
                t1: cc,
                ctrl: ctrl(a, false),
            },
            Kernel::Mat1 {
                t: b,
                m: m(2.3),
                ctrl: Ctrl::NONE,
            },
            Kernel::Identity,
        ]
    }

    fn close(a: &[C<f64>], b: &[C<f64>]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).norm() < 1e-12)
    }

    #[test]
    fn a_block_equals_its_kernels_one_by_one() {
        for bits in [[L, L + 2, L + 5], [L + 6, L + 1, L + 3], [L, L + 1, L + 2]] {
            let ks: Vec<Kernel<f64>> = every_kind(bits);
            let mut direct = state(N);
            for k in &ks {
                k.apply(&mut direct, false);
            }
            let mut sorted = bits.to_vec();
            sorted.sort_unstable();
            let refs: Vec<&Kernel<f64>> = ks.iter().collect();
            let block = RegBlock::new(&sorted, &refs).unwrap();
            let mut s = state(N);
            block.apply(&mut s);
            assert!(close(&s, &direct), "bits {bits:?}");
        }
    }

    #[test]
    fn every_instruction_set_tier_gives_the_same_state() {
        let ks: Vec<Kernel<f64>> = every_kind([L + 1, L + 3, L]);
        let refs: Vec<&Kernel<f64>> = ks.iter().collect();
        let block = RegBlock::new(&[L, L + 1, L + 3], &refs).unwrap();
        let mut direct = state(N);
        ks.iter().for_each(|k| k.apply(&mut direct, false));
        let mut portable = state(N);
        run_block::<f64, false, false>(&block, &mut portable);
        assert!(close(&portable, &direct));
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::has_avx2_fma() {
            let mut avx2 = state(N);
            // SAFETY: the CPU has AVX2 and FMA (checked just above)
            unsafe { apply_avx2(&block, &mut avx2) };
            assert!(close(&avx2, &direct));
        }
    }

    #[test]
    fn complex64_blocks_match_too() {
        let ks: Vec<Kernel<f32>> = every_kind([L + 4, L, L + 1]);
        let mut direct: Vec<C<f32>> = state(N)
            .iter()
            .map(|z| C::new(z.re as f32, z.im as f32))
            .collect();
        let mut s = direct.clone();
        for k in &ks {
            k.apply(&mut direct, false);
        }
        let refs: Vec<&Kernel<f32>> = ks.iter().collect();
        RegBlock::new(&[L, L + 1, L + 4], &refs)
            .unwrap()
            .apply(&mut s);
        assert!(s.iter().zip(&direct).all(|(x, y)| (x - y).norm() < 1e-5));
    }

    #[test]
    fn no_block_for_low_bits_dense_or_foreign_kernels() {
        let low = Kernel::<f64>::Mat1 {
            t: L - 1,
            m: m(0.1),
            ctrl: Ctrl::NONE,
        };
        assert!(RegBlock::new(&[L - 1, L + 2], &[&low]).is_none());
        let foreign = Kernel::<f64>::Mat1 {
            t: L + 6,
            m: m(0.1),
            ctrl: Ctrl::NONE,
        };
        assert!(RegBlock::new(&[L, L + 1], &[&foreign]).is_none());
        let dense = Kernel::<f64>::MatK {
            bits: vec![L, L + 1],
            m: vec![C::new(1.0, 0.0); 16].into(),
        };
        assert!(RegBlock::new(&[L, L + 1], &[&dense]).is_none());
        assert!(RegBlock::<f64>::new(&[L, L + 1, L + 2, L + 3, L + 4], &[]).is_none());
    }

    #[test]
    fn passes_keep_the_circuit() {
        // a layer of every kind on 10 bits, low bits included, and a wide dense kernel
        let mut ks = Vec::new();
        for (i, bits) in [
            [L, L + 2, L + 5],
            [0, L + 1, L + 6],
            [L + 3, L + 4, 2],
            [L + 6, 1, L],
        ]
        .into_iter()
        .enumerate()
        {
            ks.extend(every_kind::<f64>(bits));
            if i == 1 {
                ks.push(Kernel::MatK {
                    bits: vec![2, L + 3, L + 5],
                    m: (0..64)
                        .map(|j| C::new(if j % 9 == 0 { 1.0 } else { 0.0 }, 0.0))
                        .collect(),
                });
            }
        }
        let mut direct = state(N);
        for k in &ks {
            k.apply(&mut direct, false);
        }
        for max_bits in 2..=MAX_BLOCK_BITS {
            let ps = passes(ks.clone(), max_bits);
            assert!(ps.len() < ks.len());
            assert!(ps.iter().any(|p| matches!(p, Pass::Block(_))));
            let mut s = state(N);
            ps.iter().for_each(|p| p.apply(&mut s));
            assert!(close(&s, &direct), "max_bits {max_bits}");
        }
    }
}
