//! Trailing CNOT, CY, X, Y, SWAP and diagonal gates, measured in the Heisenberg picture.
//!
//! For such a gate G and a Z string Z_S, G† Z_S G is ± a Z string (CNOT, CY, X, Y, SWAP)
//! or Z_S itself (a diagonal G). So ⟨Z_S⟩ after a run of them is ± ⟨Z_S'⟩ before it:
//! the entangling ring that most layers end with (StronglyEntanglingLayers,
//! BasicEntanglerLayers, the layered benchmark) need not be applied before a readout of Z
//! strings. On a register wider than a cache tile that ring is a pass over memory of its
//! own (the last of the 8-9 passes of the 4-layer benchmark at 20-22 qubits), and with
//! it gone the ops before it pack into fewer passes.
//!
//! The gradient is unchanged: a diagonal gate's parameter does not move a Z string's
//! value, so its column of the Jacobian is zero either way.

use crate::engine::{self, Engine, Init, Options};
use crate::error::Result;
use crate::gates::Gate;
use crate::observable::{Obs, Observable};
use crate::pauli::{PauliSum, PauliWord};
use crate::program::Program;
use crate::scalar::Real;
use crate::state::index::set_bits;
use crate::tape::{Op, Tape};

/// How one trailing gate maps Z strings (bit masks of the state index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// X or Y on this bit: Z there changes sign.
    Sign(u32),
    /// CNOT or CY, control and target bits: Z on the target becomes Z Z on both.
    Cnot(u32, u32),
    /// SWAP: the two bits trade places.
    Swap(u32, u32),
}

/// The longest run of ops at the end of a tape that maps Z strings to Z strings.
#[derive(Clone, Debug)]
pub struct ZFrame {
    /// The index of the run's first op.
    start: usize,
    /// The run's non-diagonal ops, in circuit order.
    steps: Vec<Step>,
}

impl ZFrame {
    pub fn of(tape: &Tape) -> ZFrame {
        let bit = |w: usize| (tape.n_qubits - 1 - w) as u32;
        let mut steps = Vec::new();
        let mut start = tape.ops.len();
        for op in tape.ops.iter().rev() {
            let step = match (op.gate, op.wires.as_slice()) {
                (Gate::PauliX | Gate::PauliY, &[t]) => Some(Step::Sign(bit(t))),
                (Gate::CNOT | Gate::CY, &[c, t]) => Some(Step::Cnot(bit(c), bit(t))),
                (Gate::SWAP, &[a, b]) => Some(Step::Swap(bit(a), bit(b))),
                _ if is_diagonal(op) => None,
                _ => break,
            };
            steps.extend(step);
            start -= 1;
        }
        steps.reverse();
        ZFrame { start, steps }
    }

    /// The index of the first op of the run (the tape's length when it is empty).
    pub fn start(&self) -> usize {
        self.start
    }

    /// (mask', sign) such that Z_mask after the run is sign · Z_mask' before it.
    pub fn pull(&self, mask: usize) -> (usize, f64) {
        let (mut m, mut sign) = (mask, 1.0);
        for step in self.steps.iter().rev() {
            match *step {
                Step::Sign(t) if m >> t & 1 == 1 => sign = -sign,
                Step::Sign(_) => {}
                Step::Cnot(c, t) => m ^= (m >> t & 1) << c,
                Step::Swap(a, b) => {
                    if (m >> a ^ m >> b) & 1 == 1 {
                        m ^= (1 << a) | (1 << b);
                    }
                }
            }
        }
        (m, sign)
    }

    /// The observables to measure before the run instead of `obs` after it; None unless
    /// every one is a real combination of Z strings.
    pub fn observables(&self, obs: &[Obs]) -> Option<Vec<Obs>> {
        obs.iter()
            .map(|o| {
                let words: Vec<(f64, PauliWord)> = (o.op.z_terms()?.into_iter())
                    .map(|(mask, c)| {
                        let (m, sign) = self.pull(mask);
                        let z = PauliWord::from_factors(set_bits(m).map(|b| (b, 'Z')));
                        (sign * c, z.expect("Z is a Pauli factor"))
                    })
                    .collect();
                Some(Obs {
                    n_qubits: o.n_qubits,
                    op: Observable::Pauli(PauliSum::new(&words)),
                })
            })
            .collect()
    }
}

/// Whether `op` is diagonal in the computational basis for every parameter value.
fn is_diagonal(op: &Op) -> bool {
    use Gate::*;
    matches!(
        op.gate,
        Identity
            | PauliZ
            | S
            | T
            | RZ
            | PhaseShift
            | U1
            | CZ
            | CRZ
            | ControlledPhaseShift
            | IsingZZ
            | MultiRZ
            | GlobalPhase
    )
}

/// What to run instead of `obs` on `prog` from `init`: the program of the ops before its
/// trailing frame and the observables pulled back through it, when the call would run the
/// tiled engine (where the frame's ops cost passes over memory), starts from initial
/// states (final ones already hold the frame's ops) and measures only Z strings. The
/// pulled-back observables keep their register size, so the call on the prefix checks
/// them as the call on `prog` would have.
pub(crate) fn before_frame<'p, T: Real>(
    prog: &'p Program<T>,
    batch: usize,
    obs: &[Obs],
    init: &Init<T>,
    opts: &Options,
) -> Result<Option<(&'p Program<T>, Vec<Obs>)>> {
    // the engine first: small registers never build the prefix program
    if init.is_final() || obs.is_empty() || engine::choose(prog, batch, opts)? != Engine::Tiled {
        return Ok(None);
    }
    let Some((frame, prefix)) = prog.framed() else {
        return Ok(None);
    };
    Ok(frame.observables(obs).map(|o| (prefix, o)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::Param;

    fn tape(n: usize, ops: &[(Gate, Vec<usize>)]) -> Tape {
        let mut t = Tape::new(n, 1).unwrap();
        for (g, w) in ops {
            let params = match g.n_params() {
                0 => vec![],
                _ => vec![Param::Col(0)],
            };
            t.push(Op::new(*g, w.clone(), params)).unwrap();
        }
        t
    }

    #[test]
    fn the_frame_is_the_trailing_run() {
        use Gate::*;
        let t = tape(
            3,
            &[
                (CNOT, vec![0, 1]),
                (RY, vec![1]),
                (CNOT, vec![1, 2]),
                (RZ, vec![2]),
                (SWAP, vec![0, 2]),
                (PauliX, vec![1]),
            ],
        );
        let f = ZFrame::of(&t);
        assert_eq!(f.start(), 2);
        // wire w is bit 2 - w; steps in circuit order
        assert_eq!(f.steps, [Step::Cnot(1, 0), Step::Swap(2, 0), Step::Sign(1)]);
        // Z on wire 2 (bit 0): the SWAP brings it from wire 0, untouched by the CNOT
        assert_eq!(f.pull(0b001), (0b100, 1.0));
        // Z on wire 0 (bit 2): from wire 2 (bit 0), the CNOT's target: Z Z on wires 1, 2
        assert_eq!(f.pull(0b100), (0b011, 1.0));
        // Z on wire 1: X flips its sign
        assert_eq!(f.pull(0b010), (0b010, -1.0));
        assert_eq!(
            ZFrame::of(&tape(2, &[(CNOT, vec![0, 1]), (RY, vec![1])])).start(),
            2
        );
    }
}
