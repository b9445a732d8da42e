//! qoxide-core: batched statevector simulation with adjoint differentiation.
//!
//! Pure Rust (no Python). Conventions (shared with the Python package):
//! - wire 0 is the most significant bit of the basis index (PennyLane's order);
//! - gate matrices follow PennyLane's definitions exactly;
//! - states are batched `[B, 2^n]`, each sample contiguous;
//! - gate angles come per sample as `theta[B, P]`; an op parameter is a column of
//!   theta or a constant.

pub mod adjoint;
pub mod error;
pub mod execute;
pub mod fusion;
pub mod gates;
pub mod hsm;
pub mod lanes;
pub mod memory;
pub mod observable;
pub mod pauli;
pub mod pool;
pub mod scalar;
pub mod shard;
pub mod state;
pub mod tape;

pub use adjoint::{jacobian, vjp};
pub use error::{QoxideError, Result};
pub use execute::{expval, expval_and_state, probs, sample, state, var, Init};
pub use gates::Gate;
pub use observable::{Obs, Observable};
pub use scalar::{Real, C};
pub use tape::{Op, Param, Tape};
