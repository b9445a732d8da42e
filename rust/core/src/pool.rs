//! The rayon pool used by every parallel kernel, safe across `fork()`.
//!
//! rayon's global pool does not survive `fork()`: the child inherits a registry whose
//! worker threads do not exist, and the first parallel job hangs forever (torch
//! DataLoader workers fork). We keep our own pool tagged with the pid that built it and
//! build a fresh one when the pid changes; the parent's pool is leaked in the child on
//! purpose (its threads belong to the parent; dropping it would wait on them).
//! A pool replaced by `set_num_threads` in the same process is retired: dropped when the
//! last call still running on it returns, which ends its threads.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

struct Tagged {
    pid: u32,
    threads: usize,
    pool: ThreadPool,
}

static POOL: Mutex<Option<Arc<Tagged>>> = Mutex::new(None);
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
fn pool() -> Arc<Tagged> {
    let pid = std::process::id();
    let threads = wanted_threads();
    // (held for a pointer swap only; a poisoned lock still holds a valid Option)
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = slot.as_ref() {
        if t.pid == pid && t.threads == threads {
            return t.clone();
        }
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("qoxide-{i}"))
        .build()
        .expect("failed to start the qoxide thread pool");
    let fresh = Arc::new(Tagged { pid, threads, pool });
    if let Some(old) = slot.replace(fresh.clone()) {
        if old.pid != pid {
            std::mem::forget(old); // the parent's pool, inherited through fork: see above
        }
        // else: dropped here, or by the last call still running on it
    }
    fresh
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
    let p = pool();
    p.pool.install(f)
}
