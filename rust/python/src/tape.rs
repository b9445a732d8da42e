//! `Tape`: the compiled program, built op by op from Python.

use crate::errors::to_py;
use num_complex::Complex64;
use numpy::PyReadonlyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use qoxide_core::{Gate, Op, Param, Tape};

#[pyclass(name = "Tape", module = "qoxide._core", frozen)]
pub struct PyTape {
    pub inner: std::sync::RwLock<Tape>,
}

impl PyTape {
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Tape> {
        self.inner.read().expect("tape lock poisoned")
    }
}

#[pymethods]
impl PyTape {
    /// A program on `n_qubits` wires whose angles come from theta of width `n_params`.
    #[new]
    fn new(n_qubits: usize, n_params: usize) -> PyResult<Self> {
        Ok(PyTape {
            inner: std::sync::RwLock::new(Tape::new(n_qubits, n_params).map_err(to_py)?),
        })
    }

    /// Append a gate. `params`: one entry per gate parameter, an int column of theta
    /// or a float constant.
    #[pyo3(signature = (name, wires, params=Vec::new(), inverse=false, matrix=None, control_values=Vec::new()))]
    fn add(
        &self,
        name: &str,
        wires: Vec<i64>,
        params: Vec<Bound<'_, PyAny>>,
        inverse: bool,
        matrix: Option<PyReadonlyArray2<'_, Complex64>>,
        control_values: Vec<bool>,
    ) -> PyResult<()> {
        let wires = crate::compute::wires_of(name, wires)?;
        let gate = Gate::from_name(name).ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown gate {name:?}; supported: {}",
                Gate::ALL
                    .iter()
                    .map(|g| g.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let params = params
            .iter()
            .map(|p| {
                if p.is_instance_of::<pyo3::types::PyInt>() {
                    Ok(Param::Col(p.extract::<usize>().map_err(|_| {
                        PyValueError::new_err(format!(
                            "{name}: parameter column must be >= 0, got {p}"
                        ))
                    })?))
                } else {
                    Ok(Param::Const(p.extract::<f64>()?))
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
        let mut op = Op::new(gate, wires, params);
        op.inverse = inverse;
        op.control_values = control_values;
        if let Some(m) = matrix {
            let a = m.as_array();
            if a.nrows() != a.ncols() {
                return Err(PyValueError::new_err(format!(
                    "{name}: matrix must be square, got shape {:?}",
                    a.shape()
                )));
            }
            op.matrix = Some(a.iter().copied().collect::<Vec<_>>().into());
        }
        crate::errors::guarded(|| {
            self.inner
                .write()
                .expect("tape lock poisoned")
                .push(op)
                .map_err(to_py)
        })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.read().n_qubits
    }

    #[getter]
    fn n_params(&self) -> usize {
        self.read().n_params
    }

    #[getter]
    fn n_ops(&self) -> usize {
        self.read().ops.len()
    }

    fn __repr__(&self) -> String {
        let t = self.read();
        format!(
            "Tape(n_qubits={}, n_params={}, n_ops={})",
            t.n_qubits,
            t.n_params,
            t.ops.len()
        )
    }
}
