//! The core's integration tests, one binary: built as 8 crates, each instantiated the
//! engine's generic kernels again (673 s of CPU in all, test-fast profile, 2 vCPUs); as
//! modules of one crate they share one instantiation (111 s).
//! `threads.rs` stays a binary of its own: the thread count it varies is process-wide.

#[path = "../common/mod.rs"]
mod common;

mod adjoint;
mod engines;
mod errors;
mod gates;
mod hsm;
mod large;
mod observables;
mod shard;
