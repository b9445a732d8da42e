//! Statevector storage and the CPU kernels that act on it.

pub mod alloc;
pub mod index;
pub mod kernel;
pub mod parity;
pub mod reduce;
pub mod regblock;
pub mod simd;
pub mod tile;

pub use kernel::{Ctrl, Kernel};

use crate::scalar::{Real, C};

/// Below this many amplitudes a gate runs on one thread: splitting costs more than it
/// saves. The execution plan (execute::plan) is the one place that applies it; kernels
/// run in parallel whenever asked. Measured with `examples/thresholds.rs` (README, Threads).
pub const PAR_MIN_AMPS: usize = 1 << 15;

/// Amplitudes per parallel work item: large enough to stream, small enough to balance.
pub const CHUNK_AMPS: usize = 1 << 12;

/// |0...0> on `n` qubits.
pub fn zero_state<T: Real>(n_qubits: usize) -> Vec<C<T>> {
    let mut s = alloc::zeroed(1usize << n_qubits);
    s[0] = C::new(T::one(), T::zero());
    s
}
