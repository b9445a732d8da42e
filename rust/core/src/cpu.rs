//! CPU feature detection and the multiversion macro, in one place.
//!
//! The wheel targets baseline x86-64 (SSE2). The hottest loops have copies compiled with
//! AVX2 + FMA enabled, chosen at run time when the CPU has both.

/// Whether the CPU runs AVX2 + FMA code (std caches the CPUID answer: one relaxed load).
#[inline]
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU runs AVX-512 (F + VL) code, next to AVX2 + FMA.
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2_fma()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `fn $name(args)` compiled three times: portable, with AVX2 + FMA, and with AVX-512 too,
/// the widest the CPU has chosen at run time (the hot loops run ~1.5x faster with FMA and
/// 256-bit registers; compute-bound ones gain again from 512-bit ones).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident$(<$($g:ident: $b:path),*>)?($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[inline]
        $vis fn $name$(<$($g: $b),*>)?($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body$(<$($g: $b),*>)?($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn fast$(<$($g: $b),*>)?($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            unsafe fn wide$(<$($g: $b),*>)?($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::has_avx512() {
                // SAFETY: the CPU supports AVX-512 F/VL, AVX2 and FMA (checked just above).
                return unsafe { wide($($arg),*) };
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                return unsafe { fast($($arg),*) };
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
