//! `Tape`: built op by op from Python, then frozen: its first run compiles it once into a
//! `Compiled` program that every later call shares. `add` on a frozen tape is an error,
//! so a tape can never change under a running call (no lock is held while computing).

use crate::errors::{guarded, to_py};
use num_complex::Complex64;
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt};
use qoxide_core::{Compiled, Gate, Op, Param, Tape};
use std::sync::{Arc, Mutex};

enum State {
    Building(Tape),
    Frozen(Arc<Compiled>),
}

#[pyclass(name = "Tape", module = "qoxide._core", frozen)]
pub struct PyTape {
    state: Mutex<State>,
}

impl PyTape {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // a panic while holding the lock leaves the state valid: recover it
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The compiled program (compiling and freezing the tape on first use).
    pub fn compiled(&self) -> Arc<Compiled> {
        let mut state = self.lock();
        if let State::Building(t) = &mut *state {
            let tape = std::mem::replace(t, Tape::new(1, 0).expect("a 1-qubit tape is valid"));
            *state = State::Frozen(Arc::new(Compiled::new(tape)));
        }
        match &*state {
            State::Frozen(c) => c.clone(),
            State::Building(_) => unreachable!("frozen just above"),
        }
    }

    fn with_tape<R>(&self, f: impl FnOnce(&Tape) -> R) -> R {
        match &*self.lock() {
            State::Building(t) => f(t),
            State::Frozen(c) => f(c.tape()),
        }
    }
}

/// A non-negative count from a Python int, with a message naming it.
pub fn count_of(what: &str, v: &Bound<'_, PyAny>) -> PyResult<usize> {
    let n: i128 = v.extract().map_err(|_| {
        PyValueError::new_err(format!("{what} must be a non-negative integer, got {v}"))
    })?;
    usize::try_from(n).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be an integer between 0 and {}, got {n}",
            usize::MAX
        ))
    })
}

/// One gate parameter: an int is a theta column, a float a constant.
fn param_of(name: &str, p: &Bound<'_, PyAny>, n_params: usize) -> PyResult<Param> {
    if p.is_instance_of::<PyInt>() {
        let col = p
            .extract::<i128>()
            .ok()
            .and_then(|c| usize::try_from(c).ok());
        return match col {
            Some(c) if c < n_params => Ok(Param::Col(c)),
            _ => Err(PyValueError::new_err(format!(
                "{name}: parameter column {p} is out of range for theta of width {n_params} \
                 (columns are ints in [0, {n_params}))"
            ))),
        };
    }
    if p.is_instance_of::<PyFloat>() || p.hasattr("__float__")? {
        return Ok(Param::Const(p.extract::<f64>()?));
    }
    Err(PyValueError::new_err(format!(
        "{name}: a parameter must be an int (theta column) or a float (constant), got {}",
        p.get_type().name()?
    )))
}

#[pymethods]
impl PyTape {
    /// A program on `n_qubits` wires whose angles come from theta of width `n_params`.
    #[new]
    fn new(n_qubits: &Bound<'_, PyAny>, n_params: &Bound<'_, PyAny>) -> PyResult<Self> {
        let n_qubits = count_of("n_qubits", n_qubits)?;
        let n_params = count_of("n_params", n_params)?;
        Ok(PyTape {
            state: Mutex::new(State::Building(
                Tape::new(n_qubits, n_params).map_err(to_py)?,
            )),
        })
    }

    /// Append a gate. `params`: one entry per gate parameter, an int column of theta
    /// or a float constant. Refused once the tape has run (it is compiled then).
    #[pyo3(signature = (name, wires, params=Vec::new(), inverse=false, matrix=None, control_values=Vec::new()))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature
    fn add(
        &self,
        py: Python<'_>,
        name: &str,
        wires: Vec<i64>,
        params: Vec<Bound<'_, PyAny>>,
        inverse: bool,
        matrix: Option<PyReadonlyArray2<'_, Complex64>>,
        control_values: Vec<bool>,
    ) -> PyResult<()> {
        let wires = crate::call::wires_of(name, wires)?;
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
        let (n_qubits, n_params) = self.with_tape(|t| (t.n_qubits, t.n_params));
        let params = (params.iter())
            .map(|p| param_of(name, p, n_params))
            .collect::<PyResult<Vec<_>>>()?;
        let mut op = Op::new(gate, wires, params);
        op.inverse = inverse;
        op.control_values = control_values;
        if let Some(m) = matrix {
            if m.shape()[0] != m.shape()[1] {
                return Err(crate::errors::shape(format!(
                    "{name}: matrix must be square, got shape {:?}",
                    m.shape()
                )));
            }
            op.matrix = Some(m.as_array().iter().copied().collect::<Vec<_>>().into());
        }
        // validation (a 12-wire unitarity check) runs without the GIL
        let op = crate::errors::detached(py, || Tape::check_op(n_qubits, n_params, op))?;
        guarded(|| match &mut *self.lock() {
            State::Building(t) => t.push_checked(op).map_err(to_py),
            State::Frozen(_) => Err(PyValueError::new_err(
                "this Tape has already run and is frozen; build a new Tape to change the circuit",
            )),
        })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.with_tape(|t| t.n_qubits)
    }

    #[getter]
    fn n_params(&self) -> usize {
        self.with_tape(|t| t.n_params)
    }

    #[getter]
    fn n_ops(&self) -> usize {
        self.with_tape(|t| t.ops.len())
    }

    /// Whether the tape has run (and can no longer change).
    #[getter]
    fn frozen(&self) -> bool {
        matches!(&*self.lock(), State::Frozen(_))
    }

    fn __repr__(&self) -> String {
        self.with_tape(|t| {
            format!(
                "Tape(n_qubits={}, n_params={}, n_ops={})",
                t.n_qubits,
                t.n_params,
                t.ops.len()
            )
        })
    }
}
