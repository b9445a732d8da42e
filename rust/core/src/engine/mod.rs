//! How a compiled program runs. One planner (`choose`) picks the engine once per call;
//! forward passes, measurements and the adjoint all follow that choice:
//! - `PerSample`: each sample's state runs op by op (same-wire single-qubit runs merged);
//!   the batch in parallel for small registers, each gate over amplitudes for large ones.
//! - `Lanes`: small registers, many samples: blocks of samples amplitude-major, vectorised
//!   across samples (`lanes`), streamed in chunks so memory stays bounded.
//! - `Tiled`: registers larger than a cache tile: ops grouped into segments, one pass over
//!   memory per segment (`crate::fusion`), forward and adjoint sweep alike.
//!
//! A new engine (CUDA, sharded) adds a variant here, a branch in `choose`, and its
//! forward/sweep; the measurement and adjoint entry points stay as they are.

mod driver;
pub mod lanes;
mod threads;

pub(crate) use driver::{Batch, Task};
pub use threads::{plan, Plan, SERIAL_MAX_WORK};

use crate::error::{QoxideError, Result};
use crate::observable::Obs;
use crate::program::Program;
use crate::scalar::{Real, C};
use crate::state::regblock;
use crate::tape::Tape;
use crate::{fusion, shape_err};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Initial state of each sample.
#[derive(Clone, Copy, Debug)]
pub enum Init<'a, T> {
    /// |0...0>
    Zero,
    /// One state `[2^n]` shared by all samples.
    Shared(&'a [C<T>]),
    /// One state per sample `[B, 2^n]`.
    PerSample(&'a [C<T>]),
    /// The FINAL states `[B, 2^n]` of this tape and theta, from an earlier call to
    /// `state`: the forward pass is skipped (the adjoint backward reuses the forward).
    Final(&'a [C<T>]),
}

impl<'a, T> Init<'a, T> {
    /// The initial states of samples `start..start + len`.
    pub(crate) fn slice(&self, dim: usize, start: usize, len: usize) -> Init<'a, T> {
        match self {
            Init::PerSample(s) => Init::PerSample(&s[start * dim..(start + len) * dim]),
            Init::Final(s) => Init::Final(&s[start * dim..(start + len) * dim]),
            Init::Shared(s) => Init::Shared(s),
            Init::Zero => Init::Zero,
        }
    }

    pub(crate) fn is_final(&self) -> bool {
        matches!(self, Init::Final(_))
    }
}

/// The execution engines (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    PerSample,
    Lanes,
    Tiled,
}

impl Engine {
    pub const ALL: [Engine; 3] = [Engine::PerSample, Engine::Lanes, Engine::Tiled];

    pub fn name(self) -> &'static str {
        match self {
            Engine::PerSample => "per_sample",
            Engine::Lanes => "lanes",
            Engine::Tiled => "tiled",
        }
    }

    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// Per-call options: which engine (None: the planner decides), a forced tile size for the
/// tiled engine, and a cancellation flag polled between ops and samples.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub engine: Option<Engine>,
    /// Tile size in qubits for the tiled engine (None: from the cache size).
    pub tile_qubits: Option<u32>,
    /// Register-block size in bits inside the tiled engine's tiles (None: the process-wide
    /// `fusion::block_bits`; 0: no blocks).
    pub block_bits: Option<u32>,
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Options {
    pub fn with_engine(engine: Engine) -> Self {
        Options {
            engine: Some(engine),
            ..Options::default()
        }
    }

    /// The register-block size in bits for this call.
    pub fn block_bits(&self) -> u32 {
        (self.block_bits).map_or_else(crate::fusion::block_bits, |k| {
            k.min(regblock::MAX_BLOCK_BITS)
        })
    }

    /// Whether the caller asked to stop.
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// `Err(Cancelled)` if the caller asked to stop.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancelled() {
            Err(QoxideError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Largest register the planner gives the lane engine (a forced `Engine::Lanes` takes up to
/// 10). Expvals of an H+RY / CNOT-chain / RY circuit, 2 threads, best of 5 (2-vCPU VM,
/// 2026-12-05), lanes vs per-sample: 6 q batch 4096 4.0 vs 7.6 ms; 7 q 14.8 vs 16.0 ms;
/// 8 q 31.5 vs 24.0 ms (batch 64: 3.7 vs 4.2 ms); 9 q 52 vs 31 ms; 10 q 142 vs 58 ms
/// (batch 64: 3.9 vs 1.1 ms): above 8 qubits a block's states outgrow L2 and the
/// per-sample path, whose state stays in L1, wins.
pub const LANES_MAX_QUBITS: usize = 8;

/// Largest register a forced `Engine::Lanes` runs: a block's φ and λ (f64) take 512 KiB.
pub const LANES_FORCED_MAX_QUBITS: usize = 10;

/// Smallest batch the planner gives the lane engine on `n_qubits`: a block costs the same
/// with few live lanes, so the per-sample path wins at the smallest batches of larger
/// registers (a block's states outgrow L1). Dressed circuit, forward + VJP, f64, one
/// thread (`examples/lanes.rs`, 2-vCPU VM, 2026-12-06, blocks of 8 lanes up to 8
/// samples, 2 runs), per-sample vs lanes: batch 1 on 4 q 7.8-8.0 vs 5.7-5.9 µs, 5 q
/// 11.8-11.9 vs 9.0-9.1, 6 q 16.1-18.4 vs 15.3-17.3, 7 q 28.8-31.0 vs 35.2-36.1, 8 q
/// 49.6-57.6 vs 78.7-88.3; batch 2 on 7 q 55.2-60.8 vs 33.7-36.5, 8 q 99.9-114.3 vs
/// 109.3-124.2; batch 4 on 8 q 196-216 vs 110-124.
pub fn lanes_min_batch(n_qubits: usize) -> usize {
    match n_qubits {
        0..=6 => 1,
        7 => 2,
        _ => 4,
    }
}

/// The engine for `batch` samples of `prog` under `opts`. A requested engine that cannot
/// run this program is an error; `Tiled` on a register that fits in one tile runs as
/// `PerSample` (one tile is the whole state).
pub fn choose<T: Real>(prog: &Program<T>, batch: usize, opts: &Options) -> Result<Engine> {
    let tape = prog.tape();
    // parametrised gates never carry a dense 3+-wire matrix: the fixed kernels decide
    let lane_kernels =
        *(prog.lane_kernels).get_or_init(|| prog.fixed_kernels().all(lanes::implements));
    let lanes_ok = lane_kernels && tape.n_qubits <= LANES_FORCED_MAX_QUBITS;
    let tiled = || prog.fuses(opts.tile_qubits);
    match opts.engine {
        Some(Engine::Lanes) if !lanes_ok => Err(QoxideError::Value(format!(
            "engine 'lanes' runs registers of at most {LANES_FORCED_MAX_QUBITS} qubits without \
             dense matrices on 3+ wires; this tape has {} qubits{}",
            tape.n_qubits,
            if lane_kernels {
                ""
            } else {
                " and a 3+-wire QubitUnitary"
            }
        ))),
        Some(Engine::Tiled) if !tiled() => Ok(Engine::PerSample),
        Some(e) => Ok(e),
        None if lanes_ok
            && tape.n_qubits <= LANES_MAX_QUBITS
            && batch >= lanes_min_batch(tape.n_qubits)
            && lanes::enabled() =>
        {
            Ok(Engine::Lanes)
        }
        None if fusion::enabled() && tiled() => Ok(Engine::Tiled),
        None => Ok(Engine::PerSample),
    }
}

/// Size checks shared by all entry points.
pub(crate) fn check_call<T>(
    tape: &Tape,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
) -> Result<()> {
    if batch == 0 {
        return shape_err!("batch size must be at least 1");
    }
    tape.check_theta(theta, batch)?;
    let dim = 1usize << tape.n_qubits;
    match init {
        Init::Zero => {}
        Init::Shared(s) if s.len() != dim => {
            return shape_err!(
                "initial state must have 2^{} = {dim} amplitudes, got {}",
                tape.n_qubits,
                s.len()
            )
        }
        Init::PerSample(s) | Init::Final(s) if Some(s.len()) != batch.checked_mul(dim) => {
            return shape_err!(
                "{} must have shape [{batch}, {dim}], got {} amplitudes",
                if init.is_final() {
                    "final states"
                } else {
                    "initial states"
                },
                s.len()
            )
        }
        _ => {}
    }
    Ok(())
}

pub(crate) fn check_obs(tape: &Tape, obs: &[Obs]) -> Result<()> {
    for (m, o) in obs.iter().enumerate() {
        if o.n_qubits != tape.n_qubits {
            return shape_err!(
                "observable {m} was built for {} qubits but the circuit has {}",
                o.n_qubits,
                tape.n_qubits
            );
        }
    }
    Ok(())
}
