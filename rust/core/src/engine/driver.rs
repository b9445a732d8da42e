//! The batch driver every entry point runs through: for each sample, its final state from
//! the chosen engine, then the caller's per-sample function on it.

use super::{check_call, lanes, plan, Engine, Init, Options};
use crate::error::{QoxideError, Result};
use crate::memory::ensure_fits;
use crate::pool;
use crate::program::Program;
use crate::scalar::{Real, C};
use crate::state::{alloc, zero_state};
use std::borrow::Cow;

/// What `Batch::run`'s per-sample function does, for the memory check and the choice of
/// threads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Task {
    /// full states one task holds at once
    pub states: usize,
    /// about how many passes over a full state it makes per sample
    pub passes: usize,
}

impl Task {
    /// reads the final state once
    pub const MEASURE: Task = Task {
        states: 1,
        passes: 1,
    };
}

fn initial<T: Real>(init: &Init<T>, n: usize, b: usize) -> Vec<C<T>> {
    match init {
        Init::Zero => zero_state(n),
        Init::Shared(s) => alloc::copied(s),
        Init::PerSample(s) | Init::Final(s) => alloc::copied(&s[b << n..(b + 1) << n]),
    }
}

/// One call's samples: the program, theta, initial states, options and the engine the
/// planner chose for them (checked on construction).
pub(crate) struct Batch<'a, T> {
    pub prog: &'a Program<T>,
    pub theta: &'a [f64],
    pub batch: usize,
    pub init: Init<'a, T>,
    pub opts: &'a Options,
    pub engine: Engine,
}

impl<'a, T: Real> Batch<'a, T> {
    pub fn new(
        prog: &'a Program<T>,
        theta: &'a [f64],
        batch: usize,
        init: Init<'a, T>,
        opts: &'a Options,
    ) -> Result<Self> {
        check_call(prog.tape(), theta, batch, &init)?;
        let engine = super::choose(prog, batch, opts)?;
        Ok(Batch {
            prog,
            theta,
            batch,
            init,
            opts,
            engine,
        })
    }

    /// For each sample b: its final state from the engine, then `f(b, state, out_row,
    /// amp_par)` with `out_row` its `width` outputs. The lane engine runs the batch a chunk
    /// at a time (`lane_chunks`), so memory stays bounded whatever the batch size.
    pub fn run<O: Send>(
        &self,
        task: Task,
        out: &mut [O],
        width: usize,
        f: impl Fn(usize, &mut Vec<C<T>>, &mut [O], bool) + Sync + Send,
    ) -> Result<()> {
        if out.len() != self.batch * width {
            return Err(QoxideError::Internal(
                "output buffer of the wrong size".into(),
            ));
        }
        let (prog, engine, opts) = (self.prog, self.engine, self.opts);
        if engine == Engine::Lanes && !self.init.is_final() {
            // small register, many samples: forward passes a chunk at a time, then as from
            // the final states
            for (start, nb) in self.lane_chunks(1)? {
                let (th, finals) = (self.theta_rows(start, nb), self.lane_finals(start, nb));
                opts.check_cancel()?;
                let o = &mut out[start * width..(start + nb) * width];
                let init = Init::Final(&finals);
                per_sample(prog, th, nb, &init, engine, opts, task, o, width, start, &f)?;
            }
            return Ok(());
        }
        let (theta, batch, init) = (self.theta, self.batch, &self.init);
        per_sample(
            prog, theta, batch, init, engine, opts, task, out, width, 0, &f,
        )
    }

    /// The lane engine's chunks of samples, (first sample, count): about 8 MiB of states
    /// each; refuses a chunk whose `states` states per sample would not fit in memory.
    pub fn lane_chunks(&self, states: usize) -> Result<impl Iterator<Item = (usize, usize)>> {
        let n = self.prog.tape().n_qubits;
        let (chunk, batch) = (lanes::chunk_samples::<T>(n), self.batch);
        let amp = std::mem::size_of::<C<T>>() as u128;
        let bytes = ((states as u128 * chunk.min(batch) as u128) << n) * amp;
        ensure_fits(bytes, "the lane engine's states")?;
        Ok((0..batch)
            .step_by(chunk)
            .map(move |start| (start, chunk.min(batch - start))))
    }

    /// theta's rows for samples `start..start + nb`.
    pub fn theta_rows(&self, start: usize, nb: usize) -> &'a [f64] {
        let p = self.prog.tape().n_params;
        &self.theta[start * p..(start + nb) * p]
    }

    /// The final states of samples `start..start + nb`: given, or from the lane engine.
    pub fn lane_finals(&self, start: usize, nb: usize) -> Cow<'a, [C<T>]> {
        let dim = 1usize << self.prog.tape().n_qubits;
        match self.init.slice(dim, start, nb) {
            Init::Final(s) => Cow::Borrowed(s),
            part => {
                let th = self.theta_rows(start, nb);
                Cow::Owned(lanes::final_states(self.prog, th, nb, &part, self.opts))
            }
        }
    }
}

/// `Batch::run` on samples one at a time (or from final states): sample b of this call is
/// `first + b` of the caller's.
#[allow(clippy::too_many_arguments)]
fn per_sample<T: Real, O: Send, F>(
    prog: &Program<T>,
    theta: &[f64],
    batch: usize,
    init: &Init<T>,
    engine: Engine,
    opts: &Options,
    task: Task,
    out: &mut [O],
    width: usize,
    first: usize,
    f: &F,
) -> Result<()>
where
    F: Fn(usize, &mut Vec<C<T>>, &mut [O], bool) + Sync + Send,
{
    let tape = prog.tape();
    let n = tape.n_qubits;
    // full-state passes per sample: the forward's (none from final states), then f's
    let forward = if init.is_final() { 0 } else { tape.ops.len() };
    let pl = plan(batch, n, forward + task.passes);
    let tasks = if pl.batch_par {
        pool::num_threads().min(batch)
    } else {
        1
    };
    let bytes = ((tasks * task.states) as u128 * std::mem::size_of::<C<T>>() as u128) << n;
    ensure_fits(bytes, format_args!("simulating {n} qubits"))?;
    let fused = match engine {
        Engine::Tiled => prog.fused(opts.tile_qubits),
        _ => Cow::Owned(None),
    };
    let stop = || opts.cancelled();
    let one = |b: usize, row_out: &mut [O]| {
        if stop() {
            return;
        }
        let row = tape.row(theta, b);
        let mut s = initial(init, n, b);
        if !init.is_final() {
            match fused.as_ref() {
                Some(blocks) => {
                    let zero = matches!(init, Init::Zero);
                    let bits = opts.block_bits();
                    prog.forward_fused(blocks, &mut s, row, bits, pl.amp_par, &stop, zero)
                }
                None => prog.forward(&mut s, row, opts.block_bits(), pl.amp_par, &stop),
            }
        }
        if !stop() {
            f(first + b, &mut s, row_out, pl.amp_par);
        }
    };
    let width = width.max(1);
    if pl.batch_par {
        // the caller works too and the pool's threads join as they wake (`pool::share`),
        // rather than the caller sleeping until the pool is done (rayon's `install`): the
        // dressed circuit's forward + gradient from Python, 9 qubits batch 8, 498 -> 382 µs
        // median; 9 x 32 1130 -> 1025; 10 x 16 1082 -> 1011 (4 alternated processes,
        // 2-vCPU AMD VM); 12 qubits within noise
        pool::share_chunks(out, width, one);
    } else if pl.amp_par {
        pool::install(|| {
            out.chunks_mut(width)
                .enumerate()
                .for_each(|(b, o)| one(b, o))
        });
    } else {
        // serial: stay on the caller's thread (a hop into the pool costs more than the work)
        out.chunks_mut(width)
            .enumerate()
            .for_each(|(b, o)| one(b, o));
    }
    opts.check_cancel()
}
