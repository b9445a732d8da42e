use super::*;
use crate::gates::Gate;
use crate::tape::{Op, Param};

fn layered(n: usize, layers: usize) -> Tape {
    let mut t = Tape::new(n, 3 * n * layers).unwrap();
    let mut c = 0;
    for _ in 0..layers {
        for g in [Gate::RX, Gate::RY, Gate::RZ] {
            for w in 0..n {
                t.push(Op::new(g, vec![w], vec![Param::Col(c)])).unwrap();
                c += 1;
            }
        }
        for w in 0..n {
            t.push(Op::new(Gate::CNOT, vec![w, (w + 1) % n], vec![]))
                .unwrap();
        }
    }
    t
}

#[test]
fn diagonal_and_controls_need_no_swap() {
    let mut t = Tape::new(4, 1).unwrap();
    t.push(Op::new(Gate::RZ, vec![0], vec![Param::Col(0)]))
        .unwrap();
    t.push(Op::new(Gate::CZ, vec![0, 1], vec![])).unwrap();
    t.push(Op::new(Gate::IsingZZ, vec![0, 1], vec![Param::Const(0.3)]))
        .unwrap();
    t.push(Op::new(Gate::CNOT, vec![0, 3], vec![])).unwrap();
    let s = Schedule::build(&t, 2, &[]).unwrap();
    assert_eq!(s.n_swaps(), 0);
    assert_eq!(needs_local(&t, 3), vec![3]);
}

#[test]
fn lookahead_beats_swap_and_back() {
    let t = layered(12, 4);
    for k in 1..4 {
        let a = Schedule::build(&t, k, &[]).unwrap();
        let b = Schedule::naive(&t, k, &[]).unwrap();
        assert!(
            a.amps_sent_per_rank() * 3 <= b.amps_sent_per_rank(),
            "k={k}"
        );
    }
}

#[test]
fn rounds_cap_the_buffer() {
    let t = layered(10, 1);
    let s = Schedule::build(&t, 2, &[]).unwrap();
    // L = 8: m = 1 chunk 128; fraction 1/4: 2*2*slice <= 64 -> slice 16 -> 8 rounds
    assert_eq!(s.rounds(1, 0.25), 8);
    assert_eq!(s.rounds(2, 0.25), 8);
    assert_eq!(s.rounds(2, 8.0), 1);
    assert_eq!(s.rounds(1, 1e-9), 128);
}
