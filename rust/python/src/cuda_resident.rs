//! `qoxide._core.CudaSmallProgram`: a small-register program resident on a GPU, launched
//! on torch's stream into torch-allocated tensors (device pointers as integers). Python
//! (`qoxide.cuda_ops`) allocates every buffer with the sizes `launch` documents; nothing
//! here copies to the host or synchronises.

use crate::cuda::{precision_of, to_py};
use crate::errors::guarded;
use crate::observable::PyObservable;
use crate::tape::PyTape;
use pyo3::prelude::*;
use qoxide_cuda::observables::pauli_obs;
use qoxide_cuda::{Buffers, ResidentSmall, SmallProgram};

#[pyclass(name = "CudaSmallProgram", module = "qoxide._core", frozen)]
pub struct PyCudaSmall {
    inner: ResidentSmall,
}

#[pymethods]
impl PyCudaSmall {
    /// Upload `tape` with `observables` (Pauli sums) to GPU `device` (compiles the kernels
    /// on first use). NotImplementedError for a register over 12 qubits or a non-Pauli
    /// observable; RuntimeError where CUDA is not available.
    #[new]
    fn new(
        py: Python<'_>,
        tape: &PyTape,
        observables: Vec<PyRef<'_, PyObservable>>,
        device: usize,
    ) -> PyResult<Self> {
        let tape = tape.compiled().tape().clone();
        let obs: Vec<_> = observables.iter().map(|o| o.inner.clone()).collect();
        let inner = py.detach(|| {
            guarded(|| {
                let pauli = obs.iter().map(pauli_obs).collect::<Result<Vec<_>, _>>();
                pauli
                    .and_then(|p| SmallProgram::new(&tape, &p))
                    .and_then(|prog| ResidentSmall::upload(prog, device))
                    .map_err(to_py)
            })
        })?;
        Ok(PyCudaSmall { inner })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.inner.n_qubits
    }
    #[getter]
    fn n_params(&self) -> usize {
        self.inner.n_params
    }
    #[getter]
    fn n_outputs(&self) -> usize {
        self.inner.n_obs
    }
    #[getter]
    fn device(&self) -> usize {
        self.inner.ordinal()
    }

    /// One launch on `stream` (a `cudaStream_t` as an integer) over `batch` samples:
    /// theta [B, P] float64 in, expvals [B, M] float64 out; with `grad_out` [B, M] float64
    /// the VJP into `grad_theta` [B, P] float64; with `jac` the Jacobian [B, M, P] float64;
    /// with `state` the final states [B, 2^n] complex128. Pointers are `data_ptr()`s of
    /// contiguous tensors on this program's GPU, 0 for an absent buffer. Asynchronous.
    #[pyo3(signature = (precision, batch, theta, out, stream, grad_out=0, grad_theta=0, state=0, jac=0))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn launch(
        &self,
        py: Python<'_>,
        precision: &str,
        batch: usize,
        theta: u64,
        out: u64,
        stream: u64,
        grad_out: u64,
        grad_theta: u64,
        state: u64,
        jac: u64,
    ) -> PyResult<()> {
        let prec = precision_of(precision)?;
        let buf = Buffers {
            theta,
            grad_out,
            out,
            state,
            grad_theta,
            jac,
        };
        py.detach(|| {
            guarded(|| {
                // SAFETY: the caller (qoxide.cuda_ops) passes live, contiguous tensors of
                // the documented shapes and dtypes on this program's device.
                unsafe { self.inner.launch(prec, batch, buf, stream) }.map_err(to_py)
            })
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<CudaSmallProgram on cuda:{}: {} qubits, {} params, {} outputs>",
            self.inner.ordinal(),
            self.inner.n_qubits,
            self.inner.n_params,
            self.inner.n_obs
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCudaSmall>()
}
