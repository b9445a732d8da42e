//! The small-register kernel on a real GPU, from host arrays (the same interface as the
//! host emulation in host.rs, so a GPU run is checked against the CPU engine the same
//! way). Compiled at first use by NVRTC for the device's compute capability (CUBIN; PTX
//! for compute_75 as the fallback), cached per process.
//!
//! NOT verified on a GPU yet (no GPU was available when it was written): it is thin glue
//! (upload, one launch, download) around the kernel the host emulation verifies; the
//! `gpu`-marked tests and benches/gpu_check.sh exercise it on a GPU machine.

use crate::avail::{guarded, reason};
use crate::error::{CudaError, Result};
use crate::program::{Adjoint, Precision, RunOutput, SmallProgram, MAX_THREADS_PER_SAMPLE};
use cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) struct Device {
    pub(crate) ctx: Arc<CudaContext>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) module: Arc<CudaModule>,
    pub(crate) arch: String,
    pub(crate) max_shared: usize,
    /// Entry points loaded so far, with the dynamic shared memory each was opened up to.
    functions: Mutex<HashMap<&'static str, (CudaFunction, usize)>>,
}

/// A cudarc result as this crate's error, naming what failed.
pub(crate) fn drv<T, E: std::fmt::Debug>(what: &str, r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| CudaError::Driver(format!("{what}: {e:?}")))
}

fn open(ordinal: usize) -> Result<Device> {
    if let Some(why) = reason() {
        return Err(CudaError::Unavailable(why));
    }
    let ctx = drv(
        &format!("cuCtx (device {ordinal})"),
        CudaContext::new(ordinal),
    )?;
    let (ma, mi) = drv("compute capability", ctx.compute_capability())?;
    let arch = format!("sm_{ma}{mi}");
    let module = match crate::nvrtc::compile(&arch) {
        Ok(c) => drv(
            "loading the CUBIN",
            ctx.load_module(Ptx::from_binary(c.image)),
        )?,
        Err(_) => {
            let c = crate::nvrtc::compile("compute_75").map_err(CudaError::Driver)?;
            let src = String::from_utf8_lossy(&c.image)
                .trim_end_matches('\0')
                .to_string();
            drv("loading the PTX", ctx.load_module(Ptx::from_src(src)))?
        }
    };
    let max_shared = drv(
        "max shared memory per block",
        ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
    )? as usize;
    let stream = ctx.default_stream();
    Ok(Device {
        ctx,
        stream,
        module,
        arch,
        max_shared,
        functions: Mutex::new(HashMap::new()),
    })
}

/// GPU `ordinal`, opened (context, kernels compiled and loaded) at first use and kept for
/// the process; an error (no driver, no such GPU, a compile failure) is kept too.
pub(crate) fn device(ordinal: usize) -> Result<&'static Device> {
    type Slot = &'static std::result::Result<Device, CudaError>;
    static DEVICES: OnceLock<Mutex<HashMap<usize, Slot>>> = OnceLock::new();
    let mut map = DEVICES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let slot: Slot = map.entry(ordinal).or_insert_with(|| {
        Box::leak(Box::new(
            guarded("opening the CUDA device", || open(ordinal))
                .unwrap_or_else(|e| Err(CudaError::Driver(e))),
        ))
    });
    slot.as_ref().map_err(Clone::clone)
}

impl Device {
    /// Entry point `name`, allowed `shared` bytes of dynamic shared memory.
    pub(crate) fn function(&self, name: &'static str, shared: usize) -> Result<CudaFunction> {
        if shared > self.max_shared {
            return Err(CudaError::Unsupported(format!(
                "{name} needs {shared} bytes of shared memory per block; this GPU allows {}",
                self.max_shared
            )));
        }
        let mut fs = self.functions.lock().unwrap_or_else(|e| e.into_inner());
        if !fs.contains_key(name) {
            let f = drv("loading a kernel", self.module.load_function(name))?;
            fs.insert(name, (f, 0));
        }
        let (f, opened) = fs.get_mut(name).expect("inserted above");
        if shared > *opened {
            drv(
                "dynamic shared memory",
                f.set_attribute(
                    CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    shared as i32,
                ),
            )?;
            *opened = shared;
        }
        Ok(f.clone())
    }

    /// Launch `name` on a caller's stream (torch's: `cudaStream_t` as an integer; 0 is the
    /// legacy default stream) with raw kernel parameters; returns at once (asynchronous).
    ///
    /// # Safety
    /// `params` must match the entry point's parameter list, each pointing at a live value
    /// of the parameter's type, and every device pointer among them must be valid, in this
    /// device's primary context, for what the launch reads and writes.
    pub(crate) unsafe fn launch_on(
        &self,
        name: &'static str,
        cfg: LaunchConfig,
        stream: u64,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        let f = self.function(name, cfg.shared_mem_bytes as usize)?;
        drv("binding the context", self.ctx.bind_to_thread())?;
        // SAFETY: as the caller promised; the function comes from this device's module.
        drv("the launch", unsafe {
            cudarc::driver::result::launch_kernel(
                f.cu_function(),
                cfg.grid_dim,
                cfg.block_dim,
                cfg.shared_mem_bytes,
                stream as usize as cudarc::driver::sys::CUstream,
                params,
            )
        })
    }
}

/// The architecture the kernels were compiled for on GPU 0 ("sm_90").
pub fn arch() -> Result<String> {
    Ok(device(0)?.arch.clone())
}

/// Run the small-register kernel on GPU 0 (host arrays in and out; synchronous).
pub fn run(
    prog: &SmallProgram,
    theta: &[f64],
    batch: usize,
    prec: Precision,
    adjoint: Adjoint<'_>,
    want_state: bool,
) -> Result<RunOutput> {
    prog.check_inputs(theta, batch, adjoint.grad_out())?;
    let d = device(0)?;
    guarded("a CUDA launch", || {
        run_on(d, prog, theta, batch, prec, adjoint, want_state)
    })
    .unwrap_or_else(|e| Err(CudaError::Driver(e)))
}

fn run_on(
    d: &Device,
    prog: &SmallProgram,
    theta: &[f64],
    batch: usize,
    prec: Precision,
    adjoint: Adjoint<'_>,
    want_state: bool,
) -> Result<RunOutput> {
    let grad_out = adjoint.grad_out();
    let want_jac = matches!(adjoint, Adjoint::Jacobian);
    let l = prog.launch(batch, adjoint.is_some(), prec, MAX_THREADS_PER_SAMPLE)?;
    let dim = 1usize << prog.n_qubits;
    let n_out = batch * prog.n_obs;
    let n_state = if want_state { batch * dim * 2 } else { 0 };
    let n_grad = if grad_out.is_some() {
        batch * prog.n_params
    } else {
        0
    };
    let n_jac = if want_jac { n_out * prog.n_params } else { 0 };
    let bytes = 8 * (theta.len() + 2 * n_out + n_state + n_grad + n_jac) as u128;
    let (free, _) = drv("cuMemGetInfo", d.ctx.mem_get_info())?;
    if bytes > free as u128 {
        return Err(CudaError::Memory(format!(
            "the CUDA run needs {bytes} bytes of device memory, {free} are free"
        )));
    }
    let s = &d.stream;
    // never a zero-length upload (cudarc allocates them lazily); the kernel reads none of
    // the padding
    fn pad<T: Copy + Default>(v: &[T]) -> Vec<T> {
        if v.is_empty() {
            vec![T::default()]
        } else {
            v.to_vec()
        }
    }
    let ops = drv("upload", s.clone_htod(&pad(&prog.ops)))?;
    let consts = drv("upload", s.clone_htod(&pad(&prog.consts)))?;
    let mats = drv("upload", s.clone_htod(&pad(&prog.mats)))?;
    let th = drv("upload", s.clone_htod(&pad(theta)))?;
    let obs_start = drv("upload", s.clone_htod(&pad(&prog.obs_start)))?;
    let terms = drv("upload", s.clone_htod(&pad(&prog.terms)))?;
    let coefs = drv("upload", s.clone_htod(&pad(&prog.coefs)))?;
    let g = drv("upload", s.clone_htod(&pad(grad_out.unwrap_or(&[]))))?;
    let mut out = drv("alloc", s.alloc_zeros::<f64>(n_out.max(1)))?;
    let mut st = drv("alloc", s.alloc_zeros::<f64>(n_state.max(1)))?;
    let mut gt = drv("alloc", s.alloc_zeros::<f64>(n_grad.max(1)))?;
    let mut jac = drv("alloc", s.alloc_zeros::<f64>(n_jac.max(1)))?;
    let f = d.function(prec.kernel(), l.shared_bytes)?;
    let (n_ops, nq, p, b, m) = (
        prog.n_ops as i32,
        prog.n_qubits as i32,
        prog.n_params as i32,
        batch as i32,
        prog.n_obs as i32,
    );
    let (spb, tps) = (l.spb as i32, l.tps as i32);
    let null = 0u64;
    let cfg = LaunchConfig {
        grid_dim: (l.grid, 1, 1),
        block_dim: (l.block, 1, 1),
        shared_mem_bytes: l.shared_bytes as u32,
    };
    let mut a = s.launch_builder(&f);
    a.arg(&ops)
        .arg(&consts)
        .arg(&mats)
        .arg(&th)
        .arg(&obs_start)
        .arg(&terms)
        .arg(&coefs);
    if grad_out.is_some() {
        a.arg(&g);
    } else {
        a.arg(&null);
    }
    a.arg(&mut out);
    if want_state {
        a.arg(&mut st);
    } else {
        a.arg(&null);
    }
    if grad_out.is_some() {
        a.arg(&mut gt);
    } else {
        a.arg(&null);
    }
    if want_jac {
        a.arg(&mut jac);
    } else {
        a.arg(&null);
    }
    a.arg(&n_ops)
        .arg(&nq)
        .arg(&p)
        .arg(&b)
        .arg(&m)
        .arg(&spb)
        .arg(&tps);
    // SAFETY: the argument list matches QX_SMALL_ENTRY in kernels/small.cu; every buffer
    // holds what the launch shape reads and writes (check_inputs, launch above).
    drv("the launch", unsafe { a.launch(cfg) })?;
    let expval = drv("download", s.clone_dtoh(&out))?;
    let mut r = RunOutput {
        expval: expval[..n_out].to_vec(),
        state: None,
        grad: None,
        jac: None,
    };
    if want_state {
        r.state = Some(drv("download", s.clone_dtoh(&st))?);
    }
    if grad_out.is_some() {
        r.grad = Some(drv("download", s.clone_dtoh(&gt))?[..n_grad].to_vec());
    }
    if want_jac {
        r.jac = Some(drv("download", s.clone_dtoh(&jac))?[..n_jac].to_vec());
    }
    drv("synchronize", s.synchronize())?;
    Ok(r)
}
