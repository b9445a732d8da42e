//! Observables (Pauli words and sums, Hermitian, Projector, sums), expval / var,
//! probs and sample, against dense matrices.

use crate::common::*;
use qoxide_core::{simple, Gate, Init, Obs, Param, Real, Tape};

/// A tape that does nothing: measurements then see the initial states directly.
fn empty(n: usize) -> Tape {
    tape_of(n, 0, vec![])
}

/// expval and var of each (Obs, dense matrix) pair, for `batch` random states
/// given per sample, in precision T.
fn check_obs<T: Real>(n: usize, observables: &[(Obs, Mat)], seed: u64, what: &str) {
    let single = std::mem::size_of::<T>() == 4;
    let tol = if single { 2e-5 } else { 1e-12 };
    let mut rng = Rng::new(seed);
    let batch = 3;
    let states: Vec<Vec<C64>> = (0..batch).map(|_| random_state(n, &mut rng)).collect();
    let flat = to_prec::<T>(&states.concat());
    let obs: Vec<Obs> = observables.iter().map(|o| o.0.clone()).collect();
    let tape = empty(n);
    let e = simple::expval::<T>(&tape, &[], batch, &obs, Init::PerSample(&flat)).unwrap();
    let v = simple::var::<T>(&tape, &[], batch, &obs, Init::PerSample(&flat)).unwrap();
    assert_eq!(e.len(), batch * obs.len());
    assert_eq!(v.len(), batch * obs.len());
    let m = obs.len();
    for (b, psi) in states.iter().enumerate() {
        for (j, (_, mat)) in observables.iter().enumerate() {
            // scale the tolerance with the observable's size
            let scale = mat.a.iter().map(|x| x.norm()).fold(1.0, f64::max);
            let want_e = expval_dense(mat, psi);
            let want_v = var_dense(mat, psi);
            let (ge, gv) = (e[b * m + j], v[b * m + j]);
            assert!(
                (ge - want_e).abs() <= tol * scale,
                "{what} #{j}, sample {b}, {}: expval {ge}, want {want_e}",
                std::any::type_name::<T>()
            );
            assert!(
                (gv - want_v).abs() <= tol * scale * scale * 4.0,
                "{what} #{j}, sample {b}, {}: var {gv}, want {want_v}",
                std::any::type_name::<T>()
            );
        }
    }
}

fn both<F: Fn(&mut Rng) -> Vec<(Obs, Mat)>>(n: usize, seed: u64, what: &str, make: F) {
    let mut rng = Rng::new(seed);
    let obs = make(&mut rng);
    check_obs::<f64>(n, &obs, seed + 1, what);
    check_obs::<f32>(n, &obs, seed + 2, what);
}

/// Weighted Pauli words, each a list of (wire, 'I'|'X'|'Y'|'Z') factors.
type PauliTerms = Vec<(f64, Vec<(usize, char)>)>;

/// Every Pauli word on 4 qubits (all X/Y/Z/I mixes, 0 to 4 Y factors) with a random
/// weight.
#[test]
fn every_pauli_word_on_four_qubits() {
    let n = 4;
    both(n, 100, "Pauli word", |rng| {
        let mut out = Vec::new();
        for code in 0..4usize.pow(n as u32) {
            let factors: Vec<(usize, char)> = (0..n)
                .map(|w| (w, ['I', 'X', 'Y', 'Z'][(code >> (2 * w)) & 3]))
                .collect();
            let coef = rng.range(-2.0, 2.0);
            let terms = vec![(coef, factors)];
            out.push((Obs::pauli(n, &terms).unwrap(), pauli_sum_matrix(n, &terms)));
        }
        out
    });
}

/// Words given on a subset of wires, in any order, and weighted sums of them.
#[test]
fn pauli_sums() {
    let n = 5;
    both(n, 200, "Pauli sum", |rng| {
        let sums: Vec<PauliTerms> = vec![
            // one word, wires out of order
            vec![(1.0, vec![(3, 'X'), (0, 'Y'), (4, 'Z')])],
            // words sharing an x mask with different z masks (one pass per x group)
            vec![
                (0.5, vec![(1, 'X'), (2, 'X')]),
                (-0.25, vec![(1, 'Y'), (2, 'X')]),
                (0.75, vec![(1, 'X'), (2, 'Y'), (0, 'Z')]),
                (1.5, vec![(1, 'Y'), (2, 'Y')]),
            ],
            // the same word twice (weights add), a zero weight, an identity term
            vec![
                (0.3, vec![(0, 'Z'), (4, 'Z')]),
                (0.4, vec![(4, 'Z'), (0, 'Z')]),
                (0.0, vec![(2, 'Y')]),
                (-1.2, vec![]),
                (2.0, vec![(3, 'I'), (1, 'I')]),
            ],
            // many groups, Y counts 1 to 4
            vec![
                (rng.normal(), vec![(0, 'Y')]),
                (rng.normal(), vec![(0, 'Y'), (1, 'Y')]),
                (rng.normal(), vec![(0, 'Y'), (1, 'Y'), (2, 'Y')]),
                (rng.normal(), vec![(4, 'Y'), (0, 'Y'), (1, 'Y'), (2, 'Y')]),
                (rng.normal(), vec![(2, 'X'), (3, 'Z'), (4, 'Y')]),
                (
                    rng.normal(),
                    vec![(0, 'Z'), (1, 'Z'), (2, 'Z'), (3, 'Z'), (4, 'Z')],
                ),
            ],
            // a word cancelled by its negative
            vec![(1.0, vec![(1, 'X')]), (-1.0, vec![(1, 'X')])],
        ];
        sums.into_iter()
            .map(|t| (Obs::pauli(n, &t).unwrap(), pauli_sum_matrix(n, &t)))
            .collect()
    });
}

#[test]
fn hermitian_on_one_to_three_wires() {
    let n = 5;
    both(n, 300, "Hermitian", |rng| {
        let placements: Vec<Vec<usize>> = vec![
            vec![0],
            vec![2],
            vec![4],
            vec![0, 1],
            vec![1, 0],
            vec![0, 3],
            vec![4, 1],
            vec![2, 0, 3],
            vec![4, 3, 2],
            vec![0, 4, 2],
            vec![0, 1, 2, 3],
        ];
        placements
            .into_iter()
            .map(|w| {
                let h = random_hermitian(w.len(), rng);
                let full = embed(&h, &w, n);
                (Obs::hermitian(n, w, h.a).unwrap(), full)
            })
            .collect()
    });
}

#[test]
fn hermitian_on_all_wires_and_tiny_register() {
    both(3, 350, "Hermitian (all wires)", |rng| {
        let h = random_hermitian(3, rng);
        let full = embed(&h, &[2, 0, 1], 3);
        vec![(Obs::hermitian(3, vec![2, 0, 1], h.a).unwrap(), full)]
    });
    both(1, 360, "Hermitian (1 qubit)", |rng| {
        let h = random_hermitian(1, rng);
        vec![(Obs::hermitian(1, vec![0], h.a.clone()).unwrap(), h)]
    });
}

#[test]
fn projectors() {
    let n = 5;
    both(n, 400, "Projector", |_| {
        let cases: Vec<(Vec<usize>, Vec<u8>)> = vec![
            (vec![0], vec![1]),
            (vec![4], vec![0]),
            (vec![3, 1], vec![1, 0]),
            (vec![1, 3], vec![1, 0]),
            (vec![2, 0, 4], vec![0, 1, 1]),
            (vec![0, 1, 2, 3, 4], vec![1, 0, 1, 1, 0]),
            (vec![4, 3, 2, 1, 0], vec![0, 0, 0, 0, 0]),
        ];
        cases
            .into_iter()
            .map(|(w, b)| {
                (
                    Obs::projector(n, &w, &b).unwrap(),
                    projector_matrix(n, &w, &b),
                )
            })
            .collect()
    });
}

#[test]
fn sums_of_observables() {
    let n = 4;
    both(n, 500, "Sum", |rng| {
        let h2 = random_hermitian(2, rng);
        let h1 = random_hermitian(1, rng);
        let pw = vec![(0.8, vec![(0, 'X'), (3, 'Y')]), (-0.4, vec![(2, 'Z')])];
        let inner = Obs::sum(vec![
            (1.5, Obs::hermitian(n, vec![3, 1], h2.a.clone()).unwrap()),
            (-0.5, Obs::projector(n, &[2], &[1]).unwrap()),
        ])
        .unwrap();
        let inner_m = embed(&h2, &[3, 1], n)
            .scale(c(1.5, 0.0))
            .add(&projector_matrix(n, &[2], &[1]).scale(c(-0.5, 0.0)));
        let outer = Obs::sum(vec![
            (2.0, inner.clone()),
            (0.3, Obs::pauli(n, &pw).unwrap()),
            (-1.0, Obs::hermitian(n, vec![0], h1.a.clone()).unwrap()),
        ])
        .unwrap();
        let outer_m = inner_m
            .scale(c(2.0, 0.0))
            .add(&pauli_sum_matrix(n, &pw).scale(c(0.3, 0.0)))
            .add(&embed(&h1, &[0], n).scale(c(-1.0, 0.0)));
        let single = Obs::sum(vec![(0.7, Obs::projector(n, &[0, 1], &[0, 0]).unwrap())]).unwrap();
        let single_m = projector_matrix(n, &[0, 1], &[0, 0]).scale(c(0.7, 0.0));
        vec![(inner, inner_m), (outer, outer_m), (single, single_m)]
    });
}

/// The mixed set used by the adjoint tests, measured after a circuit (not only on
/// initial states), batch 2 with different theta rows.
#[test]
fn expval_and_var_after_a_circuit() {
    let n = 4;
    let p = 3;
    let mut rng = Rng::new(600);
    let observables = mixed_observables(n, &mut rng);
    let obs: Vec<Obs> = observables.iter().map(|o| o.0.clone()).collect();
    let ops = Gate::ALL
        .iter()
        .map(|&g| random_op(g, n, p, &mut rng))
        .collect();
    let tape = tape_of(n, p, ops);
    let batch = 2;
    let theta = random_theta(batch, p, &mut rng);
    let psi0 = random_state(n, &mut rng);
    let psi0_t = to_prec::<f64>(&psi0);
    let e = simple::expval::<f64>(&tape, &theta, batch, &obs, Init::Shared(&psi0_t)).unwrap();
    let v = simple::var::<f64>(&tape, &theta, batch, &obs, Init::Shared(&psi0_t)).unwrap();
    let m = obs.len();
    for b in 0..batch {
        let psi = ref_unitary(&tape, &theta[b * p..(b + 1) * p]).matvec(&psi0);
        for (j, (_, mat)) in observables.iter().enumerate() {
            let (we, wv) = (expval_dense(mat, &psi), var_dense(mat, &psi));
            assert!(
                (e[b * m + j] - we).abs() < 1e-11,
                "expval obs {j} sample {b}"
            );
            assert!((v[b * m + j] - wv).abs() < 1e-11, "var obs {j} sample {b}");
        }
    }
    // no observables: empty result
    let none = simple::expval::<f64>(&tape, &theta, batch, &[], Init::Zero).unwrap();
    assert!(none.is_empty());
}

/// A basis state is an eigenstate: var of Z words vanishes, expval is ±1.
#[test]
fn eigenstates_have_zero_variance() {
    let n = 3;
    let tape = tape_of(n, 0, vec![op(Gate::PauliX, &[1], vec![])]);
    let obs = vec![
        Obs::pauli(n, &[(1.0, vec![(1, 'Z')])]).unwrap(),
        Obs::pauli(n, &[(1.0, vec![(0, 'Z'), (1, 'Z')])]).unwrap(),
        Obs::projector(n, &[1], &[1]).unwrap(),
        Obs::pauli(n, &[(1.0, vec![(2, 'X')])]).unwrap(),
    ];
    let e = simple::expval::<f64>(&tape, &[], 1, &obs, Init::Zero).unwrap();
    let v = simple::var::<f64>(&tape, &[], 1, &obs, Init::Zero).unwrap();
    assert_reals_close(&e, &[-1.0, -1.0, 1.0, 0.0], 1e-15, "eigen expval");
    assert_reals_close(&v, &[0.0, 0.0, 0.0, 1.0], 1e-15, "eigen var");
}

// ---------------------------------------------------------------------------------
// probs
// ---------------------------------------------------------------------------------

fn check_probs<T: Real>(seed: u64) {
    let n = 5;
    let tol = if std::mem::size_of::<T>() == 8 {
        1e-13
    } else {
        1e-6
    };
    let mut rng = Rng::new(seed);
    let batch = 2;
    let states: Vec<Vec<C64>> = (0..batch).map(|_| random_state(n, &mut rng)).collect();
    let flat = to_prec::<T>(&states.concat());
    let tape = empty(n);
    let orders: Vec<Vec<usize>> = vec![
        vec![],
        vec![0],
        vec![4],
        vec![2],
        vec![3, 0],
        vec![0, 3],
        vec![1, 3, 0],
        vec![4, 2, 0, 1],
        vec![0, 1, 2, 3, 4],
        vec![4, 3, 2, 1, 0],
        vec![2, 4, 0, 3, 1],
    ];
    for wires in orders {
        let got = simple::probs::<T>(&tape, &[], batch, &wires, Init::PerSample(&flat)).unwrap();
        let k = wires.len();
        assert_eq!(got.len(), batch << k);
        for (b, psi) in states.iter().enumerate() {
            let want = ref_probs(psi, &wires);
            let row = &got[b << k..(b + 1) << k];
            assert_reals_close(
                row,
                &want,
                tol,
                &format!(
                    "probs {wires:?} sample {b} ({})",
                    std::any::type_name::<T>()
                ),
            );
            assert!((row.iter().sum::<f64>() - 1.0).abs() < tol * 10.0);
        }
    }
}

#[test]
fn probs_marginals_f64() {
    check_probs::<f64>(700);
}

#[test]
fn probs_marginals_f32() {
    check_probs::<f32>(701);
}

/// The outcome index of probs puts wires[0] on the high bit.
#[test]
fn probs_bit_order() {
    // |q0 q1 q2> = |1 0 0> after X on wire 0
    let tape = tape_of(3, 0, vec![op(Gate::PauliX, &[0], vec![])]);
    let p = simple::probs::<f64>(&tape, &[], 1, &[0, 2], Init::Zero).unwrap();
    assert_eq!(p, vec![0.0, 0.0, 1.0, 0.0]);
    let p = simple::probs::<f64>(&tape, &[], 1, &[2, 0], Init::Zero).unwrap();
    assert_eq!(p, vec![0.0, 1.0, 0.0, 0.0]);
    let p = simple::probs::<f64>(&tape, &[], 1, &[], Init::Zero).unwrap();
    assert_eq!(p, vec![1.0]);
    // theta-dependent: RY(t) on wire 1 gives P(1) = sin^2(t/2)
    let tape = tape_of(3, 1, vec![op(Gate::RY, &[1], vec![Param::Col(0)])]);
    let theta = [0.3, 1.1, 2.5];
    let p = simple::probs::<f64>(&tape, &theta, 3, &[1], Init::Zero).unwrap();
    for (b, t) in theta.iter().enumerate() {
        let p1 = (t / 2.0f64).sin().powi(2);
        assert_reals_close(&p[2 * b..2 * b + 2], &[1.0 - p1, p1], 1e-15, "RY probs");
    }
}

// ---------------------------------------------------------------------------------
// sample
// ---------------------------------------------------------------------------------

#[test]
fn sample_is_reproducible_and_seeded() {
    let n = 4;
    let mut rng = Rng::new(800);
    let psi = random_state(n, &mut rng);
    let psi_t = to_prec::<f64>(&psi);
    let tape = empty(n);
    let wires = [2, 0, 3];
    let shots = 500;
    let batch = 3;
    let run = |seed: u64| {
        simple::sample::<f64>(&tape, &[], batch, &wires, shots, seed, Init::Shared(&psi_t)).unwrap()
    };
    let a = run(42);
    assert_eq!(a.len(), batch * shots * wires.len());
    assert!(a.iter().all(|&x| x <= 1), "bits must be 0 or 1");
    assert_eq!(a, run(42), "same seed, same samples");
    assert_ne!(a, run(43), "different seed, different samples");
    // each sample of the batch draws from its own stream
    let per = shots * wires.len();
    assert_ne!(&a[..per], &a[per..2 * per]);
    assert_ne!(&a[per..2 * per], &a[2 * per..]);
    // f32 states give the same outcomes' statistics; just check shape and bits
    let psi32 = to_prec::<f32>(&psi);
    let s32 = simple::sample::<f32>(&tape, &[], 1, &wires, shots, 7, Init::Shared(&psi32)).unwrap();
    assert_eq!(s32.len(), shots * wires.len());
    assert!(s32.iter().all(|&x| x <= 1));
    // empty requests
    let none = simple::sample::<f64>(&tape, &[], 2, &wires, 0, 1, Init::Zero).unwrap();
    assert!(none.is_empty());
    let none = simple::sample::<f64>(&tape, &[], 2, &[], 10, 1, Init::Zero).unwrap();
    assert!(none.is_empty());
}

/// Frequencies of many shots match probs (5 sigma), in both precisions; outcomes of
/// probability zero never occur.
fn check_sample_frequencies<T: Real>(seed: u64) {
    let n = 4;
    let mut rng = Rng::new(seed);
    // a state with some exactly-zero amplitudes: wire 1 is |0> with certainty
    let mut psi = random_state(n, &mut rng);
    for (i, a) in psi.iter_mut().enumerate() {
        if wire_bit(i, 1, n) == 1 {
            *a = ZERO;
        }
    }
    normalise(&mut psi);
    let psi_t = to_prec::<T>(&psi);
    let tape = empty(n);
    let wires = [3, 1, 0];
    let shots = 100_000;
    let batch = 2;
    let s =
        simple::sample::<T>(&tape, &[], batch, &wires, shots, seed, Init::Shared(&psi_t)).unwrap();
    let p = ref_probs(&psi, &wires);
    let k = wires.len();
    for b in 0..batch {
        let mut counts = vec![0usize; 1 << k];
        for shot in s[b * shots * k..(b + 1) * shots * k].chunks_exact(k) {
            let o = shot
                .iter()
                .enumerate()
                .map(|(j, &bit)| (bit as usize) << (k - 1 - j))
                .sum::<usize>();
            counts[o] += 1;
        }
        for (o, (&cnt, &pr)) in counts.iter().zip(&p).enumerate() {
            let f = cnt as f64 / shots as f64;
            let sigma = (pr * (1.0 - pr) / shots as f64).sqrt();
            assert!(
                (f - pr).abs() <= 5.0 * sigma + 1e-4,
                "outcome {o:03b} of wires {wires:?}: frequency {f}, probability {pr}"
            );
            if pr == 0.0 {
                assert_eq!(cnt, 0, "outcome {o:03b} has probability 0");
            }
        }
    }
}

#[test]
fn sample_frequencies_match_probs_f64() {
    check_sample_frequencies::<f64>(900);
}

#[test]
fn sample_frequencies_match_probs_f32() {
    check_sample_frequencies::<f32>(901);
}

/// A basis state always gives the same bits, in the order of `wires`.
#[test]
fn sample_of_a_basis_state() {
    let n = 3;
    let tape = tape_of(
        n,
        0,
        vec![
            op(Gate::PauliX, &[0], vec![]),
            op(Gate::PauliX, &[1], vec![]),
        ],
    );
    let s = simple::sample::<f64>(&tape, &[], 2, &[2, 0, 1], 50, 3, Init::Zero).unwrap();
    for shot in s.chunks_exact(3) {
        assert_eq!(shot, &[0, 1, 1]);
    }
}

/// Hermitian observables on many wires (wide group enumeration), expval and var
/// against the reference applied by index arithmetic.
#[test]
fn wide_hermitian_observables() {
    let n = 8;
    let mut rng = Rng::new(1000);
    let psi = random_state(n, &mut rng);
    let tape = empty(n);
    for wires in [
        vec![7, 0, 3, 5, 1],
        vec![2, 4, 6, 0, 1, 7],
        vec![0, 1, 2, 3],
    ] {
        let h = random_hermitian(wires.len(), &mut rng);
        let obs = [Obs::hermitian(n, wires.clone(), h.a.clone()).unwrap()];
        let hpsi = apply_local(&h, &wires, &psi);
        let e: f64 = psi.iter().zip(&hpsi).map(|(a, b)| (a.conj() * b).re).sum();
        let v = hpsi.iter().map(|x| x.norm_sqr()).sum::<f64>() - e * e;
        let psi_t = to_prec::<f64>(&psi);
        let ge = simple::expval::<f64>(&tape, &[], 1, &obs, Init::Shared(&psi_t)).unwrap();
        let gv = simple::var::<f64>(&tape, &[], 1, &obs, Init::Shared(&psi_t)).unwrap();
        assert_reals_close(&ge, &[e], 1e-11, &format!("Hermitian on {wires:?}: expval"));
        assert_reals_close(&gv, &[v], 1e-10, &format!("Hermitian on {wires:?}: var"));
        let psi32 = to_prec::<f32>(&psi);
        let ge = simple::expval::<f32>(&tape, &[], 1, &obs, Init::Shared(&psi32)).unwrap();
        assert_reals_close(
            &ge,
            &[e],
            1e-4,
            &format!("Hermitian on {wires:?}: expval f32"),
        );
    }
}
