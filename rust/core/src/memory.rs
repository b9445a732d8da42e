//! Refuse work that cannot fit in memory before allocating it.

use crate::error::{QoxideError, Result};

/// Largest register the core accepts at all (2^40 amplitudes is 16 TiB at complex128).
pub const MAX_QUBITS: usize = 40;

/// Widest dense matrix (QubitUnitary, Hermitian) accepted: 2^12 x 2^12 complex128 is 256 MiB.
pub const MAX_MATRIX_WIRES: usize = 12;

/// Requests below this size are never refused.
const SMALL_BYTES: u128 = 1 << 26;

/// Bytes this process may still allocate: the smaller of what the OS reports as
/// available (Linux `MemAvailable`) and the room left under the address-space limit
/// (`ulimit -v`, RLIMIT_AS: the soft limit in /proc/self/limits minus VmSize), if known.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let avail = meminfo
        .as_deref()
        .and_then(|t| kib_field(t, "MemAvailable:"));
    match (avail, address_space_room()) {
        (Some(a), Some(r)) => Some(a.min(r)),
        (a, r) => a.or(r),
    }
}

/// `name   <n> kB` from a /proc file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// RLIMIT_AS's soft limit minus the address space in use; None when unlimited or unknown.
fn address_space_room() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line.split_whitespace().nth(3)?.parse().ok()?; // "unlimited" -> None
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let used = kib_field(&status, "VmSize:")?;
    Some(soft.saturating_sub(used))
}

/// Error unless `bytes` (what a call will allocate) fits in available memory.
pub fn ensure_fits(bytes: u128, what: impl std::fmt::Display) -> Result<()> {
    // Small requests skip the check: reading /proc/meminfo costs more than they do.
    if bytes < SMALL_BYTES {
        return Ok(());
    }
    if let Some(avail) = available_bytes() {
        if bytes > avail as u128 {
            return Err(QoxideError::Memory(format!(
                "{what} needs {:.2} GiB but only {:.2} GiB of memory is available \
                 (free memory, or the room left under `ulimit -v`)",
                bytes as f64 / (1u64 << 30) as f64,
                avail as f64 / (1u64 << 30) as f64
            )));
        }
    }
    if bytes > isize::MAX as u128 {
        return Err(QoxideError::Memory(format!(
            "{what} needs {bytes} bytes, more than this machine can address"
        )));
    }
    Ok(())
}
