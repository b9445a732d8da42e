//! Compute entry points: parse once (`Call`), run through `errors::run` (GIL released,
//! Ctrl-C polled), convert the outputs. theta's dtype picks the precision: float64 runs
//! complex128, float32 runs complex64; real outputs come back in theta's dtype.

use crate::call::{reals_2d, wires_of, Call, Start};
use crate::errors::run;
use crate::observable::PyObservable;
use crate::tape::{count_of, PyTape};
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{PyArray, PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use qoxide_core::state::regblock;
use qoxide_core::{adjoint, fusion, measure, pool};

/// A real output [shape] in f64 or f32 (one array object, no reshape).
pub(crate) fn real_out(
    py: Python<'_>,
    v: Vec<f64>,
    shape: &[usize],
    single: bool,
) -> PyResult<Py<PyAny>> {
    fn out<E: numpy::Element>(py: Python<'_>, v: Vec<E>, shape: &[usize]) -> PyResult<Py<PyAny>> {
        let a = ArrayD::from_shape_vec(IxDyn(shape), v)
            .map_err(|e| PyValueError::new_err(format!("output shape {shape:?}: {e}")))?;
        Ok(PyArray::from_owned_array(py, a).into_any().unbind())
    }
    if single {
        out(
            py,
            v.into_iter().map(|x| x as f32).collect::<Vec<f32>>(),
            shape,
        )
    } else {
        out(py, v, shape)
    }
}

/// Run `$body` with `T` bound to the call's precision.
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

/// In the call's precision `T`: parse the start states, run `$body` (with `$prog` the
/// compiled program, `$init` the start, `$o` the options) through `run` for `$passes`
/// sweeps of work, then `$out` with `$v` bound to its result.
macro_rules! compute {
    ($py:expr, $c:expr, $init_state:expr, $finals:expr, $passes:expr,
     |$prog:ident, $init:ident, $o:ident| $body:expr, |$v:ident| $out:expr) => {
        by_precision!($c.theta.single, T => {
            let start = Start::<T>::parse($init_state, $finals)?;
            let ($prog, $init) = ($c.compiled.program::<T>(), start.as_init());
            let $v = run($py, $c.work($passes), $c.opts.clone(), |$o| $body)?;
            $out
        })
    };
}

/// ⟨O_m⟩ per sample: [B, M].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None, final_states=None, engine=None))]
fn expval<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    observables: Vec<PyRef<'py, PyObservable>>,
    init_state: Option<&Bound<'py, PyAny>>,
    final_states: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let c = Call::parse(&tape, theta, &observables, engine)?;
    let (b, th, obs) = (c.theta.batch, c.theta.data(), &c.obs[..]);
    compute!(
        py,
        c,
        init_state,
        final_states,
        1,
        |prog, init, o| measure::expval(prog, th, b, obs, init, o),
        |v| real_out(py, v, &[b, obs.len()], c.theta.single)
    )
}

/// (⟨O_m⟩ [B, M], final states [B, 2^n]) in one call.
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None, engine=None))]
fn expval_and_state<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    observables: Vec<PyRef<'py, PyObservable>>,
    init_state: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let c = Call::parse(&tape, theta, &observables, engine)?;
    let (b, th, obs) = (c.theta.batch, c.theta.data(), &c.obs[..]);
    let shape = [b, 1usize << c.n_qubits()];
    compute!(
        py,
        c,
        init_state,
        None,
        1,
        |prog, init, o| measure::expval_and_state(prog, th, b, obs, init, o),
        |vs| {
            let states = PyArray1::from_vec(py, vs.1)
                .reshape(shape)?
                .into_any()
                .unbind();
            Ok((real_out(py, vs.0, &[b, obs.len()], c.theta.single)?, states))
        }
    )
}

/// Var(O_m) per sample: [B, M].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None, engine=None))]
fn var<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    observables: Vec<PyRef<'py, PyObservable>>,
    init_state: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let c = Call::parse(&tape, theta, &observables, engine)?;
    let (b, th, obs) = (c.theta.batch, c.theta.data(), &c.obs[..]);
    compute!(
        py,
        c,
        init_state,
        None,
        2,
        |prog, init, o| measure::var(prog, th, b, obs, init, o),
        |v| real_out(py, v, &[b, obs.len()], c.theta.single)
    )
}

/// Final states: [B, 2^n] complex.
#[pyfunction]
#[pyo3(signature = (tape, theta, init_state=None, engine=None))]
fn state<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    init_state: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let c = Call::parse(&tape, theta, &[], engine)?;
    let (b, th) = (c.theta.batch, c.theta.data());
    let shape = [b, 1usize << c.n_qubits()];
    compute!(
        py,
        c,
        init_state,
        None,
        1,
        |prog, init, o| measure::state(prog, th, b, init, o),
        |v| Ok(PyArray1::from_vec(py, v)
            .reshape(shape)?
            .into_any()
            .unbind())
    )
}

/// Marginal probabilities of `wires`: [B, 2^k].
#[pyfunction]
#[pyo3(signature = (tape, theta, wires, init_state=None, engine=None))]
fn probs<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    wires: Vec<i64>,
    init_state: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let wires = wires_of("probs", wires)?;
    let c = Call::parse(&tape, theta, &[], engine)?;
    let (b, th) = (c.theta.batch, c.theta.data());
    compute!(
        py,
        c,
        init_state,
        None,
        1,
        |prog, init, o| measure::probs(prog, th, b, &wires, init, o),
        |v| real_out(py, v, &[b, 1usize << wires.len()], c.theta.single)
    )
}

/// Measurement outcomes: [B, shots, k] uint8, reproducible for a seed.
#[pyfunction]
#[pyo3(signature = (tape, theta, wires, shots, seed, init_state=None, engine=None))]
#[allow(clippy::too_many_arguments)] // mirrors the Python signature
fn sample<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    wires: Vec<i64>,
    shots: &Bound<'py, PyAny>,
    seed: &Bound<'py, PyAny>,
    init_state: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let wires = wires_of("sample", wires)?;
    let shots = count_of("shots", shots)?;
    let seed: u64 = seed
        .extract::<i128>()
        .ok()
        .and_then(|s| u64::try_from(s).ok())
        .ok_or_else(|| {
            PyValueError::new_err(format!("seed must be an integer in [0, 2**64), got {seed}"))
        })?;
    let c = Call::parse(&tape, theta, &[], engine)?;
    let (b, th) = (c.theta.batch, c.theta.data());
    let k = wires.len();
    compute!(
        py,
        c,
        init_state,
        None,
        1,
        |prog, init, o| measure::sample(prog, th, b, &wires, shots, seed, init, o),
        |v| Ok(PyArray1::from_vec(py, v)
            .reshape([b, shots, k])?
            .into_any()
            .unbind())
    )
}

/// Adjoint Jacobian ∂⟨O_m⟩/∂θ_p: [B, M, P].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, init_state=None, engine=None))]
fn jacobian<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    observables: Vec<PyRef<'py, PyObservable>>,
    init_state: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let c = Call::parse(&tape, theta, &observables, engine)?;
    let (b, th, obs) = (c.theta.batch, c.theta.data(), &c.obs[..]);
    let p = c.compiled.tape().n_params;
    compute!(
        py,
        c,
        init_state,
        None,
        2 + obs.len(),
        |prog, init, o| adjoint::jacobian(prog, th, b, obs, init, o),
        |v| real_out(py, v, &[b, obs.len(), p], c.theta.single)
    )
}

/// Adjoint VJP Σ_m g[b,m] ∂⟨O_m⟩/∂θ_p in one backward sweep: [B, P].
#[pyfunction]
#[pyo3(signature = (tape, theta, observables, grad_out, init_state=None, final_states=None, engine=None))]
#[allow(clippy::too_many_arguments)] // mirrors the Python signature
fn vjp<'py>(
    py: Python<'py>,
    tape: PyRef<'py, PyTape>,
    theta: &Bound<'py, PyAny>,
    observables: Vec<PyRef<'py, PyObservable>>,
    grad_out: &Bound<'py, PyAny>,
    init_state: Option<&Bound<'py, PyAny>>,
    final_states: Option<&Bound<'py, PyAny>>,
    engine: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let c = Call::parse(&tape, theta, &observables, engine)?;
    // rows first, then width, each with its own message
    let g = reals_2d(grad_out, "grad_out", None, None)?;
    if g.batch != c.theta.batch {
        return Err(crate::errors::shape(format!(
            "grad_out has {} rows but theta has {} (one row of cotangents per sample)",
            g.batch, c.theta.batch
        )));
    }
    let g = reals_2d(grad_out, "grad_out", Some(c.theta.batch), Some(c.obs.len()))?;
    let (b, th, gd, obs) = (c.theta.batch, c.theta.data(), g.data(), &c.obs[..]);
    let p = c.compiled.tape().n_params;
    compute!(
        py,
        c,
        init_state,
        final_states,
        3,
        |prog, init, o| adjoint::vjp(prog, th, b, obs, gd, init, o),
        |v| real_out(py, v, &[b, p], c.theta.single)
    )
}

/// Threads used by the compute pool (RAYON_NUM_THREADS or all cores by default).
#[pyfunction]
fn get_num_threads() -> usize {
    pool::num_threads()
}

/// Set the compute pool's thread count; 0 restores the default.
#[pyfunction]
fn set_num_threads(n: &Bound<'_, PyAny>) -> PyResult<()> {
    pool::set_num_threads(count_of("number of threads", n)?);
    Ok(())
}

/// Turn gate fusion on or off by default; `tile_qubits` > 0 forces the tile size (0:
/// automatic); `block_bits` sets the register blocks inside tiles (0: none; None: the
/// default). A call's `engine=` overrides the default.
#[pyfunction]
#[pyo3(signature = (enabled, tile_qubits = 0, block_bits = None))]
fn set_fusion(enabled: bool, tile_qubits: i64, block_bits: Option<i64>) -> PyResult<()> {
    let max_block = regblock::MAX_BLOCK_BITS;
    let block_bits = block_bits.unwrap_or(fusion::DEFAULT_BLOCK_BITS as i64);
    let blocks = u32::try_from(block_bits)
        .ok()
        .filter(|&k| k <= max_block)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "block_bits must be between 0 (no blocks) and {max_block}, got {block_bits}"
            ))
        })?;
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
    fusion::set_block_bits(blocks);
    Ok(())
}

/// Whether gate fusion is on by default.
#[pyfunction]
fn fusion_enabled() -> bool {
    fusion::enabled()
}

/// Turn the batch-lane engine (small registers, batch >= 4) on or off by default. A call's
/// `engine=` overrides the default.
#[pyfunction]
fn set_batch_lanes(enabled: bool) {
    qoxide_core::engine::lanes::set_enabled(enabled)
}

/// Whether the batch-lane engine is on by default.
#[pyfunction]
fn batch_lanes_enabled() -> bool {
    qoxide_core::engine::lanes::enabled()
}

/// The engine the planner picks for `batch` samples of `tape` at this precision.
#[pyfunction]
#[pyo3(signature = (tape, batch, single=false))]
fn planned_engine(tape: PyRef<'_, PyTape>, batch: usize, single: bool) -> PyResult<&'static str> {
    let c = tape.compiled();
    let opts = qoxide_core::Options::default();
    let e = by_precision!(single, T => {
        qoxide_core::engine::choose(c.program::<T>(), batch, &opts)
    });
    e.map(|e| e.name()).map_err(crate::errors::to_py)
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
    m.add_function(wrap_pyfunction!(planned_engine, m)?)?;
    Ok(())
}
