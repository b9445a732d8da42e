//! Hilbert Space Model kernels: Pauli strings and sums, batched ground states and the
//! backward solves. Everything is complex128 / float64; Python casts other precisions.

use crate::errors::{detached, to_py};
use num_complex::Complex64;
use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use qoxide_core::hsm::{self, DenseGround, Grouping, KrylovOpts, PauliHsm};
use qoxide_core::pauli::PauliWord;
use std::sync::Arc;

/// A numpy array of dtype `T` with `ndim` dimensions, copied out with its shape.
fn array<'py, T: Element + Copy>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    dtype: &str,
    ndim: usize,
) -> PyResult<(Vec<T>, Vec<usize>)> {
    let a = obj.extract::<PyReadonlyArrayDyn<'py, T>>().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be a numpy array of dtype {dtype}"))
    })?;
    if a.ndim() != ndim {
        return Err(PyValueError::new_err(format!(
            "{what} must be {ndim}-D, got shape {:?}",
            a.shape()
        )));
    }
    let shape = a.shape().to_vec();
    // (`as_slice` also accepts Fortran order, whose memory order is not the logical one)
    let data = match a.is_c_contiguous() {
        true => a.as_slice().expect("C-contiguous").to_vec(),
        false => a.as_array().iter().copied().collect(),
    };
    Ok((data, shape))
}

fn reals(obj: &Bound<'_, PyAny>, what: &str, ndim: usize) -> PyResult<(Vec<f64>, Vec<usize>)> {
    array::<f64>(obj, what, "float64", ndim)
}

fn complexes(
    obj: &Bound<'_, PyAny>,
    what: &str,
    ndim: usize,
) -> PyResult<(Vec<Complex64>, Vec<usize>)> {
    array::<Complex64>(obj, what, "complex128", ndim)
}

fn out<T: Element>(py: Python<'_>, v: Vec<T>, shape: &[usize]) -> PyResult<Py<PyAny>> {
    Ok(PyArray1::from_vec(py, v)
        .reshape(shape)?
        .into_any()
        .unbind())
}

fn shape_err(what: &str, want: String, got: &[usize]) -> PyErr {
    PyValueError::new_err(format!("{what} must have shape {want}, got {got:?}"))
}

/// A fixed list of distinct Pauli strings on `n_qubits` (x/z bit masks, wire 0 the high
/// bit), grouped by x mask for matrix-free sums.
#[pyclass(name = "PauliStrings", module = "qoxide._core", frozen)]
pub struct PyPauliStrings {
    pub inner: Arc<Grouping>,
}

#[pymethods]
impl PyPauliStrings {
    #[new]
    fn new(n_qubits: usize, x: Vec<u64>, z: Vec<u64>) -> PyResult<Self> {
        if x.len() != z.len() {
            return Err(PyValueError::new_err(format!(
                "x and z masks must have the same length, got {} and {}",
                x.len(),
                z.len()
            )));
        }
        let words = x
            .iter()
            .zip(&z)
            .map(|(&x, &z)| PauliWord {
                x: x as usize,
                z: z as usize,
            })
            .collect();
        Ok(PyPauliStrings {
            inner: Arc::new(Grouping::new(n_qubits, words).map_err(to_py)?),
        })
    }

    /// All strings with at most `max_weight` non-identity factors, ordered by weight.
    #[staticmethod]
    fn enumerate(n_qubits: usize, max_weight: usize) -> PyResult<Self> {
        let words = hsm::strings::enumerate(n_qubits, max_weight).map_err(to_py)?;
        Ok(PyPauliStrings {
            inner: Arc::new(Grouping::new(n_qubits, words).map_err(to_py)?),
        })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.inner.n_qubits
    }

    #[getter]
    fn n_groups(&self) -> usize {
        self.inner.n_groups()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    #[getter]
    fn x(&self) -> Vec<u64> {
        self.inner.words.iter().map(|w| w.x as u64).collect()
    }

    #[getter]
    fn z(&self) -> Vec<u64> {
        self.inner.words.iter().map(|w| w.z as u64).collect()
    }

    /// Labels such as "XIZ" (wire 0 first).
    fn labels(&self) -> Vec<String> {
        let n = self.inner.n_qubits;
        self.inner
            .words
            .iter()
            .map(|&w| hsm::strings::label(w, n))
            .collect()
    }

    /// (products, s, t, u, coef): A² = Σ_p coef[p] a[s[p]] a[t[p]] P_{products[u[p]]} for
    /// A = Σ_s a_s P_s with real a; products[0] is the identity.
    #[allow(clippy::type_complexity)]
    fn square_products(
        &self,
        py: Python<'_>,
    ) -> PyResult<(PyPauliStrings, Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
        let sq = hsm::square_products(&self.inner.words).map_err(to_py)?;
        let n = sq.s.len();
        let idx = |v: Vec<u32>| out(py, v.into_iter().map(i64::from).collect::<Vec<_>>(), &[n]);
        Ok((
            PyPauliStrings {
                inner: Arc::new(Grouping::new(self.inner.n_qubits, sq.words).map_err(to_py)?),
            },
            idx(sq.s)?,
            idx(sq.t)?,
            idx(sq.u)?,
            out(py, sq.coef, &[n])?,
        ))
    }

    /// Dense matrices Σ_t coeffs[m, t] P_t: [M, d, d] complex128.
    fn dense(&self, py: Python<'_>, coeffs: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let (c, shape) = reals(coeffs, "coeffs", 2)?;
        let (n, d) = (self.inner.len(), self.inner.dim());
        if shape[1] != n {
            return Err(shape_err("coeffs", format!("[M, {n}]"), &shape));
        }
        let g = self.inner.clone();
        let m = shape[0];
        let v = detached(py, move || g.dense_batch(&c))?;
        out(py, v, &[m, d, d])
    }

    /// The adjoint of `dense` for real coefficients: [M, d, d] gradients → [M, N].
    fn project(&self, py: Python<'_>, mats: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let (m, shape) = complexes(mats, "mats", 3)?;
        let (n, d) = (self.inner.len(), self.inner.dim());
        if shape[1] != d || shape[2] != d {
            return Err(shape_err("mats", format!("[M, {d}, {d}]"), &shape));
        }
        let g = self.inner.clone();
        let count = shape[0];
        let v = detached(py, move || Ok(g.project_batch(&m)))?;
        out(py, v, &[count, n])
    }

    /// Matrix-free Σ_t coeffs[b, t] P_t |states[b]⟩: [B, d] complex128.
    fn apply(
        &self,
        py: Python<'_>,
        coeffs: &Bound<'_, PyAny>,
        states: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let (c, cs) = reals(coeffs, "coeffs", 2)?;
        let (s, ss) = complexes(states, "states", 2)?;
        let (n, d) = (self.inner.len(), self.inner.dim());
        if cs[1] != n {
            return Err(shape_err("coeffs", format!("[B, {n}]"), &cs));
        }
        if ss[1] != d || ss[0] != cs[0] {
            return Err(shape_err("states", format!("[{}, {d}]", cs[0]), &ss));
        }
        let g = self.inner.clone();
        let v = detached(py, move || Ok(g.apply_batch(&c, &s)))?;
        out(py, v, &ss)
    }

    /// ⟨u_b|P_t|v_b⟩: [B, N] complex128, or summed over the batch ([N]) with `sum_batch`.
    #[pyo3(signature = (u, v, sum_batch=false))]
    fn overlaps(
        &self,
        py: Python<'_>,
        u: &Bound<'_, PyAny>,
        v: &Bound<'_, PyAny>,
        sum_batch: bool,
    ) -> PyResult<Py<PyAny>> {
        let (u, us) = complexes(u, "u", 2)?;
        let (v, vs) = complexes(v, "v", 2)?;
        let (n, d) = (self.inner.len(), self.inner.dim());
        if us[1] != d || us != vs {
            return Err(PyValueError::new_err(format!(
                "u and v must both be [B, {d}], got {us:?} and {vs:?}"
            )));
        }
        let g = self.inner.clone();
        let batch = us[0];
        let r = detached(py, move || {
            Ok(if sum_batch {
                g.overlaps_summed(&u, &v)
            } else {
                g.overlaps_batch(&u, &v)
            })
        })?;
        if sum_batch {
            out(py, r, &[n])
        } else {
            out(py, r, &[batch, n])
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "PauliStrings(n_qubits={}, len={}, x_groups={})",
            self.inner.n_qubits,
            self.inner.len(),
            self.inner.n_groups()
        )
    }
}

fn krylov_opts(tol: f64, max_krylov: usize, max_matvecs: usize) -> PyResult<KrylovOpts> {
    if !(tol > 0.0 && tol < 1.0) || max_krylov < 2 || max_matvecs < 1 {
        return Err(PyValueError::new_err(format!(
            "need 0 < tol < 1, max_krylov >= 2, max_matvecs >= 1; got tol={tol}, \
             max_krylov={max_krylov}, max_matvecs={max_matvecs}"
        )));
    }
    Ok(KrylovOpts {
        tol,
        max_krylov,
        max_matvecs,
    })
}

/// Ground states of H_b = Σ_u sigma[u] P_u (shared) + Σ_s c[b, s] P_s (local) by Lanczos.
/// Returns (e0 [B], psi [B, d], expvals [B, len(output)], matvecs [B], residuals [B]).
#[pyfunction]
#[pyo3(signature = (shared, local, output, sigma, c, init=None, tol=1e-10, max_krylov=120, max_matvecs=5000))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)] // mirrors the Python signature
fn hsm_pauli_ground(
    py: Python<'_>,
    shared: PyRef<'_, PyPauliStrings>,
    local: PyRef<'_, PyPauliStrings>,
    output: PyRef<'_, PyPauliStrings>,
    sigma: &Bound<'_, PyAny>,
    c: &Bound<'_, PyAny>,
    init: Option<&Bound<'_, PyAny>>,
    tol: f64,
    max_krylov: usize,
    max_matvecs: usize,
) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
    let opts = krylov_opts(tol, max_krylov, max_matvecs)?;
    let (sigma, _) = reals(sigma, "sigma", 1)?;
    let (c, cs) = reals(c, "c", 2)?;
    let init = init.map(|i| complexes(i, "init", 2)).transpose()?;
    let (sh, lo, ou) = (
        shared.inner.clone(),
        local.inner.clone(),
        output.inner.clone(),
    );
    let batch = cs[0];
    let d = sh.dim();
    let f = detached(py, move || {
        let hsm = PauliHsm::new(&sh, &lo, &ou)?;
        hsm.forward(&sigma, &c, batch, init.as_ref().map(|i| &i.0[..]), &opts)
    })?;
    let n_out = output.inner.len();
    Ok((
        out(py, f.e0, &[batch])?,
        out(py, f.psi, &[batch, d])?,
        out(py, f.expvals, &[batch, n_out])?,
        out(
            py,
            f.matvecs.into_iter().map(|m| m as i64).collect::<Vec<_>>(),
            &[batch],
        )?,
        out(py, f.residuals, &[batch])?,
    ))
}

/// Backward of `hsm_pauli_ground`: gamma [B, len(output)] = ∂L/∂expvals, g_e [B] = ∂L/∂e0.
/// Returns (grad_sigma [len(shared)], grad_c [B, len(local)], cg matvecs [B],
/// cg relative residuals [B]).
#[pyfunction]
#[pyo3(signature = (shared, local, output, sigma, c, psi, e0, gamma, g_e, eps, tol=1e-10, max_matvecs=5000))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)] // mirrors the Python signature
fn hsm_pauli_backward(
    py: Python<'_>,
    shared: PyRef<'_, PyPauliStrings>,
    local: PyRef<'_, PyPauliStrings>,
    output: PyRef<'_, PyPauliStrings>,
    sigma: &Bound<'_, PyAny>,
    c: &Bound<'_, PyAny>,
    psi: &Bound<'_, PyAny>,
    e0: &Bound<'_, PyAny>,
    gamma: &Bound<'_, PyAny>,
    g_e: &Bound<'_, PyAny>,
    eps: f64,
    tol: f64,
    max_matvecs: usize,
) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
    let opts = krylov_opts(tol, 2, max_matvecs)?;
    let (sigma, _) = reals(sigma, "sigma", 1)?;
    let (c, cs) = reals(c, "c", 2)?;
    let (psi, _) = complexes(psi, "psi", 2)?;
    let (e0, _) = reals(e0, "e0", 1)?;
    let (gamma, _) = reals(gamma, "gamma", 2)?;
    let (g_e, _) = reals(g_e, "g_e", 1)?;
    let (sh, lo, ou) = (
        shared.inner.clone(),
        local.inner.clone(),
        output.inner.clone(),
    );
    let batch = cs[0];
    let (n_shared, n_local) = (sh.len(), lo.len());
    let b = detached(py, move || {
        let hsm = PauliHsm::new(&sh, &lo, &ou)?;
        hsm.backward(&sigma, &c, batch, &psi, &e0, &gamma, &g_e, eps, &opts)
    })?;
    Ok((
        out(py, b.grad_sigma, &[n_shared])?,
        out(py, b.grad_c, &[batch, n_local])?,
        out(
            py,
            b.matvecs.into_iter().map(|m| m as i64).collect::<Vec<_>>(),
            &[batch],
        )?,
        out(py, b.residuals, &[batch])?,
    ))
}

/// Ground states of dense Hermitian matrices, kept factorised for the backward solve.
#[pyclass(name = "DenseGroundStates", module = "qoxide._core", frozen)]
pub struct PyDenseGroundStates {
    inner: Arc<Vec<DenseGround>>,
    d: usize,
}

#[pymethods]
impl PyDenseGroundStates {
    /// χ_b ⊥ ψ₀ with (H_b − E₀ + eps) χ_b = P⊥ rhs_b: [B, d] complex128.
    fn solve(&self, py: Python<'_>, rhs: &Bound<'_, PyAny>, eps: f64) -> PyResult<Py<PyAny>> {
        let (r, shape) = complexes(rhs, "rhs", 2)?;
        if shape != [self.inner.len(), self.d] {
            return Err(shape_err(
                "rhs",
                format!("[{}, {}]", self.inner.len(), self.d),
                &shape,
            ));
        }
        if eps.is_nan() || eps < 0.0 {
            return Err(PyValueError::new_err(format!(
                "eps must be >= 0, got {eps}"
            )));
        }
        let g = self.inner.clone();
        let v = detached(py, move || hsm::dense_solve(&g, &r, eps))?;
        out(py, v, &shape)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// Ground states of Hermitian h [B, d, d] (complex128): (e0 [B], psi [B, d], factors).
#[pyfunction]
fn hsm_dense_ground(
    py: Python<'_>,
    h: &Bound<'_, PyAny>,
) -> PyResult<(Py<PyAny>, Py<PyAny>, PyDenseGroundStates)> {
    let (m, shape) = complexes(h, "h", 3)?;
    let (batch, d) = (shape[0], shape[1]);
    if shape[2] != d {
        return Err(shape_err("h", "[B, d, d]".into(), &shape));
    }
    let grounds = detached(py, move || hsm::dense_ground(&m, batch, d))?;
    let e0: Vec<f64> = grounds.iter().map(|g| g.e0).collect();
    let psi: Vec<Complex64> = grounds.iter().flat_map(|g| g.psi.iter().copied()).collect();
    Ok((
        out(py, e0, &[batch])?,
        out(py, psi, &[batch, d])?,
        PyDenseGroundStates {
            inner: Arc::new(grounds),
            d,
        },
    ))
}

/// Number of Pauli strings with at most `max_weight` non-identity factors on `n_qubits`.
#[pyfunction]
fn pauli_string_count(n_qubits: usize, max_weight: usize) -> PyResult<u128> {
    hsm::strings::count(n_qubits, max_weight).ok_or_else(|| {
        pyo3::exceptions::PyOverflowError::new_err(format!(
            "more than 2**128 Pauli strings of weight <= {max_weight} on {n_qubits} qubits"
        ))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPauliStrings>()?;
    m.add_class::<PyDenseGroundStates>()?;
    m.add_function(wrap_pyfunction!(hsm_pauli_ground, m)?)?;
    m.add_function(wrap_pyfunction!(hsm_pauli_backward, m)?)?;
    m.add_function(wrap_pyfunction!(hsm_dense_ground, m)?)?;
    m.add_function(wrap_pyfunction!(pauli_string_count, m)?)?;
    Ok(())
}
