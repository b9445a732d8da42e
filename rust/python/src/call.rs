//! Arguments of the compute entry points, parsed once into one typed call: the compiled
//! tape, theta (borrowed when it is a C-contiguous float64 array), the observables, the
//! initial or final states (borrowed when contiguous) and the engine options. Every
//! message names the argument, what was given and what is accepted.

use crate::errors::{shape, type_err};
use crate::observable::PyObservable;
use crate::tape::PyTape;
use num_complex::Complex;
use numpy::ndarray::{ArrayViewD, Axis, Ix2};
use numpy::{
    Element, PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use qoxide_core::{Compiled, Engine, Init, Obs, Options, Real};
use std::sync::Arc;

/// Wire lists from Python ints: a negative wire is a ValueError, not an OverflowError.
pub fn wires_of(what: &str, wires: Vec<i64>) -> PyResult<Vec<usize>> {
    wires
        .iter()
        .map(|&w| {
            usize::try_from(w).map_err(|_| {
                crate::errors::WireError::new_err(format!(
                    "{what}: wires must be non-negative, got {w} in {wires:?}"
                ))
            })
        })
        .collect()
}

/// `arr` with native byte order (numpy arrays from files or other machines may be
/// big-endian; the kernels read native numbers). Anything but a numpy array passes through
/// (the caller refuses it).
fn native<'py>(arr: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    match arr.cast::<PyUntypedArray>() {
        Ok(a) if a.dtype().is_native_byteorder() == Some(false) => {
            let native = a.dtype().call_method1("newbyteorder", ("=",))?;
            arr.call_method1("astype", (native,))
        }
        _ => Ok(arr.clone()),
    }
}

fn dtype_name(obj: &Bound<'_, PyAny>) -> String {
    match obj.getattr("dtype") {
        Ok(d) => format!("an array of dtype {d}"),
        Err(_) => format!(
            "a {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ),
    }
}

/// A C-contiguous array borrowed from Python, or a row-major copy of a strided one.
enum Data<'py, E: Element> {
    Borrowed(PyReadonlyArrayDyn<'py, E>),
    Owned(Vec<E>),
}

impl<E: Element> Data<'_, E> {
    fn slice(&self) -> &[E] {
        match self {
            Data::Borrowed(a) => a.as_slice().expect("checked contiguous"),
            Data::Owned(v) => v,
        }
    }
}

/// Angles theta[B, P] as f64, remembering the caller's precision.
pub struct Theta<'py> {
    data: Data<'py, f64>,
    pub batch: usize,
    /// float32 in: complex64 run, float32 out
    pub single: bool,
}

impl Theta<'_> {
    pub fn data(&self) -> &[f64] {
        self.data.slice()
    }
}

/// A float64/float32 array of any shape: its data as f64 (borrowed when C-contiguous
/// float64; else a row-major float64 copy, made here for 1-D and 2-D arrays and by numpy
/// for others), its shape, and whether it was float32.
fn reals<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<(Data<'py, f64>, Vec<usize>, bool)> {
    let obj = native(obj)?;
    let single = match obj.extract::<PyReadonlyArrayDyn<'py, f64>>() {
        Ok(a) if a.is_c_contiguous() => {
            let shp = a.shape().to_vec();
            return Ok((Data::Borrowed(a), shp, false));
        }
        Ok(a) if (1..=2).contains(&a.ndim()) => {
            let shp = a.shape().to_vec();
            return Ok((Data::Owned(row_major(a.as_array(), |x| x)), shp, false));
        }
        Ok(_) => false,
        Err(_) => match obj.extract::<PyReadonlyArrayDyn<'py, f32>>() {
            Ok(a) if (1..=2).contains(&a.ndim()) => {
                let shp = a.shape().to_vec();
                return Ok((Data::Owned(row_major(a.as_array(), f64::from)), shp, true));
            }
            Ok(_) => true,
            Err(_) => {
                return Err(type_err(format!(
                    "{what} must be a numpy array of dtype float64 or float32, got {}",
                    dtype_name(&obj)
                )))
            }
        },
    };
    let a = contiguous(&obj, "float64")?.extract::<PyReadonlyArrayDyn<'py, f64>>()?;
    let shp = a.shape().to_vec();
    Ok((Data::Borrowed(a), shp, single))
}

/// The values of a 1- or 2-D array in row-major order, through `f`. Copied here rather
/// than by numpy (`contiguous`, called from here, cost about 5 µs of a 70 µs eager step
/// for the broadcast cotangent that `sum()` gives), row by row as 1-D views (a copy
/// through the n-dimensional iterator cost 1.3 ms at [16384, 4]).
fn row_major<E: Copy>(a: ArrayViewD<'_, E>, f: impl Fn(E) -> f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len());
    let rows = match a.ndim() {
        1 => a.insert_axis(Axis(0)).into_dimensionality::<Ix2>(),
        _ => a.into_dimensionality::<Ix2>(),
    };
    for r in rows.expect("1-D or 2-D (the caller's check)").rows() {
        out.extend(r.iter().map(|&x| f(x)));
    }
    out
}

/// `numpy.ascontiguousarray(arr, dtype)`: numpy's own strided copy and cast, in C. (A
/// cotangent from `sum()` is a broadcast array with stride 0; copying it through ndarray's
/// n-dimensional iterator cost 1.3 ms at [16384, 4], a tenth of the whole step.)
fn contiguous<'py>(arr: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    arr.py()
        .import("numpy")?
        .call_method1("ascontiguousarray", (arr, dtype))
}

/// A 2-D float64/float32 array `what` of `rows` rows and `width` columns (None: any).
pub fn reals_2d<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    rows: Option<usize>,
    width: Option<usize>,
) -> PyResult<Theta<'py>> {
    let (data, shp, single) = reals(obj, what)?;
    if shp.len() != 2 || width.is_some_and(|w| w != shp[1]) || rows.is_some_and(|r| r != shp[0]) {
        let dim = |d: Option<usize>, name: &str| d.map_or(name.to_string(), |d| d.to_string());
        return Err(shape(format!(
            "{what} must be a 2-D array of shape [{}, {}], got shape {shp:?}",
            dim(rows, "batch"),
            dim(width, "n")
        )));
    }
    Ok(Theta {
        data,
        batch: shp[0],
        single,
    })
}

/// A 1-D float64/float32 array `what` of `len` values (as a `Theta` of one row).
pub fn reals_1d<'py>(obj: &Bound<'py, PyAny>, what: &str, len: usize) -> PyResult<Theta<'py>> {
    let (data, shp, single) = reals(obj, what)?;
    if shp != [len] {
        return Err(shape(format!(
            "{what} must be a 1-D array of shape [{len}], got shape {shp:?}"
        )));
    }
    Ok(Theta {
        data,
        batch: 1,
        single,
    })
}

/// Where each sample starts: |0..0>, given states (shared or per sample), or the final
/// states of an earlier call on the same tape and theta.
pub struct Start<'py, T: Real>
where
    Complex<T>: Element,
{
    data: Option<Data<'py, Complex<T>>>,
    kind: StartKind,
}

#[derive(Clone, Copy)]
enum StartKind {
    Zero,
    Shared,
    PerSample,
    Final,
}

impl<'py, T: Real + Element> Start<'py, T>
where
    Complex<T>: Element,
{
    pub fn as_init(&self) -> Init<'_, T> {
        let s = || self.data.as_ref().map_or(&[][..], |d| d.slice());
        match self.kind {
            StartKind::Zero => Init::Zero,
            StartKind::Shared => Init::Shared(s()),
            StartKind::PerSample => Init::PerSample(s()),
            StartKind::Final => Init::Final(s()),
        }
    }

    /// `init_state` (one state [2^n] or one per sample [B, 2^n]) or `final_states` (the
    /// output of `state` for the same tape and theta, which skips the forward pass).
    pub fn parse(
        init_state: Option<&Bound<'py, PyAny>>,
        final_states: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let (obj, what) = match (init_state, final_states) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "pass init_state or final_states, not both",
                ))
            }
            (None, None) => {
                return Ok(Start {
                    data: None,
                    kind: StartKind::Zero,
                })
            }
            (Some(i), None) => (i, "init_state"),
            (None, Some(f)) => (f, "final_states"),
        };
        let cdtype = if std::mem::size_of::<T>() == 8 {
            "complex128"
        } else {
            "complex64"
        };
        let a = native(obj)?
            .extract::<PyReadonlyArrayDyn<'py, Complex<T>>>()
            .map_err(|_| {
                type_err(format!(
                    "{what} must be a numpy array of dtype {cdtype} (matching theta's precision), \
                     got {}",
                    dtype_name(obj)
                ))
            })?;
        let kind = match (what, a.ndim()) {
            ("init_state", 1) => StartKind::Shared,
            ("init_state", 2) => StartKind::PerSample,
            ("final_states", 2) => StartKind::Final,
            _ => {
                return Err(shape(format!(
                    "{what} must be {}, got shape {:?}",
                    if what == "init_state" {
                        "1-D [2^n] or 2-D [batch, 2^n]"
                    } else {
                        "2-D [batch, 2^n]"
                    },
                    a.shape()
                )))
            }
        };
        let data = if a.is_c_contiguous() {
            a
        } else {
            contiguous(obj, cdtype)?.extract::<PyReadonlyArrayDyn<'py, Complex<T>>>()?
        };
        Ok(Start {
            data: Some(Data::Borrowed(data)),
            kind,
        })
    }
}

/// One compute call's arguments.
pub struct Call<'py> {
    pub compiled: Arc<Compiled>,
    pub theta: Theta<'py>,
    pub obs: Vec<Obs>,
    pub opts: Options,
}

impl<'py> Call<'py> {
    pub fn parse(
        tape: &PyTape,
        theta: &Bound<'py, PyAny>,
        observables: &[PyRef<'py, PyObservable>],
        engine: Option<&str>,
    ) -> PyResult<Self> {
        let compiled = tape.compiled();
        let theta = reals_2d(theta, "theta", None, Some(compiled.tape().n_params))?;
        if theta.batch == 0 {
            return Err(shape(
                "batch size must be at least 1: theta has 0 rows".to_string(),
            ));
        }
        let engine = match engine {
            None | Some("auto") => None,
            Some(name) => Some(Engine::from_name(name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "engine must be 'auto', {}; got {name:?}",
                    Engine::ALL.map(|e| format!("{:?}", e.name())).join(", ")
                ))
            })?),
        };
        Ok(Call {
            compiled,
            theta,
            obs: observables.iter().map(|o| o.inner.clone()).collect(),
            opts: Options {
                engine,
                ..Options::default()
            },
        })
    }

    pub fn n_qubits(&self) -> usize {
        self.compiled.tape().n_qubits
    }

    /// Amplitude updates the call makes, about (for the Ctrl-C watch): `passes` sweeps of
    /// the circuit over every sample's state.
    pub fn work(&self, passes: usize) -> u128 {
        let t = self.compiled.tape();
        ((self.theta.batch as u128) << t.n_qubits) * (t.ops.len() as u128 + 1) * passes as u128
    }
}
