//! `Circuit`: a tape with the observables of its expval measurements and its affine theta
//! map, for eager calls from torch on small circuits, where per-call overhead is the cost:
//! ONE native call forward (theta from the inputs and weights, the expvals, the final
//! states kept here rather than handed to Python) and ONE back (the adjoint VJP from the
//! kept states, pulled back through the map to ∂L/∂x and ∂L/∂w).

use crate::call::{reals_1d, reals_2d, Start};
use crate::compute::real_out;
use crate::errors::{run, shape, type_err};
use crate::observable::PyObservable;
use crate::tape::PyTape;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use qoxide_core::{adjoint, measure, Compiled, Init, Obs, Options, Precision, C};
use std::sync::Arc;

/// theta[B, P] from inputs x[B, F] and flat weights w[W] (the recording's theta map).
enum Map {
    /// Every angle is one input or weight: theta[:, j] = [x, w][:, cols[j]]; `inputs`
    /// the (column, input) pairs among them, worked out once for every call.
    Gather {
        cols: Vec<usize>,
        inputs: Vec<(usize, usize)>,
    },
    /// theta = x a_in + (w a_w + c); a_in [F, P] and a_w [W, P] row-major.
    Affine {
        a_in: Vec<f64>,
        a_w: Vec<f64>,
        c: Vec<f64>,
    },
}

impl Map {
    /// The gather map of `cols` (indices into [x, w], `n_in` inputs first).
    fn gather(cols: Vec<usize>, n_in: usize) -> Map {
        let inputs = (cols.iter().enumerate())
            .filter(|&(_, &k)| k < n_in)
            .map(|(j, &k)| (j, k))
            .collect();
        Map::Gather { cols, inputs }
    }
}

/// Final states of a forward, in its precision.
enum States {
    Double(Vec<C<f64>>),
    Single(Vec<C<f32>>),
}

/// Moves a precision's final states in and out of `States`.
trait Keep: Precision + numpy::Element
where
    C<Self>: numpy::Element,
{
    fn keep(v: Vec<C<Self>>) -> States;
    fn kept(s: &States) -> Option<&[C<Self>]>;
}

impl Keep for f64 {
    fn keep(v: Vec<C<f64>>) -> States {
        States::Double(v)
    }
    fn kept(s: &States) -> Option<&[C<f64>]> {
        match s {
            States::Double(v) => Some(v),
            States::Single(_) => None,
        }
    }
}

impl Keep for f32 {
    fn keep(v: Vec<C<f32>>) -> States {
        States::Single(v)
    }
    fn kept(s: &States) -> Option<&[C<f32>]> {
        match s {
            States::Single(v) => Some(v),
            States::Double(_) => None,
        }
    }
}

/// (∂L/∂x, ∂L/∂w) as arrays, each None when not asked for (or empty).
type Grads = (Option<Py<PyAny>>, Option<Py<PyAny>>);

/// What a forward leaves for its backward: theta and (when asked) the final states.
#[pyclass(name = "Saved", module = "qoxide._core", frozen)]
pub struct Saved {
    compiled: Arc<Compiled>,
    theta: Vec<f64>,
    batch: usize,
    single: bool,
    states: Option<States>,
}

#[pyclass(name = "Circuit", module = "qoxide._core", frozen)]
pub struct PyCircuit {
    compiled: Arc<Compiled>,
    obs: Vec<Obs>,
    n_in: usize,
    n_w: usize,
    map: Map,
}

impl PyCircuit {
    /// P: theta's width.
    fn width(&self) -> usize {
        self.compiled.tape().n_params
    }

    /// Amplitude updates of `passes` sweeps over `batch` states (for the Ctrl-C watch).
    fn work(&self, batch: usize, passes: usize) -> u128 {
        let t = self.compiled.tape();
        ((batch as u128) << t.n_qubits) * (t.ops.len() as u128 + 1) * passes as u128
    }

    /// theta [B, P]; rounded to f32 for a single-precision call, as torch's map gives it.
    /// Each row starts as a copy of the part shared by all rows (no zero-filled [B, P]
    /// first: at batch 4096 the memsets of theta and of the gradients took 12% of the
    /// calling thread's time in a training step).
    fn theta(&self, x: &[f64], w: &[f64], batch: usize, single: bool) -> Vec<f64> {
        let (f, p) = (self.n_in, self.width());
        // the part of a row that is the same in every row: all but the inputs' terms (a
        // layer's theta is mostly weights)
        let shared: Vec<f64> = match &self.map {
            Map::Gather { cols, .. } => cols
                .iter()
                .map(|&k| if k < f { 0.0 } else { w[k - f] })
                .collect(),
            Map::Affine { a_w, c, .. } => {
                let mut shift = c.clone();
                for (&wk, a) in w.iter().zip(a_w.chunks_exact(p.max(1))) {
                    shift.iter_mut().zip(a).for_each(|(s, &a)| *s += wk * a);
                }
                shift
            }
        };
        let mut theta = Vec::with_capacity(batch * p);
        for xr in (0..batch).map(|b| &x[b * f..(b + 1) * f]) {
            let at = theta.len();
            theta.extend_from_slice(&shared);
            let row = &mut theta[at..];
            match &self.map {
                Map::Gather { inputs, .. } => {
                    for &(j, k) in inputs {
                        row[j] = xr[k];
                    }
                }
                Map::Affine { a_in, .. } => {
                    for (&xf, a) in xr.iter().zip(a_in.chunks_exact(p.max(1))) {
                        row.iter_mut().zip(a).for_each(|(t, &a)| *t += xf * a);
                    }
                }
            }
        }
        if single {
            theta.iter_mut().for_each(|t| *t = *t as f32 as f64);
        }
        theta
    }

    /// (∂L/∂x [B, F], ∂L/∂w [W]) from ∂L/∂theta [B, P]; None where not needed or empty.
    fn pull(
        &self,
        gt: &[f64],
        batch: usize,
        need_x: bool,
        need_w: bool,
    ) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
        let (f, p) = (self.n_in, self.width());
        let mut gx = (need_x && f > 0).then(|| vec![0.0; batch * f]);
        let mut gw = (need_w && self.n_w > 0).then(|| vec![0.0; self.n_w]);
        if p == 0 {
            return (gx, gw);
        }
        let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
        // one pass over the rows of ∂L/∂theta (just written by the pool's threads, so
        // mostly cache misses here): each row's part of gx, and the row into column sums
        // (vectorised), from which gw follows since w enters every row alike
        let mut col = vec![0.0; p];
        for (b, row) in gt.chunks_exact(p).enumerate() {
            if let Some(gx) = gx.as_mut() {
                let out = &mut gx[b * f..(b + 1) * f];
                match &self.map {
                    Map::Gather { inputs, .. } => {
                        for &(j, k) in inputs {
                            out[k] += row[j];
                        }
                    }
                    Map::Affine { a_in, .. } => {
                        for (o, a) in out.iter_mut().zip(a_in.chunks_exact(p)) {
                            *o = dot(row, a);
                        }
                    }
                }
            }
            if gw.is_some() {
                col.iter_mut().zip(row).for_each(|(c, &v)| *c += v);
            }
        }
        if let Some(gw) = gw.as_mut() {
            match &self.map {
                Map::Gather { cols, .. } => {
                    for (&c, &k) in col.iter().zip(cols) {
                        if k >= f {
                            gw[k - f] += c;
                        }
                    }
                }
                Map::Affine { a_w, .. } => {
                    for (o, a) in gw.iter_mut().zip(a_w.chunks_exact(p)) {
                        *o = dot(&col, a);
                    }
                }
            }
        }
        (gx, gw)
    }

    fn forward_in<'py, T: Keep>(
        &self,
        py: Python<'py>,
        theta: Vec<f64>,
        batch: usize,
        init_state: Option<&Bound<'py, PyAny>>,
        save: bool,
        keep_states: bool,
    ) -> PyResult<(Py<PyAny>, Option<Saved>)>
    where
        C<T>: numpy::Element,
    {
        let start = Start::<T>::parse(init_state, None)?;
        let (prog, init, obs) = (self.compiled.program::<T>(), start.as_init(), &self.obs[..]);
        let th = &theta[..];
        let (values, states) = run(py, self.work(batch, 1), Options::default(), |o| {
            if keep_states {
                measure::expval_and_state(prog, th, batch, obs, init, o).map(|(v, s)| (v, Some(s)))
            } else {
                measure::expval(prog, th, batch, obs, init, o).map(|v| (v, None))
            }
        })?;
        let single = std::mem::size_of::<T>() == 4;
        let out = real_out(py, values, &[batch, obs.len()], single)?;
        let saved = save.then(|| Saved {
            compiled: self.compiled.clone(),
            theta,
            batch,
            single,
            states: states.map(T::keep),
        });
        Ok((out, saved))
    }

    fn vjp_in<'py, T: Keep>(
        &self,
        py: Python<'py>,
        saved: &Saved,
        g: &[f64],
        init_state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Vec<f64>>
    where
        C<T>: numpy::Element,
    {
        let start = Start::<T>::parse(init_state, None)?;
        let init = match saved.states.as_ref().and_then(T::kept) {
            Some(states) => Init::Final(states),
            None => start.as_init(),
        };
        let (prog, obs, th, b) = (
            self.compiled.program::<T>(),
            &self.obs[..],
            &saved.theta[..],
            saved.batch,
        );
        run(py, self.work(b, 3), Options::default(), |o| {
            adjoint::vjp(prog, th, b, obs, g, init, o)
        })
    }
}

#[pymethods]
impl PyCircuit {
    /// `tape` with the `observables` of its expvals and the theta map: `a_in` [F, P],
    /// `a_w` [W, P] and `const` [P] (theta = x a_in + w a_w + const), or `gather` [P]
    /// (theta[:, j] = [x, w][:, gather[j]]) when every angle is one input or weight.
    #[new]
    #[pyo3(signature = (tape, observables, a_in, a_w, r#const, gather=None))]
    fn new(
        tape: PyRef<'_, PyTape>,
        observables: Vec<PyRef<'_, PyObservable>>,
        a_in: PyReadonlyArray2<'_, f64>,
        a_w: PyReadonlyArray2<'_, f64>,
        r#const: PyReadonlyArray1<'_, f64>,
        gather: Option<PyReadonlyArray1<'_, i64>>,
    ) -> PyResult<Self> {
        let compiled = tape.compiled();
        let p = compiled.tape().n_params;
        let (n_in, n_w) = (a_in.shape()[0], a_w.shape()[0]);
        if a_in.shape()[1] != p || a_w.shape()[1] != p || r#const.len() != p {
            return Err(shape(format!(
                "the theta map must have {p} columns (the tape's parameters): got a_in {:?}, \
                 a_w {:?}, const {:?}",
                a_in.shape(),
                a_w.shape(),
                r#const.shape()
            )));
        }
        let map = match gather {
            Some(g) => Map::gather(
                g.as_array()
                    .iter()
                    .map(|&k| usize::try_from(k).ok().filter(|&k| k < n_in + n_w))
                    .collect::<Option<Vec<_>>>()
                    .filter(|g| g.len() == p)
                    .ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "gather must hold {p} indices in [0, {}), got {:?}",
                            n_in + n_w,
                            g.as_array()
                        ))
                    })?,
                n_in,
            ),
            None => Map::Affine {
                a_in: a_in.as_array().iter().copied().collect(),
                a_w: a_w.as_array().iter().copied().collect(),
                c: r#const.as_array().to_vec(),
            },
        };
        Ok(PyCircuit {
            compiled,
            obs: observables.iter().map(|o| o.inner.clone()).collect(),
            n_in,
            n_w,
            map,
        })
    }

    /// Expvals [B, M] at inputs `x` [B, F] and flat weights `w` [W] (float64 runs
    /// complex128, float32 complex64; None when F or W is 0), and with `save` what the
    /// backward needs (theta, and the final states when `keep_states`), else None.
    #[pyo3(signature = (x, w, batch, save=false, keep_states=false, init_state=None))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: Option<&Bound<'py, PyAny>>,
        w: Option<&Bound<'py, PyAny>>,
        batch: usize,
        save: bool,
        keep_states: bool,
        init_state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Py<PyAny>, Option<Saved>)> {
        if batch == 0 {
            return Err(shape(
                "batch size must be at least 1: the inputs have 0 rows".to_string(),
            ));
        }
        let x = x
            .map(|x| reals_2d(x, "x", Some(batch), Some(self.n_in)))
            .transpose()?;
        let w = w.map(|w| reals_1d(w, "w", self.n_w)).transpose()?;
        let missing =
            |what: &str, n: usize| shape(format!("{what} is None but the circuit has {n} of them"));
        if x.is_none() && self.n_in > 0 {
            return Err(missing("x (inputs)", self.n_in));
        }
        if w.is_none() && self.n_w > 0 {
            return Err(missing("w (weights)", self.n_w));
        }
        let single = match (x.as_ref().map(|t| t.single), w.as_ref().map(|t| t.single)) {
            (Some(a), Some(b)) if a != b => {
                return Err(type_err(
                    "x and w must have the same dtype (float32 or float64)".to_string(),
                ))
            }
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => false,
        };
        let theta = self.theta(
            x.as_ref().map_or(&[][..], |t| t.data()),
            w.as_ref().map_or(&[][..], |t| t.data()),
            batch,
            single,
        );
        if single {
            self.forward_in::<f32>(py, theta, batch, init_state, save, keep_states)
        } else {
            self.forward_in::<f64>(py, theta, batch, init_state, save, keep_states)
        }
    }

    /// (∂L/∂x [B, F] or None, ∂L/∂w [W] or None) from ∂L/∂expvals `grad_out` [B, M], by
    /// one adjoint sweep from the saved final states (or from `init_state` when none were
    /// kept), in the forward's precision.
    #[pyo3(signature = (saved, grad_out, need_x=true, need_w=true, init_state=None))]
    fn backward<'py>(
        &self,
        py: Python<'py>,
        saved: PyRef<'py, Saved>,
        grad_out: &Bound<'py, PyAny>,
        need_x: bool,
        need_w: bool,
        init_state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Grads> {
        if !Arc::ptr_eq(&saved.compiled, &self.compiled) {
            return Err(PyValueError::new_err(
                "saved comes from a forward of another circuit",
            ));
        }
        let b = saved.batch;
        let g = reals_2d(grad_out, "grad_out", Some(b), Some(self.obs.len()))?;
        let gt = if saved.single {
            self.vjp_in::<f32>(py, &saved, g.data(), init_state)?
        } else {
            self.vjp_in::<f64>(py, &saved, g.data(), init_state)?
        };
        let (gx, gw) = self.pull(&gt, b, need_x, need_w);
        let out = |v: Option<Vec<f64>>, shape: &[usize]| {
            v.map(|v| real_out(py, v, shape, saved.single)).transpose()
        };
        Ok((out(gx, &[b, self.n_in])?, out(gw, &[self.n_w])?))
    }

    #[getter]
    fn n_inputs(&self) -> usize {
        self.n_in
    }

    #[getter]
    fn n_weights(&self) -> usize {
        self.n_w
    }

    #[getter]
    fn n_params(&self) -> usize {
        self.width()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCircuit>()?;
    m.add_class::<Saved>()?;
    Ok(())
}
