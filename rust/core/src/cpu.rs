//! CPU feature detection, the last-level cache's size and the multiversion macro, in one
//! place.
//!
//! The wheel targets baseline x86-64 (SSE2). The hottest loops have copies compiled with
//! AVX2 + FMA enabled, chosen at run time when the CPU has both.

use std::sync::OnceLock;

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

/// Bytes of the last-level cache (the largest data or unified cache level cpu0 reports in
/// Linux's sysfs), read once; None where unknown.
pub fn llc_bytes() -> Option<usize> {
    static LLC: OnceLock<Option<usize>> = OnceLock::new();
    *LLC.get_or_init(|| {
        let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
        let read = |p: &std::path::Path, f: &str| std::fs::read_to_string(p.join(f)).ok();
        dir.flatten()
            .map(|e| e.path())
            .filter(|p| read(p, "type").is_some_and(|t| t.trim() != "Instruction"))
            .filter_map(|p| {
                let level: u32 = read(&p, "level")?.trim().parse().ok()?;
                Some((level, cache_size(&read(&p, "size")?)?))
            })
            .max()
            .map(|(_, bytes)| bytes)
    })
}

/// A sysfs cache size ("48K", "2048K", "32M") in bytes.
fn cache_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let (digits, unit) = match t.strip_suffix(['K', 'M', 'G']) {
        Some(d) => (d, &t[d.len()..]),
        None => (t, ""),
    };
    let shift = match unit {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => 0,
    };
    digits.parse::<usize>().ok().map(|n| n << shift)
}

/// `fn $name(args)` compiled three times: portable, with AVX2 + FMA, and with AVX-512 too,
/// the widest the CPU has chosen at run time (the hot loops run ~1.5x faster with FMA and
/// 256-bit registers; compute-bound ones gain again from 512-bit ones). Generic parameters:
/// type parameters with one bound each, and optionally one `const` usize after them.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident<$g:ident: $b:path, const $c:ident: usize>
        ($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $crate::cpu::multiversion!(@emit [$(#[$meta])*] $vis $name [$g: $b, const $c: usize]
            ($($arg: $ty),*) [$($ret)?] $body);
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident$(<$($g:ident: $b:path),*>)?
        ($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $crate::cpu::multiversion!(@emit [$(#[$meta])*] $vis $name [$($($g: $b),*)?]
            ($($arg: $ty),*) [$($ret)?] $body);
    };
    (@emit [$($meta:tt)*] $vis:vis $name:ident [$($gen:tt)*] ($($arg:ident: $ty:ty),*)
        [$($ret:ty)?] $body:block) => {
        $($meta)*
        #[inline]
        $vis fn $name<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body<$($gen)*>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn fast<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            unsafe fn wide<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse() {
        assert_eq!(cache_size("48K\n"), Some(48 << 10));
        assert_eq!(cache_size("32M"), Some(32 << 20));
        assert_eq!(cache_size("1G"), Some(1 << 30));
        assert_eq!(cache_size("512"), Some(512));
        assert_eq!(cache_size("K"), None);
    }
}
