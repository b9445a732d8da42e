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
//! The rows are 2^k groups of `LANES` consecutive amplitudes: block bits are at least
//! `LANE_BITS`, and gates on the lane bits below them run in the block too, as per-lane
//! coefficients and lane shuffles (SWAPs and two-qubit matrices that touch a lane bit do
//! not: they stay kernels of their own). Flips of lane bits (a CNOT chain through them) are
//! lane permutations, composed at build time into one permute per row; a flip of a row bit
//! under a lane control is a per-lane exchange of rows (a blend).

use super::index::set_bits;
use super::tile::Ahead;
use super::Kernel;
use crate::scalar::{madd, Real, C};

/// log2 of the lanes of a row: consecutive amplitudes processed together (16: one AVX-512
/// register of complex64 real parts).
pub const LANE_BITS: u32 = 4;
const LANES: usize = 1 << LANE_BITS;

/// The most bits a block spans: its 64 rows of 16 lanes (16 KiB at complex128) stay in L1
/// with room to spare (each step loads its rows from there and stores them back).
pub const MAX_BLOCK_BITS: u32 = 6;
const MAX_ROWS: usize = 1 << MAX_BLOCK_BITS;

/// One complex value per lane.
type LaneVec<T> = [C<T>; LANES];

/// A `LaneVec` as separate real and imaginary parts (what the steps load: interleaved
/// parts would be gathers).
#[derive(Clone, Debug)]
struct Soa<T> {
    re: [T; LANES],
    im: [T; LANES],
}

impl<T: Real> Soa<T> {
    fn of(v: &LaneVec<T>) -> Box<Self> {
        Box::new(Soa {
            re: v.map(|z| z.re),
            im: v.map(|z| z.im),
        })
    }
}

/// One gate of a block, on physical rows (the renaming by permutations already applied).
#[derive(Clone, Debug)]
enum Step<T> {
    /// The 2x2 matrix on each (row, row) pair.
    Mat1 { m: [C<T>; 4], pairs: Vec<(u8, u8)> },
    /// The same with a matrix per lane (controls on lane bits: identity on the others).
    Mat1Lanes {
        m: [Box<Soa<T>>; 4],
        pairs: Vec<(u8, u8)>,
    },
    /// A 2x2 matrix on lane bit `J` (`shift` = 2^J) of each listed row:
    /// `x[l] <- a[l] x[l] + b[l] x[l ^ shift]`.
    Lane {
        shift: usize,
        a: Box<Soa<T>>,
        b: Box<Soa<T>>,
        rows: Vec<u8>,
    },
    /// The 4x4 matrix on each quad of rows (local index 0..3 in quad order).
    Mat2 {
        m: Box<[C<T>; 16]>,
        quads: Vec<[u8; 4]>,
    },
    /// Each listed row times its lane factors.
    Scale { rows: Vec<(u8, Box<Soa<T>>)> },
    /// Each listed row's lanes permuted, `x[l] <- x[idx[l]]`: permutations across lane
    /// bits (a CNOT chain through them), composed at build time.
    Perm { rows: Vec<(u8, [u8; LANES])> },
    /// Each (row, row) pair exchanges the lanes set in `lanes` (a flip of a row bit under a
    /// control on lane bits).
    Blend { lanes: u32, pairs: Vec<(u8, u8)> },
}

/// Whether `k` has a form inside a block: everything but dense matrices on 3+ bits, and
/// SWAPs or 4x4 matrices touching a lane bit.
pub fn has_row_form<T: Real>(k: &Kernel<T>) -> bool {
    let lane_bit = |t: u32| t < LANE_BITS;
    match k {
        Kernel::MatK { .. } => false,
        Kernel::Swap { t0, t1, ctrl } => {
            !lane_bit(*t0) && !lane_bit(*t1) && ctrl.mask & (LANES - 1) == 0
        }
        Kernel::Mat2 { t0, t1, .. } => !lane_bit(*t0) && !lane_bit(*t1),
        _ => true,
    }
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
    /// The block of `kernels` (in order) on the row bits `bits` (ascending, each >=
    /// LANE_BITS, at most MAX_BLOCK_BITS of them) and the lane bits; None when a kernel
    /// touches other bits or has no row form (`has_row_form`).
    pub fn new(bits: &[u32], kernels: &[&Kernel<T>]) -> Option<Self> {
        if bits.len() > MAX_BLOCK_BITS as usize || bits.iter().any(|&b| b < LANE_BITS) {
            return None;
        }
        let bit_mask: usize = bits.iter().map(|&b| 1usize << b).sum();
        let rows = 1usize << bits.len();
        let mut b = Builder {
            bits,
            slots: (0..rows as u8).collect(),
            diag: vec![[C::new(T::one(), T::zero()); LANES]; rows],
            perm: vec![IDENTITY; rows],
            steps: Vec::new(),
        };
        for k in kernels {
            if k.support() & !(bit_mask | (LANES - 1)) != 0 || !has_row_form(k) {
                return None;
            }
            b.add(k);
        }
        b.flush();
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
        let at = Place::buffer(s);
        // SAFETY: `at` is all of `s`, borrowed mutably for the call
        unsafe { apply_block(self, at, at, s.len(), &mut Ahead::none()) }
    }

    /// Groups in a buffer of `amps` amplitudes: the steps `apply_at` makes on `ahead`.
    fn groups(&self, amps: usize) -> usize {
        amps >> self.mask.count_ones()
    }
}

struct Builder<'a, T> {
    bits: &'a [u32],
    slots: Vec<u8>,
    /// The pending lane permutation `perm` and then diagonal factors `diag` of each PHYSICAL
    /// row (renames move rows, not these): row p holds `diag[p][l] * stored[perm[p][l]]` at
    /// lane l. Steps that mix rows or lanes flush them first.
    diag: Vec<LaneVec<T>>,
    perm: Vec<[u8; LANES]>,
    steps: Vec<Step<T>>,
}

const IDENTITY: [u8; LANES] = {
    let mut id = [0u8; LANES];
    let mut l = 0;
    while l < LANES {
        id[l] = l as u8;
        l += 1;
    }
    id
};

/// A control split into its row part (row-index mask and value) and its lane part.
struct Split {
    rows: (usize, usize),
    lanes: (usize, usize),
}

impl Split {
    fn lane_ok(&self, l: usize) -> bool {
        l & self.lanes.0 == self.lanes.1
    }
}

impl<T: Real> Builder<'_, T> {
    /// Row mask of a state-bit mask's bits above the lanes.
    fn rows_of(&self, mask: usize) -> usize {
        set_bits(mask & !(LANES - 1))
            .map(|b| 1usize << self.bits.iter().position(|&x| x == b).unwrap())
            .sum()
    }

    fn split(&self, mask: usize, value: usize) -> Split {
        let low = LANES - 1;
        Split {
            rows: (self.rows_of(mask), self.rows_of(value)),
            lanes: (mask & low, value & low),
        }
    }

    /// Logical rows selected by a control's row part.
    fn selected(&self, c: &Split) -> Vec<usize> {
        let (m, v) = c.rows;
        (0..self.slots.len()).filter(|r| r & m == v).collect()
    }

    /// Emit the pending permutations and factors as steps.
    fn flush(&mut self) {
        let rows: Vec<(u8, [u8; LANES])> = (self.perm.iter().enumerate())
            .filter(|(_, p)| **p != IDENTITY)
            .map(|(r, p)| (r as u8, *p))
            .collect();
        if !rows.is_empty() {
            self.steps.push(Step::Perm { rows });
            self.perm.fill(IDENTITY);
        }
        let one = C::new(T::one(), T::zero());
        let rows: Vec<(u8, Box<Soa<T>>)> = (self.diag.iter().enumerate())
            .filter(|(_, d)| d.iter().any(|z| *z != one))
            .map(|(p, d)| (p as u8, Soa::of(d)))
            .collect();
        if !rows.is_empty() {
            self.steps.push(Step::Scale { rows });
            self.diag.fill([one; LANES]);
        }
    }

    /// Multiply logical row `r`'s pending factors by `f(lane)`.
    fn scale_row(&mut self, r: usize, f: impl Fn(usize) -> C<T>) {
        let p = self.slots[r] as usize;
        for (l, z) in self.diag[p].iter_mut().enumerate() {
            *z *= f(l);
        }
    }

    /// Move logical row `r`'s lane `sigma[l]` to lane l (after its pending factors).
    fn permute_row(&mut self, r: usize, sigma: &[u8; LANES]) {
        let p = self.slots[r] as usize;
        let (d, perm) = (self.diag[p], self.perm[p]);
        for (l, &from) in sigma.iter().enumerate() {
            (self.diag[p][l], self.perm[p][l]) = (d[from as usize], perm[from as usize]);
        }
    }

    /// A 2x2 matrix `m` on state bit `t`, on the rows and lanes a control selects.
    fn mat1(&mut self, t: u32, m: [C<T>; 4], c: &Split) {
        self.flush();
        let (one, zero) = (C::new(T::one(), T::zero()), C::new(T::zero(), T::zero()));
        let rows = self.selected(c);
        if t < LANE_BITS {
            let shift = 1usize << t;
            let (mut a, mut b) = ([one; LANES], [zero; LANES]);
            for l in (0..LANES).filter(|&l| c.lane_ok(l)) {
                (a[l], b[l]) = if l & shift == 0 {
                    (m[0], m[1])
                } else {
                    (m[3], m[2])
                };
            }
            let rows = rows.iter().map(|&r| self.slots[r]).collect();
            let (a, b) = (Soa::of(&a), Soa::of(&b));
            self.steps.push(Step::Lane { shift, a, b, rows });
            return;
        }
        let o = self.row_bit(t);
        let pairs = (rows.iter())
            .filter(|&&r| r & o == 0)
            .map(|&r| (self.slots[r], self.slots[r | o]))
            .collect();
        if c.lanes.0 == 0 {
            self.steps.push(Step::Mat1 { m, pairs });
        } else {
            let mut per_lane = [[one, zero, zero, one]; LANES];
            for l in (0..LANES).filter(|&l| c.lane_ok(l)) {
                per_lane[l] = m;
            }
            let m = std::array::from_fn(|e| Soa::of(&per_lane.map(|q| q[e])));
            self.steps.push(Step::Mat1Lanes { m, pairs });
        }
    }

    fn row_bit(&self, t: u32) -> usize {
        self.rows_of(1usize << t)
    }

    /// The value (0 or 1) of state bit `t` at logical row `r`, lane `l`.
    fn bit_at(&self, t: u32, r: usize, l: usize) -> usize {
        if t < LANE_BITS {
            (l >> t) & 1
        } else {
            usize::from(r & self.row_bit(t) != 0)
        }
    }

    /// Compile one kernel (which has a row form).
    fn add(&mut self, k: &Kernel<T>) {
        let one = C::new(T::one(), T::zero());
        match k {
            Kernel::Identity => {}
            Kernel::Mat1 { t, m, ctrl } => {
                let c = self.split(ctrl.mask, ctrl.value);
                self.mat1(*t, *m, &c);
            }
            Kernel::Diag1 { t, d, ctrl } => {
                let c = self.split(ctrl.mask, ctrl.value);
                for r in self.selected(&c) {
                    let f = |l: usize| {
                        if c.lane_ok(l) {
                            d[self.bit_at(*t, r, l)]
                        } else {
                            one
                        }
                    };
                    let f: LaneVec<T> = std::array::from_fn(f);
                    self.scale_row(r, |l| f[l]);
                }
            }
            Kernel::Parity { mask, even, odd } => {
                let (m, lm) = (self.rows_of(*mask), mask & (LANES - 1));
                for r in 0..self.slots.len() {
                    let odd_at = |l: usize| ((r & m).count_ones() + (l & lm).count_ones()) % 2;
                    self.scale_row(r, |l| if odd_at(l) == 0 { *even } else { *odd });
                }
            }
            Kernel::Flip { t, ctrl } => {
                let c = self.split(ctrl.mask, ctrl.value);
                if *t < LANE_BITS {
                    // data moves between lanes: a lane permutation of the selected rows
                    let shift = 1usize << t;
                    let sigma = std::array::from_fn(|l| match c.lane_ok(l) {
                        true => (l ^ shift) as u8,
                        false => l as u8,
                    });
                    for r in self.selected(&c) {
                        self.permute_row(r, &sigma);
                    }
                    return;
                }
                let o = self.row_bit(*t);
                if c.lanes.0 != 0 {
                    // rows swap the lanes the control selects
                    self.flush();
                    let lanes = (0..LANES).filter(|&l| c.lane_ok(l)).map(|l| 1 << l).sum();
                    let pairs = (self.selected(&c).into_iter())
                        .filter(|&r| r & o == 0)
                        .map(|r| (self.slots[r], self.slots[r | o]))
                        .collect();
                    self.steps.push(Step::Blend { lanes, pairs });
                    return;
                }
                for r in self.selected(&c) {
                    if r & o == 0 {
                        self.slots.swap(r, r | o);
                    }
                }
            }
            Kernel::Swap { t0, t1, ctrl } => {
                let c = self.split(ctrl.mask, ctrl.value);
                let (a, b) = (self.row_bit(*t0), self.row_bit(*t1));
                for r in self.selected(&c) {
                    if r & a != 0 && r & b == 0 {
                        self.slots.swap(r, r ^ a ^ b);
                    }
                }
            }
            Kernel::Mat2 { t0, t1, m } => {
                self.flush();
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
            Kernel::MatK { .. } => unreachable!("no row form (checked by has_row_form)"),
        }
    }
}

/// Real and imaginary parts of the rows of one group (64-byte aligned: AVX-512 rows).
#[repr(C, align(64))]
struct Rows<T> {
    re: [[T; LANES]; MAX_ROWS],
    im: [[T; LANES]; MAX_ROWS],
}

/// Where a block reads or writes the amplitudes of a tile: tile-local index x lies at
/// `ptr + runs[x >> shift] + (x & (2^shift - 1))`. A gathered buffer is the identity map; a
/// tile read in place in the state (`Tiling::place`) maps x to its state index, so that the
/// first block of a tile pass loads straight from the state and the last stores straight
/// back, saving the copies through the buffer.
#[derive(Clone, Copy)]
pub struct Place<'a, T> {
    ptr: *mut C<T>,
    runs: &'a [usize],
    shift: u32,
}

impl<'a, T> Place<'a, T> {
    /// `runs[h]`: the offset of the h-th run of 2^shift contiguous amplitudes.
    pub fn new(ptr: *mut C<T>, runs: &'a [usize], shift: u32) -> Self {
        Place { ptr, runs, shift }
    }

    /// A contiguous buffer.
    pub fn buffer(s: &mut [C<T>]) -> Place<'static, T> {
        Place {
            ptr: s.as_mut_ptr(),
            runs: &[0],
            shift: usize::BITS - 1,
        }
    }

    /// The offset of tile-local index `x`; additive over indices with disjoint bits.
    #[inline(always)]
    fn at(&self, x: usize) -> usize {
        self.runs[x >> self.shift] + (x & ((1usize << self.shift) - 1))
    }
}

/// The block on the `amps` tile-local amplitudes read at `src` and written at `dst` (the
/// same or disjoint memory), in the widest instruction set the CPU has. (`ahead`: a step of
/// it per group.)
///
/// # Safety
/// Both places hold `amps` amplitudes (`amps` above every block bit) that no one else
/// touches during the call.
unsafe fn apply_block<T: Real>(
    block: &RegBlock<T>,
    src: Place<T>,
    dst: Place<T>,
    amps: usize,
    ahead: &mut Ahead,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::has_avx512() {
            // SAFETY: the CPU has AVX-512 F/VL, AVX2 and FMA (checked just above).
            return apply_avx512(block, src, dst, amps, ahead);
        }
        if crate::cpu::has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return apply_avx2(block, src, dst, amps, ahead);
        }
    }
    run_block::<T, false, false>(block, src, dst, amps, ahead)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn apply_avx512<T: Real>(
    block: &RegBlock<T>,
    src: Place<T>,
    dst: Place<T>,
    amps: usize,
    ahead: &mut Ahead,
) {
    run_block::<T, true, true>(block, src, dst, amps, ahead)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2<T: Real>(
    block: &RegBlock<T>,
    src: Place<T>,
    dst: Place<T>,
    amps: usize,
    ahead: &mut Ahead,
) {
    run_block::<T, true, false>(block, src, dst, amps, ahead)
}

/// The block's loop over groups. `FMA`: the caller enabled FMA; `WIDE`: the caller enabled
/// AVX-512, whose permutes split a row into real and imaginary parts (the compiler's own
/// split of interleaved data uses gathers).
///
/// # Safety
/// As `apply_block`.
#[inline(always)]
unsafe fn run_block<T: Real, const FMA: bool, const WIDE: bool>(
    block: &RegBlock<T>,
    src: Place<T>,
    dst: Place<T>,
    amps: usize,
    ahead: &mut Ahead,
) {
    let z = T::zero();
    let mut x = Rows {
        re: [[z; LANES]; MAX_ROWS],
        im: [[z; LANES]; MAX_ROWS],
    };
    // the rows' offsets at each place (a group's base has none of the row bits set)
    let mut src_off = [0usize; MAX_ROWS];
    let mut dst_off = [0usize; MAX_ROWS];
    for (r, &off) in block.offsets.iter().enumerate() {
        (src_off[r], dst_off[r]) = (src.at(off), dst.at(off));
    }
    let rows = block.offsets.len();
    let (src_off, dst_off) = (&src_off[..rows], &dst_off[..rows]);
    let mut base = 0usize;
    let mut from = src.ptr.add(src.at(0));
    while base < amps {
        // next index with no block or lane bit set
        let next = ((base | block.mask) + 1) & !block.mask;
        let ahead_from = src.ptr.add(src.at(next.min(amps - 1)));
        ahead.step();
        #[cfg(target_arch = "x86_64")]
        if FMA && next < amps && ahead.rows() {
            for &off in src_off {
                // SAFETY: in bounds; a prefetch never faults
                wide::prefetch(ahead_from.add(off));
            }
        }
        for (r, &off) in src_off.iter().enumerate() {
            let src = std::slice::from_raw_parts(from.add(off), LANES);
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
            run_step::<T, FMA, WIDE>(&mut x, step);
        }
        let to = dst.ptr.add(dst.at(base));
        for (r, &off) in dst_off.iter().enumerate() {
            let p = block.slots[r] as usize;
            let dst = std::slice::from_raw_parts_mut(to.add(off), LANES);
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
        (base, from) = (next, ahead_from);
    }
}

/// Real and imaginary parts of LANES (= 16) interleaved amplitudes, with AVX-512 permutes
/// (`Real` is f32 or f64: whatever is not f32 is f64).
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{Rows, Soa, LANES};
    use crate::scalar::{Real, C};
    use std::any::TypeId;
    use std::arch::x86_64::*;

    const _: () = assert!(LANES == 16);

    /// `a u + b v` on registers, `u = (ur, ui, vr, vi)`: the operations of `super::mix`.
    macro_rules! mix_v {
        (($ar:expr, $ai:expr), ($br:expr, $bi:expr), $u:ident, $mul:ident, $fmadd:ident,
         $fnmadd:ident) => {{
            let (ur, ui, vr, vi) = $u;
            let re = $fnmadd($ai, ui, $mul($ar, ur));
            let re = $fnmadd($bi, vi, $fmadd($br, vr, re));
            let im = $fmadd($ai, ur, $mul($ar, ui));
            (re, $fmadd($bi, vr, $fmadd($br, vi, im)))
        }};
    }

    /// `Step::Mat1` with the rows of each pair held in registers: loaded once, stored once.
    /// (The portable loop copies both rows through the stack first, since it cannot know
    /// they differ: twice the loads and stores of the arithmetic it feeds.) `$w` lanes a
    /// register, `LANES / $w` registers a row part; same operation order as `super::mix`.
    macro_rules! mat1_rows {
        ($x:ident, $m:ident, $pairs:ident, $w:expr, $set1:ident, $load:ident, $store:ident,
         $mul:ident, $fmadd:ident, $fnmadd:ident) => {{
            let [(ar, ai), (br, bi), (cr, ci), (dr, di)] = $m.map(|z| ($set1(z.re), $set1(z.im)));
            for &(p, q) in $pairs {
                let (p, q) = (p as usize, q as usize);
                for h in (0..LANES).step_by($w) {
                    let (rp, ip) = ($x.re[p][h..].as_mut_ptr(), $x.im[p][h..].as_mut_ptr());
                    let (rq, iq) = ($x.re[q][h..].as_mut_ptr(), $x.im[q][h..].as_mut_ptr());
                    let (ur, ui, vr, vi) = ($load(rp), $load(ip), $load(rq), $load(iq));
                    let u = (ur, ui, vr, vi);
                    let (pr, pi) = mix_v!((ar, ai), (br, bi), u, $mul, $fmadd, $fnmadd);
                    let (qr, qi) = mix_v!((cr, ci), (dr, di), u, $mul, $fmadd, $fnmadd);
                    $store(rp, pr);
                    $store(ip, pi);
                    $store(rq, qr);
                    $store(iq, qi);
                }
            }
        }};
    }

    /// `Step::Mat1 { m, pairs }` on `x`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn mat1<T: Real>(x: &mut Rows<T>, m: &[C<T>; 4], pairs: &[(u8, u8)]) {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: T is f32 (checked just above)
            let x = &mut *(x as *mut Rows<T> as *mut Rows<f32>);
            let m = &*(m as *const [C<T>; 4] as *const [C<f32>; 4]);
            mat1_rows!(
                x,
                m,
                pairs,
                16,
                _mm512_set1_ps,
                _mm512_load_ps,
                _mm512_store_ps,
                _mm512_mul_ps,
                _mm512_fmadd_ps,
                _mm512_fnmadd_ps
            )
        } else {
            // SAFETY: T is f64 (`Real` is f32 or f64)
            let x = &mut *(x as *mut Rows<T> as *mut Rows<f64>);
            let m = &*(m as *const [C<T>; 4] as *const [C<f64>; 4]);
            mat1_rows!(
                x,
                m,
                pairs,
                8,
                _mm512_set1_pd,
                _mm512_load_pd,
                _mm512_store_pd,
                _mm512_mul_pd,
                _mm512_fmadd_pd,
                _mm512_fnmadd_pd
            )
        }
    }

    /// `Step::Lane { shift, a, b, rows }` on `x` (`x[l] <- a[l] x[l] + b[l] x[l ^ shift]`),
    /// each row in registers.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn lane<T: Real>(
        x: &mut Rows<T>,
        shift: usize,
        a: &Soa<T>,
        b: &Soa<T>,
        rows: &[u8],
    ) {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: T is f32 (checked just above)
            let x = &mut *(x as *mut Rows<T> as *mut Rows<f32>);
            let (a, b) = (
                &*(a as *const Soa<T> as *const Soa<f32>),
                &*(b as *const Soa<T> as *const Soa<f32>),
            );
            let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let idx = _mm512_xor_si512(iota, _mm512_set1_epi32(shift as i32));
            let ld = |v: &[f32; LANES]| _mm512_loadu_ps(v.as_ptr());
            let (ar, ai, br, bi) = (ld(&a.re), ld(&a.im), ld(&b.re), ld(&b.im));
            for &r in rows {
                let (rp, ip) = (x.re[r as usize].as_mut_ptr(), x.im[r as usize].as_mut_ptr());
                let (ur, ui) = (_mm512_load_ps(rp), _mm512_load_ps(ip));
                let u = (
                    ur,
                    ui,
                    _mm512_permutexvar_ps(idx, ur),
                    _mm512_permutexvar_ps(idx, ui),
                );
                let (re, im) = mix_v!(
                    (ar, ai),
                    (br, bi),
                    u,
                    _mm512_mul_ps,
                    _mm512_fmadd_ps,
                    _mm512_fnmadd_ps
                );
                _mm512_store_ps(rp, re);
                _mm512_store_ps(ip, im);
            }
        } else {
            // SAFETY: T is f64 (`Real` is f32 or f64)
            let x = &mut *(x as *mut Rows<T> as *mut Rows<f64>);
            let (a, b) = (
                &*(a as *const Soa<T> as *const Soa<f64>),
                &*(b as *const Soa<T> as *const Soa<f64>),
            );
            // a row part is two registers of 8 lanes: shift 8 exchanges them, a smaller
            // one permutes within each
            let idx = _mm512_xor_si512(
                _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
                _mm512_set1_epi64((shift & 7) as i64),
            );
            let partner = |lo: __m512d, hi: __m512d| match shift {
                8 => (hi, lo),
                _ => (
                    _mm512_permutexvar_pd(idx, lo),
                    _mm512_permutexvar_pd(idx, hi),
                ),
            };
            let ld = |v: &[f64; LANES], h: usize| _mm512_loadu_pd(v[8 * h..].as_ptr());
            let coef = |h| ((ld(&a.re, h), ld(&a.im, h)), (ld(&b.re, h), ld(&b.im, h)));
            let c = [coef(0), coef(1)];
            for &r in rows {
                let (rp, ip) = (x.re[r as usize].as_mut_ptr(), x.im[r as usize].as_mut_ptr());
                let ur = [_mm512_load_pd(rp), _mm512_load_pd(rp.add(8))];
                let ui = [_mm512_load_pd(ip), _mm512_load_pd(ip.add(8))];
                let (vr, vi) = (partner(ur[0], ur[1]), partner(ui[0], ui[1]));
                let (vr, vi) = ([vr.0, vr.1], [vi.0, vi.1]);
                for h in 0..2 {
                    let u = (ur[h], ui[h], vr[h], vi[h]);
                    let ((ar, ai), (br, bi)) = c[h];
                    let (re, im) = mix_v!(
                        (ar, ai),
                        (br, bi),
                        u,
                        _mm512_mul_pd,
                        _mm512_fmadd_pd,
                        _mm512_fnmadd_pd
                    );
                    _mm512_store_pd(rp.add(8 * h), re);
                    _mm512_store_pd(ip.add(8 * h), im);
                }
            }
        }
    }

    /// `v` with lane `idx[l]` moved to lane l.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn permute<T: Real>(v: &[T; LANES], idx: &[u8; LANES]) -> [T; LANES] {
        let mut out = *v;
        let (src, dst) = (v.as_ptr(), out.as_mut_ptr());
        let idx = _mm_loadu_si128(idx.as_ptr() as *const __m128i);
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            let x = _mm512_loadu_ps(src as *const f32);
            let idx = _mm512_cvtepu8_epi32(idx);
            _mm512_storeu_ps(dst as *mut f32, _mm512_permutexvar_ps(idx, x));
        } else {
            // lane index bit 3 picks the upper half: a two-source permute
            let (src, dst) = (src as *const f64, dst as *mut f64);
            let (lo, hi) = (_mm512_loadu_pd(src), _mm512_loadu_pd(src.add(8)));
            let (i0, i1) = (
                _mm512_cvtepu8_epi64(idx),
                _mm512_cvtepu8_epi64(_mm_srli_si128::<8>(idx)),
            );
            _mm512_storeu_pd(dst, _mm512_permutex2var_pd(lo, i0, hi));
            _mm512_storeu_pd(dst.add(8), _mm512_permutex2var_pd(lo, i1, hi));
        }
        out
    }

    /// Lane l of `b` where bit l of `mask` is set, else of `a`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn select<T: Real>(mask: u32, a: &[T; LANES], b: &[T; LANES]) -> [T; LANES] {
        let mut out = *a;
        let dst = out.as_mut_ptr();
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            let (a, b) = (a.as_ptr() as *const f32, b.as_ptr() as *const f32);
            let v = _mm512_mask_blend_ps(mask as u16, _mm512_loadu_ps(a), _mm512_loadu_ps(b));
            _mm512_storeu_ps(dst as *mut f32, v);
        } else {
            let (a, b, dst) = (
                a.as_ptr() as *const f64,
                b.as_ptr() as *const f64,
                dst as *mut f64,
            );
            for h in 0..2 {
                let k = (mask >> (8 * h)) as u8;
                let v = _mm512_mask_blend_pd(
                    k,
                    _mm512_loadu_pd(a.add(8 * h)),
                    _mm512_loadu_pd(b.add(8 * h)),
                );
                _mm512_storeu_pd(dst.add(8 * h), v);
            }
        }
        out
    }

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
fn run_step<T: Real, const FMA: bool, const WIDE: bool>(x: &mut Rows<T>, step: &Step<T>) {
    let madd = madd::<T, FMA>;
    match step {
        Step::Mat1 { m, pairs } => {
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: WIDE callers enabled AVX-512
                return unsafe { wide::mat1(x, m, pairs) };
            }
            let [a, b, c, d] = *m;
            for &(p, q) in pairs {
                let (p, q) = (p as usize, q as usize);
                let (pr, pi, qr, qi) = (x.re[p], x.im[p], x.re[q], x.im[q]);
                for l in 0..LANES {
                    let (u, v) = ((pr[l], pi[l]), (qr[l], qi[l]));
                    (x.re[p][l], x.im[p][l]) = mix::<T, FMA>(a, b, u, v);
                    (x.re[q][l], x.im[q][l]) = mix::<T, FMA>(c, d, u, v);
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
        Step::Mat1Lanes { m, pairs } => {
            for &(p, q) in pairs {
                let (p, q) = (p as usize, q as usize);
                let (pr, pi, qr, qi) = (x.re[p], x.im[p], x.re[q], x.im[q]);
                for l in 0..LANES {
                    let [a, b, c, d] = m.each_ref().map(|v| C::new(v.re[l], v.im[l]));
                    let (u, v) = ((pr[l], pi[l]), (qr[l], qi[l]));
                    (x.re[p][l], x.im[p][l]) = mix::<T, FMA>(a, b, u, v);
                    (x.re[q][l], x.im[q][l]) = mix::<T, FMA>(c, d, u, v);
                }
            }
        }
        Step::Lane { shift, a, b, rows } => {
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY: WIDE callers enabled AVX-512
                return unsafe { wide::lane(x, *shift, a, b, rows) };
            }
            match shift {
                1 => lane_step::<T, FMA, 1>(x, a, b, rows),
                2 => lane_step::<T, FMA, 2>(x, a, b, rows),
                4 => lane_step::<T, FMA, 4>(x, a, b, rows),
                _ => lane_step::<T, FMA, 8>(x, a, b, rows),
            }
        }
        Step::Perm { rows } => {
            for (r, idx) in rows {
                let r = *r as usize;
                x.re[r] = permute::<T, WIDE>(&x.re[r], idx);
                x.im[r] = permute::<T, WIDE>(&x.im[r], idx);
            }
        }
        Step::Blend { lanes, pairs } => {
            for &(p, q) in pairs {
                let (p, q) = (p as usize, q as usize);
                let (pr, pi, qr, qi) = (x.re[p], x.im[p], x.re[q], x.im[q]);
                x.re[p] = select::<T, WIDE>(*lanes, &pr, &qr);
                x.im[p] = select::<T, WIDE>(*lanes, &pi, &qi);
                x.re[q] = select::<T, WIDE>(*lanes, &qr, &pr);
                x.im[q] = select::<T, WIDE>(*lanes, &qi, &pi);
            }
        }
        Step::Scale { rows } => {
            for (r, d) in rows {
                let r = *r as usize;
                let (re, im) = (x.re[r], x.im[r]);
                for l in 0..LANES {
                    x.re[r][l] = madd(-d.im[l], im[l], d.re[l] * re[l]);
                    x.im[r][l] = madd(d.im[l], re[l], d.re[l] * im[l]);
                }
            }
        }
    }
}

/// `a u + b v` for complex `u`, `v` given as (real, imaginary) parts.
#[inline(always)]
fn mix<T: Real, const FMA: bool>(a: C<T>, b: C<T>, u: (T, T), v: (T, T)) -> (T, T) {
    let madd = madd::<T, FMA>;
    let ((ur, ui), (vr, vi)) = (u, v);
    (
        madd(-b.im, vi, madd(b.re, vr, madd(-a.im, ui, a.re * ur))),
        madd(b.im, vr, madd(b.re, vi, madd(a.im, ur, a.re * ui))),
    )
}

/// `x[l] <- a[l] x[l] + b[l] x[l ^ SHIFT]` on each listed row (SHIFT a constant: the
/// partner lanes are a fixed shuffle).
#[inline(always)]
fn lane_step<T: Real, const FMA: bool, const SHIFT: usize>(
    x: &mut Rows<T>,
    a: &Soa<T>,
    b: &Soa<T>,
    rows: &[u8],
) {
    const { assert!(SHIFT < LANES) };
    for &r in rows {
        let r = r as usize;
        let (re, im) = (x.re[r], x.im[r]);
        let pr: [T; LANES] = std::array::from_fn(|l| re[l ^ SHIFT]);
        let pi: [T; LANES] = std::array::from_fn(|l| im[l ^ SHIFT]);
        for l in 0..LANES {
            let (a, b) = (C::new(a.re[l], a.im[l]), C::new(b.re[l], b.im[l]));
            (x.re[r][l], x.im[r][l]) = mix::<T, FMA>(a, b, (re[l], im[l]), (pr[l], pi[l]));
        }
    }
}

/// `v` with lane `idx[l]` moved to lane l.
#[inline(always)]
fn permute<T: Real, const WIDE: bool>(v: &[T; LANES], idx: &[u8; LANES]) -> [T; LANES] {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // SAFETY: WIDE callers enabled AVX-512.
        return unsafe { wide::permute(v, idx) };
    }
    std::array::from_fn(|l| v[idx[l] as usize])
}

/// Lane l of `b` where bit l of `mask` is set, else of `a`.
#[inline(always)]
fn select<T: Real, const WIDE: bool>(mask: u32, a: &[T; LANES], b: &[T; LANES]) -> [T; LANES] {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // SAFETY: WIDE callers enabled AVX-512.
        return unsafe { wide::select(mask, a, b) };
    }
    std::array::from_fn(|l| if (mask >> l) & 1 == 1 { b[l] } else { a[l] })
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
        let at = Place::buffer(s);
        // SAFETY: `at` is all of `s`, borrowed mutably for the call
        unsafe { self.apply_at(s, at, at, &mut Ahead::none()) }
    }

    /// `apply` on the tile in `buf`, a block stepping `ahead` once per group (`groups`
    /// steps). A block reads the tile at `src` and writes it at `dst`; a kernel runs on
    /// `buf` (so both must then be `buf`'s place).
    ///
    /// # Safety
    /// `src` and `dst` hold `buf.len()` amplitudes each that no one else touches during
    /// the call.
    pub unsafe fn apply_at(
        &self,
        buf: &mut [C<T>],
        src: Place<T>,
        dst: Place<T>,
        ahead: &mut Ahead,
    ) {
        match self {
            Pass::One(k) => k.apply(buf, false),
            Pass::Block(b) => apply_block(b, src, dst, buf.len(), ahead),
        }
    }

    /// The steps `apply_at` makes on a buffer of `amps` amplitudes.
    pub fn groups(&self, amps: usize) -> usize {
        match self {
            Pass::One(_) => 0,
            Pass::Block(b) => b.groups(amps),
        }
    }
}

/// Group `kernels` (in circuit order) into register blocks of up to `max_bits` row bits
/// (plus the lane bits), moving a kernel earlier only past kernels on disjoint bits (they
/// commute). Kernels with no row form or too wide stay single passes (all of them when
/// `max_bits` < 2); a block of one kernel is kept as that kernel (the specialised kernels
/// are faster alone).
pub fn passes<T: Real>(kernels: Vec<Kernel<T>>, max_bits: u32) -> Vec<Pass<T>> {
    if max_bits < 2 {
        return kernels.into_iter().map(Pass::One).collect();
    }
    // the lane bits belong to every block: they count toward no block's size
    let low = LANES - 1;
    let rows_fit = |k: &Kernel<T>| (k.support() & !low).count_ones() <= max_bits;
    let supports: Vec<usize> = kernels.iter().map(|k| k.support()).collect();
    let eligible: Vec<bool> = (kernels.iter())
        .map(|k| has_row_form(k) && rows_fit(k) && !matches!(k, Kernel::Identity))
        .collect();
    let groups = crate::fusion::group(&supports, &eligible, max_bits + LANE_BITS, low);
    let mut kernels: Vec<Option<Kernel<T>>> = kernels.into_iter().map(Some).collect();
    groups
        .into_iter()
        .map(|g| {
            if g.ops.len() == 1 {
                return Pass::One(kernels[g.ops[0]].take().unwrap());
            }
            let mask = g.mask.expect("groups of several ops have bits");
            let bits: Vec<u32> = set_bits(mask & !low).collect();
            let ks: Vec<&Kernel<T>> = (g.ops.iter())
                .map(|&i| kernels[i].as_ref().unwrap())
                .collect();
            Pass::Block(RegBlock::new(&bits, &ks).expect("grouped kernels have a row form"))
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

    /// The kernels of `every_kind` that have a row form, and the block's row bits.
    fn block_case<T: Real>(bits: [u32; 3]) -> (Vec<Kernel<T>>, Vec<u32>) {
        let ks: Vec<Kernel<T>> = every_kind(bits).into_iter().filter(has_row_form).collect();
        let mut rows: Vec<u32> = bits.into_iter().filter(|&b| b >= L).collect();
        rows.sort_unstable();
        (ks, rows)
    }

    #[test]
    fn a_block_equals_its_kernels_one_by_one() {
        let cases = [
            [L, L + 2, L + 5],
            [L + 6, L + 1, L + 3],
            [L, L + 1, L + 2],
            [0, L + 2, 3], // lane bits: shuffles, per-lane diagonals and controls
            [1, 2, L + 1],
            [L - 1, 0, L + 4],
            [2, L + 5, 0],
            [L + 1, 2, L + 3], // a lane permutation under a row control
            [3, 1, 0],         // every bit a lane bit
        ];
        for bits in cases {
            let (ks, rows) = block_case::<f64>(bits);
            let mut direct = state(N);
            for k in &ks {
                k.apply(&mut direct, false);
            }
            let refs: Vec<&Kernel<f64>> = ks.iter().collect();
            let block = RegBlock::new(&rows, &refs).unwrap();
            let mut s = state(N);
            block.apply(&mut s);
            assert!(close(&s, &direct), "bits {bits:?}");
        }
    }

    #[test]
    fn every_instruction_set_tier_gives_the_same_state() {
        // lane blends, lane permutations under row and lane controls
        for bits in [[1, L + 3, L], [L + 2, 0, 3], [1, 2, L + 1]] {
            let (ks, rows) = block_case::<f64>(bits);
            let refs: Vec<&Kernel<f64>> = ks.iter().collect();
            let block = RegBlock::new(&rows, &refs).unwrap();
            let mut direct = state(N);
            ks.iter().for_each(|k| k.apply(&mut direct, false));
            let mut portable = state(N);
            let (at, len) = (Place::buffer(&mut portable), portable.len());
            // SAFETY: `at` is all of `portable`
            unsafe { run_block::<f64, false, false>(&block, at, at, len, &mut Ahead::none()) };
            assert!(close(&portable, &direct), "bits {bits:?}");
            #[cfg(target_arch = "x86_64")]
            if crate::cpu::has_avx2_fma() {
                let mut avx2 = state(N);
                let at = Place::buffer(&mut avx2);
                // SAFETY: the CPU has AVX2 and FMA (checked just above)
                unsafe { apply_avx2(&block, at, at, len, &mut Ahead::none()) };
                assert!(close(&avx2, &direct), "bits {bits:?}");
            }
        }
    }

    #[test]
    fn complex64_blocks_match_too() {
        let (ks, rows) = block_case::<f32>([L + 4, 2, L + 1]);
        let mut direct: Vec<C<f32>> = state(N)
            .iter()
            .map(|z| C::new(z.re as f32, z.im as f32))
            .collect();
        let mut s = direct.clone();
        for k in &ks {
            k.apply(&mut direct, false);
        }
        let refs: Vec<&Kernel<f32>> = ks.iter().collect();
        let block = RegBlock::new(&rows, &refs).unwrap();
        let mut portable = s.clone();
        block.apply(&mut s);
        let (at, len) = (Place::buffer(&mut portable), portable.len());
        // SAFETY: `at` is all of `portable`
        unsafe { run_block::<f32, false, false>(&block, at, at, len, &mut Ahead::none()) };
        for got in [&s, &portable] {
            assert!(got.iter().zip(&direct).all(|(x, y)| (x - y).norm() < 1e-5));
        }
    }

    #[test]
    fn no_block_for_lane_rows_dense_or_foreign_kernels() {
        let low = Kernel::<f64>::Mat1 {
            t: L - 1,
            m: m(0.1),
            ctrl: Ctrl::NONE,
        };
        assert!(RegBlock::new(&[L - 1, L + 2], &[&low]).is_none());
        assert!(RegBlock::new(&[L + 2], &[&low]).is_some());
        let lane_swap = Kernel::<f64>::Swap {
            t0: L + 1,
            t1: 1,
            ctrl: Ctrl::NONE,
        };
        assert!(!has_row_form(&lane_swap));
        assert!(RegBlock::new(&[L + 1], &[&lane_swap]).is_none());
        let lane_m2 = Kernel::<f64>::Mat2 {
            t0: 0,
            t1: L,
            m: Box::new([C::new(1.0, 0.0); 16]),
        };
        assert!(!has_row_form(&lane_m2));
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
        let too_many: Vec<u32> = (L..L + MAX_BLOCK_BITS + 1).collect();
        assert!(RegBlock::<f64>::new(&too_many, &[]).is_none());
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
