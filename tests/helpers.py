"""qoxide-side helpers shared by the tests: turning a gate list into a qoxide circuit
(through ``q.op`` or the named recorder methods), random circuit specs, and
observables built in parallel for qoxide and for the numpy reference."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import qoxide as qx
import reference as ref


@dataclass(frozen=True)
class Lin:
    """A gate parameter ``scale * x[index] + shift`` of the batched input x."""

    index: int
    scale: float = 1.0
    shift: float = 0.0

    def symbolic(self, x):  # noqa: ANN001, ANN201
        e = x[self.index]
        if self.scale != 1.0:
            e = self.scale * e
        if self.shift != 0.0:
            e = e + self.shift
        return e

    def value(self, row: np.ndarray) -> float:
        return self.scale * float(row[self.index]) + self.shift


Param = float | Lin


@dataclass
class GateSpec:
    """A gate whose parameters are constants or affine functions of the input."""

    name: str
    wires: tuple[int, ...]
    params: tuple[Param, ...] = ()
    inverse: bool = False
    matrix: np.ndarray | None = None
    control_values: tuple[bool, ...] = field(default_factory=tuple)

    def numeric(self, row: np.ndarray | None) -> ref.Op:
        vals = tuple(p.value(row) if isinstance(p, Lin) else float(p) for p in self.params)
        return ref.Op(self.name, self.wires, vals, self.inverse, self.matrix, self.control_values)

    def symbolic_params(self, x) -> list:  # noqa: ANN001
        return [p.symbolic(x) if isinstance(p, Lin) else p for p in self.params]


# named recorder methods ----------------------------------------------------------------

METHODS = {
    "Identity": "identity",
    "Hadamard": "h",
    "PauliX": "x",
    "PauliY": "y",
    "PauliZ": "z",
    "S": "s",
    "T": "t",
    "SX": "sx",
    "RX": "rx",
    "RY": "ry",
    "RZ": "rz",
    "PhaseShift": "phase_shift",
    "Rot": "rot",
    "U1": "u1",
    "U2": "u2",
    "U3": "u3",
    "CNOT": "cnot",
    "CY": "cy",
    "CZ": "cz",
    "SWAP": "swap",
    "ISWAP": "iswap",
    "CRX": "crx",
    "CRY": "cry",
    "CRZ": "crz",
    "CRot": "crot",
    "ControlledPhaseShift": "controlled_phase_shift",
    "IsingXX": "ising_xx",
    "IsingYY": "ising_yy",
    "IsingZZ": "ising_zz",
    "IsingXY": "ising_xy",
    "MultiRZ": "multi_rz",
    "Toffoli": "toffoli",
    "CSWAP": "cswap",
    "MultiControlledX": "multi_controlled_x",
    "QubitUnitary": "qubit_unitary",
    "GlobalPhase": "global_phase",
}


def apply_gate(q, g: GateSpec, x, via: str = "op") -> None:  # noqa: ANN001
    """Record ``g`` on recorder ``q`` (``via="op"``: generic ``q.op``; ``"method"``: the
    named method such as ``q.crot(phi, theta, omega, c, t)``)."""
    params = g.symbolic_params(x)
    if via == "op":
        q.op(
            g.name,
            g.wires,
            params,
            inverse=g.inverse,
            matrix=g.matrix,
            control_values=g.control_values,
        )
        return
    m = getattr(q, METHODS[g.name])
    if g.name == "MultiRZ":
        m(params[0], list(g.wires), inverse=g.inverse)
    elif g.name == "MultiControlledX":
        cv = list(g.control_values) if g.control_values else None
        m(list(g.wires[:-1]), g.wires[-1], cv, inverse=g.inverse)
    elif g.name == "QubitUnitary":
        m(g.matrix, list(g.wires), inverse=g.inverse)
    elif g.name == "GlobalPhase":
        assert g.wires == ()
        m(params[0], inverse=g.inverse)
    else:
        m(*params, *g.wires, inverse=g.inverse)


def make_circuit(
    n: int,
    gates: Sequence[GateSpec],
    measure: Callable,
    *,
    init: np.ndarray | None = None,
    via: str = "op",
    with_input: bool = True,
):
    """A qoxide circuit applying ``gates`` (after an optional state_prep) and returning
    ``measure(q)``."""

    def body(q, x) -> object:  # noqa: ANN001
        if init is not None:
            q.state_prep(init)
        for g in gates:
            apply_gate(q, g, x, via)
        return measure(q)

    if with_input:

        @qx.circuit(n_qubits=n)
        def f(q, x):  # noqa: ANN001, ANN202
            return body(q, x)

    else:

        @qx.circuit(n_qubits=n, inputs=None)
        def f(q):  # noqa: ANN001, ANN202
            return body(q, None)

    return f


def reference_states(n: int, gates: Sequence[GateSpec], xs: np.ndarray, init=None) -> np.ndarray:  # noqa: ANN001
    """Reference final state for every row of the input batch ``xs``."""
    return np.stack([ref.simulate(n, [g.numeric(row) for g in gates], init) for row in xs])


# observables in parallel ----------------------------------------------------------------


@dataclass
class ObsPair:
    """A qoxide observable and its reference form ``[(coeff, local matrix, wires)]``;
    ``spec`` keeps what each term is (``(coeff, "pauli" | "hermitian" | "projector",
    data, wires)``) so other frameworks can build the same observable."""

    qx_obs: qx.Observable
    terms: list[tuple[float, np.ndarray, tuple[int, ...]]]
    spec: list[tuple[float, str, object, tuple[int, ...]]] = field(default_factory=list)

    def apply(self, state: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros_like(state)
        for c, m, w in self.terms:
            out = out + c * ref.apply_on_wires(state, m, w, n)
        return out

    def expval(self, state: np.ndarray, n: int) -> float:
        return float(np.real(np.vdot(state, self.apply(state, n))))

    def var(self, state: np.ndarray, n: int) -> float:
        o = self.apply(state, n)
        return float(np.real(np.vdot(o, o))) - self.expval(state, n) ** 2


_PAULI_FN = {"X": qx.X, "Y": qx.Y, "Z": qx.Z, "I": qx.I}


def pauli_pair(word: dict[int, str], coeff: float = 1.0) -> ObsPair:
    """A Pauli word built with ``@`` (e.g. ``X(3) @ Z(0)``); wires in dict order."""
    wires = tuple(word)
    factors = [_PAULI_FN[p](w) for w, p in word.items()]
    obs = functools.reduce(operator.matmul, factors)
    local = functools.reduce(np.kron, [ref.PAULIS[p] for p in word.values()])
    if coeff != 1.0:
        obs = coeff * obs
    return ObsPair(obs, [(coeff, local, wires)], [(coeff, "pauli", dict(word), wires)])


def hermitian_pair(h: np.ndarray, wires: Sequence[int], coeff: float = 1.0) -> ObsPair:
    obs = qx.Hermitian(h, list(wires))
    if coeff != 1.0:
        obs = coeff * obs
    h = np.asarray(h, dtype=complex)
    return ObsPair(obs, [(coeff, h, tuple(wires))], [(coeff, "hermitian", h, tuple(wires))])


def projector_pair(bits: Sequence[int], wires: Sequence[int], coeff: float = 1.0) -> ObsPair:
    k = len(wires)
    local = np.zeros((2**k, 2**k), dtype=complex)
    i = int("".join(map(str, bits)), 2)
    local[i, i] = 1.0
    obs = qx.Projector(list(bits), list(wires))
    if coeff != 1.0:
        obs = coeff * obs
    return ObsPair(
        obs, [(coeff, local, tuple(wires))], [(coeff, "projector", tuple(bits), tuple(wires))]
    )


def sum_pairs(pairs: Sequence[ObsPair]) -> ObsPair:
    obs = functools.reduce(operator.add, [p.qx_obs for p in pairs])
    return ObsPair(obs, [t for p in pairs for t in p.terms], [t for p in pairs for t in p.spec])
