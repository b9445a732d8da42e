//! `Observable`: Pauli sums, Hermitian matrices, projectors and sums of these.

use crate::errors::to_py;
use num_complex::Complex64;
use numpy::PyReadonlyArray2;
use pyo3::prelude::*;
use qoxide_core::Obs;

#[pyclass(name = "Observable", module = "qoxide._core", frozen)]
#[derive(Clone)]
pub struct PyObservable {
    pub inner: Obs,
}

#[pymethods]
impl PyObservable {
    /// Σ_t c_t P_t with each word given as [(wire, "X"|"Y"|"Z"|"I"), ...].
    #[staticmethod]
    fn pauli(n_qubits: usize, terms: Vec<(f64, Vec<(i64, char)>)>) -> PyResult<Self> {
        let terms = terms
            .into_iter()
            .map(|(c, f)| {
                let (w, p): (Vec<i64>, Vec<char>) = f.into_iter().unzip();
                Ok((
                    c,
                    crate::call::wires_of("Pauli observable", w)?
                        .into_iter()
                        .zip(p)
                        .collect(),
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyObservable {
            inner: Obs::pauli(n_qubits, &terms).map_err(to_py)?,
        })
    }

    /// A Hermitian matrix on `wires` (wires[0] is the high bit of the matrix index);
    /// complex128, or real float64.
    #[staticmethod]
    fn hermitian(n_qubits: usize, wires: Vec<i64>, matrix: &Bound<'_, PyAny>) -> PyResult<Self> {
        let wires = crate::call::wires_of("Hermitian", wires)?;
        let m: Vec<Complex64> = if let Ok(a) = matrix.extract::<PyReadonlyArray2<'_, Complex64>>() {
            a.as_array().iter().copied().collect()
        } else if let Ok(a) = matrix.extract::<PyReadonlyArray2<'_, f64>>() {
            a.as_array()
                .iter()
                .map(|&x| Complex64::new(x, 0.0))
                .collect()
        } else {
            return Err(crate::errors::type_err(format!(
                "Hermitian matrix must be a 2-D numpy array of dtype complex128 or float64, got {}",
                matrix.repr()?
            )));
        };
        crate::errors::guarded(|| {
            Ok(PyObservable {
                inner: Obs::hermitian(n_qubits, wires, m).map_err(to_py)?,
            })
        })
    }

    /// Projector onto basis state `bits` (each 0 or 1) of `wires`.
    #[staticmethod]
    fn projector(n_qubits: usize, wires: Vec<i64>, bits: &Bound<'_, PyAny>) -> PyResult<Self> {
        let wires = crate::call::wires_of("Projector", wires)?;
        let bad = || {
            pyo3::exceptions::PyValueError::new_err(format!(
                "Projector bits must be 0/1 values, one per wire, got {}",
                bits.repr().map(|r| r.to_string()).unwrap_or_default()
            ))
        };
        let bits: Vec<i64> = bits.extract().map_err(|_| bad())?;
        if bits.iter().any(|&b| b != 0 && b != 1) {
            return Err(bad());
        }
        let bits: Vec<u8> = bits.into_iter().map(|b| b as u8).collect();
        Ok(PyObservable {
            inner: Obs::projector(n_qubits, &wires, &bits).map_err(to_py)?,
        })
    }

    /// Σ_k c_k O_k.
    #[staticmethod]
    fn sum(terms: Vec<(f64, PyRef<'_, PyObservable>)>) -> PyResult<Self> {
        let terms = terms
            .into_iter()
            .map(|(c, o)| (c, o.inner.clone()))
            .collect();
        Ok(PyObservable {
            inner: Obs::sum(terms).map_err(to_py)?,
        })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.inner.n_qubits
    }

    fn __repr__(&self) -> String {
        format!("Observable(n_qubits={})", self.inner.n_qubits)
    }
}
