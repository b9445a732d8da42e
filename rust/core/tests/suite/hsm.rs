//! HSM kernels against dense references built from Kronecker products.

use num_complex::Complex;
use qoxide_core::hsm::dense::{lowest_eigenvalue, DenseGround};
use qoxide_core::hsm::krylov::{lanczos_ground, random_vector, solve_deflated, KrylovOpts, LinOp};
use qoxide_core::hsm::strings::{self, count, enumerate, label, product, square_products};
use qoxide_core::hsm::{dense_ground, Grouping, PauliHsm};
use qoxide_core::pauli::PauliWord;

type C = Complex<f64>;
const ZERO: C = C::new(0.0, 0.0);

fn c(re: f64, im: f64) -> C {
    C::new(re, im)
}

/// Dense matrix of a label ("XIZ", wire 0 first) by Kronecker products.
fn kron_label(l: &str) -> Vec<C> {
    let mut m = vec![c(1.0, 0.0)];
    let mut dim = 1;
    for ch in l.chars() {
        let p: [C; 4] = match ch {
            'I' => [c(1., 0.), ZERO, ZERO, c(1., 0.)],
            'X' => [ZERO, c(1., 0.), c(1., 0.), ZERO],
            'Y' => [ZERO, c(0., -1.), c(0., 1.), ZERO],
            _ => [c(1., 0.), ZERO, ZERO, c(-1., 0.)],
        };
        let nd = dim * 2;
        let mut out = vec![ZERO; nd * nd];
        for i in 0..dim {
            for j in 0..dim {
                for a in 0..2 {
                    for b in 0..2 {
                        out[(i * 2 + a) * nd + j * 2 + b] = m[i * dim + j] * p[a * 2 + b];
                    }
                }
            }
        }
        m = out;
        dim = nd;
    }
    m
}

fn matvec(m: &[C], v: &[C]) -> Vec<C> {
    let d = v.len();
    (0..d)
        .map(|i| (0..d).map(|j| m[i * d + j] * v[j]).sum())
        .collect()
}

fn matmul(a: &[C], b: &[C], d: usize) -> Vec<C> {
    let mut out = vec![ZERO; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

fn max_diff(a: &[C], b: &[C]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

/// Deterministic pseudo-random reals in [-1, 1].
fn reals(n: usize, seed: u64) -> Vec<f64> {
    random_vector(n, seed).iter().map(|z| z.re).collect()
}

fn dense_sum(n: usize, words: &[PauliWord], coef: &[f64]) -> Vec<C> {
    let d = 1 << n;
    let mut m = vec![ZERO; d * d];
    for (w, &a) in words.iter().zip(coef) {
        for (mi, pi) in m.iter_mut().zip(kron_label(&label(*w, n))) {
            *mi += pi * a;
        }
    }
    m
}

#[test]
fn enumeration_counts_and_order() {
    for n in 1..=6 {
        for w in 0..=n {
            let words = enumerate(n, w).unwrap();
            let expect: u128 = (0..=w)
                .map(|j| {
                    let binom = (0..j).fold(1u128, |b, i| b * (n - i) as u128 / (i + 1) as u128);
                    binom * 3u128.pow(j as u32)
                })
                .sum();
            assert_eq!(words.len() as u128, expect, "n={n} w={w}");
            assert_eq!(count(n, w), Some(expect));
            let labels: std::collections::HashSet<String> =
                words.iter().map(|&p| label(p, n)).collect();
            assert_eq!(labels.len(), words.len(), "strings are distinct");
            assert!(words.iter().all(|&p| strings::weight(p) as usize <= w));
            assert!(words
                .windows(2)
                .all(|p| strings::weight(p[0]) <= strings::weight(p[1])));
        }
    }
    assert_eq!(enumerate(4, 4).unwrap().len(), 256); // all 4^n strings
    let two = enumerate(2, 1).unwrap();
    let labels: Vec<String> = two.iter().map(|&p| label(p, 2)).collect();
    assert_eq!(labels, ["II", "XI", "YI", "ZI", "IX", "IY", "IZ"]);
    assert!(enumerate(3, 4).is_err());
    assert!(enumerate(0, 0).is_err());
}

#[test]
fn products_match_dense() {
    let n = 3;
    let words = enumerate(n, 3).unwrap();
    let d = 1 << n;
    for (i, &a) in words.iter().enumerate().step_by(7) {
        for &b in words.iter().skip(i % 5).step_by(11) {
            let (p, k) = product(a, b);
            let lhs = matmul(&kron_label(&label(a, n)), &kron_label(&label(b, n)), d);
            let phase = [c(1., 0.), c(0., 1.), c(-1., 0.), c(0., -1.)][k as usize];
            let rhs: Vec<C> = kron_label(&label(p, n)).iter().map(|z| z * phase).collect();
            assert!(
                max_diff(&lhs, &rhs) < 1e-12,
                "{} {}",
                label(a, n),
                label(b, n)
            );
            let ab = lhs;
            let ba = matmul(&kron_label(&label(b, n)), &kron_label(&label(a, n)), d);
            let commutes = max_diff(&ab, &ba) < 1e-12;
            assert_eq!(commutes, strings::commute(a, b));
        }
    }
}

#[test]
fn square_expansion_matches_dense_square() {
    let n = 3;
    let words = enumerate(n, 2).unwrap();
    let a = reals(words.len(), 3);
    let sq = square_products(&words).unwrap();
    assert_eq!(sq.words[0], PauliWord { x: 0, z: 0 });
    let mut coef = vec![0.0; sq.words.len()];
    for p in 0..sq.s.len() {
        coef[sq.u[p] as usize] += sq.coef[p] * a[sq.s[p] as usize] * a[sq.t[p] as usize];
    }
    let d = 1 << n;
    let am = dense_sum(n, &words, &a);
    let expect = matmul(&am, &am, d);
    assert!(max_diff(&dense_sum(n, &sq.words, &coef), &expect) < 1e-12);
}

#[test]
fn grouped_sums_match_dense() {
    for (n, w) in [(1, 1), (3, 2), (4, 4), (5, 2)] {
        let words = enumerate(n, w).unwrap();
        let g = Grouping::new(n, words.clone()).unwrap();
        let coef = reals(words.len(), 11);
        let expect = dense_sum(n, &words, &coef);
        let d = 1 << n;
        let mut dense = vec![ZERO; d * d];
        g.dense_into(&coef, &mut dense);
        assert!(max_diff(&dense, &expect) < 1e-12, "dense n={n} w={w}");
        let v = random_vector(d, 5);
        let mut out = vec![ZERO; d];
        g.apply_acc(&g.tables(&coef), &v, &mut out);
        assert!(max_diff(&out, &matvec(&expect, &v)) < 1e-12, "apply n={n}");
        // overlaps ⟨u|P_t|v⟩
        let u = random_vector(d, 6);
        let mut ov = vec![ZERO; words.len()];
        g.overlaps_into(&u, &v, &mut Vec::new(), &mut ov);
        for (t, &p) in words.iter().enumerate() {
            let pv = matvec(&kron_label(&label(p, n)), &v);
            let want: C = u.iter().zip(&pv).map(|(a, b)| a.conj() * b).sum();
            assert!((ov[t] - want).norm() < 1e-12, "overlap {}", label(p, n));
        }
        let summed = g.overlaps_summed(
            &[u.clone(), v.clone()].concat(),
            &[v.clone(), u.clone()].concat(),
        );
        let mut ov2 = vec![ZERO; words.len()];
        g.overlaps_into(&v, &u, &mut Vec::new(), &mut ov2);
        for t in 0..words.len() {
            assert!((summed[t] - ov[t] - ov2[t]).norm() < 1e-12);
        }
        // project is the adjoint of dense: Σ_t proj_t c_t = Re Σ conj(G) dense(c)
        let gm = random_vector(d * d, 8);
        let mut proj = vec![0.0; words.len()];
        g.project_into(&gm, &mut Vec::new(), &mut proj);
        let lhs: f64 = proj.iter().zip(&coef).map(|(p, c)| p * c).sum();
        let rhs: f64 = gm.iter().zip(&expect).map(|(a, b)| (a.conj() * b).re).sum();
        assert!((lhs - rhs).abs() < 1e-10);
    }
}

#[test]
fn grouping_rejects_bad_strings() {
    let w = PauliWord { x: 1, z: 0 };
    assert!(Grouping::new(2, vec![w, w]).is_err());
    assert!(Grouping::new(1, vec![PauliWord { x: 2, z: 0 }]).is_err());
}

fn random_hermitian(d: usize, seed: u64) -> Vec<C> {
    let r = random_vector(d * d, seed);
    let mut h = vec![ZERO; d * d];
    for i in 0..d {
        for j in 0..d {
            h[i * d + j] = (r[i * d + j] + r[j * d + i].conj()) * 0.5;
        }
    }
    h
}

/// Whether H − σI is positive definite (Cholesky succeeds): an independent check of E₀.
fn positive_definite(h: &[C], d: usize, sigma: f64) -> bool {
    let mut l = vec![ZERO; d * d];
    for j in 0..d {
        let mut s = h[j * d + j].re - sigma;
        for k in 0..j {
            s -= l[j * d + k].norm_sqr();
        }
        if s <= 0.0 {
            return false;
        }
        let ljj = s.sqrt();
        l[j * d + j] = c(ljj, 0.0);
        for i in j + 1..d {
            let mut s = h[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k].conj();
            }
            l[i * d + j] = s / ljj;
        }
    }
    true
}

fn residual(h: &[C], psi: &[C], e: f64) -> f64 {
    matvec(h, psi)
        .iter()
        .zip(psi)
        .map(|(a, b)| (a - b * e).norm_sqr())
        .sum::<f64>()
        .sqrt()
}

#[test]
fn dense_ground_states() {
    for (d, seed) in [(1, 1), (2, 2), (5, 3), (16, 4), (33, 5)] {
        let h = random_hermitian(d, seed);
        let g = DenseGround::new(&mut h.clone(), d).unwrap();
        let nrm: f64 = g.psi.iter().map(|z| z.norm_sqr()).sum();
        assert!((nrm - 1.0).abs() < 1e-12);
        assert!(residual(&h, &g.psi, g.e0) < 1e-11, "d={d}");
        assert!(positive_definite(&h, d, g.e0 - 1e-9));
        assert!(!positive_definite(&h, d, g.e0 + 1e-9));
        // backward solve: (H − E₀ + ε)χ = P⊥ r with χ ⊥ ψ
        let r = random_vector(d, seed + 100);
        let eps = 1e-3;
        let chi = g.solve(&r, eps);
        let pr: C = g.psi.iter().zip(&r).map(|(a, b)| a.conj() * b).sum();
        let hx = matvec(&h, &chi);
        for i in 0..d {
            let lhs = hx[i] + chi[i] * (eps - g.e0);
            let rhs = r[i] - g.psi[i] * pr;
            assert!((lhs - rhs).norm() < 1e-10, "solve d={d}");
        }
        let c0: C = g.psi.iter().zip(&chi).map(|(a, b)| a.conj() * b).sum();
        assert!(c0.norm() < 1e-12);
    }
    // real symmetric and diagonal (already tridiagonal) inputs
    let mut diag = vec![ZERO; 16];
    for (i, v) in [3.0, -1.0, 2.0, -1.0].iter().enumerate() {
        diag[i * 4 + i] = c(*v, 0.0);
    }
    let g = DenseGround::new(&mut diag.clone(), 4).unwrap();
    assert!((g.e0 + 1.0).abs() < 1e-14);
    assert!(residual(&diag, &g.psi, g.e0) < 1e-12);
    let mut nan = vec![ZERO; 4];
    nan[0] = c(f64::NAN, 0.0);
    assert!(DenseGround::new(&mut nan, 2).is_err());
    assert!(dense_ground(&[ZERO; 3], 1, 2).is_err());
    assert_eq!(lowest_eigenvalue(&[2.0, 2.0], &[1.0]), 1.0);
}

struct Dense<'a>(&'a [C], usize);
impl LinOp for Dense<'_> {
    fn dim(&self) -> usize {
        self.1
    }
    fn apply(&self, v: &[C], out: &mut [C]) {
        out.copy_from_slice(&matvec(self.0, v));
    }
}

#[test]
fn lanczos_matches_dense() {
    let d = 64;
    let h = random_hermitian(d, 9);
    let g = DenseGround::new(&mut h.clone(), d).unwrap();
    for max_krylov in [120, 12] {
        let opts = KrylovOpts {
            max_krylov,
            ..KrylovOpts::default()
        };
        let pair = lanczos_ground(&Dense(&h, d), random_vector(d, 1), &opts);
        assert!((pair.value - g.e0).abs() < 1e-10, "krylov {max_krylov}");
        assert!(pair.residual < 1e-8);
        let ov: C = pair
            .vector
            .iter()
            .zip(&g.psi)
            .map(|(a, b)| a.conj() * b)
            .sum();
        assert!((ov.norm() - 1.0).abs() < 1e-10);
        let r = random_vector(d, 2);
        let s = solve_deflated(&Dense(&h, d), &pair.vector, pair.value, 1e-8, &r, &opts);
        let want = g.solve(&r, 1e-8);
        assert!(max_diff(&s.x, &want) < 1e-7, "deflated solve");
    }
}

#[test]
fn pauli_hsm_forward_backward_consistent() {
    // forward ground states equal the dense ones; backward equals finite differences
    let n = 4;
    let words = enumerate(n, 2).unwrap();
    let sq = square_products(&words).unwrap();
    let out_words = enumerate(n, 1).unwrap();
    let (shared, local, output) = (
        Grouping::new(n, sq.words.clone()).unwrap(),
        Grouping::new(n, words.clone()).unwrap(),
        Grouping::new(n, out_words.clone()).unwrap(),
    );
    let hsm = PauliHsm::new(&shared, &local, &output).unwrap();
    let batch = 3;
    let sigma = reals(shared.len(), 21);
    let cc = reals(batch * local.len(), 22);
    let opts = KrylovOpts::default();
    let f = hsm.forward(&sigma, &cc, batch, None, &opts).unwrap();
    let d = 1 << n;
    for b in 0..batch {
        let mut h = dense_sum(n, &sq.words, &sigma);
        let hb = dense_sum(n, &words, &cc[b * local.len()..(b + 1) * local.len()]);
        h.iter_mut().zip(&hb).for_each(|(a, b)| *a += b);
        let g = DenseGround::new(&mut h.clone(), d).unwrap();
        assert!((f.e0[b] - g.e0).abs() < 1e-10);
        assert!(f.residuals[b] < 1e-8);
    }
    // L = Σ_b Σ_v γ_bv ⟨P_v⟩_b + Σ_b g_b E0_b
    let gamma = reals(batch * output.len(), 23);
    let g_e = reals(batch, 24);
    let loss = |sigma: &[f64], cc: &[f64]| {
        let f = hsm.forward(sigma, cc, batch, None, &opts).unwrap();
        let a: f64 = f.expvals.iter().zip(&gamma).map(|(x, y)| x * y).sum();
        a + f.e0.iter().zip(&g_e).map(|(x, y)| x * y).sum::<f64>()
    };
    let bw = hsm
        .backward(&sigma, &cc, batch, &f.psi, &f.e0, &gamma, &g_e, 0.0, &opts)
        .unwrap();
    let h = 1e-5;
    for u in [0, 3, shared.len() / 2, shared.len() - 1] {
        let (mut p, mut m) = (sigma.clone(), sigma.clone());
        p[u] += h;
        m[u] -= h;
        let fd = (loss(&p, &cc) - loss(&m, &cc)) / (2.0 * h);
        assert!(
            (fd - bw.grad_sigma[u]).abs() < 1e-6,
            "sigma {u}: {fd} vs {}",
            bw.grad_sigma[u]
        );
    }
    for s in [0, 5, cc.len() - 1] {
        let (mut p, mut m) = (cc.clone(), cc.clone());
        p[s] += h;
        m[s] -= h;
        let fd = (loss(&sigma, &p) - loss(&sigma, &m)) / (2.0 * h);
        assert!(
            (fd - bw.grad_c[s]).abs() < 1e-6,
            "c {s}: {fd} vs {}",
            bw.grad_c[s]
        );
    }
    // errors name the bad shape
    assert!(hsm.forward(&sigma[1..], &cc, batch, None, &opts).is_err());
    assert!(hsm.forward(&sigma, &cc, batch + 1, None, &opts).is_err());
}
