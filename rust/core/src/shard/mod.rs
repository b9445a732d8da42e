//! Sharded execution: a qubit map and a swap schedule (no communication here).
//!
//! Layout: 2^k ranks; rank r holds the 2^(n-k) amplitudes whose top k *physical* index
//! bits equal r. Physical bits 0..L (L = n - k) are local, L..n global. A logical→physical
//! map says where each wire's bit lives; it changes only at swaps.
//!
//! The schedule splits the tape into local segments separated by swaps. Ops on disjoint
//! wires commute, so the scheduler reorders them (ops sharing a wire keep their order):
//! whatever is ready and needs no swap runs first, and a swap happens only when every
//! ready op is blocked on a global wire. Diagonal gates
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
use std::cmp::Reverse;
use std::collections::BinaryHeap;

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
    /// Ops of the tape (indices, in the order they run), run locally with `map`
    /// (logical wire → physical bit).
    Segment {
        ops: Vec<usize>,
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
    seg: Vec<usize>,
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
            seg: Vec::new(),
        }
    }

    fn is_global(&self, w: usize) -> bool {
        self.map[w] >= self.l
    }

    fn close_segment(&mut self) {
        if !self.seg.is_empty() {
            self.steps.push(Step::Segment {
                ops: std::mem::take(&mut self.seg),
                map: self.map.clone(),
            });
        }
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

/// Swap the global wires of `need` in, with the look-ahead: other global wires whose
/// next use comes before that of the local wire they would displace. `now` is the
/// index of the op that needs them; `next(w)` a wire's next use.
fn swap_in(b: &mut Builder, need: &[usize], now: usize, next: &dyn Fn(usize) -> usize) {
    let mut incoming: Vec<usize> = need.iter().copied().filter(|&w| b.is_global(w)).collect();
    let next = |w: usize| if need.contains(&w) { now } else { next(w) };
    let cands = victims(b, need, next);
    let mut others: Vec<usize> = (0..b.n)
        .filter(|&w| b.is_global(w) && !incoming.contains(&w) && next(w) != NEVER)
        .collect();
    others.sort_by_key(|&w| (next(w), w));
    for g in others {
        let m = incoming.len();
        if m >= cands.len() || next(g) >= next(cands[m]) {
            break;
        }
        incoming.push(g);
    }
    b.close_segment();
    let pre = b.lift(&cands[..incoming.len()]);
    let global = b.exchange(&incoming);
    b.steps.push(Step::Swap(Swap {
        pre,
        global,
        post: Vec::new(),
    }));
}

impl Schedule {
    /// The look-ahead schedule of `tape` on 2^k ranks; `final_wires` must be local at the
    /// end (the X/Y wires of the observables, `observable_wires`).
    pub fn build(tape: &Tape, k: usize, final_wires: &[usize]) -> Result<Schedule> {
        check_fits(tape, k, final_wires)?;
        let n = tape.n_qubits;
        let n_ops = tape.ops.len();
        let u = uses(tape, final_wires);
        let needs: Vec<Vec<usize>> = (0..n_ops).map(|i| needs_local(tape, i)).collect();
        // ops sharing a wire keep their order; others commute and may be reordered
        let mut indeg = vec![0usize; n_ops];
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n_ops];
        let mut last: Vec<Option<usize>> = vec![None; n];
        for (i, op) in tape.ops.iter().enumerate() {
            for &w in &op.wires {
                if let Some(j) = last[w] {
                    if !succ[j].contains(&i) {
                        succ[j].push(i);
                        indeg[i] += 1;
                    }
                }
                last[w] = Some(i);
            }
        }
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
        // next use of a wire = its first need among the ops not yet scheduled
        let mut done = vec![false; n_ops + 1];
        let mut ptr = vec![0usize; n];
        let mut heap: BinaryHeap<Reverse<usize>> =
            (0..n_ops).filter(|&i| indeg[i] == 0).map(Reverse).collect();
        let mut blocked: Vec<usize> = Vec::new();
        loop {
            // run every ready op whose non-diagonal targets are local, lowest index first
            while let Some(Reverse(i)) = heap.pop() {
                if needs[i].iter().any(|&w| b.is_global(w)) {
                    blocked.push(i);
                    continue;
                }
                b.seg.push(i);
                done[i] = true;
                for &w in &needs[i] {
                    while ptr[w] < u[w].len() && done[u[w][ptr[w]]] {
                        ptr[w] += 1;
                    }
                }
                for &s in &succ[i] {
                    indeg[s] -= 1;
                    if indeg[s] == 0 {
                        heap.push(Reverse(s));
                    }
                }
            }
            let Some(&i) = blocked.iter().min() else {
                break;
            };
            let next = |w: usize| u[w].get(ptr[w]).copied().unwrap_or(NEVER);
            swap_in(&mut b, &needs[i], i, &next);
            heap.extend(blocked.drain(..).map(Reverse));
        }
        debug_assert!(done[..n_ops].iter().all(|&d| d));
        if final_wires.iter().any(|&w| b.is_global(w)) {
            let next = |w: usize| u[w].get(ptr[w]).copied().unwrap_or(NEVER);
            swap_in(&mut b, final_wires, n_ops, &next);
        }
        b.close_segment();
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
                if i < n_ops {
                    b.seg.push(i);
                }
                continue;
            }
            let cands = victims(&b, &need, |w| b.map[w] as usize);
            let v = cands[..incoming.len()].to_vec();
            b.close_segment();
            let pre = b.lift(&v);
            let global = b.exchange(&incoming);
            if i < n_ops {
                b.steps.push(Step::Swap(Swap {
                    pre: pre.clone(),
                    global: global.clone(),
                    post: Vec::new(),
                }));
                b.seg.push(i);
                b.close_segment();
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
        b.close_segment();
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

/// The layered benchmark circuit — per layer RX, RY, RZ on every wire (one theta column
/// each), then a CNOT ring — built without the register-size limit: schedules are
/// computed for registers far larger than one machine's memory (nothing is allocated).
pub fn layered_tape(n_qubits: usize, layers: usize) -> Tape {
    use crate::gates::Gate;
    use crate::tape::{Op, Param};
    let mut ops = Vec::with_capacity(layers * 4 * n_qubits);
    let mut c = 0;
    for _ in 0..layers {
        for g in [Gate::RX, Gate::RY, Gate::RZ] {
            for w in 0..n_qubits {
                ops.push(Op::new(g, vec![w], vec![Param::Col(c)]));
                c += 1;
            }
        }
        if n_qubits > 1 {
            for w in 0..n_qubits {
                ops.push(Op::new(Gate::CNOT, vec![w, (w + 1) % n_qubits], vec![]));
            }
        }
    }
    Tape {
        n_qubits,
        n_params: c,
        ops,
    }
}
