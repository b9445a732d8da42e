// Builds host/host.cpp (the kernels compiled for the host through host/shim.h) when the
// `host-emulation` feature is on; `tsan` adds ThreadSanitizer to it.
fn main() {
    println!("cargo:rerun-if-changed=kernels");
    println!("cargo:rerun-if-changed=host");
    #[cfg(feature = "host-emulation")]
    {
        let tsan = std::env::var_os("CARGO_FEATURE_TSAN").is_some();
        let mut b = cc::Build::new();
        b.cpp(true)
            .file("host/host.cpp")
            .flag("-std=c++17")
            .flag("-pthread")
            .warnings(true)
            .flag_if_supported("-Wno-unused-function");
        if tsan {
            b.flag("-fsanitize=thread").flag("-g").opt_level(1);
        } else {
            b.opt_level(2);
        }
        b.compile("qx_host");
        if tsan {
            // the C++ side is instrumented; the TSan runtime comes as a shared library
            println!("cargo:rustc-link-lib=dylib=tsan");
        }
        println!("cargo:rustc-link-lib=pthread");
    }
}
