//! Allocation of large state vectors, their pages faulted in by one call.
//!
//! A fresh state is mapped lazily: its first touch takes one page fault per 4 KiB page
//! (524k for a 28-qubit complex64 state), 8-9% of a 22-qubit complex128 forward. Linux's
//! MADV_POPULATE_WRITE maps them all in one call instead (2.4-9% faster forwards,
//! docs/performance.md). Transparent huge pages cut the faults too, but made the forwards
//! 8-15% slower: tile passes stride by powers of two, and physically contiguous 2 MiB
//! pages put those strides in the same L2 sets.

use crate::page_alloc::PAGE;
use crate::scalar::{Real, C};
use std::any::TypeId;

/// Below this many bytes a buffer is allocated as usual (the allocator's heap may hold it
/// already faulted in).
pub const PREFAULT_MIN_BYTES: usize = 2 << 20;

/// A vector of `len` zero amplitudes, its pages faulted in if it is large.
pub fn zeroed<T: Real>(len: usize) -> Vec<C<T>> {
    let zero = C::new(T::zero(), T::zero());
    if len * std::mem::size_of::<C<T>>() < PREFAULT_MIN_BYTES {
        return vec![zero; len];
    }
    if let Some(v) = calloc::<T>(len) {
        return v;
    }
    let mut v = Vec::with_capacity(len);
    prefault(v.spare_capacity_mut());
    v.resize(len, zero);
    v
}

/// A copy of `src` in memory allocated as by `zeroed`.
pub fn copied<T: Real>(src: &[C<T>]) -> Vec<C<T>> {
    if std::mem::size_of_val(src) < PREFAULT_MIN_BYTES {
        return src.to_vec();
    }
    let mut v = Vec::with_capacity(src.len());
    prefault(v.spare_capacity_mut());
    v.extend_from_slice(src);
    v
}

/// `len` zeros from the allocator's zeroed allocation, prefaulted: a fresh mapping is
/// zeroed by the kernel, so no pass writes the zeros. Only for f32 and f64, whose zero is
/// all zero bits; None for other types.
fn calloc<T: Real>(len: usize) -> Option<Vec<C<T>>> {
    let t = TypeId::of::<T>();
    if t != TypeId::of::<f64>() && t != TypeId::of::<f32>() {
        return None;
    }
    let layout = std::alloc::Layout::array::<C<T>>(len).ok()?;
    // SAFETY: the layout is not zero-sized (callers ask for at least PREFAULT_MIN_BYTES)
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut C<T>;
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `ptr` holds `len` amplitudes from the global allocator with the layout of a
    // Vec of that capacity; all-zero bits are the complex f32/f64 zero (checked above)
    let v = unsafe { Vec::from_raw_parts(ptr, len, len) };
    prefault(&v);
    Some(v)
}

/// Fault in the whole pages inside `buf` for writing, in one call (contents unchanged). A
/// hint: on kernels before 5.14, which lack it, pages fault in on first touch as before.
#[cfg(target_os = "linux")]
fn prefault<E>(buf: &[E]) {
    let (start, end) = page_interior(buf.as_ptr() as usize, std::mem::size_of_val(buf));
    if start < end {
        // SAFETY: the range lies inside `buf`, memory this process owns; populating pages
        // never changes their contents
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end - start,
                libc::MADV_POPULATE_WRITE,
            )
        };
    }
}

#[cfg(not(target_os = "linux"))]
fn prefault<E>(_buf: &[E]) {}

/// The page-aligned part [start, end) of the `bytes` bytes at `addr` (start >= end: none).
fn page_interior(addr: usize, bytes: usize) -> (usize, usize) {
    (addr.next_multiple_of(PAGE), (addr + bytes) / PAGE * PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_and_copied_have_the_right_contents() {
        let large = PREFAULT_MIN_BYTES / 8;
        for len in [0, 1, 1000, large + 17, 3 * large + 5] {
            let z = zeroed::<f32>(len);
            assert_eq!(z.len(), len);
            assert!(z.iter().all(|x| x.re == 0.0 && x.im == 0.0));
            let z = zeroed::<f64>(len);
            assert_eq!(z.len(), len);
            assert!(z.iter().all(|x| x.re == 0.0 && x.im == 0.0));
            let src: Vec<C<f64>> = (0..len).map(|i| C::new(i as f64, -(i as f64))).collect();
            assert_eq!(copied(&src), src);
        }
    }

    #[test]
    fn the_interior_is_whole_pages_inside_the_buffer() {
        assert_eq!(page_interior(PAGE, 3 * PAGE), (PAGE, 4 * PAGE));
        assert_eq!(page_interior(PAGE + 16, 3 * PAGE), (2 * PAGE, 4 * PAGE));
        let (s, e) = page_interior(PAGE + 16, PAGE);
        assert!(s >= e);
    }

    /// A 64 MiB state (above glibc's largest mmap threshold: always a fresh, untouched
    /// mapping) is resident before anything touches it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_large_state_is_faulted_in_when_allocated() {
        if !populate_supported() {
            return;
        }
        let v = zeroed::<f32>(8 << 20);
        let (start, end) = page_interior(v.as_ptr() as usize, std::mem::size_of_val(&v[..]));
        let mut resident = vec![0u8; (end - start) / PAGE];
        // SAFETY: the range is whole pages of `v`; `resident` has a byte for each
        let rc = unsafe {
            libc::mincore(
                start as *mut libc::c_void,
                end - start,
                resident.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0);
        assert!(resident.iter().all(|&r| r & 1 == 1));
    }

    /// Whether this kernel knows MADV_POPULATE_WRITE (Linux 5.14 on).
    #[cfg(target_os = "linux")]
    fn populate_supported() -> bool {
        let mut page = vec![0u8; 2 * PAGE];
        let at = page.as_mut_ptr() as usize;
        let start = at.next_multiple_of(PAGE) as *mut libc::c_void;
        // SAFETY: one whole page inside `page`, left unchanged
        unsafe { libc::madvise(start, PAGE, libc::MADV_POPULATE_WRITE) == 0 }
    }
}
