//! A global allocator for the binaries that hold large state vectors (the Python extension,
//! the examples): on Linux every allocation of [`CACHED_MIN_BYTES`] or more is an anonymous
//! mapping of its own, so it starts on a page boundary; freed blocks below
//! [`MAPPED_MIN_BYTES`] are kept in a small cache for the next allocation of their size.
//!
//! glibc maps large blocks too, but puts its 16-byte header first, so a state starts 16
//! bytes past a page boundary and every 64-byte AVX-512 row load or store of a tile pass
//! straddles two cache lines. Page-aligned states made the layered forward 14-16% faster at
//! 26 qubits (docs/performance.md).
//!
//! The cache is for the per-call buffers of batched calls (theta, kept final states,
//! gradients: megabytes each, freed and allocated again every training step). Left to
//! glibc, whether they come back without page faults depends on its dynamic mmap and trim
//! thresholds and on which thread's arena they came from: the dressed circuit's step from
//! Python at batch 16384 took 2,460 page faults per step (none at 8192, 1,200 at 6144),
//! several milliseconds of a 12 ms step on a VM. A fresh mapping is zero, so `alloc_zeroed`
//! writes nothing unless the block comes from the cache; growth goes through `mremap` (no
//! copy by hand).

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations of this many bytes and more are page-aligned mappings that are unmapped
/// when freed (Linux).
pub const MAPPED_MIN_BYTES: usize = 32 << 20;

/// Allocations of this many bytes and more, below [`MAPPED_MIN_BYTES`], are page-aligned
/// mappings kept in the cache when freed (Linux).
pub const CACHED_MIN_BYTES: usize = 1 << 20;

/// Install with `#[global_allocator] static ALLOC: StateAllocator = StateAllocator;`.
/// Everything below [`CACHED_MIN_BYTES`], and everything off Linux, goes to the system
/// allocator unchanged.
pub struct StateAllocator;

/// Whether `layout` gets a mapping of its own.
#[cfg(target_os = "linux")]
fn mapped(layout: &Layout) -> bool {
    layout.size() >= CACHED_MIN_BYTES && layout.align() <= PAGE
}

/// Bytes mapped for a block of `size` bytes: cached sizes in 64 KiB steps (a request a few
/// bytes longer than the last one still finds its block), others in pages.
#[cfg(target_os = "linux")]
fn span(size: usize) -> usize {
    if size < MAPPED_MIN_BYTES {
        size.next_multiple_of(64 << 10)
    } else {
        size.next_multiple_of(PAGE)
    }
}

/// Bytes of a base page on the targets qoxide builds for (x86-64, aarch64 with 4 KiB pages;
/// a larger page size only rounds mappings up further, and leaves the ends of a prefaulted
/// buffer unadvised: `state::alloc`).
pub const PAGE: usize = 4096;

#[cfg(target_os = "linux")]
// SAFETY: mapped blocks are whole pages, page-aligned (hence aligned for any
// `layout.align() <= PAGE`), `span(layout.size())` bytes long, held by one owner at a time
// (the cache hands a block out once), and unmapped or cached exactly once by `dealloc` with
// the span recomputed from the same layout; everything else is the system allocator's.
unsafe impl GlobalAlloc for StateAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(&layout) {
            let bytes = span(layout.size());
            return cache::take(bytes).unwrap_or_else(|| pages::map(bytes));
        }
        // SAFETY: forwarded with the caller's guarantees
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(&layout) {
            let bytes = span(layout.size());
            return match cache::take(bytes) {
                // SAFETY: a whole block of `bytes` >= layout.size() bytes, ours alone now
                Some(p) => unsafe {
                    p.write_bytes(0, layout.size());
                    p
                },
                None => pages::map(bytes), // fresh anonymous pages read as zero
            };
        }
        // SAFETY: forwarded with the caller's guarantees
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(&layout) {
            let bytes = span(layout.size());
            if !cache::keep(ptr, bytes) {
                // SAFETY: `ptr` is a block of `bytes` (same layout), not cached
                unsafe { pages::unmap(ptr, bytes) };
            }
            return;
        }
        // SAFETY: forwarded with the caller's guarantees
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size > 0 and that it fits this alignment
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (mapped(&layout), mapped(&new)) {
            // SAFETY: forwarded with the caller's guarantees
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => {
                let (old, new) = (span(layout.size()), span(new_size));
                if old == new {
                    return ptr;
                }
                // SAFETY: `ptr` is a block of `old` bytes
                unsafe { pages::remap(ptr, old, new) }
            }
            _ => {
                // SAFETY: `new` is a valid non-zero layout; both blocks hold at least the
                // copied bytes and do not overlap; the old block is freed once
                unsafe {
                    let out = self.alloc(new);
                    if !out.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    out
                }
            }
        }
    }
}

/// Freed blocks of [`CACHED_MIN_BYTES`] to [`MAPPED_MIN_BYTES`]: at most `SLOTS` of them
/// and `MAX_BYTES` in all, the oldest unmapped first to make room. A call that finds the
/// cache in use by another thread goes around it (maps or unmaps itself): nothing waits,
/// and a child forked while a thread held it simply never caches.
#[cfg(target_os = "linux")]
mod cache {
    use super::{pages, MAPPED_MIN_BYTES};
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, Ordering};

    const SLOTS: usize = 8;
    /// The most memory held by freed blocks: a few per-call buffers of the largest
    /// batched calls that still go through the cache.
    pub const MAX_BYTES: usize = 64 << 20;

    struct Cache {
        busy: AtomicBool,
        /// (address, bytes), oldest first; bytes 0: empty
        slots: UnsafeCell<[(usize, usize); SLOTS]>,
    }

    // SAFETY: `slots` is only touched by the thread that set `busy` (`locked`)
    unsafe impl Sync for Cache {}

    static CACHE: Cache = Cache {
        busy: AtomicBool::new(false),
        slots: UnsafeCell::new([(0, 0); SLOTS]),
    };

    /// `f` on the slots, or None when another thread holds them (after a few tries: it
    /// holds them for nanoseconds, unless it was preempted or is gone after a fork).
    fn locked<R>(f: impl FnOnce(&mut [(usize, usize); SLOTS]) -> R) -> Option<R> {
        let mut tries = 0;
        while (CACHE.busy)
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            tries += 1;
            if tries == 64 {
                return None;
            }
            std::hint::spin_loop();
        }
        // SAFETY: `busy` was false and is ours until released below
        let r = f(unsafe { &mut *CACHE.slots.get() });
        CACHE.busy.store(false, Ordering::Release);
        Some(r)
    }

    /// A cached block of exactly `bytes` (a span), now the caller's.
    pub fn take(bytes: usize) -> Option<*mut u8> {
        locked(|slots| {
            let i = slots.iter().position(|&(_, b)| b == bytes)?;
            let (addr, _) = slots[i];
            slots[i..].rotate_left(1);
            slots[SLOTS - 1] = (0, 0);
            Some(addr as *mut u8)
        })
        .flatten()
    }

    /// Keeps the block `ptr` of `bytes` (a span); false when it is not cached (too large,
    /// or the cache is in use), and the caller unmaps it.
    pub fn keep(ptr: *mut u8, bytes: usize) -> bool {
        if bytes >= MAPPED_MIN_BYTES {
            return false;
        }
        let mut evicted = [(0usize, 0usize); SLOTS];
        let kept = locked(|slots| {
            let mut n = 0;
            // evict the oldest until one slot is free and the bytes fit
            while slots[SLOTS - 1].1 != 0
                || slots.iter().map(|s| s.1).sum::<usize>() + bytes > MAX_BYTES
            {
                evicted[n] = slots[0];
                n += 1;
                slots.rotate_left(1);
                slots[SLOTS - 1] = (0, 0);
            }
            let free = slots.iter().position(|s| s.1 == 0).expect("a free slot");
            slots[free] = (ptr as usize, bytes);
        })
        .is_some();
        for &(addr, b) in evicted.iter().filter(|e| e.1 != 0) {
            // SAFETY: a cached block of `b` bytes, now out of the cache and no one's
            unsafe { pages::unmap(addr as *mut u8, b) };
        }
        kept
    }

    /// Bytes held by cached blocks (tests).
    #[cfg(test)]
    pub fn held() -> usize {
        locked(|slots| slots.iter().map(|s| s.1).sum()).unwrap_or(0)
    }
}

#[cfg(target_os = "linux")]
mod pages {
    use super::PAGE;

    fn rounded(bytes: usize) -> usize {
        bytes.next_multiple_of(PAGE)
    }

    /// A fresh private anonymous mapping of `bytes` (rounded up to pages); null on failure.
    pub fn map(bytes: usize) -> *mut u8 {
        // SAFETY: a new mapping chosen by the kernel: no existing memory is affected
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                rounded(bytes),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }

    /// # Safety
    /// `ptr` must come from `map(bytes)` (or `remap(.., bytes)`) and not be used again.
    pub unsafe fn unmap(ptr: *mut u8, bytes: usize) {
        // SAFETY: the caller's contract: exactly the pages `map` created
        unsafe { libc::munmap(ptr.cast(), rounded(bytes)) };
    }

    /// # Safety
    /// As `unmap` for `ptr` and `old`; on success the old pointer is no longer valid.
    pub unsafe fn remap(ptr: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: the caller's contract; MREMAP_MAYMOVE keeps the contents
        let p =
            unsafe { libc::mremap(ptr.cast(), rounded(old), rounded(new), libc::MREMAP_MAYMOVE) };
        if p == libc::MAP_FAILED {
            std::ptr::null_mut()
        } else {
            p.cast()
        }
    }
}

// Off Linux: the system allocator, unchanged.
#[cfg(not(target_os = "linux"))]
// SAFETY: every call is forwarded with the caller's guarantees
unsafe impl GlobalAlloc for StateAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn layout(bytes: usize) -> Layout {
        Layout::from_size_align(bytes, 16).unwrap()
    }

    /// Allocate `bytes`, fill with a pattern, grow/shrink through `sizes`, check the
    /// preserved prefix each time, free.
    fn round_trip(zeroed: bool, sizes: &[usize]) {
        let a = StateAllocator;
        let mut l = layout(sizes[0]);
        // SAFETY: non-zero layouts; every pointer is checked, used within its size and
        // freed once with the layout it was last (re)allocated with
        unsafe {
            let mut p = if zeroed {
                a.alloc_zeroed(l)
            } else {
                a.alloc(l)
            };
            assert!(!p.is_null());
            if zeroed {
                assert!(std::slice::from_raw_parts(p, l.size())
                    .iter()
                    .all(|&b| b == 0));
            }
            if mapped(&l) {
                assert_eq!(p as usize % 4096, 0, "a large block starts on a page");
            }
            for (i, b) in std::slice::from_raw_parts_mut(p, l.size())
                .iter_mut()
                .enumerate()
            {
                *b = (i % 251) as u8;
            }
            for &s in &sizes[1..] {
                let kept = l.size().min(s);
                p = a.realloc(p, l, s);
                assert!(!p.is_null());
                l = layout(s);
                let got = std::slice::from_raw_parts(p, kept);
                assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
                for (i, b) in std::slice::from_raw_parts_mut(p, s).iter_mut().enumerate() {
                    *b = (i % 251) as u8;
                }
            }
            a.dealloc(p, l);
        }
    }

    #[test]
    fn blocks_keep_their_contents_across_sizes_and_the_threshold() {
        let big = MAPPED_MIN_BYTES;
        for zeroed in [false, true] {
            round_trip(zeroed, &[100, 1000, big + 5, 3 * big + 4097, big, 64]);
            round_trip(zeroed, &[2 * big, 5 * big, big - 1, big + 1]);
        }
    }

    #[test]
    fn large_blocks_are_page_aligned_and_zero() {
        let a = StateAllocator;
        let l = layout(MAPPED_MIN_BYTES + 16);
        assert!(mapped(&l));
        // SAFETY: a non-zero layout, freed once with it
        unsafe {
            let p = a.alloc_zeroed(l);
            assert_eq!(p as usize % 4096, 0);
            assert!(std::slice::from_raw_parts(p, l.size())
                .iter()
                .all(|&b| b == 0));
            a.dealloc(p, l);
        }
        assert!(!mapped(
            &Layout::from_size_align(MAPPED_MIN_BYTES, 8192).unwrap()
        ));
        assert!(mapped(&layout(MAPPED_MIN_BYTES - 1)));
        assert!(mapped(&layout(CACHED_MIN_BYTES)));
        assert!(!mapped(&layout(CACHED_MIN_BYTES - 1)));
    }

    /// The only test that caches blocks (the cache is shared by the test threads).
    #[test]
    fn freed_blocks_are_reused_zeroed_when_asked_within_the_budget() {
        let a = StateAllocator;
        // a size no other test allocates, so that no other thread takes the block
        let l = layout(3 * CACHED_MIN_BYTES + 12345);
        // SAFETY: non-zero layouts, each block used within its size and freed once
        unsafe {
            let p = a.alloc(l);
            assert_eq!(p as usize % 4096, 0);
            p.write_bytes(7, l.size());
            a.dealloc(p, l);
            let q = a.alloc_zeroed(l);
            assert_eq!(q, p, "the freed block comes back");
            assert!(std::slice::from_raw_parts(q, l.size())
                .iter()
                .all(|&b| b == 0));
            // a few bytes more: the same 64 KiB span, the same block
            a.dealloc(q, l);
            let l2 = layout(l.size() + 100);
            let r = a.alloc(l2);
            assert_eq!(r, p);
            a.dealloc(r, l2);
        }
        // in the same test: the blocks below would evict the one above
        let l = layout(MAPPED_MIN_BYTES - 5 * CACHED_MIN_BYTES);
        // SAFETY: non-zero layouts, each block freed once
        unsafe {
            let blocks: Vec<*mut u8> = (0..4).map(|_| a.alloc(l)).collect();
            for p in blocks {
                assert!(!p.is_null());
                p.write_bytes(1, l.size());
                a.dealloc(p, l);
                assert!(cache::held() <= cache::MAX_BYTES);
            }
            // too large for the cache: unmapped, never kept
            let big = layout(MAPPED_MIN_BYTES);
            let p = a.alloc(big);
            a.dealloc(p, big);
            assert!(cache::held() <= cache::MAX_BYTES);
        }
    }
}
