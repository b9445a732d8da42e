//! Every kernel compiled by NVRTC (the libnvrtc of torch's CUDA wheels; see avail.rs for
//! how it is found) for sm_80 and sm_90 (CUBIN, with ptxas' resource report) and
//! compute_75 (PTX). Fails on a compile error, a register spill, or registers / stack /
//! shared memory over the budget below. This test does not skip: without libnvrtc it fails
//! and says where to point QOXIDE_NVRTC.
use qoxide_core::{Gate, Op, Tape};
use qoxide_cuda::nvrtc::{compile, KERNELS};
use qoxide_cuda::{LargeProgram, LaunchShape, Precision, SmallProgram};

/// Registers per thread: 128 lets two 256-thread blocks share an SM's 64K registers.
const MAX_REGISTERS: u32 = 128;
/// Per-thread stack (the local form arrays m[16], f[16]); no spills at all.
const MAX_STACK_BYTES: u32 = 1024;
/// Dynamic shared memory of the worst launch (12 qubits, complex128, VJP: φ and λ) must fit
/// an A100's 163 KiB opt-in limit (H100/H200: 227 KiB).
const MAX_SHARED_BYTES: usize = 163 * 1024;
/// The large-register kernels (kernels/large.cu) share the register, stack and spill
/// budgets above; their worst launch (the backward segment: φ and λ tiles of 2^10
/// complex128 and a 256-thread reduction) stays within the 48 KiB every GPU gives a block
/// without opting in.
const MAX_LARGE_SHARED_BYTES: usize = 48 * 1024;

#[test]
fn kernels_compile_within_budget() {
    for arch in ["sm_80", "sm_90", "compute_75"] {
        let c = compile(arch).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.image.is_empty(), "{arch}: empty image");
        if !c.is_cubin {
            let ptx = String::from_utf8_lossy(&c.image);
            for k in KERNELS {
                assert!(
                    ptx.contains(&format!(".entry {k}")),
                    "{arch}: no entry {k} in the PTX"
                );
            }
            continue;
        }
        println!("{arch}: {:?}", c.stats);
        for k in KERNELS {
            let s = (c.stats.iter().find(|s| s.name == *k))
                .unwrap_or_else(|| panic!("{arch}: ptxas reported nothing for {k}:\n{}", c.log));
            assert!(
                s.registers > 0,
                "{arch} {k}: no register count parsed:\n{}",
                c.log
            );
            assert!(
                s.registers <= MAX_REGISTERS,
                "{arch} {k}: {} registers > {MAX_REGISTERS}",
                s.registers
            );
            assert_eq!(
                (s.spill_stores, s.spill_loads),
                (0, 0),
                "{arch} {k}: spills\n{}",
                c.log
            );
            assert!(
                s.stack_frame <= MAX_STACK_BYTES,
                "{arch} {k}: {} bytes stack",
                s.stack_frame
            );
            assert_eq!(s.static_shared, 0, "{arch} {k}: static shared memory");
        }
    }
}

#[test]
fn worst_launch_fits_shared_memory() {
    let mut t = Tape::new(12, 0).unwrap();
    t.push(Op::new(Gate::Hadamard, vec![0], vec![])).unwrap();
    let p = SmallProgram::new(&t, &[]).unwrap();
    for prec in [Precision::C64, Precision::C128] {
        let l = p.launch(1000, true, prec, 256).unwrap();
        assert!(
            l.shared_bytes <= MAX_SHARED_BYTES,
            "{prec:?}: {} bytes",
            l.shared_bytes
        );
    }
}

#[test]
fn large_launches_fit_default_shared_memory() {
    let mut t = Tape::new(30, 0).unwrap();
    t.push(Op::new(Gate::Hadamard, vec![29], vec![])).unwrap();
    let p = LargeProgram::new(&t, &[]).unwrap();
    for prec in [Precision::C64, Precision::C128] {
        let b = p.max_shared_bytes(prec, LaunchShape::default().block);
        assert!(b <= MAX_LARGE_SHARED_BYTES, "{prec:?}: {b} bytes");
    }
}

#[test]
fn ptxas_report_parses() {
    let log = "ptxas info    : Compiling entry function 'k' for 'sm_90'\n\
               ptxas info    : Function properties for k\n\
               ptxas         .     432 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
               ptxas info    : Used 72 registers, used 1 barriers, 16 bytes smem\n\
               ptxas info    : Function properties for helper\n\
               ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n";
    let s = qoxide_cuda::nvrtc::parse_ptxas(log);
    assert_eq!(s.len(), 1);
    assert_eq!(
        (
            s[0].registers,
            s[0].stack_frame,
            s[0].spill_stores,
            s[0].spill_loads,
            s[0].static_shared
        ),
        (72, 432, 8, 4, 16)
    );
}
