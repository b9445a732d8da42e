//! qoxide-core observables as the kernels' Pauli sums. The kernels measure real-weighted
//! Pauli words only; Hermitian matrices and projectors stay on the CPU engine.

use crate::error::{CudaError, Result};
use crate::program::{PauliObs, PauliTerm};
use qoxide_core::pauli::PauliWord;
use qoxide_core::{Obs, Observable};

/// `obs` as Σ_t c_t P_t with (wire, 'X' | 'Y' | 'Z') factors; Unsupported for anything
/// that is not a (weighted sum of) Pauli sum(s).
pub fn pauli_obs(obs: &Obs) -> Result<PauliObs> {
    let mut out = Vec::new();
    collect(obs.n_qubits, &obs.op, 1.0, &mut out)?;
    Ok(out)
}

fn collect(n: usize, op: &Observable, scale: f64, out: &mut PauliObs) -> Result<()> {
    match op {
        Observable::Pauli(sum) => {
            for g in &sum.groups {
                for &(z, coeff) in &g.terms {
                    // the core keeps c · i^{#Y}; the kernels take c and the letters
                    let c = coeff / PauliWord { x: g.x, z }.phase();
                    if c.im.abs() > 1e-12 * c.re.abs().max(1.0) {
                        return Err(CudaError::Unsupported(format!(
                            "a Pauli term with a complex coefficient ({c}) is not Hermitian"
                        )));
                    }
                    let word = (0..n)
                        .filter_map(|wire| {
                            let b = 1usize << (n - 1 - wire);
                            match (g.x & b != 0, z & b != 0) {
                                (true, true) => Some((wire, 'Y')),
                                (true, false) => Some((wire, 'X')),
                                (false, true) => Some((wire, 'Z')),
                                (false, false) => None,
                            }
                        })
                        .collect();
                    out.push(PauliTerm {
                        coef: scale * c.re,
                        word,
                    });
                }
            }
            Ok(())
        }
        Observable::Sum(parts) => parts
            .iter()
            .try_for_each(|(c, o)| collect(n, o, scale * c, out)),
        Observable::Dense { .. } => Err(CudaError::Unsupported(
            "the CUDA kernels measure Pauli sums; a Hermitian-matrix observable runs on the \
             CPU (move the inputs with .cpu())"
                .into(),
        )),
        Observable::Projector { .. } => Err(CudaError::Unsupported(
            "the CUDA kernels measure Pauli sums; a projector observable runs on the CPU \
             (move the inputs with .cpu())"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_coefficients_round_trip() {
        // 0.5 X0 Y2 - 2 Z1 + 0.25 Y0 Y1 on 3 qubits, inside a weighted sum
        let words = [
            (0.5, vec![(0u32, 'X'), (2, 'Y')]),
            (-2.0, vec![(1, 'Z')]),
            (0.25, vec![(0, 'Y'), (1, 'Y')]),
        ];
        let n = 3;
        let terms: Vec<(f64, PauliWord)> = words
            .iter()
            .map(|(c, f)| {
                let bits = f.iter().map(|&(w, p)| (n as u32 - 1 - w, p));
                (*c, PauliWord::from_factors(bits).unwrap())
            })
            .collect();
        let sum = qoxide_core::pauli::PauliSum::new(&terms);
        let obs = Obs {
            n_qubits: n,
            op: Observable::Sum(vec![(3.0, Observable::Pauli(sum))]),
        };
        let mut got = pauli_obs(&obs).unwrap();
        got.sort_by(|a, b| a.coef.total_cmp(&b.coef));
        let want = [
            (-6.0, vec![(1, 'Z')]),
            (0.75, vec![(0, 'Y'), (1, 'Y')]),
            (1.5, vec![(0, 'X'), (2, 'Y')]),
        ];
        assert_eq!(got.len(), 3);
        for (g, (c, w)) in got.iter().zip(want) {
            assert!((g.coef - c).abs() < 1e-15, "{g:?}");
            assert_eq!(g.word, w);
        }
    }
}
