//! The small-register kernel run on the host through host/shim.h (feature
//! `host-emulation`, tests only): every CUDA thread is an OS thread, `__syncthreads` a
//! barrier. Slow by design; it checks the kernel logic the GPU runs, not speed.

use crate::error::{CudaError, Result};
use crate::program::{Adjoint, Precision, RunOutput, SmallProgram};
use std::os::raw::c_int;

extern "C" {
    fn qx_host_small(
        precision: c_int,
        grid: u32,
        block: u32,
        smem: usize,
        ops: *const i32,
        consts: *const f64,
        mats: *const f64,
        theta: *const f64,
        obs_start: *const i32,
        terms: *const i32,
        coefs: *const f64,
        grad_out: *const f64,
        out: *mut f64,
        out_state: *mut f64,
        grad_theta: *mut f64,
        jac: *mut f64,
        n_ops: c_int,
        n_qubits: c_int,
        p: c_int,
        b: c_int,
        m: c_int,
        spb: c_int,
        tps: c_int,
    ) -> c_int;
}

/// What one emulated launch returns.
pub type HostRun = RunOutput;

/// Run the kernel on `batch` rows of theta; `max_tps` caps the threads per sample.
pub fn run(
    prog: &SmallProgram,
    theta: &[f64],
    batch: usize,
    prec: Precision,
    adjoint: Adjoint<'_>,
    want_state: bool,
    max_tps: u32,
) -> Result<HostRun> {
    let grad_out = adjoint.grad_out();
    prog.check_inputs(theta, batch, grad_out)?;
    let l = prog.launch(batch, adjoint.is_some(), prec, max_tps)?;
    let dim = 1usize << prog.n_qubits;
    let mut out = HostRun {
        expval: vec![0.0; batch * prog.n_obs],
        state: want_state.then(|| vec![0.0; batch * dim * 2]),
        grad: grad_out.map(|_| vec![0.0; batch * prog.n_params]),
        jac: matches!(adjoint, Adjoint::Jacobian)
            .then(|| vec![0.0; batch * prog.n_obs * prog.n_params]),
    };
    let null_mut = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the sizes the kernel reads/writes (checked above).
    let rc = unsafe {
        qx_host_small(
            match prec {
                Precision::C64 => 64,
                Precision::C128 => 128,
            },
            l.grid,
            l.block,
            l.shared_bytes,
            prog.ops.as_ptr(),
            prog.consts.as_ptr(),
            prog.mats.as_ptr(),
            theta.as_ptr(),
            prog.obs_start.as_ptr(),
            prog.terms.as_ptr(),
            prog.coefs.as_ptr(),
            grad_out.map_or(std::ptr::null(), |g| g.as_ptr()),
            out.expval.as_mut_ptr(),
            out.state.as_mut().map_or(null_mut, |s| s.as_mut_ptr()),
            out.grad.as_mut().map_or(null_mut, |g| g.as_mut_ptr()),
            out.jac.as_mut().map_or(null_mut, |j| j.as_mut_ptr()),
            prog.n_ops as c_int,
            prog.n_qubits as c_int,
            prog.n_params as c_int,
            batch as c_int,
            prog.n_obs as c_int,
            l.spb as c_int,
            l.tps as c_int,
        )
    };
    if rc != 0 {
        return Err(CudaError::Value("host launch refused its arguments".into()));
    }
    Ok(out)
}
