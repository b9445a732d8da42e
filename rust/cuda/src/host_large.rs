//! The large-register plan run on the host through host/shim.h (feature `host-emulation`,
//! tests only): `LargeProgram::run` with a launcher that runs each kernel on OS threads,
//! so the tests check exactly the sequence of launches a GPU gets.

use crate::error::{CudaError, Result};
use crate::large::{LargeArgs, LargeBuffers, LargeProgram, LaunchShape, Launcher, ProgramPtrs};
use crate::program::{Adjoint, Precision, RunOutput};
use std::ffi::CString;
use std::os::raw::{c_char, c_int};

extern "C" {
    fn qx_host_large(
        name: *const c_char,
        grid_x: u32,
        grid_y: u32,
        block: u32,
        smem: usize,
        args: *const LargeArgs,
    ) -> c_int;
}

/// Runs each launch on the host, at once (host addresses in the arguments).
pub struct HostLauncher;

impl Launcher for HostLauncher {
    fn launch(
        &mut self,
        kernel: &'static str,
        grid: (u32, u32),
        block: u32,
        shared: usize,
        args: &LargeArgs,
    ) -> Result<()> {
        let name = CString::new(kernel).expect("kernel names have no NUL");
        // SAFETY: the plan only puts addresses of live host buffers of the sizes the
        // kernels index into `args` (run below allocates them).
        let rc = unsafe { qx_host_large(name.as_ptr(), grid.0, grid.1, block, shared, args) };
        if rc != 0 {
            return Err(CudaError::Value(format!(
                "host launch of {kernel} refused its arguments"
            )));
        }
        Ok(())
    }
}

fn addr<T>(v: &[T]) -> u64 {
    v.as_ptr() as u64
}

/// The address of v[at..] for the kernels to write.
fn addr_mut(v: &mut [f64], at: usize) -> u64 {
    v[at..].as_mut_ptr() as u64
}

/// Run `prog` on each of `batch` rows of theta [batch, P] (one statevector at a time,
/// the buffers reused), as the GPU would with `shape`.
pub fn run(
    prog: &LargeProgram,
    theta: &[f64],
    batch: usize,
    prec: Precision,
    adjoint: Adjoint<'_>,
    want_state: bool,
    shape: LaunchShape,
) -> Result<RunOutput> {
    let (p, m) = (prog.n_params(), prog.n_obs());
    prog.code.check_inputs(theta, batch, adjoint.grad_out())?;
    let dim = 1usize << prog.n_qubits();
    // a state as f64 words: complex128 two per amplitude, complex64 one
    let words = dim * prec.complex_bytes() / 8;
    let mut phi = vec![0f64; words];
    let mut lam = vec![0f64; if adjoint.is_some() { words } else { 0 }];
    let mut partial = vec![0f64; prog.partial_len(shape)];
    let c = &prog.code;
    // never an empty array: the kernels read none of the padding
    let pad = |v: &[i32]| if v.is_empty() { vec![0] } else { v.to_vec() };
    let padf = |v: &[f64]| if v.is_empty() { vec![0.0] } else { v.to_vec() };
    let (ops, obs_start, terms, dcols) = (
        pad(&c.ops),
        pad(&c.obs_start),
        pad(&c.terms),
        pad(&prog.dcols),
    );
    let (consts, mats, coefs) = (padf(&c.consts), padf(&c.mats), padf(&c.coefs));
    let ptrs = ProgramPtrs {
        ops: addr(&ops),
        consts: addr(&consts),
        mats: addr(&mats),
        obs_start: addr(&obs_start),
        terms: addr(&terms),
        coefs: addr(&coefs),
        dcols: addr(&dcols),
    };
    let mut out = RunOutput {
        expval: vec![0.0; batch * m],
        state: want_state.then(|| Vec::with_capacity(batch * dim * 2)),
        grad: adjoint.grad_out().map(|_| vec![0.0; batch * p]),
        jac: matches!(adjoint, Adjoint::Jacobian).then(|| vec![0.0; batch * m * p]),
    };
    let theta = padf(theta);
    for b in 0..batch {
        let at = |v: &mut Option<Vec<f64>>, n: usize| v.as_mut().map_or(0, |v| addr_mut(v, b * n));
        let buf = LargeBuffers {
            phi: addr_mut(&mut phi, 0),
            lam: if adjoint.is_some() {
                addr_mut(&mut lam, 0)
            } else {
                0
            },
            partial: addr_mut(&mut partial, 0),
            theta: addr(&theta[b * p..]),
            out: addr_mut(&mut out.expval, b * m),
            grad_out: adjoint.grad_out().map_or(0, |g| addr(&g[b * m..])),
            grad: at(&mut out.grad, p),
            jac: at(&mut out.jac, m * p),
        };
        prog.run(&mut HostLauncher, prec, shape, &ptrs, &buf)?;
        if let Some(s) = out.state.as_mut() {
            match prec {
                Precision::C128 => s.extend_from_slice(&phi),
                Precision::C64 => s.extend(phi.iter().flat_map(|w| {
                    let b = w.to_bits();
                    [
                        f32::from_bits(b as u32) as f64,
                        f32::from_bits((b >> 32) as u32) as f64,
                    ]
                })),
            }
        }
    }
    Ok(out)
}
