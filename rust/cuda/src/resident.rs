//! A small-register program resident on a GPU, launched on the caller's stream into the
//! caller's buffers: what torch CUDA tensors go through (torch allocates inputs, outputs
//! and scratch; qoxide uploads its op list once per program and never copies to the host
//! or synchronises).
//!
//! NOT verified on a GPU yet (none was lent while it was written): glue around the kernel
//! the host emulation verifies; the `gpu`-marked tests exercise it on a GPU machine.

use crate::device::device;
use crate::error::{CudaError, Result};
use crate::program::{Precision, SmallProgram, MAX_THREADS_PER_SAMPLE};
use cudarc::driver::{CudaSlice, DevicePtr, LaunchConfig};
use std::ffi::c_void;

/// Device pointers (`tensor.data_ptr()`) of one launch; 0 for an output not wanted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Buffers {
    /// [B, P] float64, read.
    pub theta: u64,
    /// [B, M] float64, read; non-zero asks for the VJP.
    pub grad_out: u64,
    /// [B, M] float64, written.
    pub out: u64,
    /// [B, 2^n] complex128 (interleaved float64), written when non-zero.
    pub state: u64,
    /// [B, P] float64, written with the VJP (needs `grad_out`).
    pub grad_theta: u64,
    /// [B, M, P] float64, written: the adjoint Jacobian (not with `grad_out`).
    pub jac: u64,
}

/// A `SmallProgram`'s arrays on GPU `ordinal`.
pub struct ResidentSmall {
    pub n_qubits: usize,
    pub n_params: usize,
    pub n_obs: usize,
    ordinal: usize,
    prog: SmallProgram,
    /// Device addresses of `_arrays`: ops, consts, mats, obs_start, terms, coefs, and a
    /// valid address for absent inputs.
    ptrs: [u64; 7],
    _arrays: Vec<CudaSlice<u8>>,
}

// never an empty allocation: cudarc hands those out lazily; the kernel reads no padding
pub(crate) fn bytes_of<T: Copy>(v: &[T]) -> Vec<u8> {
    let n = std::mem::size_of_val(v);
    let mut b = vec![0u8; n.max(8)];
    // SAFETY: plain-old-data (i32 / f64) viewed as bytes.
    b[..n].copy_from_slice(unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), n) });
    b
}

impl ResidentSmall {
    /// Upload `prog` to GPU `ordinal` (synchronous, once per program).
    pub fn upload(prog: SmallProgram, ordinal: usize) -> Result<ResidentSmall> {
        let d = device(ordinal)?;
        let s = &d.stream;
        let up = |v: Vec<u8>| {
            s.clone_htod(&v)
                .map_err(|e| CudaError::Driver(format!("upload: {e:?}")))
        };
        let arrays = vec![
            up(bytes_of(&prog.ops))?,
            up(bytes_of(&prog.consts))?,
            up(bytes_of(&prog.mats))?,
            up(bytes_of(&prog.obs_start))?,
            up(bytes_of(&prog.terms))?,
            up(bytes_of(&prog.coefs))?,
            up(vec![0u8; 8])?,
        ];
        let mut ptrs = [0u64; 7];
        for (p, a) in ptrs.iter_mut().zip(&arrays) {
            *p = a.device_ptr(s).0;
        }
        s.synchronize()
            .map_err(|e| CudaError::Driver(format!("synchronize: {e:?}")))?;
        Ok(ResidentSmall {
            n_qubits: prog.n_qubits,
            n_params: prog.n_params,
            n_obs: prog.n_obs,
            ordinal,
            prog,
            ptrs,
            _arrays: arrays,
        })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// Forward, expectation values and (with `grad_out`) the VJP or (with `jac`) the
    /// Jacobian of `batch` samples, in one launch on `stream`; returns at once.
    ///
    /// # Safety
    /// Every non-zero pointer in `buf` must be a live allocation on this GPU of the size
    /// and dtype stated on [`Buffers`], not written by anyone else until the launch has
    /// run on `stream`.
    pub unsafe fn launch(
        &self,
        prec: Precision,
        batch: usize,
        buf: Buffers,
        stream: u64,
    ) -> Result<()> {
        if buf.grad_out != 0 && buf.jac != 0 {
            return Err(CudaError::Value(
                "a launch computes the VJP or the Jacobian, not both".into(),
            ));
        }
        if (buf.grad_out != 0) != (buf.grad_theta != 0) {
            return Err(CudaError::Value(
                "the VJP needs both grad_out and grad_theta".into(),
            ));
        }
        if buf.theta == 0 && self.n_params > 0 || buf.out == 0 {
            return Err(CudaError::Value("theta and out are required".into()));
        }
        if batch == 0 {
            return Ok(());
        }
        let d = device(self.ordinal)?;
        let adjoint = buf.grad_out != 0 || buf.jac != 0;
        let l = self
            .prog
            .launch(batch, adjoint, prec, MAX_THREADS_PER_SAMPLE)?;
        let null = self.ptrs[6];
        let or_null = |p: u64| if p == 0 { null } else { p };
        let mut ptrs: [u64; 12] = [
            self.ptrs[0],
            self.ptrs[1],
            self.ptrs[2],
            or_null(buf.theta),
            self.ptrs[3],
            self.ptrs[4],
            self.ptrs[5],
            buf.grad_out, // the kernel reads "no VJP" from a null grad_out
            buf.out,
            buf.state,
            buf.grad_theta,
            buf.jac,
        ];
        let as_i32 = |x: usize| x as i32; // bounded by SmallProgram::launch's checks
        let mut ints: [i32; 7] = [
            as_i32(self.prog.n_ops),
            as_i32(self.n_qubits),
            as_i32(self.n_params),
            as_i32(batch),
            as_i32(self.n_obs),
            l.spb as i32,
            l.tps as i32,
        ];
        let mut params: Vec<*mut c_void> = Vec::with_capacity(19);
        for p in ptrs.iter_mut() {
            params.push((p as *mut u64).cast());
        }
        for i in ints.iter_mut() {
            params.push((i as *mut i32).cast());
        }
        let cfg = LaunchConfig {
            grid_dim: (l.grid, 1, 1),
            block_dim: (l.block, 1, 1),
            shared_mem_bytes: l.shared_bytes as u32,
        };
        // SAFETY: the parameter list matches QX_SMALL_ENTRY in kernels/small.cu (12 device
        // pointers, then n_ops, n_qubits, P, B, M, spb, tps); the caller vouches for `buf`.
        unsafe { d.launch_on(prec.kernel(), cfg, stream, &mut params) }
    }
}
