"""An independent dense numpy reference for qoxide's tests.

Every gate matrix is written out by hand from PennyLane's documented definitions (not
taken from qoxide, not from PennyLane). Conventions, as in PennyLane's ``qml.state()``:

* wire 0 is the most significant bit of a basis index of the n-qubit register;
* a k-qubit matrix acting on ``wires`` has ``wires[0]`` as the most significant bit of
  its local index, and controlled gates list their control wire(s) first.

Two independent ways to apply a matrix on arbitrary (non-adjacent, reversed) wires are
provided, so they can check each other:

* :func:`embed` builds the full ``2^n x 2^n`` matrix (kron with the identity, then a
  permutation of the tensor axes) -- for small registers;
* :func:`apply_on_wires` updates a state vector by index arithmetic on the basis
  indices, without ever forming a ``2^n x 2^n`` matrix -- usable for 15+ qubits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# --------------------------------------------------------------------------------------
# one-qubit building blocks
# --------------------------------------------------------------------------------------

I2 = np.eye(2, dtype=complex)
PX = np.array([[0, 1], [1, 0]], dtype=complex)
PY = np.array([[0, -1j], [1j, 0]], dtype=complex)
PZ = np.array([[1, 0], [0, -1]], dtype=complex)
HAD = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)
PAULIS = {"I": I2, "X": PX, "Y": PY, "Z": PZ}


def rx(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -1j * s], [-1j * s, c]], dtype=complex)


def ry(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def rz(t: float) -> np.ndarray:
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


def phase_shift(p: float) -> np.ndarray:
    return np.diag([1.0, np.exp(1j * p)])


def rot(a: float, b: float, c: float) -> np.ndarray:
    return rz(c) @ ry(b) @ rz(a)


def u2(phi: float, lam: float) -> np.ndarray:
    return np.array(
        [[1.0, -np.exp(1j * lam)], [np.exp(1j * phi), np.exp(1j * (phi + lam))]], dtype=complex
    ) / np.sqrt(2)


def u3(t: float, phi: float, lam: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array(
        [
            [c, -np.exp(1j * lam) * s],
            [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c],
        ],
        dtype=complex,
    )


S_GATE = np.diag([1.0, 1j])
T_GATE = np.diag([1.0, np.exp(1j * np.pi / 4)])
SX_GATE = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]])


# --------------------------------------------------------------------------------------
# multi-qubit building blocks
# --------------------------------------------------------------------------------------


def controlled(u: np.ndarray, n_controls: int = 1, control_values: Sequence[bool] | None = None):
    """``u`` acting on the last wires when the leading ``n_controls`` wires equal
    ``control_values`` (all ones by default); identity elsewhere."""
    k_t = int(np.log2(u.shape[0]))
    vals = [True] * n_controls if control_values is None else [bool(v) for v in control_values]
    assert len(vals) == n_controls
    dim = 2 ** (n_controls + k_t)
    m = np.eye(dim, dtype=complex)
    ctrl_index = int("".join("1" if v else "0" for v in vals), 2) if n_controls else 0
    lo = ctrl_index * 2**k_t
    m[lo : lo + 2**k_t, lo : lo + 2**k_t] = u
    return m


def exp_pauli_word(t: float, word: str) -> np.ndarray:
    """exp(-i t/2 P) for a Pauli word P (P^2 = I)."""
    p = np.ones((1, 1), dtype=complex)
    for ch in word:
        p = np.kron(p, PAULIS[ch])
    return np.cos(t / 2) * np.eye(p.shape[0]) - 1j * np.sin(t / 2) * p


def multi_rz(t: float, k: int) -> np.ndarray:
    """exp(-i t/2 Z⊗...⊗Z) on k wires: diagonal by parity of the local index."""
    parity = np.array([bin(i).count("1") % 2 for i in range(2**k)])
    return np.diag(np.where(parity == 1, np.exp(0.5j * t), np.exp(-0.5j * t)))


SWAP_GATE = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=complex)
ISWAP_GATE = np.array([[1, 0, 0, 0], [0, 0, 1j, 0], [0, 1j, 0, 0], [0, 0, 0, 1]], dtype=complex)


def ising_xy(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array(
        [[1, 0, 0, 0], [0, c, 1j * s, 0], [0, 1j * s, c, 0], [0, 0, 0, 1]], dtype=complex
    )


# --------------------------------------------------------------------------------------
# gate table: name -> (number of params, number of wires or None if variable)
# --------------------------------------------------------------------------------------

GATE_SPECS: dict[str, tuple[int, int | None]] = {
    "Identity": (0, 1),
    "Hadamard": (0, 1),
    "PauliX": (0, 1),
    "PauliY": (0, 1),
    "PauliZ": (0, 1),
    "S": (0, 1),
    "T": (0, 1),
    "SX": (0, 1),
    "RX": (1, 1),
    "RY": (1, 1),
    "RZ": (1, 1),
    "PhaseShift": (1, 1),
    "Rot": (3, 1),
    "U1": (1, 1),
    "U2": (2, 1),
    "U3": (3, 1),
    "CNOT": (0, 2),
    "CY": (0, 2),
    "CZ": (0, 2),
    "SWAP": (0, 2),
    "ISWAP": (0, 2),
    "CRX": (1, 2),
    "CRY": (1, 2),
    "CRZ": (1, 2),
    "CRot": (3, 2),
    "ControlledPhaseShift": (1, 2),
    "IsingXX": (1, 2),
    "IsingYY": (1, 2),
    "IsingZZ": (1, 2),
    "IsingXY": (1, 2),
    "MultiRZ": (1, None),
    "Toffoli": (0, 3),
    "CSWAP": (0, 3),
    "MultiControlledX": (0, None),
    "QubitUnitary": (0, None),
    "GlobalPhase": (1, None),
}

#: fewest wires accepted by the variable-width gates
MIN_WIRES = {"MultiRZ": 1, "MultiControlledX": 2, "QubitUnitary": 1, "GlobalPhase": 0}


def gate_matrix(
    name: str,
    params: Sequence[float] = (),
    n_wires: int | None = None,
    *,
    matrix: np.ndarray | None = None,
    control_values: Sequence[bool] | None = None,
) -> np.ndarray:
    """The ``2^k x 2^k`` matrix of a gate on its own k wires (PennyLane's definition)."""
    p = [float(v) for v in params]
    n_par, n_w = GATE_SPECS[name]
    assert len(p) == n_par, (name, p)
    k = n_w if n_w is not None else n_wires
    assert k is not None
    fixed = {
        "Identity": I2,
        "Hadamard": HAD,
        "PauliX": PX,
        "PauliY": PY,
        "PauliZ": PZ,
        "S": S_GATE,
        "T": T_GATE,
        "SX": SX_GATE,
        "CNOT": controlled(PX),
        "CY": controlled(PY),
        "CZ": controlled(PZ),
        "SWAP": SWAP_GATE,
        "ISWAP": ISWAP_GATE,
        "Toffoli": controlled(PX, 2),
        "CSWAP": controlled(SWAP_GATE, 1),
    }
    if name in fixed:
        return fixed[name].astype(complex)
    if name == "RX":
        return rx(p[0])
    if name == "RY":
        return ry(p[0])
    if name == "RZ":
        return rz(p[0])
    if name in ("PhaseShift", "U1"):
        return phase_shift(p[0])
    if name == "Rot":
        return rot(*p)
    if name == "U2":
        return u2(*p)
    if name == "U3":
        return u3(*p)
    if name == "CRX":
        return controlled(rx(p[0]))
    if name == "CRY":
        return controlled(ry(p[0]))
    if name == "CRZ":
        return controlled(rz(p[0]))
    if name == "CRot":
        return controlled(rot(*p))
    if name == "ControlledPhaseShift":
        return controlled(phase_shift(p[0]))
    if name == "IsingXX":
        return exp_pauli_word(p[0], "XX")
    if name == "IsingYY":
        return exp_pauli_word(p[0], "YY")
    if name == "IsingZZ":
        return exp_pauli_word(p[0], "ZZ")
    if name == "IsingXY":
        return ising_xy(p[0])
    if name == "MultiRZ":
        return multi_rz(p[0], k)
    if name == "MultiControlledX":
        return controlled(PX, k - 1, control_values or None)
    if name == "QubitUnitary":
        assert matrix is not None and matrix.shape == (2**k, 2**k)
        return np.asarray(matrix, dtype=complex)
    if name == "GlobalPhase":
        return np.exp(-1j * p[0]) * np.eye(2**k, dtype=complex)
    raise KeyError(name)


# --------------------------------------------------------------------------------------
# placing matrices on wires
# --------------------------------------------------------------------------------------


def embed(m: np.ndarray, wires: Sequence[int], n: int) -> np.ndarray:
    """The full ``2^n x 2^n`` matrix of ``m`` acting on ``wires`` (wires[0] high bit)."""
    wires = list(wires)
    k = len(wires)
    assert m.shape == (2**k, 2**k)
    assert len(set(wires)) == k and all(0 <= w < n for w in wires)
    rest = [w for w in range(n) if w not in wires]
    full = np.kron(m, np.eye(2 ** len(rest)))  # axes ordered as wires + rest
    order = wires + rest
    perm = [order.index(w) for w in range(n)]  # tensor axis of register wire w
    t = full.reshape([2] * (2 * n)).transpose(perm + [n + p for p in perm])
    return t.reshape(2**n, 2**n)


def apply_on_wires(state: np.ndarray, m: np.ndarray, wires: Sequence[int], n: int) -> np.ndarray:
    """``m`` on ``wires`` applied to ``state`` by basis-index arithmetic (no 2^n matrix)."""
    wires = list(wires)
    k = len(wires)
    state = np.asarray(state)
    if k == 0:
        return m[0, 0] * state
    idx = np.arange(2**n, dtype=np.int64)
    wmask = sum(1 << (n - 1 - w) for w in wires)
    base = idx[(idx & wmask) == 0]  # one base index per group of 2^k amplitudes
    offs = np.array(
        [
            sum(((loc >> (k - 1 - j)) & 1) << (n - 1 - w) for j, w in enumerate(wires))
            for loc in range(2**k)
        ],
        dtype=np.int64,
    )
    groups = base[:, None] | offs[None, :]  # [2^(n-k), 2^k]
    out = np.empty_like(state, dtype=np.result_type(state.dtype, m.dtype))
    out[groups] = state[groups] @ m.T
    return out


# --------------------------------------------------------------------------------------
# a tiny dense simulator
# --------------------------------------------------------------------------------------


@dataclass
class Op:
    """One gate: PennyLane name, wires (controls first), numeric params, adjoint flag,
    plus the matrix of a QubitUnitary or the control values of a MultiControlledX."""

    name: str
    wires: tuple[int, ...]
    params: tuple[float, ...] = ()
    inverse: bool = False
    matrix: np.ndarray | None = None
    control_values: tuple[bool, ...] = field(default_factory=tuple)

    def unitary(self) -> np.ndarray:
        u = gate_matrix(
            self.name,
            self.params,
            len(self.wires),
            matrix=self.matrix,
            control_values=self.control_values or None,
        )
        return u.conj().T if self.inverse else u


def zero_state(n: int) -> np.ndarray:
    s = np.zeros(2**n, dtype=complex)
    s[0] = 1.0
    return s


def simulate(n: int, ops: Sequence[Op], init: np.ndarray | None = None) -> np.ndarray:
    """Final state of ``ops`` applied in order (by index arithmetic)."""
    s = zero_state(n) if init is None else np.asarray(init, dtype=complex).copy()
    for op in ops:
        u = op.unitary()
        if op.name == "GlobalPhase":
            s = u[0, 0] * s  # a global phase whatever wires it names
        else:
            s = apply_on_wires(s, u, op.wires, n)
    return s


def simulate_dense(n: int, ops: Sequence[Op], init: np.ndarray | None = None) -> np.ndarray:
    """Final state of ``ops`` by full-matrix products (small n; independent of
    :func:`simulate`'s index arithmetic)."""
    s = zero_state(n) if init is None else np.asarray(init, dtype=complex).copy()
    for op in ops:
        u = op.unitary()
        if op.name == "GlobalPhase":
            full = u[0, 0] * np.eye(2**n)
        else:
            full = embed(u, op.wires, n)
        s = full @ s
    return s


# --------------------------------------------------------------------------------------
# observables and measurements
# --------------------------------------------------------------------------------------


def pauli_word_matrix(factors: dict[int, str], n: int) -> np.ndarray:
    m = np.ones((1, 1), dtype=complex)
    for w in range(n):
        m = np.kron(m, PAULIS[factors.get(w, "I")])
    return m


def hermitian_matrix(h: np.ndarray, wires: Sequence[int], n: int) -> np.ndarray:
    return embed(np.asarray(h, dtype=complex), wires, n)


def projector_matrix(bits: Sequence[int], wires: Sequence[int], n: int) -> np.ndarray:
    k = len(wires)
    local = np.zeros((2**k, 2**k), dtype=complex)
    i = int("".join(str(int(b)) for b in bits), 2)
    local[i, i] = 1.0
    return embed(local, wires, n)


def expval(state: np.ndarray, obs: np.ndarray) -> float:
    return float(np.real(np.vdot(state, obs @ state)))


def var(state: np.ndarray, obs: np.ndarray) -> float:
    o = obs @ state
    return float(np.real(np.vdot(o, o))) - expval(state, obs) ** 2


def probs(state: np.ndarray, wires: Sequence[int], n: int) -> np.ndarray:
    """Marginal probabilities of ``wires`` (wires[0] the high bit of the outcome)."""
    p = (np.abs(state) ** 2).reshape([2] * n)
    others = tuple(w for w in range(n) if w not in wires)
    p = p.sum(axis=others)  # remaining axes in increasing wire order
    kept = sorted(wires)
    p = p.transpose([kept.index(w) for w in wires])
    return p.reshape(-1)


# --------------------------------------------------------------------------------------
# random helpers
# --------------------------------------------------------------------------------------


def random_unitary(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random unitary (QR of a complex Gaussian matrix with phase fix)."""
    z = (rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diag(r)
    return q * (d / np.abs(d))


def random_state(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return v / np.linalg.norm(v)


def random_hermitian(dim: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    return (a + a.conj().T) / 2
