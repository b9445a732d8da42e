//! Helpers the host-emulation tests share: a seeded RNG, random circuits that use every
//! gate kind the kernels take, random Pauli observables, and the comparison.
#![allow(dead_code)] // each test binary uses its own subset

use num_complex::Complex;
use qoxide_core::gates::{form, Form};
use qoxide_core::{Gate, Init, Obs, Op, Param, Tape};
use qoxide_cuda::{Adjoint, PauliObs, PauliTerm, Precision, RunOutput};
use std::sync::Arc;

pub type C64 = Complex<f64>;

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn unif(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn angle(&mut self) -> f64 {
        (self.unif() * 2.0 - 1.0) * 3.5
    }
    pub fn wires(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

pub fn mul4(a: &[C64; 16], b: &[C64; 16]) -> Vec<C64> {
    let mut m = vec![C64::new(0.0, 0.0); 16];
    for r in 0..4 {
        for c in 0..4 {
            m[4 * r + c] = (0..4).map(|k| a[4 * r + k] * b[4 * k + c]).sum();
        }
    }
    m
}

pub fn random_unitary(rng: &mut Rng, k: usize) -> Arc<[C64]> {
    if k == 1 {
        match form(Gate::Rot, &[rng.angle(), rng.angle(), rng.angle()], None) {
            Form::M1(m) => m.to_vec().into(),
            _ => unreachable!(),
        }
    } else {
        let (Form::M2(a), Form::M2(b)) = (
            form(Gate::IsingXY, &[rng.angle()], None),
            form(Gate::IsingYY, &[rng.angle()], None),
        ) else {
            unreachable!()
        };
        let Form::M2(c) = form(Gate::IsingXX, &[rng.angle()], None) else {
            unreachable!()
        };
        let ab: [C64; 16] = mul4(&a, &b).try_into().unwrap();
        // a phase on one entry's row keeps it unitary and breaks the symmetry
        let mut m = mul4(&ab, &c);
        let ph = C64::from_polar(1.0, rng.angle());
        for v in &mut m[4..8] {
            *v *= ph;
        }
        m.into()
    }
}

/// Gates the kernel runs (all but QubitUnitary on more than 2 wires).
pub fn random_op(rng: &mut Rng, n: usize, n_params: usize, gate: Gate) -> Option<Op> {
    let k = match gate.n_wires() {
        Some(k) => k,
        None => match gate {
            Gate::MultiRZ => 1 + rng.below(n.min(3)),
            Gate::MultiControlledX if n < 2 => return None,
            Gate::MultiControlledX => 2 + rng.below(n.min(4) - 1),
            Gate::GlobalPhase => rng.below(n.min(2) + 1),
            Gate::QubitUnitary => 1 + rng.below(n.min(2)),
            _ => unreachable!(),
        },
    };
    if k > n {
        return None;
    }
    let wires = rng.wires(n, k);
    let params = (0..gate.n_params())
        .map(|_| {
            if n_params > 0 && rng.below(4) != 0 {
                Param::Col(rng.below(n_params))
            } else {
                Param::Const(rng.angle())
            }
        })
        .collect();
    let mut op = Op::new(gate, wires, params);
    op.inverse = rng.below(4) == 0;
    if gate == Gate::QubitUnitary {
        op.matrix = Some(random_unitary(rng, k));
    }
    if gate == Gate::MultiControlledX && rng.below(2) == 0 {
        op.control_values = (0..k - 1).map(|_| rng.below(2) == 0).collect();
    }
    Some(op)
}

pub fn random_tape(rng: &mut Rng, n: usize, n_ops: usize, n_params: usize) -> Tape {
    let mut t = Tape::new(n, n_params).unwrap();
    // every gate kind at least once (where it fits), then random ones
    let mut kinds: Vec<Gate> = Gate::ALL.to_vec();
    while kinds.len() < n_ops {
        kinds.push(Gate::ALL[rng.below(Gate::ALL.len())]);
    }
    for i in (1..kinds.len()).rev() {
        let j = rng.below(i + 1);
        kinds.swap(i, j);
    }
    // start from a spread state so that diagonal gates matter
    for w in 0..n {
        t.push(Op::new(Gate::Hadamard, vec![w], vec![])).unwrap();
    }
    for g in kinds {
        if let Some(op) = random_op(rng, n, n_params, g) {
            t.push(op).unwrap();
        }
    }
    t
}

pub fn random_obs(rng: &mut Rng, n: usize) -> Vec<PauliObs> {
    let mut obs: Vec<PauliObs> = (0..n)
        .map(|i| {
            vec![PauliTerm {
                coef: 1.0,
                word: vec![(i, 'Z')],
            }]
        })
        .collect();
    let word = |rng: &mut Rng| {
        let k = 1 + rng.below(n.min(3));
        rng.wires(n, k)
            .into_iter()
            .map(|w| (w, ['X', 'Y', 'Z', 'I'][rng.below(4)]))
            .collect::<Vec<_>>()
    };
    for _ in 0..2 {
        obs.push(vec![PauliTerm {
            coef: 1.0,
            word: word(rng),
        }]);
    }
    obs.push(
        (0..3)
            .map(|_| PauliTerm {
                coef: rng.angle(),
                word: word(rng),
            })
            .collect(),
    );
    obs
}

pub fn core_obs(n: usize, obs: &[PauliObs]) -> Vec<Obs> {
    obs.iter()
        .map(|o| {
            let terms: Vec<(f64, Vec<(usize, char)>)> =
                o.iter().map(|t| (t.coef, t.word.clone())).collect();
            Obs::pauli(n, &terms).unwrap()
        })
        .collect()
}

pub fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: kernel {g} vs CPU engine {w} (tol {tol})"
        );
    }
}

/// One random case's inputs: a circuit with 5 parameter columns, its observables (kernel and
/// core forms), theta [batch, 5], cotangents [batch, M] and the tolerance for `prec`.
pub struct RandomCase {
    pub tape: Tape,
    pub obs: Vec<PauliObs>,
    pub cobs: Vec<Obs>,
    pub theta: Vec<f64>,
    pub g: Vec<f64>,
    pub batch: usize,
    pub tol: f64,
}

pub fn random_case(seed: u64, n: usize, n_ops: usize, batch: usize, prec: Precision) -> RandomCase {
    let mut rng = Rng(seed);
    let n_params = 5;
    let tape = random_tape(&mut rng, n, n_ops, n_params);
    let obs = random_obs(&mut rng, n);
    let cobs = core_obs(n, &obs);
    let theta: Vec<f64> = (0..batch * n_params).map(|_| rng.angle()).collect();
    let g: Vec<f64> = (0..batch * obs.len()).map(|_| rng.angle()).collect();
    let tol = match prec {
        Precision::C128 => 1e-10,
        Precision::C64 => 3e-5 * (1.0 + tape.ops.len() as f64).sqrt(),
    };
    RandomCase {
        tape,
        obs,
        cobs,
        theta,
        g,
        batch,
        tol,
    }
}

/// The kernels (`run(adjoint, want_state)`) against the CPU engine: final state, expvals
/// (also those of the VJP run) and the VJP.
pub fn check_forward_and_vjp(
    ctx: &str,
    c: &RandomCase,
    mut run: impl FnMut(Adjoint<'_>, bool) -> RunOutput,
) {
    let (tape, theta, batch, tol) = (&c.tape, &c.theta[..], c.batch, c.tol);
    let fwd = run(Adjoint::None, true);
    let want_state = qoxide_core::state::<f64>(tape, theta, batch, Init::Zero).unwrap();
    let ws: Vec<f64> = want_state.iter().flat_map(|z| [z.re, z.im]).collect();
    close(
        &format!("state ({ctx})"),
        fwd.state.as_ref().unwrap(),
        &ws,
        tol,
    );
    let want_ev = qoxide_core::expval::<f64>(tape, theta, batch, &c.cobs, Init::Zero).unwrap();
    close(&format!("expval ({ctx})"), &fwd.expval, &want_ev, tol);

    let back = run(Adjoint::Vjp(&c.g), false);
    close(
        &format!("expval in the VJP run ({ctx})"),
        &back.expval,
        &want_ev,
        tol,
    );
    let want_vjp = qoxide_core::vjp::<f64>(tape, theta, batch, &c.cobs, &c.g, Init::Zero).unwrap();
    close(
        &format!("vjp ({ctx})"),
        back.grad.as_ref().unwrap(),
        &want_vjp,
        tol * 10.0,
    );
}
