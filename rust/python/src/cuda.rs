//! `qoxide._core.cuda_*`: availability of the CUDA backend and an NVRTC compile check.
//! Nothing here panics on a machine without CUDA (qoxide-cuda probes libraries first).

use crate::errors::guarded;
use crate::tape::PyTape;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyNotImplementedError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use qoxide_cuda::{CudaError, PauliTerm, Precision, SmallProgram};

pub(crate) fn to_py(e: CudaError) -> PyErr {
    match e {
        CudaError::Unavailable(m) => {
            PyRuntimeError::new_err(format!("qoxide's CUDA backend is not available: {m}"))
        }
        CudaError::Unsupported(m) => PyNotImplementedError::new_err(m),
        CudaError::Value(m) => PyValueError::new_err(m),
        CudaError::Memory(m) => PyMemoryError::new_err(m),
        CudaError::Driver(m) => PyRuntimeError::new_err(format!("CUDA: {m}")),
    }
}

/// "complex64" | "complex128" as the kernels' precision.
pub(crate) fn precision_of(precision: &str) -> PyResult<Precision> {
    match precision {
        "complex64" => Ok(Precision::C64),
        "complex128" => Ok(Precision::C128),
        p => Err(PyValueError::new_err(format!(
            "precision must be \"complex64\" or \"complex128\", got {p:?}"
        ))),
    }
}

/// (kernel, registers, spill stores, spill loads, stack bytes)
type KernelReport = (String, u32, u32, u32, u32);

type PyPauliObs = Vec<(f64, Vec<(usize, String)>)>;

/// Run the batched small-register kernel on GPU 0 from numpy arrays (synchronous):
/// (expval [B, M], final states [B, 2^n] complex128 or None, grad_theta [B, P] for
/// `grad_out`, or the adjoint Jacobian [B, M, P] with `jacobian=True`, or None).
/// `observables`: per observable, a list of (coefficient, [(wire, "X"|"Y"|"Z"|"I"), ...]).
/// RuntimeError (with the reason) where the backend is not available.
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, grad_out=None, precision="complex128", want_state=false, jacobian=false))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)] // a Python signature
fn cuda_run_small<'py>(
    py: Python<'py>,
    tape: &PyTape,
    theta: PyReadonlyArray2<'py, f64>,
    observables: Vec<PyPauliObs>,
    grad_out: Option<PyReadonlyArray2<'py, f64>>,
    precision: &str,
    want_state: bool,
    jacobian: bool,
) -> PyResult<(Py<PyAny>, Option<Py<PyAny>>, Option<Py<PyAny>>)> {
    if jacobian && grad_out.is_some() {
        return Err(PyValueError::new_err(
            "give grad_out (a VJP) or jacobian=True, not both",
        ));
    }
    let prec = precision_of(precision)?;
    let mut obs = Vec::with_capacity(observables.len());
    for o in observables {
        let mut terms = Vec::with_capacity(o.len());
        for (coef, word) in o {
            let mut w = Vec::with_capacity(word.len());
            for (wire, c) in word {
                let mut ch = c.chars();
                match (ch.next(), ch.next()) {
                    (Some(c), None) => w.push((wire, c)),
                    _ => return Err(PyValueError::new_err(format!("Pauli factor {c:?}"))),
                }
            }
            terms.push(PauliTerm { coef, word: w });
        }
        obs.push(terms);
    }
    let batch = theta.shape()[0];
    let th = theta.as_slice()?.to_vec();
    let g = match &grad_out {
        Some(a) => Some(a.as_slice()?.to_vec()),
        None => None,
    };
    let tape = tape.compiled().tape().clone();
    let (n, p, m) = (tape.n_qubits, tape.n_params, obs.len());
    let r = py
        .detach(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let prog = SmallProgram::new(&tape, &obs)?;
                let adj = match g.as_deref() {
                    Some(g) => qoxide_cuda::Adjoint::Vjp(g),
                    None if jacobian => qoxide_cuda::Adjoint::Jacobian,
                    None => qoxide_cuda::Adjoint::None,
                };
                qoxide_cuda::device::run(&prog, &th, batch, prec, adj, want_state)
            }))
            .unwrap_or_else(|_| Err(CudaError::Driver("panic in the CUDA backend".into())))
        })
        .map_err(to_py)?;
    let ev = PyArray1::from_vec(py, r.expval)
        .reshape([batch, m])?
        .into_any()
        .unbind();
    let st = match r.state {
        Some(s) => {
            let z: Vec<num_complex::Complex<f64>> = s
                .chunks_exact(2)
                .map(|c| num_complex::Complex::new(c[0], c[1]))
                .collect();
            Some(
                PyArray1::from_vec(py, z)
                    .reshape([batch, 1usize << n])?
                    .into_any()
                    .unbind(),
            )
        }
        None => None,
    };
    // the VJP [B, P] or the Jacobian [B, M, P], whichever was asked for
    let third = match (r.grad, r.jac) {
        (Some(v), _) => Some(
            PyArray1::from_vec(py, v)
                .reshape([batch, p])?
                .into_any()
                .unbind(),
        ),
        (None, Some(v)) => Some(
            PyArray1::from_vec(py, v)
                .reshape([batch, m, p])?
                .into_any()
                .unbind(),
        ),
        (None, None) => None,
    };
    Ok((ev, st, third))
}

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
fn cuda_compile_check(py: Python<'_>, arch: String) -> PyResult<Vec<KernelReport>> {
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
    m.add_function(wrap_pyfunction!(cuda_run_small, m)?)?;
    Ok(())
}
