//! One mapping from core errors to Python exceptions, and the one helper (`run`) through
//! which every compute call goes: GIL released, Ctrl-C polled, panics caught (never across
//! FFI), errors mapped.

use pyo3::create_exception;
use pyo3::exceptions::{
    PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use qoxide_core::{Options, QoxideError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

create_exception!(
    qoxide,
    WireError,
    PyValueError,
    "A wire out of range for the register, or repeated."
);
create_exception!(
    qoxide,
    ShapeError,
    PyValueError,
    "An array of the wrong shape or size (theta, states, cotangents, matrices)."
);
create_exception!(
    qoxide,
    OutOfMemoryError,
    PyMemoryError,
    "The request would not fit in available memory; raised before allocating."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("WireError", py.get_type::<WireError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("OutOfMemoryError", py.get_type::<OutOfMemoryError>())?;
    Ok(())
}

pub fn to_py(e: QoxideError) -> PyErr {
    match e {
        QoxideError::Value(m) => PyValueError::new_err(m),
        QoxideError::Wire(m) => WireError::new_err(m),
        QoxideError::Shape(m) => ShapeError::new_err(m),
        QoxideError::Memory(m) => OutOfMemoryError::new_err(m),
        QoxideError::Cancelled => PyKeyboardInterrupt::new_err("qoxide call interrupted"),
        QoxideError::Internal(m) => PyRuntimeError::new_err(format!("qoxide internal error: {m}")),
    }
}

/// `ShapeError(msg)`
pub fn shape(msg: String) -> PyErr {
    ShapeError::new_err(msg)
}

/// `TypeError(msg)`
pub fn type_err(msg: String) -> PyErr {
    PyTypeError::new_err(msg)
}

/// Run `f` (with the GIL), turning a panic into RuntimeError.
pub fn guarded<R>(f: impl FnOnce() -> PyResult<R>) -> PyResult<R> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| Err(panic_err(panic)))
}

fn panic_err(panic: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    PyRuntimeError::new_err(format!("qoxide internal error: {msg}"))
}

/// Calls estimated below this many amplitude updates run inline: a watcher thread (to
/// poll for Ctrl-C) costs tens of microseconds per call. Just below 2^24 updates, 1-qubit
/// RX at batch 4M (every update overhead) took 0.04 s on the default engine and 0.32 s
/// with the per-sample engine forced (2-vCPU VM): the longest a Ctrl-C waits. At 2^22 the
/// dressed circuit's VJP at batch 4096, 0.6 ms on the lane engine, spawned a thread on
/// every training step.
const WATCH_MIN_WORK: u128 = 1 << 24;

/// How often a long call checks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Run `f(opts)` without the GIL, with errors mapped and panics caught. Long calls (by
/// `work`, in amplitude updates) run on a worker thread while this thread polls Python's
/// signal handlers: Ctrl-C sets the cancel flag, the core stops at its next check
/// (between ops or samples) and KeyboardInterrupt is raised. Outputs are fresh buffers,
/// so an interrupted call leaves no state behind.
pub fn run<R: Send>(
    py: Python<'_>,
    work: u128,
    mut opts: Options,
    f: impl FnOnce(&Options) -> qoxide_core::Result<R> + Send,
) -> PyResult<R> {
    if work < WATCH_MIN_WORK {
        return match py.detach(|| catch_unwind(AssertUnwindSafe(|| f(&opts)))) {
            Ok(r) => r.map_err(to_py),
            Err(panic) => Err(panic_err(panic)),
        };
    }
    let flag = Arc::new(AtomicBool::new(false));
    opts.cancel = Some(flag.clone());
    let (result, signal) = py.detach(|| {
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel::<()>();
            let worker = scope.spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| f(&opts)));
                let _ = done.send(());
                r
            });
            let mut signal = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_POLL) {
                if signal.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        flag.store(true, Ordering::Relaxed);
                        signal = Some(e);
                    }
                }
            }
            let result = worker.join().unwrap_or_else(Err);
            (result, signal)
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    match result {
        Ok(r) => r.map_err(to_py),
        Err(panic) => Err(panic_err(panic)),
    }
}

/// Run a non-simulation native job (HSM solvers, matrix checks) without the GIL.
pub fn detached<R: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> qoxide_core::Result<R> + Send,
) -> PyResult<R> {
    run(py, 0, Options::default(), |_| f())
}
