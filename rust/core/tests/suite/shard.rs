//! Sharded execution with W virtual ranks in one process (the schedule's swaps done in
//! memory, chunk by chunk as the all-to-all moves them) equals the unsharded engine:
//! states, Pauli expectation values (X/Y/Z on global wires), Jacobians and VJPs, on
//! random circuits of every gate kind, k = 1..3, look-ahead and swap-and-back schedules.
use crate::common::*;
use qoxide_core::shard::{self, virtual_ranks, Schedule};
use qoxide_core::{simple, Gate, Init, Obs, Real, Tape};

fn random_tape(n: usize, p: usize, n_ops: usize, local: usize, rng: &mut Rng) -> Tape {
    let mut ops = Vec::new();
    // every gate kind at least once, then random ones
    let mut kinds: Vec<Gate> = Gate::ALL.to_vec();
    while kinds.len() < n_ops {
        kinds.push(Gate::ALL[rng.below(Gate::ALL.len())]);
    }
    for g in kinds {
        loop {
            let o = random_op(g, n, p, rng);
            let t = tape_of(n, p, vec![o.clone()]);
            if shard::needs_local(&t, 0).len() <= local {
                ops.push(o);
                break;
            }
        }
    }
    // shuffle
    for i in (1..ops.len()).rev() {
        let j = rng.below(i + 1);
        ops.swap(i, j);
    }
    tape_of(n, p, ops)
}

fn random_obs(n: usize, rng: &mut Rng) -> Vec<Obs> {
    let paulis = ['X', 'Y', 'Z', 'I'];
    let word = |rng: &mut Rng| -> Vec<(usize, char)> {
        let k = 1 + rng.below(3);
        rng.distinct(n, k)
            .into_iter()
            .map(|w| (w, paulis[rng.below(4)]))
            .collect()
    };
    let mut out = vec![
        Obs::pauli(n, &[(1.0, vec![(0, 'Z')])]).unwrap(),
        Obs::pauli(n, &[(1.0, vec![(0, 'X'), (1, 'Y')])]).unwrap(),
    ];
    for _ in 0..2 {
        let terms: Vec<(f64, Vec<(usize, char)>)> =
            (0..3).map(|_| (rng.range(-1.0, 1.0), word(rng))).collect();
        out.push(Obs::pauli(n, &terms).unwrap());
    }
    let a = Obs::pauli(n, &[(0.5, word(rng))]).unwrap();
    let b = Obs::pauli(n, &[(1.0, word(rng))]).unwrap();
    out.push(Obs::sum(vec![(2.0, a), (-0.7, b)]).unwrap());
    out
}

fn check<T: Real>(seed: u64, n: usize, k: usize, naive: bool) -> usize {
    let mut rng = Rng::new(seed);
    let p = 5;
    let tape = random_tape(n, p, 50, n - k, &mut rng);
    let obs = random_obs(n, &mut rng);
    let fin = shard::observable_wires(&obs).unwrap();
    if fin.len() > n - k {
        return 0;
    }
    let sched = if naive {
        Schedule::naive(&tape, k, &fin).unwrap()
    } else {
        Schedule::build(&tape, k, &fin).unwrap()
    };
    let row: Vec<f64> = (0..p).map(|_| rng.angle()).collect();
    let ctx = format!("seed {seed} n {n} k {k} naive {naive}");
    let tol = tol::<T>();
    let want = simple::state::<T>(&tape, &row, 1, Init::Zero).unwrap();
    let got = virtual_ranks::state::<T>(&tape, &sched, &row).unwrap();
    assert_states_close(&widen(&got), &widen(&want), tol, &ctx);
    let want = simple::expval::<T>(&tape, &row, 1, &obs, Init::Zero).unwrap();
    let got = virtual_ranks::expval::<T>(&tape, &sched, &row, &obs).unwrap();
    assert_reals_close(&got, &want, tol, &ctx);
    let want = simple::jacobian::<T>(&tape, &row, 1, &obs, Init::Zero).unwrap();
    let got = virtual_ranks::jacobian::<T>(&tape, &sched, &row, &obs).unwrap();
    assert_reals_close(&got, &want, 10.0 * tol, &ctx);
    let g: Vec<f64> = (0..obs.len()).map(|_| rng.range(-1.0, 1.0)).collect();
    let want = simple::vjp::<T>(&tape, &row, 1, &obs, &g, Init::Zero).unwrap();
    let got = virtual_ranks::adjoint::<T>(&tape, &sched, &row, &obs, &[g]).unwrap();
    assert_reals_close(&got, &want, 10.0 * tol, &ctx);
    sched.n_swaps()
}

#[test]
fn sharded_equals_engine_f64() {
    let (mut swaps, mut naive_swaps) = (0, 0);
    for seed in 0..6 {
        for k in 1..=3 {
            swaps += check::<f64>(seed, 7, k, false);
            naive_swaps += check::<f64>(100 + seed, 6, k, true);
        }
    }
    // the cases exercise swaps (not only global diagonals and controls)
    assert!(swaps > 10 && naive_swaps > 10, "{swaps} {naive_swaps}");
}

#[test]
fn sharded_equals_engine_f32() {
    let mut swaps = 0;
    for seed in 0..3 {
        for k in 1..=3 {
            swaps += check::<f32>(200 + seed, 7, k, false);
        }
    }
    assert!(swaps > 0);
}

#[test]
fn swaps_happen_and_chunks_route_both_ways() {
    // the layered RX/RY/RZ + CNOT ring: the look-ahead schedule swaps, and every swap's
    // routing is an involution (a chunk sent comes back where it was)
    let n = 8;
    let mut ops = Vec::new();
    let mut c = 0;
    for _ in 0..3 {
        for g in [Gate::RX, Gate::RY, Gate::RZ] {
            for w in 0..n {
                ops.push(op(g, &[w], vec![qoxide_core::Param::Col(c)]));
                c += 1;
            }
        }
        for w in 0..n {
            ops.push(op(Gate::CNOT, &[w, (w + 1) % n], vec![]));
        }
    }
    let tape = tape_of(n, c, ops);
    for k in 1..=3 {
        let s = Schedule::build(&tape, k, &[]).unwrap();
        assert!(s.n_swaps() > 0);
        let l = s.local_qubits() as u32;
        for sw in s.swaps() {
            for r in 0..s.n_ranks() {
                for a in 0..1usize << sw.m() {
                    let (d, b) = virtual_ranks::route(sw, l, r, a);
                    assert_eq!(virtual_ranks::route(sw, l, d, b), (r, a));
                }
            }
        }
        let mut rng = Rng::new(k as u64);
        let row: Vec<f64> = (0..c).map(|_| rng.angle()).collect();
        let want = simple::state::<f64>(&tape, &row, 1, Init::Zero).unwrap();
        let got = virtual_ranks::state::<f64>(&tape, &s, &row).unwrap();
        assert_states_close(&got, &want, 1e-12, "layered");
    }
}

#[test]
fn fused_local_segments_equal_engine() {
    // shards wider than a (forced small) tile run their segments fused, with register
    // blocks; the process-wide tile only changes which correct path runs, so the other
    // tests of this binary may see it
    for tile in [6, 8] {
        qoxide_core::fusion::set_tile_qubits(tile);
        for seed in 0..3 {
            for k in 1..=2 {
                check::<f64>(300 + seed, 11, k, false);
            }
        }
        check::<f32>(310, 11, 1, false);
    }
    qoxide_core::fusion::set_tile_qubits(0);
}
