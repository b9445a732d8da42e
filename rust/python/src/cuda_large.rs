//! `qoxide._core.CudaLargeProgram`: one large statevector (13 to 32 qubits) on a GPU, its
//! program uploaded once, launched on torch's stream into torch-allocated buffers (device
//! pointers as integers; `qoxide.cuda_ops` loops over a batch). Nothing here copies to
//! the host or synchronises.

use crate::cuda::{precision_of, to_py};
use crate::errors::guarded;
use crate::observable::PyObservable;
use crate::tape::PyTape;
use pyo3::prelude::*;
use qoxide_cuda::large_device::check_memory;
use qoxide_cuda::observables::pauli_obs;
use qoxide_cuda::{LargeBuffers, LargeProgram, ResidentLarge};

#[pyclass(name = "CudaLargeProgram", module = "qoxide._core", frozen)]
pub struct PyCudaLarge {
    inner: ResidentLarge,
}

#[pymethods]
impl PyCudaLarge {
    /// Upload `tape` with `observables` (Pauli sums) to GPU `device`. NotImplementedError
    /// for what the large-register kernels do not run (non-Pauli observables, 3+-qubit
    /// matrices, over 32 qubits); RuntimeError where CUDA is not available.
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
                obs.iter()
                    .map(pauli_obs)
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(|p| LargeProgram::new(&tape, &p))
                    .and_then(|prog| ResidentLarge::upload(prog, device))
                    .map_err(to_py)
            })
        })?;
        Ok(PyCudaLarge { inner })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.inner.prog.n_qubits()
    }
    #[getter]
    fn n_params(&self) -> usize {
        self.inner.prog.n_params()
    }
    #[getter]
    fn n_outputs(&self) -> usize {
        self.inner.prog.n_obs()
    }
    #[getter]
    fn device(&self) -> usize {
        self.inner.ordinal()
    }
    /// float64 values of the `partial` scratch a launch needs.
    #[getter]
    fn partial_len(&self) -> usize {
        self.inner.partial_len()
    }

    /// MemoryError, before anything is allocated, when a run (φ, λ with the adjoint, the
    /// scratch) does not fit the GPU's free memory.
    fn check_memory(&self, py: Python<'_>, precision: &str, adjoint: bool) -> PyResult<()> {
        let prec = precision_of(precision)?;
        py.detach(|| {
            guarded(|| {
                check_memory(&self.inner.prog, prec, adjoint, self.inner.ordinal()).map_err(to_py)
            })
        })
    }

    /// The launches of one statevector on `stream`: φ [2^n] complex of `precision`
    /// (written: the final state after a forward-only run), `partial` [partial_len]
    /// float64 scratch, theta [P] float64, out [M] float64; with `grad_out` [M] the VJP
    /// into `grad` [P]; with `jac` the Jacobian [M, P]; both need `lam` [2^n] (scratch like
    /// φ). Pointers are `data_ptr()`s of contiguous tensors on this GPU, 0 when absent.
    #[pyo3(signature = (precision, phi, partial, theta, out, stream, lam=0, grad_out=0, grad=0, jac=0))]
    #[allow(clippy::too_many_arguments)] // a Python signature
    fn launch(
        &self,
        py: Python<'_>,
        precision: &str,
        phi: u64,
        partial: u64,
        theta: u64,
        out: u64,
        stream: u64,
        lam: u64,
        grad_out: u64,
        grad: u64,
        jac: u64,
    ) -> PyResult<()> {
        let prec = precision_of(precision)?;
        let buf = LargeBuffers {
            phi,
            lam,
            partial,
            theta,
            out,
            grad_out,
            grad,
            jac,
        };
        py.detach(|| {
            guarded(|| {
                // SAFETY: the caller (qoxide.cuda_ops) passes live, contiguous tensors of
                // the documented sizes and dtypes on this program's device.
                unsafe { self.inner.launch(prec, &buf, stream) }.map_err(to_py)
            })
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<CudaLargeProgram on cuda:{}: {} qubits, {} params, {} outputs>",
            self.inner.ordinal(),
            self.n_qubits(),
            self.n_params(),
            self.n_outputs()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCudaLarge>()
}
