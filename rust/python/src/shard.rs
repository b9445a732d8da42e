//! `ShardPlan`: the sharded schedule of a tape (qoxide_core::shard) and one rank's local
//! work on its shards. Communication is Python's (torch.distributed); nothing here talks
//! to other processes.

use crate::errors::{detached, to_py};
use crate::observable::PyObservable;
use crate::tape::PyTape;
use num_complex::Complex;
use numpy::{
    PyArray1, PyArrayMethods, PyReadonlyArray2, PyReadwriteArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use qoxide_core::shard::exec::RankView;
use qoxide_core::shard::{self, virtual_ranks, Schedule, Step};
use qoxide_core::{Obs, Observable, Real, Tape};

#[pyclass(name = "ShardPlan", module = "qoxide._core", frozen)]
pub struct PyShardPlan {
    tape: Tape,
    obs: Vec<Obs>,
    sched: Schedule,
}

fn pauli_only(o: &Observable) -> bool {
    match o {
        Observable::Pauli(_) => true,
        Observable::Sum(t) => t.iter().all(|(_, o)| pauli_only(o)),
        _ => false,
    }
}

/// A writable complex array (complex128 or complex64) whose last axis is a shard.
enum Shards<'py> {
    D(PyReadwriteArrayDyn<'py, Complex<f64>>),
    S(PyReadwriteArrayDyn<'py, Complex<f32>>),
}

fn shards_of<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Shards<'py>> {
    let err = || {
        PyTypeError::new_err(format!(
            "{what} must be a writable C-contiguous numpy array of dtype complex128 or complex64"
        ))
    };
    let s = if let Ok(a) = obj.extract::<PyReadwriteArrayDyn<'py, Complex<f64>>>() {
        Shards::D(a)
    } else if let Ok(a) = obj.extract::<PyReadwriteArrayDyn<'py, Complex<f32>>>() {
        Shards::S(a)
    } else {
        return Err(err());
    };
    let contiguous = match &s {
        Shards::D(a) => a.is_c_contiguous(),
        Shards::S(a) => a.is_c_contiguous(),
    };
    if !contiguous {
        return Err(err());
    }
    Ok(s)
}

/// Run `$body` with `$v: &mut [Complex<T>]` and `T` bound to the array's precision.
macro_rules! with_shards {
    ($s:expr, $v:ident, $T:ident => $body:expr) => {
        match $s {
            Shards::D(mut a) => {
                type $T = f64;
                let $v = a.as_slice_mut().expect("contiguous");
                $body
            }
            Shards::S(mut a) => {
                type $T = f32;
                let $v = a.as_slice_mut().expect("contiguous");
                $body
            }
        }
    };
}

fn shape_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    obj.getattr("shape")?.extract()
}

impl PyShardPlan {
    fn view(&self, rank: usize) -> PyResult<RankView<'_>> {
        RankView::new(&self.tape, &self.sched, rank).map_err(to_py)
    }

    fn local_len(&self) -> usize {
        1usize << self.sched.local_qubits()
    }

    fn theta<'a>(&self, theta: &'a PyReadonlyArray2<'_, f64>, batch: usize) -> PyResult<&'a [f64]> {
        let sh = theta.shape();
        if sh[0] != batch || sh[1] != self.tape.n_params {
            return Err(PyValueError::new_err(format!(
                "theta must have shape [{batch}, {}], got {sh:?}",
                self.tape.n_params
            )));
        }
        theta
            .as_slice()
            .map_err(|_| PyValueError::new_err("theta must be C-contiguous"))
    }

    fn segment(&self, step: usize) -> PyResult<()> {
        match self.sched.steps.get(step) {
            Some(Step::Segment { .. }) => Ok(()),
            _ => Err(PyValueError::new_err(format!(
                "step {step} is not a segment"
            ))),
        }
    }

    fn swap(&self, step: usize) -> PyResult<&shard::Swap> {
        match self.sched.steps.get(step) {
            Some(Step::Swap(s)) => Ok(s),
            _ => Err(PyValueError::new_err(format!("step {step} is not a swap"))),
        }
    }

    /// [.., 2^L] shape check: returns the number of shards.
    fn rows(&self, shape: &[usize], what: &str) -> PyResult<usize> {
        match shape.last() {
            Some(&d) if d == self.local_len() => Ok(shape[..shape.len() - 1].iter().product()),
            _ => Err(PyValueError::new_err(format!(
                "{what}: the last axis must be a shard of 2^{} = {} amplitudes, got shape {shape:?}",
                self.sched.local_qubits(),
                self.local_len()
            ))),
        }
    }
}

fn per_row<T: Real>(
    v: &[Complex<T>],
    len: usize,
    mut f: impl FnMut(&[Complex<T>]) -> qoxide_core::Result<Vec<f64>>,
) -> qoxide_core::Result<Vec<f64>> {
    let mut out = Vec::new();
    for s in v.chunks_exact(len) {
        out.extend(f(s)?);
    }
    Ok(out)
}

fn real_out(py: Python<'_>, v: Vec<f64>, shape: &[usize]) -> PyResult<Py<PyAny>> {
    Ok(PyArray1::from_vec(py, v)
        .reshape(shape)?
        .into_any()
        .unbind())
}

#[pymethods]
impl PyShardPlan {
    /// The schedule of `tape` on 2^k ranks. `observables` (Pauli words and sums) are
    /// measured at the end: their X/Y wires are swapped in. `naive`: swap-in-and-back per
    /// op (for comparison).
    #[new]
    #[pyo3(signature = (tape, k, observables=Vec::new(), naive=false))]
    fn new(
        tape: PyRef<'_, PyTape>,
        k: usize,
        observables: Vec<PyRef<'_, PyObservable>>,
        naive: bool,
    ) -> PyResult<Self> {
        let tape = tape.compiled().tape().clone();
        let obs: Vec<Obs> = observables.iter().map(|o| o.inner.clone()).collect();
        if obs.iter().any(|o| !pauli_only(&o.op)) {
            return Err(PyNotImplementedError::new_err(
                "sharded execution measures Pauli words and sums of them; Hermitian and \
                 Projector observables are not implemented sharded",
            ));
        }
        if obs.iter().any(|o| o.n_qubits != tape.n_qubits) {
            return Err(PyValueError::new_err(
                "observables must be built for the tape's number of qubits",
            ));
        }
        let fin = shard::observable_wires(&obs).map_err(to_py)?;
        let sched = if naive {
            Schedule::naive(&tape, k, &fin)
        } else {
            Schedule::build(&tape, k, &fin)
        }
        .map_err(to_py)?;
        Ok(PyShardPlan { tape, obs, sched })
    }

    #[getter]
    fn n_qubits(&self) -> usize {
        self.sched.n_qubits
    }
    #[getter]
    fn k(&self) -> usize {
        self.sched.k
    }
    #[getter]
    fn n_ranks(&self) -> usize {
        self.sched.n_ranks()
    }
    #[getter]
    fn local_qubits(&self) -> usize {
        self.sched.local_qubits()
    }
    #[getter]
    fn n_params(&self) -> usize {
        self.tape.n_params
    }
    #[getter]
    fn n_observables(&self) -> usize {
        self.obs.len()
    }
    #[getter]
    fn n_swaps(&self) -> usize {
        self.sched.n_swaps()
    }
    #[getter]
    fn n_local_transpositions(&self) -> usize {
        self.sched.n_local_transpositions()
    }
    /// Amplitudes one rank sends over all swaps, per state.
    #[getter]
    fn amps_sent_per_rank(&self) -> u128 {
        self.sched.amps_sent_per_rank()
    }
    /// Logical wire → physical bit at the start / at the end.
    #[getter]
    fn initial_map(&self) -> Vec<u32> {
        self.sched.initial_map.clone()
    }
    #[getter]
    fn final_map(&self) -> Vec<u32> {
        self.sched.final_map.clone()
    }

    /// The steps: ("segment", op indices in run order) or ("swap", global_bits, pre, post).
    fn steps(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        self.sched
            .steps
            .iter()
            .map(|s| {
                Ok(match s {
                    Step::Segment { ops, .. } => ("segment", ops.clone())
                        .into_pyobject(py)?
                        .into_any()
                        .unbind(),
                    Step::Swap(w) => ("swap", w.global.clone(), w.pre.clone(), w.post.clone())
                        .into_pyobject(py)?
                        .into_any()
                        .unbind(),
                })
            })
            .collect()
    }

    /// Collectives of one swap of `m` bits with the extra buffer capped at `fraction` of
    /// the shard.
    fn rounds(&self, m: usize, fraction: f64) -> PyResult<usize> {
        if m == 0 || m > self.sched.k || fraction.is_nan() || fraction <= 0.0 {
            return Err(PyValueError::new_err(format!(
                "rounds: need 1 <= m <= k = {} and fraction > 0, got m={m}, fraction={fraction}",
                self.sched.k
            )));
        }
        Ok(self.sched.rounds(m, fraction))
    }

    fn n_collectives(&self, fraction: f64) -> PyResult<usize> {
        if fraction.is_nan() || fraction <= 0.0 {
            return Err(PyValueError::new_err("fraction must be > 0"));
        }
        Ok(self.sched.n_collectives(fraction))
    }

    /// For swap step `step` on `rank`: the destination rank of each chunk a (a = 0..2^m)
    /// and the chunk index at which this rank's data lands on its partners.
    fn route(&self, step: usize, rank: usize) -> PyResult<(Vec<usize>, usize)> {
        let sw = self.swap(step)?;
        if rank >= self.sched.n_ranks() {
            return Err(PyValueError::new_err(format!("rank {rank} out of range")));
        }
        let l = self.sched.local_qubits() as u32;
        let dests = (0..1usize << sw.m())
            .map(|a| virtual_ranks::route(sw, l, rank, a).0)
            .collect();
        Ok((dests, virtual_ranks::route(sw, l, rank, 0).1))
    }

    /// Segment `step` on rank `rank`: shards [B, 2^L] (in place) with theta [B, P].
    fn forward_segment(
        &self,
        py: Python<'_>,
        step: usize,
        rank: usize,
        theta: PyReadonlyArray2<'_, f64>,
        shards: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.segment(step)?;
        let shape = shape_of(shards)?;
        let b = self.rows(&shape, "forward_segment")?;
        if shape.len() != 2 {
            return Err(PyValueError::new_err(
                "forward_segment: shards must be [B, 2^L]",
            ));
        }
        let th = self.theta(&theta, b)?;
        let view = self.view(rank)?;
        let len = self.local_len();
        let p = self.tape.n_params;
        with_shards!(shards_of(shards, "shards")?, v, T => detached(py, || {
            for (r, s) in v.chunks_exact_mut(len).enumerate() {
                view.forward_segment::<T>(step, &th[r * p..(r + 1) * p], s)?;
            }
            Ok(())
        }))
    }

    /// The backward sweep of segment `step` on rank `rank`: buf [B, S, 2^L] holds φ (s=0)
    /// and S-1 λ's, updated in place; grads [B, S-1, P] float64 accumulated in place.
    fn backward_segment(
        &self,
        py: Python<'_>,
        step: usize,
        rank: usize,
        theta: PyReadonlyArray2<'_, f64>,
        buf: &Bound<'_, PyAny>,
        mut grads: PyReadwriteArrayDyn<'_, f64>,
    ) -> PyResult<()> {
        self.segment(step)?;
        let shape = shape_of(buf)?;
        self.rows(&shape, "backward_segment")?;
        if shape.len() != 3 || shape[1] < 2 {
            return Err(PyValueError::new_err(
                "backward_segment: buf must be [B, 1 + n_lambda, 2^L]",
            ));
        }
        let (b, s) = (shape[0], shape[1]);
        let p = self.tape.n_params;
        if grads.shape() != [b, s - 1, p] {
            return Err(PyValueError::new_err(format!(
                "backward_segment: grads must be [{b}, {}, {p}] float64, got {:?}",
                s - 1,
                grads.shape()
            )));
        }
        let th = self.theta(&theta, b)?;
        let view = self.view(rank)?;
        let len = self.local_len();
        let g = grads
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("grads must be C-contiguous"))?;
        with_shards!(shards_of(buf, "buf")?, v, T => detached(py, || {
            for (r, (blk, gr)) in v
                .chunks_exact_mut(s * len)
                .zip(g.chunks_exact_mut((s - 1) * p))
                .enumerate()
            {
                let (phi, rest) = blk.split_at_mut(len);
                let mut lams: Vec<&mut [Complex<T>]> = rest.chunks_exact_mut(len).collect();
                view.backward_segment::<T>(step, &th[r * p..(r + 1) * p], phi, &mut lams, gr)?;
            }
            Ok(())
        }))
    }

    /// The local bit transpositions of swap `step` on every shard of `buf` [.., 2^L]:
    /// those before the exchange (`before_exchange`) or after it; `undo` for the backward
    /// replay.
    fn transpose(
        &self,
        py: Python<'_>,
        step: usize,
        before_exchange: bool,
        undo: bool,
        buf: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let sw = self.swap(step)?.clone();
        let shape = shape_of(buf)?;
        self.rows(&shape, "transpose")?;
        let len = self.local_len();
        with_shards!(shards_of(buf, "buf")?, v, T => detached(py, || {
            for s in v.chunks_exact_mut(len) {
                RankView::transpose::<T>(&sw, before_exchange, undo, s);
            }
            Ok(())
        }))
    }

    /// This rank's part of ⟨O_m⟩ for shards [B, 2^L] under the final map: [B, M] float64.
    fn expval_partial(
        &self,
        py: Python<'_>,
        rank: usize,
        shards: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let shape = shape_of(shards)?;
        let b = self.rows(&shape, "expval_partial")?;
        let view = self.view(rank)?;
        let len = self.local_len();
        let obs = &self.obs;
        let out = with_shards!(shards_of(shards, "shards")?, v, T => detached(py, || {
            per_row::<T>(v, len, |s| view.expval_partial(s, obs))
        }))?;
        real_out(py, out, &[b, obs.len()])
    }

    /// This rank's part of the probabilities of `wires`: [B, 2^len(wires)] float64.
    fn probs_partial(
        &self,
        py: Python<'_>,
        rank: usize,
        shards: &Bound<'_, PyAny>,
        wires: Vec<i64>,
    ) -> PyResult<Py<PyAny>> {
        let wires = crate::call::wires_of("probs", wires)?;
        let shape = shape_of(shards)?;
        let b = self.rows(&shape, "probs_partial")?;
        let view = self.view(rank)?;
        let len = self.local_len();
        let nw = wires.len();
        let out = with_shards!(shards_of(shards, "shards")?, v, T => detached(py, || {
            per_row::<T>(v, len, |s| view.probs_partial(s, &wires))
        }))?;
        real_out(py, out, &[b, 1usize << nw])
    }

    /// λ = Σ_m g[b, j, m] O_m |φ_b⟩ into buf[b, 1 + j] for each sample b and set j, from
    /// buf[b, 0] = φ_b (the final shards): buf [B, 1 + J, 2^L], g [B, J, M] float64.
    fn start_adjoint(
        &self,
        py: Python<'_>,
        rank: usize,
        buf: &Bound<'_, PyAny>,
        g: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<()> {
        let shape = shape_of(buf)?;
        self.rows(&shape, "start_adjoint")?;
        let m = self.obs.len();
        if shape.len() != 3 || shape[1] < 2 {
            return Err(PyValueError::new_err(
                "start_adjoint: buf must be [B, 1 + J, 2^L]",
            ));
        }
        let (b, s) = (shape[0], shape[1]);
        if g.shape() != [b * (s - 1), m] {
            return Err(PyValueError::new_err(format!(
                "start_adjoint: g must be [B * J, M] = [{}, {m}], got {:?}",
                b * (s - 1),
                g.shape()
            )));
        }
        let gv = g
            .as_slice()
            .map_err(|_| PyValueError::new_err("g must be C-contiguous"))?;
        let view = self.view(rank)?;
        let len = self.local_len();
        let obs = &self.obs;
        with_shards!(shards_of(buf, "buf")?, v, T => detached(py, || {
            for (blk, gb) in v.chunks_exact_mut(s * len).zip(gv.chunks_exact((s - 1) * m)) {
                let (phi, rest) = blk.split_at_mut(len);
                for (lam, gj) in rest.chunks_exact_mut(len).zip(gb.chunks_exact(m)) {
                    lam.iter_mut().for_each(|x| *x = Complex::new(T::of(0.0), T::of(0.0)));
                    view.apply_observables(phi, obs, gj, lam)?;
                }
            }
            Ok(())
        }))
    }

    fn __repr__(&self) -> String {
        format!(
            "ShardPlan(n_qubits={}, k={}, swaps={}, amps_sent_per_rank={})",
            self.sched.n_qubits,
            self.sched.k,
            self.sched.n_swaps(),
            self.sched.amps_sent_per_rank()
        )
    }
}

/// Schedule counts of the layered RX/RY/RZ + CNOT-ring circuit on 2^k ranks, without
/// running it (any register size up to 63 qubits: nothing is allocated): a dict with
/// swaps, the bits m of each swap, amplitudes sent per rank, local transpositions, for
/// the look-ahead schedule or (`naive`) swap-in-and-back.
#[pyfunction]
#[pyo3(signature = (n_qubits, layers, k, naive=false))]
fn layered_schedule(
    py: Python<'_>,
    n_qubits: usize,
    layers: usize,
    k: usize,
    naive: bool,
) -> PyResult<Py<PyAny>> {
    if !(2..=63).contains(&n_qubits) || layers == 0 {
        return Err(PyValueError::new_err(format!(
            "layered_schedule: need 2 <= n_qubits <= 63 and layers >= 1, got {n_qubits}, {layers}"
        )));
    }
    let sched = detached(py, || {
        let tape = shard::layered_tape(n_qubits, layers);
        if naive {
            Schedule::naive(&tape, k, &[])
        } else {
            Schedule::build(&tape, k, &[])
        }
    })?;
    let d = pyo3::types::PyDict::new(py);
    d.set_item("n_qubits", n_qubits)?;
    d.set_item("k", k)?;
    d.set_item("layers", layers)?;
    d.set_item("swaps", sched.n_swaps())?;
    d.set_item(
        "swap_bits",
        sched.swaps().map(|s| s.m()).collect::<Vec<_>>(),
    )?;
    d.set_item("amps_sent_per_rank", sched.amps_sent_per_rank())?;
    d.set_item("local_transpositions", sched.n_local_transpositions())?;
    Ok(d.into_any().unbind())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyShardPlan>()?;
    m.add_function(wrap_pyfunction!(layered_schedule, m)?)
}
