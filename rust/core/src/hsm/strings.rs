//! Pauli strings of bounded weight, their labels, and the products that make up Σ_k A_k².
//!
//! Wire 0 is the most significant bit of the basis index (the crate's convention), so the
//! factor on wire `w` of an `n`-qubit string sits at bit `n - 1 - w` of its masks.

use crate::error::Result;
use crate::pauli::PauliWord;
use crate::value_err;
use std::collections::HashMap;

/// Most qubits an HSM may use: tables and states are dense in 2^n.
pub const MAX_HSM_QUBITS: usize = 24;

/// Σ_{j ≤ w} C(n, j) 3^j: how many strings `enumerate(n, w)` returns; None when it does
/// not fit in 128 bits (n ≥ 64 with large w: 4^64 = 2^128).
pub fn count(n: usize, w: usize) -> Option<u128> {
    let mut total = 0u128;
    let mut binom = 1u128; // C(n, j)
    let mut pow3 = 1u128;
    for j in 0..=w.min(n) {
        total = total.checked_add(binom.checked_mul(pow3)?)?;
        if j == w.min(n) {
            break;
        }
        // C(n, j+1) = C(n, j) (n - j) / (j + 1), exact in this order
        binom = binom.checked_mul((n - j) as u128)? / (j + 1) as u128;
        pow3 = pow3.checked_mul(3)?;
    }
    Some(total)
}

/// All strings on `n` qubits with at most `w` non-identity factors: by weight, then by the
/// wires carrying factors (lexicographic), then by letters X < Y < Z (last wire fastest).
pub fn enumerate(n: usize, w: usize) -> Result<Vec<PauliWord>> {
    if n == 0 || n > MAX_HSM_QUBITS {
        return value_err!("qubits_count must be in 1..={MAX_HSM_QUBITS}, got {n}");
    }
    if w > n {
        return value_err!("Pauli weight {w} must be <= qubits_count {n}");
    }
    let total = count(n, w).unwrap_or(u128::MAX);
    if total > (1u128 << 24) {
        return value_err!(
            "{total} Pauli strings of weight <= {w} on {n} qubits: too many (at most 2^24)"
        );
    }
    let mut out = Vec::with_capacity(total as usize);
    for weight in 0..=w {
        let mut wires: Vec<usize> = (0..weight).collect();
        loop {
            // every letter assignment: digit 0,1,2 = X,Y,Z; last wire fastest
            for code in 0..3usize.pow(weight as u32) {
                let (mut x, mut z, mut c) = (0usize, 0usize, code);
                for &wire in wires.iter().rev() {
                    let bit = 1usize << (n - 1 - wire);
                    match c % 3 {
                        0 => x |= bit,
                        1 => {
                            x |= bit;
                            z |= bit
                        }
                        _ => z |= bit,
                    }
                    c /= 3;
                }
                out.push(PauliWord { x, z });
            }
            if !next_combination(&mut wires, n) {
                break;
            }
        }
    }
    Ok(out)
}

/// Advance `c` (strictly increasing, values < n) to the next combination; false at the end.
fn next_combination(c: &mut [usize], n: usize) -> bool {
    let k = c.len();
    for i in (0..k).rev() {
        if c[i] < n - k + i {
            c[i] += 1;
            for j in i + 1..k {
                c[j] = c[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// "XIZY..." with wire 0 first.
pub fn label(w: PauliWord, n: usize) -> String {
    (0..n)
        .map(|wire| {
            let bit = 1usize << (n - 1 - wire);
            match (w.x & bit != 0, w.z & bit != 0) {
                (false, false) => 'I',
                (true, false) => 'X',
                (true, true) => 'Y',
                (false, true) => 'Z',
            }
        })
        .collect()
}

/// Number of non-identity factors.
pub fn weight(w: PauliWord) -> u32 {
    (w.x | w.z).count_ones()
}

/// P_a P_b = i^k P_{a·b}; returns (a·b, k mod 4).
pub fn product(a: PauliWord, b: PauliWord) -> (PauliWord, u32) {
    let c = PauliWord {
        x: a.x ^ b.x,
        z: a.z ^ b.z,
    };
    // P = i^{|x&z|} X^x Z^z and Z^{z1} X^{x2} = (-1)^{|z1&x2|} X^{x2} Z^{z1}
    let k = (a.x & a.z).count_ones() + (b.x & b.z).count_ones() + 2 * (a.z & b.x).count_ones() + 4
        - (c.x & c.z).count_ones() % 4;
    (c, k % 4)
}

/// Whether P_a and P_b commute.
pub fn commute(a: PauliWord, b: PauliWord) -> bool {
    ((a.x & b.z).count_ones() + (a.z & b.x).count_ones()).is_multiple_of(2)
}

/// The expansion A² = Σ_p coef_p a_{s_p} a_{t_p} P_{u_p} for A = Σ_s a_s P_s (real a):
/// pairs s < t that commute (coef = ±2) and s = t (P_s² = I, coef = 1). Anticommuting
/// pairs cancel. `words[0]` is the identity.
#[derive(Clone, Debug)]
pub struct SquareProducts {
    pub words: Vec<PauliWord>,
    pub s: Vec<u32>,
    pub t: Vec<u32>,
    pub u: Vec<u32>,
    pub coef: Vec<f64>,
}

pub fn square_products(words: &[PauliWord]) -> Result<SquareProducts> {
    check_distinct(words)?;
    let identity = PauliWord { x: 0, z: 0 };
    let mut index: HashMap<PauliWord, u32> = HashMap::new();
    let mut out = SquareProducts {
        words: vec![identity],
        s: Vec::new(),
        t: Vec::new(),
        u: Vec::new(),
        coef: Vec::new(),
    };
    index.insert(identity, 0);
    for (i, &a) in words.iter().enumerate() {
        out.s.push(i as u32);
        out.t.push(i as u32);
        out.u.push(0);
        out.coef.push(1.0);
        for (j, &b) in words.iter().enumerate().skip(i + 1) {
            if !commute(a, b) {
                continue;
            }
            let (c, k) = product(a, b);
            debug_assert!(k % 2 == 0, "commuting Hermitian strings multiply to ±P");
            let next = out.words.len() as u32;
            let u = *index.entry(c).or_insert(next);
            if u == next {
                out.words.push(c);
            }
            out.s.push(i as u32);
            out.t.push(j as u32);
            out.u.push(u);
            out.coef.push(if k == 0 { 2.0 } else { -2.0 });
        }
    }
    Ok(out)
}

/// Error on a repeated string (coefficients of duplicates would be ambiguous).
pub fn check_distinct(words: &[PauliWord]) -> Result<()> {
    let mut seen: HashMap<PauliWord, usize> = HashMap::with_capacity(words.len());
    for (i, &w) in words.iter().enumerate() {
        if let Some(j) = seen.insert(w, i) {
            return value_err!(
                "Pauli string {i} repeats string {j} (x mask {:#x}, z mask {:#x})",
                w.x,
                w.z
            );
        }
    }
    Ok(())
}
