//! Tiles: the 2^k amplitudes of a state that share every bit outside a set of k bits,
//! gathered into a small contiguous buffer so that many kernels run on it from cache.
//! Used by gate fusion (`crate::fusion`) for the forward pass and the adjoint sweep.

use super::index::GroupIndexWide;
use super::reduce::SharedMut;
use super::regblock::Place;
use super::Kernel;
use crate::scalar::{Real, C};
use rayon::prelude::*;

/// Where the tiles of one set of bits lie in an n-bit state.
#[derive(Clone, Debug)]
pub struct Tiling {
    bits: Vec<u32>,
    /// Amplitudes per contiguous run (2^(number of tile bits 0, 1, 2, ... present)).
    run: usize,
    /// Start of each run of a tile, relative to the tile's base index.
    runs: Vec<usize>,
    outer: GroupIndexWide,
}

impl Tiling {
    /// `bits`: the tile's bits, ascending, each < n.
    pub fn new(n: u32, bits: &[u32]) -> Tiling {
        debug_assert!(bits.windows(2).all(|w| w[0] < w[1]) && bits.iter().all(|&b| b < n));
        let contiguous = bits
            .iter()
            .enumerate()
            .take_while(|(j, &b)| *j as u32 == b)
            .count();
        let high = &bits[contiguous..];
        let runs = (0..1usize << high.len())
            .map(|h| {
                high.iter()
                    .enumerate()
                    .filter(|(j, _)| (h >> j) & 1 == 1)
                    .map(|(_, &b)| 1usize << b)
                    .sum()
            })
            .collect();
        Tiling {
            bits: bits.to_vec(),
            run: 1 << contiguous,
            runs,
            outer: GroupIndexWide::new(n, bits, 0),
        }
    }

    /// Number of tiles.
    pub fn count(&self) -> usize {
        self.outer.count()
    }

    /// Number of tile bits.
    pub fn n_bits(&self) -> usize {
        self.bits.len()
    }

    /// Amplitudes per tile.
    pub fn amps(&self) -> usize {
        self.run * self.runs.len()
    }

    /// The tile-local position of state bit `b` (which must be a tile bit).
    pub fn local(&self, b: u32) -> u32 {
        self.bits
            .iter()
            .position(|&x| x == b)
            .expect("bit outside the tile") as u32
    }

    /// `k` with its bits renumbered to tile-local positions.
    pub fn localise<T: Real>(&self, k: &Kernel<T>) -> Kernel<T> {
        k.map_bits(|b| self.local(b))
    }

    /// Copy tile `g` of the state at `src` into `buf`.
    ///
    /// # Safety
    /// `src` points to a state of 2^n amplitudes that no one writes during the call.
    #[inline]
    pub unsafe fn gather<T: Real>(&self, src: SharedMut<C<T>>, g: usize, buf: &mut [C<T>]) {
        let base = self.outer.base(g);
        for (dst, &r) in buf.chunks_exact_mut(self.run).zip(&self.runs) {
            std::ptr::copy_nonoverlapping(src.0.add(base + r), dst.as_mut_ptr(), self.run);
        }
    }

    /// Copy `buf` back into tile `g` of the state at `dst`.
    ///
    /// # Safety
    /// `dst` points to a state of 2^n amplitudes; no one else touches tile `g` meanwhile.
    #[inline]
    pub unsafe fn scatter<T: Real>(&self, dst: SharedMut<C<T>>, g: usize, buf: &[C<T>]) {
        let base = self.outer.base(g);
        for (src, &r) in buf.chunks_exact(self.run).zip(&self.runs) {
            std::ptr::copy_nonoverlapping(src.as_ptr(), dst.0.add(base + r), self.run);
        }
    }

    /// Tile `g` of the state at `s` where it lies, for register blocks that read or write
    /// it in place (`Place`).
    pub fn place<T>(&self, s: SharedMut<C<T>>, g: usize) -> Place<'_, T> {
        // SAFETY: the base of a tile lies inside the state
        let base = unsafe { s.0.add(self.outer.base(g)) };
        Place::new(base, &self.runs, self.run.trailing_zeros())
    }

    /// Run `f(buffer, tile in place, ahead)` on the first `tiles` tiles of `s` (all:
    /// `count()`), tiles in parallel if `par`. The tile is gathered into the buffer before
    /// if `gather` and scattered back after if `scatter` (else `f` reads or writes it in
    /// place). When `s` does not fit in
    /// the last-level cache (`in_cache`), `ahead` fetches the next tile into L2 in `steps`
    /// calls of `Ahead::step` (0: none), so that reading it does not wait on memory, and
    /// asks for each next register-block group's rows (`Ahead::rows`); a state in cache
    /// needs neither, and the prefetches cost time (20 q complex128 forward 12% faster
    /// without).
    ///
    /// # Safety
    /// `f` touches the state only through the place it is given (tiles are disjoint: each
    /// is read and written by exactly one task).
    pub unsafe fn for_each<T: Real>(
        &self,
        s: &mut [C<T>],
        tiles: usize,
        par: bool,
        steps: usize,
        (gather, scatter): (bool, bool),
        f: impl Fn(&mut [C<T>], Place<T>, &mut Ahead) + Sync + Send,
    ) {
        let tiles = tiles.min(self.count());
        let p = SharedMut(s.as_mut_ptr());
        let amp = std::mem::size_of::<C<T>>();
        let run_lines = (self.run * amp).div_ceil(64);
        let far = !in_cache(std::mem::size_of_val(s));
        let per_step = match steps {
            _ if !far => 0,
            0 => 0,
            _ => (self.runs.len() * run_lines).div_ceil(steps),
        };
        let one = |buf: &mut Vec<C<T>>, g: usize| unsafe {
            let buf = aligned(buf, self.amps());
            // tiles are disjoint: each is read and written by exactly one task
            if gather {
                self.gather(p, g, buf);
            }
            let mut ahead = Ahead {
                base: p.0.add(self.outer.base((g + 1) % self.count())) as *const u8,
                runs: &self.runs,
                amp,
                run_lines,
                per_step,
                run: 0,
                line: 0,
                rows: far,
            };
            f(buf, self.place(p, g), &mut ahead);
            if scatter {
                self.scatter(p, g, buf);
            }
        };
        let fresh = || vec![C::new(T::zero(), T::zero()); self.amps() + ALIGN_SLACK];
        if par && tiles > 1 {
            (0..tiles).into_par_iter().for_each_init(fresh, one);
        } else {
            let mut buf = fresh();
            (0..tiles).for_each(|g| one(&mut buf, g));
        }
    }
}

/// The cache lines of a tile, fetched into L2 a few at a time while another computes (a
/// prefetch never faults, and a tile that another task takes meanwhile is merely fetched
/// twice).
pub struct Ahead<'a> {
    base: *const u8,
    runs: &'a [usize],
    amp: usize,
    run_lines: usize,
    per_step: usize,
    /// Next line: `line` of run `run`.
    run: usize,
    line: usize,
    /// Whether register blocks fetch each next group's rows.
    rows: bool,
}

impl Ahead<'_> {
    /// No tile to fetch (register blocks still fetch their next rows).
    pub fn none() -> Ahead<'static> {
        Ahead {
            base: std::ptr::null(),
            runs: &[],
            amp: 0,
            run_lines: 0,
            per_step: 0,
            run: 0,
            line: 0,
            rows: true,
        }
    }

    /// Whether a register block should fetch its next group's rows (they lie 2^bit apart,
    /// where the hardware prefetchers miss them) before loading this group's.
    #[inline(always)]
    pub fn rows(&self) -> bool {
        self.rows
    }

    /// Fetch the next few lines.
    #[inline(always)]
    pub fn step(&mut self) {
        for _ in 0..self.per_step {
            let Some(&r) = self.runs.get(self.run) else {
                return;
            };
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch never faults (the address lies in the state anyway)
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
                let at = self.base.wrapping_add(r * self.amp + self.line * 64);
                _mm_prefetch::<_MM_HINT_T1>(at as *const i8);
            }
            self.line += 1;
            if self.line == self.run_lines {
                (self.run, self.line) = (self.run + 1, 0);
            }
        }
    }
}

/// Whether a state of `bytes` bytes stays in the last-level cache between passes: a
/// quarter of it, leaving room for other data and other tenants of a shared cache (with a
/// 300 MiB L3, prefetching slowed 16 and 64 MiB states and sped up 128 and 256 MiB ones).
/// Unknown cache: no.
fn in_cache(bytes: usize) -> bool {
    crate::cpu::llc_bytes().is_some_and(|llc| bytes <= llc / 4)
}

/// Amplitudes a buffer holds beyond its use, so that `aligned` finds a cache-line start.
const ALIGN_SLACK: usize = 64;

/// The `len` amplitudes of `buf` from its first cache-line boundary: the register blocks'
/// 64-byte row loads and stores then never straddle two lines (a large allocation starts 16
/// bytes past a page boundary).
fn aligned<T: Real>(buf: &mut [C<T>], len: usize) -> &mut [C<T>] {
    let off = buf.as_ptr().align_offset(64);
    &mut buf[off..off + len]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Ctrl;

    fn state(n: u32) -> Vec<C<f64>> {
        (0..1usize << n)
            .map(|i| C::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos()))
            .collect()
    }

    #[test]
    fn tiles_cover_the_state_once() {
        let t = Tiling::new(8, &[0, 1, 4, 6]);
        assert_eq!((t.count(), t.amps()), (16, 16));
        let mut seen = vec![0u8; 256];
        let mut buf = vec![C::new(0.0, 0.0); t.amps()];
        let mut s: Vec<C<f64>> = (0..256).map(|i| C::new(i as f64, 0.0)).collect();
        let p = SharedMut(s.as_mut_ptr());
        for g in 0..t.count() {
            unsafe { t.gather(p, g, &mut buf) };
            for x in &buf {
                seen[x.re as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn tiled_kernels_equal_direct_ones() {
        let n = 9;
        let m = [
            C::new(0.6, 0.1),
            C::new(0.0, -0.8),
            C::new(0.3, 0.2),
            C::new(-0.5, 0.4),
        ];
        let kernels = vec![
            Kernel::Mat1 {
                t: 7,
                m,
                ctrl: Ctrl::NONE,
            },
            Kernel::Flip {
                t: 2,
                ctrl: Ctrl {
                    mask: 1 << 7,
                    value: 1 << 7,
                },
            },
            Kernel::Mat1 {
                t: 0,
                m,
                ctrl: Ctrl {
                    mask: 1 << 5,
                    value: 0,
                },
            },
            Kernel::Swap {
                t0: 5,
                t1: 1,
                ctrl: Ctrl::NONE,
            },
            Kernel::Parity {
                mask: (1 << 7) | 1,
                even: m[0],
                odd: m[3],
            },
        ];
        let mut direct = state(n);
        for k in &kernels {
            k.apply(&mut direct, false);
        }
        let t = Tiling::new(n, &[0, 1, 2, 5, 7]);
        let local: Vec<_> = kernels.iter().map(|k| t.localise(k)).collect();
        for par in [false, true] {
            let mut tiled = state(n);
            // SAFETY: `f` touches only the gathered buffer
            unsafe {
                t.for_each(
                    &mut tiled,
                    t.count(),
                    par,
                    7,
                    (true, true),
                    |buf, _, ahead| {
                        ahead.step();
                        local.iter().for_each(|k| k.apply(buf, false))
                    },
                )
            };
            for (a, b) in tiled.iter().zip(&direct) {
                assert!((a - b).norm() < 1e-14);
            }
        }
    }

    #[test]
    fn only_states_beyond_the_cache_are_prefetched() {
        let Some(llc) = crate::cpu::llc_bytes() else {
            return; // unknown cache: always prefetched
        };
        assert!(in_cache(llc / 8) && !in_cache(llc));
        let t = Tiling::new(9, &[0, 1, 2, 3, 4, 7]);
        let mut s = state(9);
        // SAFETY: `f` touches nothing
        let all = t.count();
        unsafe {
            t.for_each(&mut s, all, false, 4, (true, true), |_, _, a| {
                assert!(!a.rows())
            })
        };
        assert!(Ahead::none().rows());
    }
}
