//! Compute entry points. theta's dtype picks the precision: float64 runs complex128,
//! float32 runs complex64; real outputs come back in theta's dtype.

use crate::errors::detached;
use crate::observable::PyObservable;
use crate::tape::PyTape;
use num_complex::Complex;
use numpy::{
    Element, PyArray1, PyArrayMethods, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use qoxide_core::{adjoint, execute, fusion, lanes, pool, Init, Obs, Real};
use std::borrow::Cow;

/// Angles theta[B, P] as f64, remembering the caller's precision.
struct Theta<'a> {
    data: Cow<'a, [f64]>,
    batch: usize,
    single: bool,
}

fn theta_of<'py>(obj: &Bound<'py, PyAny>) -> PyResult<(Theta<'static>, bool)> {
    let shape_err = |shape: &[usize]| {
        PyValueError::new_err(format!(
            "theta must be a 2-D array [batch, n_params], got shape {shape:?}"
        ))
    };
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f64>>() {
        let batch = a.shape()[0];
        let data = a.as_array().iter().copied().collect::<Vec<_>>();
        return Ok((
            Theta {
                data: Cow::Owned(data),
                batch,
                single: false,
            },
            false,
        ));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f32>>() {
        let batch = a.shape()[0];
        let data = a.as_array().iter().map(|&x| x as f64).collect::<Vec<_>>();
        return Ok((
            Theta {
                data: Cow::Owned(data),
                batch,
                single: true,
            },
            true,
        ));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f64>>() {
        return Err(shape_err(a.shape()));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f32>>() {
        return Err(shape_err(a.shape()));
    }
    Err(PyTypeError::new_err(
        "theta must be a numpy array of dtype float64 or float32",
    ))
}

/// Wire lists from Python ints: a negative wire is a ValueError, not an OverflowError.
pub fn wires_of(what: &str, wires: Vec<i64>) -> PyResult<Vec<usize>> {
    wires
        .iter()
        .map(|&w| {
            usize::try_from(w).map_err(|_| {
                PyValueError::new_err(format!(
                    "{what}: wires must be non-negative, got {w} in {wires:?}"
                ))
            })
        })
        .collect()
}

/// Where each sample starts, owned: |0..0>, given states, or final states to reuse.
enum Start<T> {
    Zero,
    Shared(Vec<Complex<T>>),
    PerSample(Vec<Complex<T>>),
    Final(Vec<Complex<T>>),
}

impl<T> Start<T> {
    fn as_init(&self) -> Init<'_, T> {
        match self {
            Start::Zero => Init::Zero,
            Start::Shared(v) => Init::Shared(v),
            Start::PerSample(v) => Init::PerSample(v),
            Start::Final(v) => Init::Final(v),
        }
    }
}

/// A complex array in the run's precision, 1-D or 2-D.
fn states_of<'py, T: Real + Element>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<(Vec<Complex<T>>, usize)>
where
    Complex<T>: Element,
{
    let a = obj
        .extract::<PyReadonlyArrayDyn<'py, Complex<T>>>()
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a numpy array of dtype {} (matching theta's precision)",
                if std::mem::size_of::<T>() == 8 {
                    "complex128"
                } else {
                    "complex64"
                }
            ))
        })?;
    let ndim = a.ndim();
    if !(1..=2).contains(&ndim) {
        return Err(PyValueError::new_err(format!(
            "{what} must be 1-D or 2-D, got {ndim}-D"
        )));
    }
    Ok((a.as_array().iter().copied().collect(), ndim))
}

/// `init_state` (one state [2^n] or one per sample [B, 2^n]) or `final_states` (the output
/// of `state` for the same tape and theta, which skips the forward pass); not both.
fn start_of<'py, T: Real + Element>(
    init_state: Option<&Bound<'py, PyAny>>,
    final_states: Option<&Bound<'py, PyAny>>,
) -> PyResult<Start<T>>
where
    Complex<T>: Element,
{
    match (init_state, final_states) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "pass init_state or final_states, not both",
        )),
        (None, None) => Ok(Start::Zero),
        (Some(i), None) => Ok(match states_of::<T>(i, "init_state")? {
            (v, 1) => Start::Shared(v),
            (v, _) => Start::PerSample(v),
        }),
        (None, Some(f)) => match states_of::<T>(f, "final_states")? {
            (v, 2) => Ok(Start::Final(v)),
            _ => Err(PyValueError::new_err(
                "final_states must be 2-D [batch, 2^n]",
            )),
        },
    }
}

fn observables(obs: &[PyRef<'_, PyObservable>]) -> Vec<Obs> {
    obs.iter().map(|o| o.inner.clone()).collect()
}

/// A real output [shape] in f64 or f32.
fn real_out(py: Python<'_>, v: Vec<f64>, shape: &[usize], single: bool) -> PyResult<Py<PyAny>> {
    if single {
        let v: Vec<f32> = v.into_iter().map(|x| x as f32).collect();
        Ok(PyArray1::from_vec(py, v)
            .reshape(shape)?
            .into_any()
            .unbind())
    } else {
        Ok(PyArray1::from_vec(py, v)
            .reshape(shape)?
            .into_any()
            .unbind())
    }
}

/// Run `$body` with `T` bound to the precision of theta.
macro_rules! by_precision {
    ($single:expr, $T:ident => $body:expr) => {
        if $single {
            type $T = f32;
            $body
        } else {
            type $T = f64;
            $body
        }
    };
}

/// ⟨O_m⟩ per sample: [B, M].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None, final_states=None))]
fn expval(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    observables: Vec<PyRef<'_, PyObservable>>,
    init_state: Option<&Bound<'_, PyAny>>,
    final_states: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (th, single) = theta_of(theta)?;
    let obs = self::observables(&observables);
    let t = tape.read();
    let v = by_precision!(single, T => {
        let start = start_of::<T>(init_state, final_states)?;
        detached(py, || execute::expval::<T>(&t, &th.data, th.batch, &obs, start.as_init()))?
    });
    real_out(py, v, &[th.batch, obs.len()], th.single)
}

/// (⟨O_m⟩ [B, M], final states [B, 2^n]) in one call.
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None))]
fn expval_and_state(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    observables: Vec<PyRef<'_, PyObservable>>,
    init_state: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let (th, single) = theta_of(theta)?;
    let obs = self::observables(&observables);
    let t = tape.read();
    let shape = [th.batch, 1usize << t.n_qubits];
    by_precision!(single, T => {
        let start = start_of::<T>(init_state, None)?;
        let (v, s) = detached(py, || {
            execute::expval_and_state::<T>(&t, &th.data, th.batch, &obs, start.as_init())
        })?;
        let states = PyArray1::from_vec(py, s).reshape(shape)?.into_any().unbind();
        Ok((real_out(py, v, &[th.batch, obs.len()], th.single)?, states))
    })
}

/// Var(O_m) per sample: [B, M].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None))]
fn var(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    observables: Vec<PyRef<'_, PyObservable>>,
    init_state: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (th, single) = theta_of(theta)?;
    let obs = self::observables(&observables);
    let t = tape.read();
    let v = by_precision!(single, T => {
        let start = start_of::<T>(init_state, None)?;
        detached(py, || execute::var::<T>(&t, &th.data, th.batch, &obs, start.as_init()))?
    });
    real_out(py, v, &[th.batch, obs.len()], th.single)
}

/// Final states: [B, 2^n] complex.
#[pyfunction]
#[pyo3(signature = (tape, theta, init_state=None))]
fn state(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    init_state: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (th, single) = theta_of(theta)?;
    let t = tape.read();
    let shape = [th.batch, 1usize << t.n_qubits];
    by_precision!(single, T => {
        let start = start_of::<T>(init_state, None)?;
        let v = detached(py, || execute::state::<T>(&t, &th.data, th.batch, start.as_init()))?;
        Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any().unbind())
    })
}

/// Marginal probabilities of `wires`: [B, 2^k].
#[pyfunction]
#[pyo3(signature = (tape, theta, wires, init_state=None))]
fn probs(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    wires: Vec<i64>,
    init_state: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let wires = wires_of("probs", wires)?;
    let (th, single) = theta_of(theta)?;
    let t = tape.read();
    let v = by_precision!(single, T => {
        let start = start_of::<T>(init_state, None)?;
        detached(py, || execute::probs::<T>(&t, &th.data, th.batch, &wires, start.as_init()))?
    });
    real_out(py, v, &[th.batch, 1usize << wires.len()], th.single)
}

/// Measurement outcomes: [B, shots, k] uint8, reproducible for a seed.
#[pyfunction]
#[pyo3(signature = (tape, theta, wires, shots, seed, init_state=None))]
fn sample(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    wires: Vec<i64>,
    shots: usize,
    seed: u64,
    init_state: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let wires = wires_of("sample", wires)?;
    let (th, single) = theta_of(theta)?;
    let t = tape.read();
    let v = by_precision!(single, T => {
        let start = start_of::<T>(init_state, None)?;
        detached(py, || execute::sample::<T>(&t, &th.data, th.batch, &wires, shots, seed, start.as_init()))?
    });
    Ok(PyArray1::from_vec(py, v)
        .reshape([th.batch, shots, wires.len()])?
        .into_any()
        .unbind())
}

/// Adjoint Jacobian ∂⟨O_m⟩/∂θ_p: [B, M, P].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None))]
fn jacobian(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    observables: Vec<PyRef<'_, PyObservable>>,
    init_state: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (th, single) = theta_of(theta)?;
    let obs = self::observables(&observables);
    let t = tape.read();
    let p = t.n_params;
    let v = by_precision!(single, T => {
        let start = start_of::<T>(init_state, None)?;
        detached(py, || adjoint::jacobian::<T>(&t, &th.data, th.batch, &obs, start.as_init()))?
    });
    real_out(py, v, &[th.batch, obs.len(), p], th.single)
}

/// Adjoint VJP Σ_m g[b,m] ∂⟨O_m⟩/∂θ_p in one backward sweep: [B, P].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, grad_out, init_state=None, final_states=None))]
#[allow(clippy::too_many_arguments)] // mirrors the Python signature
fn vjp(
    py: Python<'_>,
    tape: PyRef<'_, PyTape>,
    theta: &Bound<'_, PyAny>,
    observables: Vec<PyRef<'_, PyObservable>>,
    grad_out: &Bound<'_, PyAny>,
    init_state: Option<&Bound<'_, PyAny>>,
    final_states: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (th, single) = theta_of(theta)?;
    let (g, _) = theta_of(grad_out).map_err(|e| {
        let msg = format!("{}", e.value(py)).replace("theta", "grad_out");
        if e.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(msg)
        } else {
            PyValueError::new_err(msg)
        }
    })?;
    let obs = self::observables(&observables);
    let t = tape.read();
    let p = t.n_params;
    if g.batch != th.batch {
        return Err(PyValueError::new_err(format!(
            "grad_out has {} rows but theta has {}",
            g.batch, th.batch
        )));
    }
    let v = by_precision!(single, T => {
        let start = start_of::<T>(init_state, final_states)?;
        detached(py, || adjoint::vjp::<T>(&t, &th.data, th.batch, &obs, &g.data, start.as_init()))?
    });
    real_out(py, v, &[th.batch, p], th.single)
}

/// Threads used by the compute pool (RAYON_NUM_THREADS or all cores by default).
#[pyfunction]
fn get_num_threads() -> usize {
    pool::num_threads()
}

/// Set the compute pool's thread count; 0 restores the default.
#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n)
        .map_err(|_| PyValueError::new_err(format!("number of threads must be >= 0, got {n}")))?;
    pool::set_num_threads(n);
    Ok(())
}

/// Turn gate fusion on or off; `tile_qubits` > 0 forces the tile size (0: automatic).
#[pyfunction]
#[pyo3(signature = (enabled, tile_qubits = 0))]
fn set_fusion(enabled: bool, tile_qubits: i64) -> PyResult<()> {
    let k = usize::try_from(tile_qubits)
        .ok()
        .filter(|&k| k == 0 || (fusion::LOW_BITS as usize + 1..=30).contains(&k))
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "tile_qubits must be 0 (automatic) or between {} and 30, got {tile_qubits}",
                fusion::LOW_BITS + 1
            ))
        })?;
    fusion::set_enabled(enabled);
    fusion::set_tile_qubits(k);
    Ok(())
}

/// Whether gate fusion is on.
#[pyfunction]
fn fusion_enabled() -> bool {
    fusion::enabled()
}

/// Turn the batch-lane engine (small registers, batch >= 4: all samples at once) on or off.
#[pyfunction]
fn set_batch_lanes(enabled: bool) {
    lanes::set_enabled(enabled)
}

/// Whether the batch-lane engine is on.
#[pyfunction]
fn batch_lanes_enabled() -> bool {
    lanes::enabled()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_batch_lanes, m)?)?;
    m.add_function(wrap_pyfunction!(batch_lanes_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(set_fusion, m)?)?;
    m.add_function(wrap_pyfunction!(fusion_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(expval, m)?)?;
    m.add_function(wrap_pyfunction!(expval_and_state, m)?)?;
    m.add_function(wrap_pyfunction!(var, m)?)?;
    m.add_function(wrap_pyfunction!(state, m)?)?;
    m.add_function(wrap_pyfunction!(probs, m)?)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    m.add_function(wrap_pyfunction!(jacobian, m)?)?;
    m.add_function(wrap_pyfunction!(vjp, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    Ok(())
}
