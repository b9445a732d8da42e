//! Results do not depend on the thread count: the serial, batch-parallel and
//! amplitude-parallel plans agree. This binary holds a single test because the thread
//! count is a process-wide setting.

mod common;

use common::*;
use qoxide_core::engine::{plan, Plan};
use qoxide_core::{pool, simple, Gate, Init, Obs, Tape};

struct Results {
    state: Vec<C64>,
    expval: Vec<f64>,
    var: Vec<f64>,
    probs: Vec<f64>,
    jac: Vec<f64>,
    vjp: Vec<f64>,
    sample: Vec<u8>,
}

fn run_all(tape: &Tape, theta: &[f64], batch: usize, obs: &[Obs], g: &[f64]) -> Results {
    let n = tape.n_qubits;
    let wires = [n - 1, 0, 2];
    Results {
        state: widen(&simple::state::<f64>(tape, theta, batch, Init::Zero).unwrap()),
        expval: simple::expval::<f64>(tape, theta, batch, obs, Init::Zero).unwrap(),
        var: simple::var::<f64>(tape, theta, batch, obs, Init::Zero).unwrap(),
        probs: simple::probs::<f64>(tape, theta, batch, &wires, Init::Zero).unwrap(),
        jac: simple::jacobian::<f64>(tape, theta, batch, obs, Init::Zero).unwrap(),
        vjp: simple::vjp::<f64>(tape, theta, batch, obs, g, Init::Zero).unwrap(),
        sample: simple::sample::<f64>(tape, theta, batch, &wires, 200, 11, Init::Zero).unwrap(),
    }
}

fn compare(a: &Results, b: &Results, ctx: &str) {
    // gates act element-wise: states are bitwise equal whatever the split
    assert_eq!(a.state, b.state, "{ctx}: state");
    assert_reals_close(&a.expval, &b.expval, 1e-12, &format!("{ctx}: expval"));
    assert_reals_close(&a.var, &b.var, 1e-12, &format!("{ctx}: var"));
    assert_reals_close(&a.probs, &b.probs, 1e-14, &format!("{ctx}: probs"));
    assert_reals_close(&a.jac, &b.jac, 1e-11, &format!("{ctx}: jacobian"));
    assert_reals_close(&a.vjp, &b.vjp, 1e-11, &format!("{ctx}: vjp"));
    assert_eq!(
        a.sample, b.sample,
        "{ctx}: samples must not depend on threads"
    );
}

fn case(n: usize, batch: usize, seed: u64) -> (Tape, Vec<f64>, Vec<Obs>, Vec<f64>) {
    let p = 3;
    let mut rng = Rng::new(seed);
    let mut ops = Vec::new();
    for w in 0..n {
        ops.push(op(Gate::Hadamard, &[w], vec![]));
    }
    for &g in Gate::ALL {
        ops.push(random_op(g, n, p, &mut rng));
    }
    let tape = tape_of(n, p, ops);
    let theta = random_theta(batch, p, &mut rng);
    let obs = mixed_obs_only(n, &mut rng);
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.normal()).collect();
    (tape, theta, obs, g)
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let big = case(15, 2, 1);
    let small = case(4, 64, 2);
    let serial = Plan {
        batch_par: false,
        amp_par: false,
    };
    let batch_par = Plan {
        batch_par: true,
        amp_par: false,
    };
    let amp_par = Plan {
        batch_par: false,
        amp_par: true,
    };
    let mut reference: Option<(Results, Results)> = None;
    let mut seen: Vec<Plan> = Vec::new();
    for threads in [1, 2, 4, 3] {
        pool::set_num_threads(threads);
        assert_eq!(pool::num_threads(), threads);
        let (t, th, o, g) = &big;
        let big_plan = plan(2, 15, t.ops.len());
        let rb = run_all(t, th, 2, o, g);
        let (t, th, o, g) = &small;
        let small_plan = plan(64, 4, t.ops.len());
        let rs = run_all(t, th, 64, o, g);
        if threads == 1 {
            // one thread: everything on the calling thread
            assert_eq!(big_plan, serial);
            assert_eq!(small_plan, serial);
        }
        seen.extend([big_plan, small_plan]);
        match &reference {
            None => reference = Some((rb, rs)),
            Some((b0, s0)) => {
                compare(b0, &rb, &format!("15 qubits, {threads} threads"));
                compare(s0, &rs, &format!("4 qubits x 64, {threads} threads"));
            }
        }
    }
    // the cases above were chosen to exercise every plan (2 samples of 15 qubits are
    // batch-parallel on 2 threads and amplitude-parallel on 3-4; 64 samples of 4
    // qubits are batch-parallel)
    for want in [serial, batch_par, amp_par] {
        assert!(seen.contains(&want), "plan {want:?} never ran: {seen:?}");
    }
    // a batch-1 call on a tiny register stays serial whatever the thread count
    assert_eq!(plan(1, 3, 5), serial);
    pool::set_num_threads(0);

    // the serial results are right, too (spot check against the reference)
    let (b0, s0) = reference.unwrap();
    let (t, th, _, _) = &big;
    for b in 0..2 {
        let want = ref_state(t, &th[b * 3..(b + 1) * 3], &basis_state(15, 0));
        assert_states_close(
            &b0.state[b << 15..(b + 1) << 15],
            &want,
            1e-12,
            "15-qubit state",
        );
    }
    let (t, th, _, _) = &small;
    for b in [0, 17, 63] {
        let want = ref_state(t, &th[b * 3..(b + 1) * 3], &basis_state(4, 0));
        assert_states_close(
            &s0.state[b << 4..(b + 1) << 4],
            &want,
            1e-12,
            "4-qubit state",
        );
    }
}
