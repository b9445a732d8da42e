//! Sharded execution: a qubit map and a swap schedule (no communication here).
//!
//! Layout: 2^k ranks; rank r holds the 2^(n-k) amplitudes whose top k *physical* index
//! bits equal r. Physical bits 0..L (L = n - k) are local, L..n global. A logical→physical
//! map says where each wire's bit lives; it changes only at swaps.
//!
//! The schedule splits the tape into local segments separated by swaps. Diagonal gates
//! and controls need no swap whatever bit they sit on (a global control is a per-rank
//! condition, a diagonal entry on a global bit a per-rank phase), so only the targets of
//! non-diagonal kernels must be local. When an op needs global wires, a swap brings them
//! in together with other global wires needed before the evicted wires are needed again
//! (look-ahead), evicting the local wires whose next use is furthest away (Belady). The
//! evicted wires are first moved to the top local bits (local bit transpositions, no
//! communication), so each exchanged chunk is a contiguous block of the shard: one swap of
//! m bits is one all-to-all among 2^m partners moving (1 − 2^−m) of the local state.
//!
//! `naive` builds lightning.gpu's schedule for comparison: swap the op's global targets
//! in, apply it, swap them back.

pub mod exec;
pub mod virtual_ranks;

use crate::error::Result;
use crate::observable::{Obs, Observable};
use crate::state::Kernel;
use crate::tape::Tape;
use crate::value_err;
use std::ops::Range;

/// Never used again.
const NEVER: usize = usize::MAX;

/// An exchange of index bits between ranks, with local bit transpositions around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swap {
    /// Local bit transpositions applied (in order) before the exchange.
    pub pre: Vec<(u32, u32)>,
    /// Global physical bits exchanged, ascending; `global[j]` trades places with local
    /// bit `L - m + j` (m = global.len()).
    pub global: Vec<u32>,
    /// Local bit transpositions applied (in order) after the exchange.
    pub post: Vec<(u32, u32)>,
}

impl Swap {
    pub fn m(&self) -> usize {
        self.global.len()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Ops `ops` of the tape, run locally with `map` (logical wire → physical bit).
    Segment {
        ops: Range<usize>,
        map: Vec<u32>,
    },
    Swap(Swap),
}

/// The schedule of a tape on 2^k ranks.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub n_qubits: usize,
    pub k: usize,
    pub steps: Vec<Step>,
    /// The map at the start (|0..0> is |0..0> under any map).
    pub initial_map: Vec<u32>,
    /// The map after the last step: measurements read the state with it.
    pub final_map: Vec<u32>,
}

/// Logical wires whose bits must be local for this op: the targets of its kernel that are
/// not diagonal (the structure does not depend on the angles).
pub fn needs_local(tape: &Tape, i: usize) -> Vec<usize> {
    let op = &tape.ops[i];
    let n = tape.n_qubits;
    let zeros = [0.0; 3];
    let k: Kernel<f64> = op.kernel(&zeros, n);
    let bits: Vec<u32> = match &k {
        Kernel::Identity | Kernel::Diag1 { .. } | Kernel::Parity { .. } => vec![],
        Kernel::Mat1 { t, .. } | Kernel::Flip { t, .. } => vec![*t],
        Kernel::Swap { t0, t1, .. } | Kernel::Mat2 { t0, t1, .. } => vec![*t0, *t1],
        Kernel::MatK { bits, .. } => bits.clone(),
    };
    bits.iter().map(|&b| n - 1 - b as usize).collect()
}

/// Wires whose X or Y factors the observables read: they must be local at the end.
/// Errors for observables the sharded path does not handle (Hermitian, Projector).
pub fn observable_wires(obs: &[Obs]) -> Result<Vec<usize>> {
    let mut x = 0usize;
    for o in obs {
        for (_, xm, _) in pauli_terms(o)? {
            x |= xm;
        }
    }
    let n = obs.first().map_or(0, |o| o.n_qubits);
    Ok((0..n).filter(|&w| x >> (n - 1 - w) & 1 == 1).collect())
}

/// An observable as Σ c_t i^{ny} X^x Z^z terms (c_t includes i^{ny}), masks on logical
/// index bits.
pub fn pauli_terms(o: &Obs) -> Result<Vec<(crate::scalar::C64, usize, usize)>> {
    fn walk(
        op: &Observable,
        scale: f64,
        out: &mut Vec<(crate::scalar::C64, usize, usize)>,
    ) -> Result<()> {
        match op {
            Observable::Pauli(p) => {
                for g in &p.groups {
                    for &(z, c) in &g.terms {
                        out.push((c * scale, g.x, z));
                    }
                }
                Ok(())
            }
            Observable::Sum(terms) => {
                for (c, t) in terms {
                    walk(t, scale * c, out)?;
                }
                Ok(())
            }
            Observable::Dense { .. } | Observable::Projector { .. } => value_err!(
                "sharded execution measures Pauli words and sums of them only \
                 (Hermitian and Projector observables are not implemented sharded)"
            ),
        }
    }
    let mut out = Vec::new();
    walk(&o.op, 1.0, &mut out)?;
    Ok(out)
}

/// For each wire, the sorted indices of the ops (and `ops.len()` for the final
/// measurement) that need it local.
fn uses(tape: &Tape, final_wires: &[usize]) -> Vec<Vec<usize>> {
    let mut u = vec![Vec::new(); tape.n_qubits];
    for i in 0..tape.ops.len() {
        for w in needs_local(tape, i) {
            u[w].push(i);
        }
    }
    for &w in final_wires {
        u[w].push(tape.ops.len());
    }
    u
}

fn next_use(u: &[usize], from: usize) -> usize {
    let j = u.partition_point(|&i| i < from);
    u.get(j).copied().unwrap_or(NEVER)
}

struct Builder {
    n: usize,
    l: u32,
    map: Vec<u32>,
    /// physical bit → wire
    inv: Vec<usize>,
    steps: Vec<Step>,
    seg_start: usize,
}

impl Builder {
    fn new(n: usize, k: usize, map: Vec<u32>) -> Builder {
        let mut inv = vec![0; n];
        for (w, &p) in map.iter().enumerate() {
            inv[p as usize] = w;
        }
        Builder {
            n,
            l: (n - k) as u32,
            map,
            inv,
            steps: Vec::new(),
            seg_start: 0,
        }
    }

    fn is_global(&self, w: usize) -> bool {
        self.map[w] >= self.l
    }

    fn close_segment(&mut self, end: usize) {
        if end > self.seg_start {
            self.steps.push(Step::Segment {
                ops: self.seg_start..end,
                map: self.map.clone(),
            });
        }
        self.seg_start = end;
    }

    fn transpose(&mut self, a: u32, b: u32) {
        let (wa, wb) = (self.inv[a as usize], self.inv[b as usize]);
        self.map[wa] = b;
        self.map[wb] = a;
        self.inv[a as usize] = wb;
        self.inv[b as usize] = wa;
    }

    /// Move `victims` (local wires) to the top local bits: the transpositions.
    fn lift(&mut self, victims: &[usize]) -> Vec<(u32, u32)> {
        let m = victims.len() as u32;
        let top = self.l - m..self.l;
        let mut perm = Vec::new();
        for &v in victims {
            if top.contains(&self.map[v]) {
                continue;
            }
            // a top slot held by a non-victim
            let slot = top
                .clone()
                .find(|&p| !victims.contains(&self.inv[p as usize]))
                .expect("a free top slot");
            perm.push((self.map[v], slot));
            self.transpose(self.map[v], slot);
        }
        perm
    }

    /// Exchange `incoming` (global wires) with the top local bits; returns the global bits.
    fn exchange(&mut self, incoming: &[usize]) -> Vec<u32> {
        let m = incoming.len() as u32;
        let mut g: Vec<u32> = incoming.iter().map(|&w| self.map[w]).collect();
        g.sort_unstable();
        for (j, &gb) in g.iter().enumerate() {
            self.transpose(gb, self.l - m + j as u32);
        }
        g
    }
}

/// Victim candidates: local wires not in `keep`, furthest next use first; ties go to
/// wires already on higher bits (fewer transpositions).
fn victims(b: &Builder, keep: &[usize], next: impl Fn(usize) -> usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..b.n)
        .filter(|&w| !b.is_global(w) && !keep.contains(&w))
        .collect();
    v.sort_by(|&a, &c| next(c).cmp(&next(a)).then(b.map[c].cmp(&b.map[a])));
    v
}

fn check_fits(tape: &Tape, k: usize, final_wires: &[usize]) -> Result<()> {
    let n = tape.n_qubits;
    if k >= n {
        return value_err!("sharding {n} qubits over 2^{k} ranks leaves no local qubit");
    }
    let l = n - k;
    for i in 0..tape.ops.len() {
        let need = needs_local(tape, i).len();
        if need > l {
            return value_err!(
                "{} on {need} wires needs them local, but 2^{k} ranks leave {l} local qubits",
                tape.ops[i].gate.name()
            );
        }
    }
    if final_wires.len() > l {
        return value_err!(
            "the observables read X/Y on {} wires, but 2^{k} ranks leave {l} local qubits",
            final_wires.len()
        );
    }
    Ok(())
}

impl Schedule {
    /// The look-ahead schedule of `tape` on 2^k ranks; `final_wires` must be local at the
    /// end (the X/Y wires of the observables, `observable_wires`).
    pub fn build(tape: &Tape, k: usize, final_wires: &[usize]) -> Result<Schedule> {
        check_fits(tape, k, final_wires)?;
        let n = tape.n_qubits;
        let n_ops = tape.ops.len();
        let u = uses(tape, final_wires);
        // initial map: wires by first use, the earliest on the lowest bits; the k used
        // last start global (free: |0..0> looks the same under any map)
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&w| (next_use(&u[w], 0), w));
        let mut map = vec![0u32; n];
        for (p, &w) in order.iter().enumerate() {
            map[w] = p as u32;
        }
        let initial_map = map.clone();
        let mut b = Builder::new(n, k, map);
        for i in 0..=n_ops {
            let need: Vec<usize> = if i < n_ops {
                needs_local(tape, i)
            } else {
                final_wires.to_vec()
            };
            let mut incoming: Vec<usize> =
                need.iter().copied().filter(|&w| b.is_global(w)).collect();
            if incoming.is_empty() {
                continue;
            }
            let next = |w: usize| {
                if need.contains(&w) {
                    i
                } else {
                    next_use(&u[w], i)
                }
            };
            let cands = victims(&b, &need, next);
            // look-ahead: other global wires needed before the victim they would displace
            let mut others: Vec<usize> = (0..n)
                .filter(|&w| b.is_global(w) && !incoming.contains(&w))
                .filter(|&w| next(w) != NEVER)
                .collect();
            others.sort_by_key(|&w| (next(w), w));
            for g in others {
                let m = incoming.len();
                if m >= cands.len() {
                    break;
                }
                if next(g) < next(cands[m]) {
                    incoming.push(g);
                } else {
                    break;
                }
            }
            let v = &cands[..incoming.len()];
            b.close_segment(i);
            let pre = b.lift(v);
            let global = b.exchange(&incoming);
            b.steps.push(Step::Swap(Swap {
                pre,
                global,
                post: Vec::new(),
            }));
        }
        b.close_segment(n_ops);
        Ok(Schedule {
            n_qubits: n,
            k,
            steps: b.steps,
            initial_map,
            final_map: b.map,
        })
    }

    /// Swap-in-and-back per op that needs global wires (lightning.gpu's way): the fixed
    /// map puts wire 0 on the top bit; the measurement swap at the end stays.
    pub fn naive(tape: &Tape, k: usize, final_wires: &[usize]) -> Result<Schedule> {
        check_fits(tape, k, final_wires)?;
        let n = tape.n_qubits;
        let n_ops = tape.ops.len();
        let map: Vec<u32> = (0..n).map(|w| (n - 1 - w) as u32).collect();
        let mut b = Builder::new(n, k, map.clone());
        for i in 0..=n_ops {
            let need: Vec<usize> = if i < n_ops {
                needs_local(tape, i)
            } else {
                final_wires.to_vec()
            };
            let incoming: Vec<usize> = need.iter().copied().filter(|&w| b.is_global(w)).collect();
            if incoming.is_empty() {
                continue;
            }
            let cands = victims(&b, &need, |w| b.map[w] as usize);
            let v = cands[..incoming.len()].to_vec();
            b.close_segment(i);
            let pre = b.lift(&v);
            let global = b.exchange(&incoming);
            if i < n_ops {
                b.steps.push(Step::Swap(Swap {
                    pre: pre.clone(),
                    global: global.clone(),
                    post: Vec::new(),
                }));
                b.steps.push(Step::Segment {
                    ops: i..i + 1,
                    map: b.map.clone(),
                });
                b.seg_start = i + 1;
                // and back
                let m = global.len() as u32;
                for (j, &gb) in global.iter().enumerate() {
                    b.transpose(gb, b.l - m + j as u32);
                }
                let mut post = pre.clone();
                post.reverse();
                for &(x, y) in &post {
                    b.transpose(x, y);
                }
                b.steps.push(Step::Swap(Swap {
                    pre: Vec::new(),
                    global,
                    post,
                }));
            } else {
                b.steps.push(Step::Swap(Swap {
                    pre,
                    global,
                    post: Vec::new(),
                }));
            }
        }
        b.close_segment(n_ops);
        Ok(Schedule {
            n_qubits: n,
            k,
            steps: b.steps,
            initial_map: map,
            final_map: b.map,
        })
    }

    pub fn local_qubits(&self) -> usize {
        self.n_qubits - self.k
    }

    pub fn n_ranks(&self) -> usize {
        1 << self.k
    }

    pub fn swaps(&self) -> impl Iterator<Item = &Swap> {
        self.steps.iter().filter_map(|s| match s {
            Step::Swap(w) => Some(w),
            _ => None,
        })
    }

    pub fn n_swaps(&self) -> usize {
        self.swaps().count()
    }

    /// Local bit transpositions (each one pass over the shard, no communication).
    pub fn n_local_transpositions(&self) -> usize {
        self.swaps().map(|s| s.pre.len() + s.post.len()).sum()
    }

    /// Amplitudes one rank sends in all the swaps, per state: Σ (1 − 2^−m) 2^L.
    pub fn amps_sent_per_rank(&self) -> u128 {
        let l = self.local_qubits() as u32;
        self.swaps()
            .map(|s| {
                let m = s.m() as u32;
                (1u128 << l) - (1u128 << (l - m))
            })
            .sum()
    }

    /// Rounds (collectives) for one swap of `m` bits when the extra buffer (send copy +
    /// receive buffer, 2 · 2^m · slice amplitudes per state) is capped at `fraction` of
    /// the shard: slice = the largest power of two ≤ fraction · 2^L / 2^(m+1), at least
    /// one amplitude and at most the chunk 2^(L−m).
    pub fn rounds(&self, m: usize, fraction: f64) -> usize {
        let l = self.local_qubits();
        let chunk = 1usize << (l - m);
        let want = fraction * (1u64 << l) as f64 / (1u64 << (m + 1)) as f64;
        let mut slice = 1usize;
        while slice * 2 <= chunk && ((slice * 2) as f64) <= want {
            slice *= 2;
        }
        chunk / slice
    }

    /// Collectives for all the swaps at the given buffer cap.
    pub fn n_collectives(&self, fraction: f64) -> usize {
        self.swaps().map(|s| self.rounds(s.m(), fraction)).sum()
    }
}

#[cfg(test)]
mod tests;
