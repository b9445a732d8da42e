//! qoxide-core: batched statevector simulation with adjoint differentiation.
//!
//! Pure Rust (no Python). Conventions (shared with the Python package):
//! - wire 0 is the most significant bit of the basis index (PennyLane's order);
//! - gate matrices follow PennyLane's definitions exactly;
//! - states are batched `[B, 2^n]`, each sample contiguous;
//! - gate angles come per sample as `theta[B, P]`; an op parameter is a column of
//!   theta or a constant.
//!
//! The data path: a `Tape` is compiled once into a `Program` (`program`); each call picks
//! an `Engine` (`engine::choose`) and runs the measurements (`measure`) or the adjoint
//! (`adjoint`) through it.

pub mod adjoint;
pub mod cpu;
pub mod engine;
pub mod error;
pub mod frame;
pub mod fusion;
pub mod gates;
pub mod hsm;
pub mod measure;
pub mod memory;
pub mod observable;
pub mod page_alloc;
pub mod pauli;
pub mod pool;
pub mod program;
pub mod rng;
pub mod scalar;
pub mod shard;
pub mod simple;
pub mod state;
pub mod tape;

pub use engine::{Engine, Init, Options};
pub use error::{QoxideError, Result};
pub use gates::Gate;
pub use observable::{Obs, Observable};
pub use page_alloc::StateAllocator;
pub use program::{Compiled, Precision, Program};
pub use scalar::{Real, C};
pub use simple::{expval, expval_and_state, jacobian, probs, sample, state, var, vjp};
pub use tape::{Op, Param, Tape};
