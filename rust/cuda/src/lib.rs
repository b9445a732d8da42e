//! qoxide-cuda: the CUDA backend of qoxide (no PyO3). cudarc with dynamic loading, so the
//! crate builds without a CUDA toolkit and runs (reporting "not available") without a
//! driver; kernels are CUDA C sources in `kernels/`, compiled at run time by NVRTC, and
//! compiled for the host through `host/shim.h` in the tests (feature `host-emulation`).

pub mod avail;
pub mod device;
pub mod error;
#[cfg(feature = "host-emulation")]
pub mod host;
#[cfg(feature = "host-emulation")]
pub mod host_large;
pub mod large;
pub mod large_device;
pub mod nvrtc;
pub mod observables;
pub mod program;
pub mod resident;

pub use avail::{is_available, reason};
pub use error::{CudaError, Result};
pub use large::{LargeBuffers, LargeProgram, LaunchShape};
pub use large_device::ResidentLarge;
pub use program::{Adjoint, Launch, PauliObs, PauliTerm, Precision, RunOutput, SmallProgram};
pub use resident::{Buffers, ResidentSmall};
