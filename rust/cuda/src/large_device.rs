//! The large-register plan on a GPU: the same `LargeProgram::run` as the host emulation,
//! with a launcher that queues raw launches on a stream.
//!
//! Two entry styles:
//! - [`ResidentLarge::launch`]: caller-owned device buffers (torch tensors' `data_ptr()`)
//!   and a caller's stream; nothing is copied to the host and nothing synchronises.
//!   [`check_memory`] is the guard to call before allocating them.
//! - [`run`]: host arrays in and out (allocates, uploads, runs, downloads; synchronous),
//!   for tests on a GPU machine.
//!
//! NOT run on a GPU yet (none was lent while it was written): thin glue around the plan
//! and kernels the host emulation verifies (tests/large_emulation.rs).

use crate::avail::guarded;
use crate::device::{device, drv, Device};
use crate::error::{CudaError, Result};
use crate::large::{LargeArgs, LargeBuffers, LargeProgram, LaunchShape, Launcher, ProgramPtrs};
use crate::program::{Adjoint, Precision, RunOutput};
use crate::resident::bytes_of;
use cudarc::driver::{CudaSlice, DevicePtr, LaunchConfig};
use std::ffi::c_void;

/// Queues each launch on `stream` of device `d` (asynchronous).
struct GpuLauncher {
    d: &'static Device,
    stream: u64,
}

impl Launcher for GpuLauncher {
    fn launch(
        &mut self,
        kernel: &'static str,
        grid: (u32, u32),
        block: u32,
        shared: usize,
        args: &LargeArgs,
    ) -> Result<()> {
        let mut a = *args;
        let mut params = [(&mut a as *mut LargeArgs).cast::<c_void>()];
        let cfg = LaunchConfig {
            grid_dim: (grid.0, grid.1, 1),
            block_dim: (block, 1, 1),
            shared_mem_bytes: shared as u32,
        };
        // SAFETY: every large-register entry point takes one qx_large_args by value, which
        // LargeArgs mirrors (repr(C)); its addresses are the callers' device buffers.
        unsafe { self.d.launch_on(kernel, cfg, self.stream, &mut params) }
    }
}

/// Refuse (CudaError::Memory) when a run of `prog` would not fit GPU `ordinal`'s free
/// memory: φ, λ for the adjoint, the partial scratch. Call before allocating them.
pub fn check_memory(
    prog: &LargeProgram,
    prec: Precision,
    adjoint: bool,
    ordinal: usize,
) -> Result<()> {
    let d = device(ordinal)?;
    let need = prog.device_bytes(prec, adjoint, LaunchShape::default());
    let (free, _) = drv("cuMemGetInfo", d.ctx.mem_get_info())?;
    if need > free as u128 {
        return Err(CudaError::Memory(format!(
            "a {}-qubit {:?} statevector run{} needs {need} bytes of GPU memory, {free} are free",
            prog.n_qubits(),
            prec,
            if adjoint { " with the adjoint" } else { "" },
        )));
    }
    Ok(())
}

/// A `LargeProgram` with its arrays on GPU `ordinal`.
pub struct ResidentLarge {
    pub prog: LargeProgram,
    ordinal: usize,
    ptrs: ProgramPtrs,
    _arrays: Vec<CudaSlice<u8>>,
}

impl ResidentLarge {
    /// Upload `prog`'s arrays to GPU `ordinal` (synchronous, once per program).
    pub fn upload(prog: LargeProgram, ordinal: usize) -> Result<ResidentLarge> {
        let d = device(ordinal)?;
        let s = &d.stream;
        let c = &prog.code;
        let mut arrays = Vec::with_capacity(7);
        for v in [
            bytes_of(&c.ops),
            bytes_of(&c.consts),
            bytes_of(&c.mats),
            bytes_of(&c.obs_start),
            bytes_of(&c.terms),
            bytes_of(&c.coefs),
            bytes_of(&prog.dcols),
        ] {
            arrays.push(drv("upload", s.clone_htod(&v))?);
        }
        let p: Vec<u64> = arrays.iter().map(|a| a.device_ptr(s).0).collect();
        drv("synchronize", s.synchronize())?;
        Ok(ResidentLarge {
            ptrs: ProgramPtrs {
                ops: p[0],
                consts: p[1],
                mats: p[2],
                obs_start: p[3],
                terms: p[4],
                coefs: p[5],
                dcols: p[6],
            },
            prog,
            ordinal,
            _arrays: arrays,
        })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// float64 values of the `partial` scratch buffer a launch needs.
    pub fn partial_len(&self) -> usize {
        self.prog.partial_len(LaunchShape::default())
    }

    /// One statevector: forward, expectation values, and the VJP or the Jacobian as
    /// `buf` asks (see [`LargeBuffers`] for sizes), queued on `stream` (a `cudaStream_t`
    /// as an integer; 0 is the legacy default stream); returns at once.
    ///
    /// # Safety
    /// Every non-zero address in `buf` must be a live allocation on this GPU of the size
    /// and dtype stated on [`LargeBuffers`] (φ and λ of `prec`), not used by anyone else
    /// until the launches have run on `stream`.
    pub unsafe fn launch(&self, prec: Precision, buf: &LargeBuffers, stream: u64) -> Result<()> {
        let d = device(self.ordinal)?;
        let mut l = GpuLauncher { d, stream };
        self.prog
            .run(&mut l, prec, LaunchShape::default(), &self.ptrs, buf)
    }
}

/// Run `prog` on GPU 0 for each of `batch` rows of theta [batch, P] (host arrays in and
/// out; synchronous).
pub fn run(
    prog: &LargeProgram,
    theta: &[f64],
    batch: usize,
    prec: Precision,
    adjoint: Adjoint<'_>,
    want_state: bool,
) -> Result<RunOutput> {
    prog.code.check_inputs(theta, batch, adjoint.grad_out())?;
    check_memory(prog, prec, adjoint.is_some(), 0)?;
    let r = ResidentLarge::upload(prog.clone(), 0)?;
    guarded("a CUDA launch", || {
        run_on(&r, theta, batch, prec, adjoint, want_state)
    })
    .unwrap_or_else(|e| Err(CudaError::Driver(e)))
}

fn run_on(
    r: &ResidentLarge,
    theta: &[f64],
    batch: usize,
    prec: Precision,
    adjoint: Adjoint<'_>,
    want_state: bool,
) -> Result<RunOutput> {
    let d = device(r.ordinal)?;
    let s = &d.stream;
    let (p, m) = (r.prog.n_params(), r.prog.n_obs());
    let words = (r.prog.state_bytes(prec) / 8) as usize;
    let zeros = |n: usize| drv("alloc", s.alloc_zeros::<f64>(n.max(1)));
    let phi = zeros(words)?;
    let lam = zeros(if adjoint.is_some() { words } else { 1 })?;
    let partial = zeros(r.partial_len())?;
    let th = drv("upload", s.clone_htod(&bytes_of(theta)))?;
    let g = drv(
        "upload",
        s.clone_htod(&bytes_of(adjoint.grad_out().unwrap_or(&[]))),
    )?;
    let out = zeros(batch * m)?;
    let grad = zeros(batch * p)?;
    let jac = zeros(batch * m * p)?;
    let ptr = |a: &CudaSlice<f64>| a.device_ptr(s).0;
    let mut res = RunOutput {
        state: want_state.then(Vec::new),
        ..RunOutput::default()
    };
    for b in 0..batch {
        let buf = LargeBuffers {
            phi: ptr(&phi),
            lam: if adjoint.is_some() { ptr(&lam) } else { 0 },
            partial: ptr(&partial),
            theta: th.device_ptr(s).0 + (8 * b * p) as u64,
            out: ptr(&out) + (8 * b * m) as u64,
            grad_out: match adjoint {
                Adjoint::Vjp(_) => g.device_ptr(s).0 + (8 * b * m) as u64,
                _ => 0,
            },
            grad: match adjoint {
                Adjoint::Vjp(_) => ptr(&grad) + (8 * b * p) as u64,
                _ => 0,
            },
            jac: match adjoint {
                Adjoint::Jacobian => ptr(&jac) + (8 * b * m * p) as u64,
                _ => 0,
            },
        };
        // SAFETY: every buffer above is allocated on this device with the sizes the plan
        // reads and writes, and used only by these launches on the device's stream.
        unsafe { r.launch(prec, &buf, s.cu_stream() as u64)? };
        if let Some(st) = res.state.as_mut() {
            let w = drv("download", s.clone_dtoh(&phi))?;
            match prec {
                Precision::C128 => st.extend_from_slice(&w[..words]),
                Precision::C64 => st.extend(w[..words].iter().flat_map(|x| {
                    let b = x.to_bits();
                    [
                        f32::from_bits(b as u32) as f64,
                        f32::from_bits((b >> 32) as u32) as f64,
                    ]
                })),
            }
        }
    }
    res.expval = drv("download", s.clone_dtoh(&out))?[..batch * m].to_vec();
    if matches!(adjoint, Adjoint::Vjp(_)) {
        res.grad = Some(drv("download", s.clone_dtoh(&grad))?[..batch * p].to_vec());
    }
    if matches!(adjoint, Adjoint::Jacobian) {
        res.jac = Some(drv("download", s.clone_dtoh(&jac))?[..batch * m * p].to_vec());
    }
    drv("synchronize", s.synchronize())?;
    Ok(res)
}
