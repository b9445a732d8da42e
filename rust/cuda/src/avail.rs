//! Is CUDA usable here, and if not, why. Never panics: cudarc panics when a library or
//! symbol is missing, so every cudarc call here is preceded by its `is_culib_present`
//! check and wrapped in `catch_unwind` as a second guard.
//!
//! Where libnvrtc comes from (first hit wins):
//! 1. `QOXIDE_NVRTC`: the path of `libnvrtc.so.*`, or a folder holding it;
//! 2. the NVIDIA wheels of a Python environment: `<prefix>/lib/python3*/site-packages/
//!    nvidia/*/lib/libnvrtc.so*` for `<prefix>` in `$VIRTUAL_ENV`, `$CONDA_PREFIX`, and the
//!    `.venv` folders above this crate and the current directory (torch's CUDA wheels ship
//!    `nvidia/cu13/lib/libnvrtc.so.13`; `qoxide.cuda` passes the folders of the running
//!    interpreter's `sys.path` through `QOXIDE_NVRTC` too);
//! 3. the system's loader path (`LD_LIBRARY_PATH`, ldconfig) under cudarc's names.
//!
//! A library found by path is opened once and kept open; cudarc's own `dlopen` of
//! `libnvrtc.so.13` then finds it by its soname.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Run a cudarc call, turning a panic (a missing library or symbol) into an error.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what} failed: {msg}")
    })
}

fn nvrtc_in(dir: &Path) -> Option<PathBuf> {
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libnvrtc.so") || n == "nvrtc64_130_0.dll")
        })
        .collect();
    hits.sort();
    // prefer the soname (libnvrtc.so.13) over libnvrtc.so.13.x.y
    hits.sort_by_key(|p| p.as_os_str().len());
    hits.into_iter().next()
}

fn site_packages_nvidia(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let lib = prefix.join("lib");
    let Ok(pys) = std::fs::read_dir(&lib) else {
        return out;
    };
    for py in pys.flatten() {
        let nv = py.path().join("site-packages").join("nvidia");
        if let Ok(pkgs) = std::fs::read_dir(&nv) {
            for p in pkgs.flatten() {
                out.push(p.path().join("lib"));
            }
        }
    }
    out.sort();
    out
}

/// The libnvrtc this process would load by path (None: leave it to the system loader).
pub fn nvrtc_path() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("QOXIDE_NVRTC") {
        for part in std::env::split_paths(&v) {
            if part.is_file() {
                return Some(part);
            }
            if let Some(p) = nvrtc_in(&part) {
                return Some(p);
            }
        }
    }
    let mut prefixes: Vec<PathBuf> = ["VIRTUAL_ENV", "CONDA_PREFIX"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .collect();
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    for r in roots {
        for a in r.ancestors() {
            prefixes.push(a.join(".venv"));
        }
    }
    for pre in prefixes {
        for dir in site_packages_nvidia(&pre) {
            if let Some(p) = nvrtc_in(&dir) {
                return Some(p);
            }
        }
    }
    None
}

/// NVRTC's version, or why it cannot be used. The library is opened once per process.
pub fn nvrtc_version() -> Result<(i32, i32), String> {
    static V: OnceLock<Result<(i32, i32), String>> = OnceLock::new();
    V.get_or_init(|| {
        if let Some(p) = nvrtc_path() {
            // SAFETY: loading NVRTC runs only its initialisers; kept open for the process.
            match unsafe { libloading::Library::new(&p) } {
                Ok(lib) => std::mem::forget(lib),
                Err(e) => return Err(format!("libnvrtc at {} cannot be loaded: {e}", p.display())),
            }
        }
        // SAFETY: only probes dlopen.
        if !guarded("looking for libnvrtc", || unsafe {
            cudarc::nvrtc::sys::is_culib_present()
        })? {
            return Err(
                "libnvrtc (NVRTC, the CUDA runtime compiler) was not found: set \
                        QOXIDE_NVRTC to libnvrtc.so.13 (torch's CUDA wheels ship it under \
                        site-packages/nvidia/cu13/lib) or add its folder to LD_LIBRARY_PATH"
                    .into(),
            );
        }
        let (mut ma, mut mi) = (0, 0);
        // SAFETY: plain out-pointers.
        let r = guarded("nvrtcVersion", || unsafe {
            cudarc::nvrtc::sys::nvrtcVersion(&mut ma, &mut mi).result()
        })?;
        r.map_err(|e| format!("nvrtcVersion: {e:?}"))?;
        Ok((ma, mi))
    })
    .clone()
}

/// Number of CUDA devices, or why there is none usable.
pub fn driver_devices() -> Result<usize, String> {
    static D: OnceLock<Result<usize, String>> = OnceLock::new();
    D.get_or_init(|| {
        // SAFETY: only probes dlopen.
        if !guarded("looking for libcuda", || unsafe {
            cudarc::driver::sys::is_culib_present()
        })? {
            return Err(
                "the NVIDIA driver library (libcuda.so) was not found: no CUDA driver \
                        is installed on this machine"
                    .into(),
            );
        }
        guarded("cuInit", cudarc::driver::result::init)?
            .map_err(|e| format!("the CUDA driver failed to initialise (cuInit): {e:?}"))?;
        let n = guarded(
            "cuDeviceGetCount",
            cudarc::driver::result::device::get_count,
        )?
        .map_err(|e| format!("cuDeviceGetCount: {e:?}"))?;
        if n <= 0 {
            return Err("the CUDA driver found no GPU".into());
        }
        Ok(n as usize)
    })
    .clone()
}

/// Why the CUDA backend cannot run here (None when it can).
pub fn reason() -> Option<String> {
    if let Err(e) = driver_devices() {
        return Some(e);
    }
    if let Err(e) = nvrtc_version() {
        return Some(e);
    }
    None
}

/// Can the CUDA backend run here (a driver, a GPU and NVRTC)?
pub fn is_available() -> bool {
    reason().is_none()
}
