//! W "virtual ranks" in one process: the schedule run with every shard in memory and the
//! swaps done by moving chunks exactly as the all-to-all does (rank r sends its chunk a —
//! the amplitudes whose top m local bits equal a — to the rank whose exchanged global bits
//! equal a, which stores it as its chunk b = r's exchanged global bits). The reference
//! the distributed runs and the tests compare against.

use super::exec::{to_logical, zero_shard, RankView};
use super::{Schedule, Step, Swap};
use crate::error::Result;
use crate::observable::Obs;
use crate::scalar::{Real, C};
use crate::tape::Tape;

/// The partner rank that receives chunk `a` of rank `r`, and the chunk index `b` it
/// arrives at (r's pattern of the exchanged global bits).
pub fn route(swap: &Swap, l: u32, r: usize, a: usize) -> (usize, usize) {
    let mut dest = r;
    let mut b = 0usize;
    for (j, &g) in swap.global.iter().enumerate() {
        let gb = (g - l) as usize;
        b |= (r >> gb & 1) << j;
        dest = (dest & !(1 << gb)) | ((a >> j & 1) << gb);
    }
    (dest, b)
}

/// The exchange of `swap` on all ranks' shards (one state per rank).
pub fn exchange<T: Real>(shards: &mut [Vec<C<T>>], swap: &Swap, l: u32) {
    let m = swap.m();
    let chunk = 1usize << (l as usize - m);
    let old: Vec<Vec<C<T>>> = shards.to_vec();
    for (r, s) in old.iter().enumerate() {
        for a in 0..1usize << m {
            let (dest, b) = route(swap, l, r, a);
            shards[dest][b * chunk..(b + 1) * chunk]
                .copy_from_slice(&s[a * chunk..(a + 1) * chunk]);
        }
    }
}

/// A whole swap step on a set of states, each sharded over all ranks (`sets[s][r]`).
fn swap_step<T: Real>(sets: &mut [Vec<Vec<C<T>>>], swap: &Swap, l: u32, backward: bool) {
    for set in sets.iter_mut() {
        for s in set.iter_mut() {
            RankView::transpose(swap, true, backward, s);
        }
        exchange(set, swap, l);
        for s in set.iter_mut() {
            RankView::transpose(swap, false, backward, s);
        }
    }
}

/// The final shards of one sample (theta row `row`), started from |0..0>.
pub fn forward<T: Real>(tape: &Tape, sched: &Schedule, row: &[f64]) -> Result<Vec<Vec<C<T>>>> {
    let w = sched.n_ranks();
    let l = sched.local_qubits() as u32;
    let views = (0..w)
        .map(|r| RankView::new(tape, sched, r))
        .collect::<Result<Vec<_>>>()?;
    let mut sets = vec![(0..w)
        .map(|r| zero_shard::<T>(sched, r))
        .collect::<Vec<_>>()];
    for (i, step) in sched.steps.iter().enumerate() {
        match step {
            Step::Segment { .. } => {
                for (v, s) in views.iter().zip(sets[0].iter_mut()) {
                    v.forward_segment(i, row, s)?;
                }
            }
            Step::Swap(sw) => swap_step(&mut sets, sw, l, false),
        }
    }
    Ok(sets.pop().unwrap_or_default())
}

/// The final state in logical order.
pub fn state<T: Real>(tape: &Tape, sched: &Schedule, row: &[f64]) -> Result<Vec<C<T>>> {
    let shards = forward::<T>(tape, sched, row)?;
    Ok(to_logical(&shards.concat(), &sched.final_map))
}

/// ⟨O_m⟩ for one sample: the rank partials summed (the all-reduce).
pub fn expval<T: Real>(
    tape: &Tape,
    sched: &Schedule,
    row: &[f64],
    obs: &[Obs],
) -> Result<Vec<f64>> {
    let shards = forward::<T>(tape, sched, row)?;
    let mut out = vec![0.0; obs.len()];
    for (r, s) in shards.iter().enumerate() {
        let part = RankView::new(tape, sched, r)?.expval_partial(s, obs)?;
        out.iter_mut().zip(part).for_each(|(o, p)| *o += p);
    }
    Ok(out)
}

/// The adjoint sweep with the given cotangent sets: `gs[l]` weights the observables of
/// λ_l = Σ_m gs[l][m] O_m |ψ⟩. Returns `[gs.len(), P]`.
pub fn adjoint<T: Real>(
    tape: &Tape,
    sched: &Schedule,
    row: &[f64],
    obs: &[Obs],
    gs: &[Vec<f64>],
) -> Result<Vec<f64>> {
    let w = sched.n_ranks();
    let l = sched.local_qubits() as u32;
    let p = tape.n_params;
    let views = (0..w)
        .map(|r| RankView::new(tape, sched, r))
        .collect::<Result<Vec<_>>>()?;
    let phi = forward::<T>(tape, sched, row)?;
    // sets[0] = φ, sets[1 + l] = λ_l
    let mut sets = vec![phi];
    for g in gs {
        let mut lam = Vec::with_capacity(w);
        for (v, s) in views.iter().zip(&sets[0]) {
            let mut x = vec![C::new(T::zero(), T::zero()); s.len()];
            v.apply_observables(s, obs, g, &mut x)?;
            lam.push(x);
        }
        sets.push(lam);
    }
    let mut grads = vec![0.0; gs.len() * p];
    for (i, step) in sched.steps.iter().enumerate().rev() {
        match step {
            Step::Segment { .. } => {
                for (r, v) in views.iter().enumerate() {
                    let (head, tail) = sets.split_at_mut(1);
                    let mut lams: Vec<&mut [C<T>]> =
                        tail.iter_mut().map(|set| set[r].as_mut_slice()).collect();
                    v.backward_segment(i, row, &mut head[0][r], &mut lams, &mut grads)?;
                }
            }
            Step::Swap(sw) => swap_step(&mut sets, sw, l, true),
        }
    }
    Ok(grads)
}

/// d⟨O_m⟩/dθ for one sample: `[M, P]`.
pub fn jacobian<T: Real>(
    tape: &Tape,
    sched: &Schedule,
    row: &[f64],
    obs: &[Obs],
) -> Result<Vec<f64>> {
    let gs: Vec<Vec<f64>> = (0..obs.len())
        .map(|m| {
            (0..obs.len())
                .map(|j| if j == m { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    adjoint::<T>(tape, sched, row, obs, &gs)
}
