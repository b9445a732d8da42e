//! One mapping from core errors to Python exceptions, and the one helper through which
//! every compute call runs: GIL released, panics caught (never across FFI), errors mapped.

use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use qoxide_core::QoxideError;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub fn to_py(e: QoxideError) -> PyErr {
    match e {
        QoxideError::Value(m) => PyValueError::new_err(m),
        QoxideError::Memory(m) => PyMemoryError::new_err(m),
        QoxideError::Internal(m) => PyRuntimeError::new_err(format!("qoxide internal error: {m}")),
    }
}

/// Run `f` (with the GIL), turning a panic into RuntimeError.
pub fn guarded<R>(f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| Err(panic_err(panic)))
}

fn panic_err(panic: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    PyRuntimeError::new_err(format!("qoxide internal error: {msg}"))
}

/// Run `f` without the GIL; map its error, and turn a panic into RuntimeError.
pub fn detached<R: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> qoxide_core::Result<R> + Send,
) -> PyResult<R> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(r) => r.map_err(to_py),
        Err(panic) => Err(panic_err(panic)),
    }
}
