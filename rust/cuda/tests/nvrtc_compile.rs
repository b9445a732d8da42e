//! Every kernel compiled by NVRTC for sm_80, sm_90 (CUBIN) and compute_75 (PTX).
use qoxide_cuda::nvrtc::{compile, KERNELS};

#[test]
fn compiles_everywhere() {
    for arch in ["sm_80", "sm_90", "compute_75"] {
        let c = compile(arch).unwrap_or_else(|e| panic!("{e}"));
        println!("{arch}: {} bytes\n{}\n{:#?}", c.image.len(), c.log, c.stats);
    }
    let _ = KERNELS;
}
