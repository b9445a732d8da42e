//! The rayon pool used by every parallel kernel, safe across `fork()`.
//!
//! rayon's global pool does not survive `fork()`: the child inherits a registry whose
//! worker threads do not exist, and the first parallel job hangs forever (torch
//! DataLoader workers fork). We keep our own pool tagged with the pid that built it and
//! build a fresh one when the pid changes. The stale pool is leaked on purpose: its
//! threads belong to the parent, and dropping it in the child would wait on them.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::OnceLock;

struct Tagged {
    pid: u32,
    threads: usize,
    pool: ThreadPool,
}

static POOL: AtomicPtr<Tagged> = AtomicPtr::new(ptr::null_mut());
/// Requested thread count; 0 means "default" (RAYON_NUM_THREADS or all cores).
static REQUESTED: AtomicUsize = AtomicUsize::new(0);

/// Read once: `available_parallelism` reads cgroup files, far too slow for every call.
fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(read_default_threads)
}

fn read_default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

fn wanted_threads() -> usize {
    match REQUESTED.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// The pool for this process, built on first use (and again after a fork or a
/// change of the requested thread count).
pub fn pool() -> &'static ThreadPool {
    let pid = std::process::id();
    loop {
        let cur = POOL.load(Ordering::Acquire);
        // SAFETY: pools stored in POOL are leaked boxes and are never freed.
        if let Some(t) = unsafe { cur.as_ref() } {
            if t.pid == pid && t.threads == wanted_threads() {
                return &t.pool;
            }
        }
        let threads = wanted_threads();
        let pool = ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("qoxide-{i}"))
            .build()
            .expect("failed to start the qoxide thread pool");
        let fresh = Box::into_raw(Box::new(Tagged { pid, threads, pool }));
        match POOL.compare_exchange(cur, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // The old pool (another process's, or a resized one) is leaked: see module doc.
            Ok(_) => return unsafe { &(*fresh).pool },
            // Another thread won the race: drop ours (its threads live here) and retry.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

/// Number of threads the pool runs.
pub fn num_threads() -> usize {
    wanted_threads()
}

/// Set the number of threads (0 restores the default). Takes effect on the next call.
pub fn set_num_threads(n: usize) {
    REQUESTED.store(n, Ordering::Relaxed);
}

/// Run `f` inside the pool.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}
