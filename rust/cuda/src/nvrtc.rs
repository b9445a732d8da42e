//! NVRTC compilation of the kernels: CUBIN for a real architecture (`sm_80`), PTX for a
//! virtual one (`compute_75`), with ptxas' resource report (registers, spills, stack,
//! shared memory per kernel) parsed from the compile log.

use crate::avail::{guarded, nvrtc_version};
use cudarc::nvrtc::{result, sys};
use std::ffi::CString;

/// All kernel sources as NVRTC sees them (the host emulation includes the same files).
pub const DEVICE_SOURCE: &str = concat!(
    include_str!("../kernels/device_prelude.cuh"),
    include_str!("../kernels/common.cuh"),
    include_str!("../kernels/small.cu"),
    include_str!("../kernels/large.cu"),
);

/// The kernels' entry points.
pub const KERNELS: &[&str] = &[
    "qx_small_c128",
    "qx_small_c64",
    "qx_lg_init_c128",
    "qx_lg_gate_c128",
    "qx_lg_seg_c128",
    "qx_lg_bseg_c128",
    "qx_lg_braket_c128",
    "qx_lg_expval_c128",
    "qx_lg_lambda_c128",
    "qx_lg_init_c64",
    "qx_lg_gate_c64",
    "qx_lg_seg_c64",
    "qx_lg_bseg_c64",
    "qx_lg_braket_c64",
    "qx_lg_expval_c64",
    "qx_lg_lambda_c64",
    "qx_lg_collect",
];

/// What ptxas reported for one kernel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelStats {
    pub name: String,
    pub registers: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    pub stack_frame: u32,
    pub static_shared: u32,
}

#[derive(Clone, Debug)]
pub struct Compiled {
    /// CUBIN (real architecture) or NUL-terminated PTX (virtual architecture).
    pub image: Vec<u8>,
    pub is_cubin: bool,
    pub log: String,
    /// Per kernel (CUBIN only; empty for PTX, which ptxas never saw).
    pub stats: Vec<KernelStats>,
}

fn first_num(s: &str, before: &str) -> u32 {
    // "... 40 registers" -> the number in front of `before`
    s.find(before)
        .and_then(|i| s[..i].split_whitespace().last())
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// Parse ptxas' `-v` lines ("Compiling entry function 'x'", "N bytes stack frame,
/// N bytes spill stores, N bytes spill loads", "Used N registers, ... N bytes smem").
pub fn parse_ptxas(log: &str) -> Vec<KernelStats> {
    let mut out: Vec<KernelStats> = Vec::new();
    // "Function properties for f" precedes f's stack line (also for device functions)
    let mut props = String::new();
    for line in log.lines() {
        if let Some(i) = line.find("Function properties for ") {
            props = line[i + "Function properties for ".len()..]
                .trim()
                .to_string();
            continue;
        }
        if let Some(i) = line.find("Compiling entry function '") {
            let rest = &line[i + "Compiling entry function '".len()..];
            let name = rest.split('\'').next().unwrap_or("").to_string();
            out.push(KernelStats {
                name,
                ..Default::default()
            });
        } else if let Some(k) = out.last_mut() {
            if line.contains("bytes stack frame") && props == k.name {
                k.stack_frame = first_num(line, "bytes stack frame");
                k.spill_stores = first_num(line, "bytes spill stores");
                k.spill_loads = first_num(line, "bytes spill loads");
            }
            if line.contains("Used") && line.contains("registers") {
                k.registers = first_num(line, "registers");
                k.static_shared = first_num(line, "bytes smem");
            }
        }
    }
    out
}

/// Compile DEVICE_SOURCE for `arch` ("sm_80": CUBIN; "compute_75": PTX).
pub fn compile(arch: &str) -> Result<Compiled, String> {
    nvrtc_version()?;
    let src = CString::new(DEVICE_SOURCE).map_err(|e| e.to_string())?;
    let is_cubin = arch.starts_with("sm_");
    let mut opts = vec![
        format!("--gpu-architecture={arch}"),
        "--std=c++17".to_string(),
        "--device-as-default-execution-space".to_string(),
    ];
    if is_cubin {
        opts.push("--ptxas-options=-v".to_string());
    }
    guarded("NVRTC", || {
        let prog = result::create_program(&src, Some(c"qoxide_kernels.cu"))
            .map_err(|e| format!("nvrtcCreateProgram: {e:?}"))?;
        // SAFETY: prog is live until destroy_program below.
        let done = unsafe { result::compile_program(prog, &opts) };
        let log = unsafe { result::get_program_log(prog) }
            .map(|v| {
                let b: Vec<u8> = v.iter().map(|&c| c as u8).take_while(|&c| c != 0).collect();
                String::from_utf8_lossy(&b).into_owned()
            })
            .unwrap_or_default();
        let image = if let Err(e) = done {
            Err(format!(
                "NVRTC failed to compile the kernels for {arch}: {e:?}\n{log}"
            ))
        } else if is_cubin {
            let mut n = 0usize;
            // SAFETY: size query then a buffer of that size.
            unsafe { sys::nvrtcGetCUBINSize(prog, &mut n) }
                .result()
                .map_err(|e| format!("nvrtcGetCUBINSize: {e:?}"))
                .and_then(|_| {
                    let mut buf = vec![0u8; n];
                    unsafe { sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast()) }
                        .result()
                        .map_err(|e| format!("nvrtcGetCUBIN: {e:?}"))?;
                    Ok(buf)
                })
        } else {
            unsafe { result::get_ptx(prog) }
                .map(|v| v.iter().map(|&c| c as u8).collect())
                .map_err(|e| format!("nvrtcGetPTX: {e:?}"))
        };
        let _ = unsafe { result::destroy_program(prog) };
        let image = image?;
        let stats = if is_cubin {
            parse_ptxas(&log)
        } else {
            Vec::new()
        };
        Ok(Compiled {
            image,
            is_cubin,
            log,
            stats,
        })
    })?
}
