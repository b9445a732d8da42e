//! Refuse work that cannot fit in memory before allocating it.

use crate::error::{QoxideError, Result};

/// Largest register the core accepts at all (2^40 amplitudes is 16 TiB at complex128).
pub const MAX_QUBITS: usize = 40;

/// Widest dense matrix (QubitUnitary, Hermitian) accepted: 2^12 x 2^12 complex128 is 256 MiB.
pub const MAX_MATRIX_WIRES: usize = 12;

/// Requests below this size are never refused.
const SMALL_BYTES: u128 = 1 << 26;

/// Bytes the OS reports as available (Linux `MemAvailable`), if known.
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Error unless `bytes` (what a call will allocate) fits in available memory.
pub fn ensure_fits(bytes: u128, what: &str) -> Result<()> {
    // Small requests skip the check: reading /proc/meminfo costs more than they do.
    if bytes < SMALL_BYTES {
        return Ok(());
    }
    if let Some(avail) = available_bytes() {
        if bytes > avail as u128 {
            return Err(QoxideError::Memory(format!(
                "{what} needs {:.2} GiB but only {:.2} GiB of memory is available",
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
