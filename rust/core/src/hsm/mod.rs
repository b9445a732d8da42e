//! Hilbert Space Models: Pauli strings and sums, ground states and their backward solves.
//!
//! - [`strings`]: strings of bounded weight (x/z masks, wire 0 the high bit), labels, and
//!   the products that expand Σ_k A_k² for Pauli-sum operators.
//! - [`sums`]: Pauli sums over a fixed string list grouped by x mask: matrix-free apply,
//!   overlaps ⟨u|P_s|v⟩ for all strings at once, dense assembly and its adjoint.
//! - [`dense`]: ground states of small dense Hermitian matrices (Householder tridiagonal
//!   form, bisection, inverse iteration) and the deflated solve of the backward.
//! - [`krylov`]: Lanczos ground states and conjugate-gradient deflated solves, matrix-free.
//! - [`model`]: batched (rayon) forward and backward of dense and Pauli HSMs.

pub mod dense;
pub mod krylov;
pub mod model;
pub mod strings;
pub mod sums;

use crate::pool;
use rayon::prelude::*;

pub use dense::DenseGround;
pub use krylov::KrylovOpts;
pub use model::{dense_ground, dense_solve, PauliBackward, PauliForward, PauliHsm};
pub use strings::{square_products, SquareProducts};
pub use sums::Grouping;

/// Below this much work (≈ flops) a batch runs on the calling thread: waking the pool
/// costs more than it saves (and competes with torch's own threads).
pub const PAR_MIN_WORK: usize = 1 << 17;

/// `f(0..batch)` in order, over the pool when `work` (for the whole batch) is large enough.
pub fn map_batch<R: Send>(
    batch: usize,
    work: usize,
    f: impl Fn(usize) -> R + Sync + Send,
) -> Vec<R> {
    if batch > 1 && work >= PAR_MIN_WORK {
        pool::install(|| (0..batch).into_par_iter().map(&f).collect())
    } else {
        (0..batch).map(f).collect()
    }
}
