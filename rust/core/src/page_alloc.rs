//! A global allocator for the binaries that hold large state vectors (the Python extension,
//! the examples): on Linux every allocation of [`MAPPED_MIN_BYTES`] or more is an anonymous
//! mapping of its own, so it starts on a page boundary.
//!
//! glibc maps blocks this large too (32 MiB is the top of its dynamic mmap threshold), but
//! puts its 16-byte header first, so a state starts 16 bytes past a page boundary and every
//! 64-byte AVX-512 row load or store of a tile pass straddles two cache lines. Page-aligned
//! states made the layered forward 14-16% faster at 26 qubits (docs/performance.md). Below
//! 32 MiB glibc recycles freed blocks without new page faults, which the lane engine's
//! per-call buffers need (mapping those from 2 MiB made its VJP at batch 16384 up to 60%
//! slower), so they stay with it. A fresh mapping is zero, so `alloc_zeroed` writes
//! nothing; growth goes through `mremap` (no copy by hand).

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations of this many bytes and more are page-aligned mappings (Linux).
pub const MAPPED_MIN_BYTES: usize = 32 << 20;

/// Install with `#[global_allocator] static ALLOC: StateAllocator = StateAllocator;`.
/// Everything below [`MAPPED_MIN_BYTES`], and everything off Linux, goes to the system
/// allocator unchanged.
pub struct StateAllocator;

/// Whether `layout` gets a mapping of its own.
#[cfg(target_os = "linux")]
fn mapped(layout: &Layout) -> bool {
    layout.size() >= MAPPED_MIN_BYTES && layout.align() <= PAGE
}

/// Bytes of a base page on the targets qoxide builds for (x86-64, aarch64 with 4 KiB pages;
/// a larger page size only rounds mappings up further, and leaves the ends of a prefaulted
/// buffer unadvised: `state::alloc`).
pub const PAGE: usize = 4096;

#[cfg(target_os = "linux")]
// SAFETY: mapped blocks are whole fresh pages, page-aligned (hence aligned for any
// `layout.align() <= PAGE`), unmapped exactly once by `dealloc` with the size they were
// mapped with (recomputed from the same layout); everything else is the system allocator's.
unsafe impl GlobalAlloc for StateAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(&layout) {
            return pages::map(layout.size());
        }
        // SAFETY: forwarded with the caller's guarantees
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(&layout) {
            return pages::map(layout.size()); // fresh anonymous pages read as zero
        }
        // SAFETY: forwarded with the caller's guarantees
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(&layout) {
            // SAFETY: `ptr` came from `pages::map` of this size (same layout)
            return unsafe { pages::unmap(ptr, layout.size()) };
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
            // SAFETY: `ptr` came from `pages::map` of `layout.size()` bytes
            (true, true) => unsafe { pages::remap(ptr, layout.size(), new_size) },
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
        assert!(!mapped(&layout(MAPPED_MIN_BYTES - 1)));
    }
}
