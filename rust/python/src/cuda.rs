//! `qoxide._core.cuda_*`: availability of the CUDA backend and an NVRTC compile check.
//! Nothing here panics on a machine without CUDA (qoxide-cuda probes libraries first).

use crate::errors::guarded;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// True when a CUDA driver, a GPU and NVRTC are all usable.
#[pyfunction]
fn cuda_is_available() -> PyResult<bool> {
    guarded(|| Ok(qoxide_cuda::is_available()))
}

/// Why the CUDA backend cannot run here (None when it can).
#[pyfunction]
fn cuda_reason() -> PyResult<Option<String>> {
    guarded(|| Ok(qoxide_cuda::reason()))
}

/// The libnvrtc loaded by path (QOXIDE_NVRTC or the environment's NVIDIA wheels).
#[pyfunction]
fn cuda_nvrtc_path() -> PyResult<Option<String>> {
    guarded(|| Ok(qoxide_cuda::avail::nvrtc_path().map(|p| p.display().to_string())))
}

/// NVRTC's (major, minor) version; RuntimeError when NVRTC cannot be loaded.
#[pyfunction]
fn cuda_nvrtc_version() -> PyResult<(i32, i32)> {
    guarded(|| qoxide_cuda::avail::nvrtc_version().map_err(PyRuntimeError::new_err))
}

/// Compile every kernel for `arch` ("sm_90", "compute_75"): a list of
/// (kernel, registers, spill stores, spill loads, stack bytes) — empty for PTX.
#[pyfunction]
fn cuda_compile_check(py: Python<'_>, arch: String) -> PyResult<Vec<(String, u32, u32, u32, u32)>> {
    let r = py.detach(|| {
        std::panic::catch_unwind(|| qoxide_cuda::nvrtc::compile(&arch))
            .unwrap_or_else(|_| Err("NVRTC compile panicked".to_string()))
    });
    let c = r.map_err(PyRuntimeError::new_err)?;
    Ok(c.stats
        .into_iter()
        .map(|s| {
            (
                s.name,
                s.registers,
                s.spill_stores,
                s.spill_loads,
                s.stack_frame,
            )
        })
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cuda_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_reason, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_nvrtc_path, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_nvrtc_version, m)?)?;
    m.add_function(wrap_pyfunction!(cuda_compile_check, m)?)?;
    Ok(())
}
