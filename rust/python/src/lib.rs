//! `qoxide._core`: thin PyO3 bindings over qoxide-core. Conversion and dispatch only:
//! no simulation logic lives here.

mod call;
mod circuit;
mod compute;
mod cuda;
mod cuda_large;
mod cuda_resident;
mod errors;
mod hsm;
mod observable;
mod shard;
mod tape;

use pyo3::prelude::*;

/// Large states on page boundaries (see `qoxide_core::page_alloc`).
#[global_allocator]
static ALLOC: qoxide_core::StateAllocator = qoxide_core::StateAllocator;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tape::PyTape>()?;
    m.add_class::<observable::PyObservable>()?;
    compute::register(m)?;
    circuit::register(m)?;
    errors::register(m)?;
    hsm::register(m)?;
    shard::register(m)?;
    cuda::register(m)?;
    cuda_resident::register(m)?;
    cuda_large::register(m)?;
    m.add("MAX_QUBITS", qoxide_core::memory::MAX_QUBITS)?;
    m.add(
        "GATES",
        qoxide_core::Gate::ALL
            .iter()
            .map(|g| g.name())
            .collect::<Vec<_>>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
