//! One rank's local work: its segments' kernels (remapped to physical bits, global
//! controls and diagonal entries resolved for the rank), the adjoint backward sweep of a
//! segment, and the local parts of measurements. No communication: the caller reduces.
//!
//! The forward segments run fused, as the tiled engine runs a compiled tape (planned per
//! call); the backward sweep runs op by op.

use super::{pauli_terms, Schedule, Step, Swap};
use crate::error::{QoxideError, Result};
use crate::observable::Obs;
use crate::scalar::{cast, widen, Real, C, C64};
use crate::state::{Ctrl, Kernel, PAR_MIN_AMPS};
use crate::tape::{Param, Tape};
use num_traits::{One, Zero};

/// A kernel as one rank sees it.
#[derive(Clone, Debug)]
pub enum LocalKernel<T> {
    /// The rank's global bits fail a control: identity (and zero derivative).
    Skip,
    /// Multiply the amplitudes whose local index matches `ctrl` by `c` (a diagonal entry
    /// or parity phase fixed by the rank's global bits).
    Scale {
        c: C<T>,
        ctrl: Ctrl,
    },
    Kernel(Kernel<T>),
}

fn global_parity(rank: usize, mask: usize, l: u32) -> bool {
    (rank & (mask >> l)).count_ones() & 1 == 1
}

/// Resolve a kernel on physical bits for `rank` (local bits 0..l). Errors if a
/// non-diagonal target is global (the schedule should have swapped it in).
pub fn localise<T: Real>(k: &Kernel<T>, l: u32, rank: usize) -> Result<LocalKernel<T>> {
    let low = (1usize << l) - 1;
    let bit = |b: u32| (rank >> (b - l)) & 1;
    let resolve = |c: &Ctrl| -> Option<Ctrl> {
        let (gm, gv) = (c.mask >> l, c.value >> l);
        (rank & gm == gv).then_some(Ctrl {
            mask: c.mask & low,
            value: c.value & low,
        })
    };
    let global_target = || -> Result<LocalKernel<T>> {
        Err(QoxideError::Internal(format!(
            "sharded kernel {k:?} has a non-diagonal target on a global bit (local bits 0..{l})"
        )))
    };
    Ok(match k {
        Kernel::Identity => LocalKernel::Kernel(Kernel::Identity),
        Kernel::Mat1 { t, m, ctrl } => match resolve(ctrl) {
            None => LocalKernel::Skip,
            Some(_) if *t >= l => return global_target(),
            Some(c) => LocalKernel::Kernel(Kernel::Mat1 {
                t: *t,
                m: *m,
                ctrl: c,
            }),
        },
        Kernel::Flip { t, ctrl } => match resolve(ctrl) {
            None => LocalKernel::Skip,
            Some(_) if *t >= l => return global_target(),
            Some(c) => LocalKernel::Kernel(Kernel::Flip { t: *t, ctrl: c }),
        },
        Kernel::Swap { t0, t1, ctrl } => match resolve(ctrl) {
            None => LocalKernel::Skip,
            Some(_) if *t0 >= l || *t1 >= l => return global_target(),
            Some(c) => LocalKernel::Kernel(Kernel::Swap {
                t0: *t0,
                t1: *t1,
                ctrl: c,
            }),
        },
        Kernel::Diag1 { t, d, ctrl } => match resolve(ctrl) {
            None => LocalKernel::Skip,
            Some(c) if *t >= l => LocalKernel::Scale {
                c: d[bit(*t)],
                ctrl: c,
            },
            Some(c) => LocalKernel::Kernel(Kernel::Diag1 {
                t: *t,
                d: *d,
                ctrl: c,
            }),
        },
        Kernel::Parity { mask, even, odd } => {
            let (e, o) = if global_parity(rank, *mask, l) {
                (*odd, *even)
            } else {
                (*even, *odd)
            };
            if mask & low == 0 {
                LocalKernel::Scale {
                    c: e,
                    ctrl: Ctrl::NONE,
                }
            } else {
                LocalKernel::Kernel(Kernel::Parity {
                    mask: mask & low,
                    even: e,
                    odd: o,
                })
            }
        }
        Kernel::Mat2 { t0, t1, .. } if *t0 >= l || *t1 >= l => return global_target(),
        Kernel::MatK { bits, .. } if bits.iter().any(|&b| b >= l) => return global_target(),
        k @ (Kernel::Mat2 { .. } | Kernel::MatK { .. }) => LocalKernel::Kernel(k.clone()),
    })
}

impl<T: Real> LocalKernel<T> {
    /// The plain kernel doing the same (None for `Skip`): a `Scale` is a diagonal on one of
    /// its control bits, controlled by the others.
    pub fn into_kernel(self) -> Option<Kernel<T>> {
        match self {
            LocalKernel::Skip => None,
            LocalKernel::Scale { c, ctrl } if ctrl.is_none() => Some(Kernel::Parity {
                mask: 0,
                even: c,
                odd: c,
            }),
            LocalKernel::Scale { c, ctrl } => {
                let t = ctrl.mask.trailing_zeros();
                let bit = 1usize << t;
                let one = C::one();
                Some(Kernel::Diag1 {
                    t,
                    d: if ctrl.value & bit != 0 {
                        [one, c]
                    } else {
                        [c, one]
                    },
                    ctrl: Ctrl {
                        mask: ctrl.mask & !bit,
                        value: ctrl.value & !bit,
                    },
                })
            }
            LocalKernel::Kernel(k) => Some(k),
        }
    }

    pub fn apply(&self, s: &mut [C<T>], par: bool) {
        match self {
            LocalKernel::Skip => {}
            LocalKernel::Scale { c, ctrl } => {
                if *c == C::one() {
                    return;
                }
                for (i, v) in s.iter_mut().enumerate() {
                    if i & ctrl.mask == ctrl.value {
                        *v *= *c;
                    }
                }
            }
            LocalKernel::Kernel(k) => k.apply(s, par),
        }
    }

    /// `<bra| K |ket>` over the control-matching subspace (as `Kernel::inner`).
    pub fn inner(&self, bra: &[C<T>], ket: &[C<T>], par: bool) -> C64 {
        match self {
            LocalKernel::Skip => C64::zero(),
            LocalKernel::Scale { c, ctrl } => {
                let mut acc = C64::zero();
                for (i, (b, k)) in bra.iter().zip(ket).enumerate() {
                    if i & ctrl.mask == ctrl.value {
                        acc += widen(b.conj() * k);
                    }
                }
                acc * widen(*c)
            }
            LocalKernel::Kernel(k) => k.inner(bra, ket, par),
        }
    }
}

/// Physical bit of logical bit `b` (wire n-1-b) under `map`.
fn phys(map: &[u32], n: usize, b: u32) -> u32 {
    map[n - 1 - b as usize]
}

/// Logical-bit mask → physical-bit mask.
pub fn phys_mask(map: &[u32], n: usize, mask: usize) -> usize {
    (0..n as u32)
        .filter(|b| mask >> b & 1 == 1)
        .map(|b| 1usize << phys(map, n, b))
        .sum()
}

fn par_for(len: usize) -> bool {
    len >= PAR_MIN_AMPS
}

/// The per-rank view of a schedule: its local op lists and measurement pieces.
pub struct RankView<'a> {
    pub tape: &'a Tape,
    pub sched: &'a Schedule,
    pub rank: usize,
}

impl<'a> RankView<'a> {
    pub fn new(tape: &'a Tape, sched: &'a Schedule, rank: usize) -> Result<RankView<'a>> {
        if rank >= sched.n_ranks() {
            return crate::value_err!(
                "rank {rank} is out of range for 2^{} = {} ranks",
                sched.k,
                sched.n_ranks()
            );
        }
        if tape.n_qubits != sched.n_qubits {
            return crate::value_err!("the schedule was built for another tape");
        }
        Ok(RankView { tape, sched, rank })
    }

    fn l(&self) -> u32 {
        self.sched.local_qubits() as u32
    }

    fn local_len(&self) -> usize {
        1usize << self.l()
    }

    fn check_shard<T1: Real>(&self, s: &[C<T1>], what: &str) -> Result<()> {
        if s.len() != self.local_len() {
            return crate::value_err!(
                "{what}: a shard holds 2^{} = {} amplitudes, got {}",
                self.l(),
                self.local_len(),
                s.len()
            );
        }
        Ok(())
    }

    /// Op `i`'s kernel (or its dagger) on this rank under `map`.
    pub fn op_kernel<T: Real>(
        &self,
        i: usize,
        row: &[f64],
        map: &[u32],
        dagger: bool,
    ) -> Result<LocalKernel<T>> {
        let n = self.tape.n_qubits;
        let op = &self.tape.ops[i];
        let k: Kernel<T> = op.kernel(&op.angles(row), n);
        let k = if dagger { k.dagger() } else { k };
        localise(&k.map_bits(|b| phys(map, n, b)), self.l(), self.rank)
    }

    /// The segment step `step` applied to one sample's shard with theta row `row`.
    pub fn forward_segment<T: Real>(&self, step: usize, row: &[f64], s: &mut [C<T>]) -> Result<()> {
        self.check_shard(s, "forward_segment")?;
        let Step::Segment { ops, map } = &self.sched.steps[step] else {
            return crate::value_err!("step {step} is not a segment");
        };
        let mut kernels = Vec::with_capacity(ops.len());
        for &i in ops {
            kernels.extend(self.op_kernel::<T>(i, row, map, false)?.into_kernel());
        }
        crate::program::run_fused(kernels, s, par_for(s.len()));
        Ok(())
    }

    /// The segment's backward sweep for one sample: for each op U from the last,
    /// φ ← U†φ, grad[l][c] += 2 Re⟨λ_l| dU/dθ |φ⟩ for each parameter column c, λ_l ← U†λ_l.
    /// `grads` is `[lams.len(), n_params]`, accumulated (this rank's partials).
    pub fn backward_segment<T: Real>(
        &self,
        step: usize,
        row: &[f64],
        phi: &mut [C<T>],
        lams: &mut [&mut [C<T>]],
        grads: &mut [f64],
    ) -> Result<()> {
        self.check_shard(phi, "backward_segment")?;
        let p = self.tape.n_params;
        if grads.len() != lams.len() * p {
            return crate::value_err!(
                "backward_segment: grads must hold {} x {p} values, got {}",
                lams.len(),
                grads.len()
            );
        }
        let Step::Segment { ops, map } = &self.sched.steps[step] else {
            return crate::value_err!("step {step} is not a segment");
        };
        let n = self.tape.n_qubits;
        let par = par_for(phi.len());
        for &i in ops.iter().rev() {
            let op = &self.tape.ops[i];
            let undo = self.op_kernel::<T>(i, row, map, true)?;
            undo.apply(phi, par);
            let angles = op.angles(row);
            for (j, prm) in op.params.iter().enumerate() {
                let Param::Col(c) = *prm else { continue };
                let d: Kernel<T> = op.derivative(&angles, j, n);
                let d = localise(&d.map_bits(|b| phys(map, n, b)), self.l(), self.rank)?;
                for (lam, g) in lams.iter().zip(grads.chunks_exact_mut(p)) {
                    g[c] += 2.0 * d.inner(lam, phi, par).re;
                }
            }
            for lam in lams.iter_mut() {
                undo.apply(lam, par);
            }
        }
        Ok(())
    }

    /// The local transpositions of a swap before (`pre`) or after the exchange; `undo`
    /// applies the other list in reverse (the backward replay).
    pub fn transpose<T: Real>(swap: &Swap, before_exchange: bool, undo: bool, s: &mut [C<T>]) {
        let list = match (before_exchange, undo) {
            (true, false) => &swap.pre,
            (false, false) => &swap.post,
            (true, true) => &swap.post,
            (false, true) => &swap.pre,
        };
        let par = par_for(s.len());
        let apply = |&(a, b): &(u32, u32), s: &mut [C<T>]| {
            Kernel::<T>::Swap {
                t0: a,
                t1: b,
                ctrl: Ctrl::NONE,
            }
            .apply(s, par)
        };
        if undo {
            list.iter().rev().for_each(|t| apply(t, s));
        } else {
            list.iter().for_each(|t| apply(t, s));
        }
    }

    /// Local Pauli terms of an observable under the final map: (coefficient with the
    /// rank's global Z signs folded in, local x mask, local z mask).
    fn local_terms(&self, o: &Obs) -> Result<Vec<(C64, usize, usize)>> {
        let n = self.tape.n_qubits;
        let l = self.l();
        let low = (1usize << l) - 1;
        let map = &self.sched.final_map;
        pauli_terms(o)?
            .into_iter()
            .map(|(c, x, z)| {
                let (x, z) = (phys_mask(map, n, x), phys_mask(map, n, z));
                if x & !low != 0 {
                    return Err(QoxideError::Internal(
                        "an observable's X/Y wire is global at the end of the schedule".into(),
                    ));
                }
                let sign = if global_parity(self.rank, z, l) {
                    -1.0
                } else {
                    1.0
                };
                Ok((c * sign, x, z & low))
            })
            .collect()
    }

    /// This rank's part of ⟨φ|O|φ⟩ for each observable (sum over ranks = the expval).
    pub fn expval_partial<T: Real>(&self, s: &[C<T>], obs: &[Obs]) -> Result<Vec<f64>> {
        self.check_shard(s, "expval_partial")?;
        obs.iter()
            .map(|o| {
                let mut acc = C64::zero();
                for (c, x, z) in self.local_terms(o)? {
                    let mut t = C64::zero();
                    for (i, v) in s.iter().enumerate() {
                        let j = i ^ x;
                        let sg = if (j & z).count_ones() & 1 == 1 {
                            -1.0
                        } else {
                            1.0
                        };
                        t += widen(v.conj() * s[j]) * sg;
                    }
                    acc += c * t;
                }
                Ok(acc.re)
            })
            .collect()
    }

    /// `lam += Σ_m g_m O_m |φ⟩` on this rank's shard.
    pub fn apply_observables<T: Real>(
        &self,
        s: &[C<T>],
        obs: &[Obs],
        g: &[f64],
        lam: &mut [C<T>],
    ) -> Result<()> {
        self.check_shard(s, "apply_observables")?;
        self.check_shard(lam, "apply_observables")?;
        for (o, &gm) in obs.iter().zip(g) {
            if gm == 0.0 {
                continue;
            }
            for (c, x, z) in self.local_terms(o)? {
                let c: C<T> = cast(c * gm);
                for (i, out) in lam.iter_mut().enumerate() {
                    let j = i ^ x;
                    let v = s[j] * c;
                    if (j & z).count_ones() & 1 == 1 {
                        *out -= v
                    } else {
                        *out += v
                    }
                }
            }
        }
        Ok(())
    }

    /// This rank's part of the probabilities of `wires` (logical, wires[0] the high bit
    /// of the outcome), under the final map.
    pub fn probs_partial<T: Real>(&self, s: &[C<T>], wires: &[usize]) -> Result<Vec<f64>> {
        self.check_shard(s, "probs_partial")?;
        self.tape.check_wires(wires, "probs")?;
        let l = self.l();
        let bits: Vec<u32> = wires.iter().map(|&w| self.sched.final_map[w]).collect();
        let nw = wires.len();
        let mut out = vec![0.0; 1usize << nw];
        let base = self.rank << l;
        for (i, v) in s.iter().enumerate() {
            let p = base | i;
            let mut o = 0usize;
            for (j, &b) in bits.iter().enumerate() {
                o |= (p >> b & 1) << (nw - 1 - j);
            }
            out[o] += v.norm_sqr().f64();
        }
        Ok(out)
    }
}

/// |0..0> for `rank`'s shard (amplitude 1 on rank 0, index 0).
pub fn zero_shard<T: Real>(sched: &Schedule, rank: usize) -> Vec<C<T>> {
    let mut s = vec![C::zero(); 1usize << sched.local_qubits()];
    if rank == 0 {
        s[0] = C::one();
    }
    s
}

/// Physical → logical order of a full state `[2^n]` gathered from all ranks.
pub fn to_logical<T: Real>(full: &[C<T>], map: &[u32]) -> Vec<C<T>> {
    let n = map.len();
    let mut out = vec![C::zero(); full.len()];
    for (p, v) in full.iter().enumerate() {
        let mut i = 0usize;
        for (w, &b) in map.iter().enumerate() {
            i |= (p >> b & 1) << (n - 1 - w);
        }
        out[i] = *v;
    }
    out
}
