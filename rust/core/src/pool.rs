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
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// Runs `f(k)` for every `k` in `0..n` on the calling thread, with the pool's threads
/// joining as they wake: indices are claimed one at a time from a shared counter, so a
/// late helper costs nothing but the work it did not take. Unlike `install`, the caller
/// never sleeps waiting for the pool to start (on a small VM each wake-up, the pool's and
/// then the caller's, costs tens of microseconds); at the end it waits only for the
/// indices a helper is still running. `f` may run on several threads at once, each `k`
/// exactly once. A panic in `f` on a helper is raised again here.
pub fn share(n: usize, f: &(dyn Fn(usize) + Sync)) {
    let helpers = num_threads().saturating_sub(1).min(n.saturating_sub(1));
    if helpers == 0 {
        return (0..n).for_each(f);
    }
    // SAFETY: the lifetime is erased for the pool's 'static jobs. A helper calls
    // `Shared::job` only after entering the open gate (`Shared::help`'s increment) and
    // before leaving it (its decrement), and `Closing` (below) returns only after the gate
    // is closed and no helper is inside: `f` outlives every call
    let job: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        n,
        gate: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
        job,
    });
    let p = pool();
    for _ in 0..helpers {
        let s = shared.clone();
        p.pool.spawn(move || s.help());
    }
    {
        let _closing = Closing(&shared);
        shared.work();
    }
    if shared.panicked.load(Ordering::Acquire) {
        panic!("a qoxide pool thread panicked (see its message above)");
    }
}

/// `share` over the chunks of `out` (`chunk` elements each, the last may be short):
/// `f(k, chunk k)`.
pub fn share_chunks<O: Send>(out: &mut [O], chunk: usize, f: impl Fn(usize, &mut [O]) + Sync) {
    let chunks = Chunks::new(out, chunk);
    // SAFETY: `share` runs each index once
    share(chunks.count, &|k| f(k, unsafe { chunks.get(k) }));
}

/// `share_chunks` over two slices with as many chunks: `f(k, chunk k of a, chunk k of b)`.
pub fn share_chunk_pairs<A: Send, B: Send>(
    (a, chunk_a): (&mut [A], usize),
    (b, chunk_b): (&mut [B], usize),
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    let (ra, rb) = (Chunks::new(a, chunk_a), Chunks::new(b, chunk_b));
    assert_eq!(
        ra.count, rb.count,
        "share_chunk_pairs: as many chunks in both"
    );
    // SAFETY: `share` runs each index once
    share(ra.count, &|k| unsafe { f(k, ra.get(k), rb.get(k)) });
}

/// The chunks of a slice, handed out by index to the threads of `share`.
struct Chunks<'a, O> {
    ptr: *mut O,
    len: usize,
    chunk: usize,
    count: usize,
    _slice: PhantomData<&'a mut [O]>,
}

// SAFETY: `Chunks` stands for the `&mut [O]` it was made from; each chunk is handed out
// once (`get`'s contract), so threads never share an element
unsafe impl<O: Send> Sync for Chunks<'_, O> {}

impl<'a, O> Chunks<'a, O> {
    fn new(s: &'a mut [O], chunk: usize) -> Self {
        assert!(chunk > 0, "chunks of at least one element");
        Chunks {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            chunk,
            count: s.len().div_ceil(chunk),
            _slice: PhantomData,
        }
    }

    /// Chunk `k` (the last one may be short).
    ///
    /// # Safety
    /// Each `k < count` at most once, while the slice `new` took is borrowed.
    unsafe fn get(&self, k: usize) -> &'a mut [O] {
        let start = k * self.chunk;
        let len = self.chunk.min(self.len - start);
        // SAFETY: in bounds (k < count), disjoint from every other chunk, and handed out
        // once (the caller's contract)
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// The state of one `share` call, held by the caller and by each helper job.
struct Shared {
    next: AtomicUsize,
    n: usize,
    /// `CLOSED` once the caller is done, plus the number of helpers inside `work`
    gate: AtomicUsize,
    panicked: AtomicBool,
    /// valid while the gate is open or a helper is inside (see `share`)
    job: &'static (dyn Fn(usize) + Sync),
}

const CLOSED: usize = 1 << (usize::BITS - 1);

impl Shared {
    fn work(&self) {
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            if k >= self.n {
                return;
            }
            (self.job)(k);
        }
    }

    /// A helper job: works unless the caller has already closed the gate (a helper that
    /// woke after the caller finished touches nothing).
    fn help(&self) {
        let mut g = self.gate.load(Ordering::Acquire);
        loop {
            if g & CLOSED != 0 {
                return;
            }
            match (self.gate).compare_exchange_weak(g, g + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => g = now,
            }
        }
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work()));
        if run.is_err() {
            self.panicked.store(true, Ordering::Release);
        }
        self.gate.fetch_sub(1, Ordering::Release);
    }
}

/// Closes the gate of a `share` call and waits until no helper is inside, also when the
/// caller's own work unwinds.
struct Closing<'a>(&'a Shared);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        let gate = &self.0.gate;
        gate.fetch_or(CLOSED, Ordering::AcqRel);
        // a helper inside finishes its index within microseconds: spin briefly, then yield
        // (on a loaded machine the helper may need this core to finish)
        let mut spins = 0u32;
        while gate.load(Ordering::Acquire) != CLOSED {
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn counts(n: usize) -> Vec<AtomicU32> {
        (0..n).map(|_| AtomicU32::new(0)).collect()
    }

    #[test]
    fn share_runs_every_index_once() {
        for n in [0, 1, 2, 3, 17, 1000] {
            let seen = counts(n);
            share(n, &|k| {
                seen[k].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                seen.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "n = {n}"
            );
        }
    }

    #[test]
    fn shared_chunks_cover_the_slices_once() {
        for (len, chunk) in [(0, 3), (1, 3), (10, 3), (12, 3), (1000, 16)] {
            let mut out = vec![0u32; len];
            share_chunks(&mut out, chunk, |k, c| {
                assert!(c.len() == chunk || (k + 1) * chunk >= len);
                c.iter_mut().for_each(|x| *x += k as u32 + 1);
            });
            assert!(out
                .iter()
                .enumerate()
                .all(|(i, &x)| x == (i / chunk) as u32 + 1));
            let mut other = vec![0u8; 2 * len];
            share_chunk_pairs((&mut out, chunk), (&mut other, 2 * chunk), |k, a, b| {
                assert_eq!(2 * a.len(), b.len());
                b.iter_mut().for_each(|y| *y = (k % 200) as u8 + 1);
            });
            assert!(other
                .iter()
                .enumerate()
                .all(|(i, &y)| y == ((i / (2 * chunk)) % 200) as u8 + 1));
        }
    }

    #[test]
    fn share_uses_the_pool_when_it_has_threads() {
        // with a helper that sleeps in every index, the caller cannot take them all before
        // the helper wakes: some index runs on a pool thread
        if num_threads() < 2 {
            return;
        }
        let on_pool = AtomicU32::new(0);
        share(64, &|_| {
            if rayon::current_thread_index().is_some() {
                on_pool.fetch_add(1, Ordering::Relaxed);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        });
        assert!(on_pool.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn share_nested_in_pool_threads_completes() {
        // calls from inside the pool (all its threads busy) must not wait for helpers
        // that cannot start
        let total = AtomicU32::new(0);
        install(|| {
            rayon::broadcast(|_| {
                share(100, &|_| {
                    total.fetch_add(1, Ordering::Relaxed);
                })
            })
        });
        assert_eq!(total.load(Ordering::Relaxed) as usize, 100 * num_threads());
    }

    #[test]
    fn share_raises_a_helpers_panic_in_the_caller() {
        if num_threads() < 2 {
            return;
        }
        let r = std::panic::catch_unwind(|| {
            share(64, &|k| {
                std::thread::sleep(std::time::Duration::from_millis(1));
                if rayon::current_thread_index().is_some() {
                    panic!("boom at {k}");
                }
            })
        });
        assert!(r.is_err());
    }
}
