"""Hypothesis strategies shared by the random-circuit tests: random circuits (every
gate kind, random wires, angles that are constants, inputs or affine expressions of
inputs, some inverses, optional state_prep) and random observables paired with their
reference form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import reference as ref
from helpers import (
    GateSpec,
    Lin,
    ObsPair,
    hermitian_pair,
    pauli_pair,
    projector_pair,
    reference_states,
    sum_pairs,
)
from hypothesis import strategies as st

N_INPUTS = 5
BATCH = 3
ANGLES = st.floats(min_value=-7.0, max_value=7.0, allow_nan=False, allow_infinity=False)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@dataclass
class Case:
    n: int
    gates: list[GateSpec]
    xs: np.ndarray  # [BATCH, N_INPUTS]
    init: np.ndarray | None
    rng: np.random.Generator

    def states(self) -> np.ndarray:
        return reference_states(self.n, self.gates, self.xs, self.init)


@st.composite
def params(draw) -> float | Lin:  # noqa: ANN001
    kind = draw(st.sampled_from(["input", "input", "affine", "const"]))
    if kind == "const":
        return draw(ANGLES)
    j = draw(st.integers(0, N_INPUTS - 1))
    if kind == "input":
        return Lin(j)
    return Lin(j, draw(st.floats(-3, 3, allow_nan=False)), draw(st.floats(-3, 3, allow_nan=False)))


@st.composite
def gate_specs(draw, n: int, rng: np.random.Generator) -> GateSpec:  # noqa: ANN001
    names = [g for g, (_, w) in ref.GATE_SPECS.items() if (w or ref.MIN_WIRES[g]) <= n]
    name = draw(st.sampled_from(names))
    n_par, n_wires = ref.GATE_SPECS[name]
    if n_wires is None:
        # the reference builds each gate's dense unitary: 10 wires (1024 x 1024) keeps that
        # at 16 MB, where a 15-wire MultiControlledX would need 16 GiB and kill the suite
        cap = {"QubitUnitary": 3, "GlobalPhase": 2}.get(name, 10)
        n_wires = draw(st.integers(ref.MIN_WIRES[name], min(cap, n)))
    wires = tuple(draw(st.permutations(range(n)))[:n_wires])
    if name == "GlobalPhase" and draw(st.booleans()):
        wires = ()
    ps = tuple(draw(params()) for _ in range(n_par))
    matrix = ref.random_unitary(2**n_wires, rng) if name == "QubitUnitary" else None
    cv: tuple[bool, ...] = ()
    if name == "MultiControlledX" and draw(st.booleans()):
        cv = tuple(draw(st.lists(st.booleans(), min_size=n_wires - 1, max_size=n_wires - 1)))
    return GateSpec(name, wires, ps, draw(st.booleans()), matrix, cv)


@st.composite
def cases(draw, min_qubits: int = 1, max_qubits: int = 10, max_gates: int = 25) -> Case:  # noqa: ANN001
    n = draw(st.integers(min_qubits, max_qubits))
    rng = np.random.default_rng(draw(SEEDS))
    n_gates = draw(st.integers(0, max_gates))  # (st.lists alone favours very short lists)
    gates = draw(st.lists(gate_specs(n, rng), min_size=n_gates, max_size=n_gates))
    xs = rng.uniform(-2 * np.pi, 2 * np.pi, size=(BATCH, N_INPUTS))
    init = ref.random_state(n, rng) if draw(st.booleans()) else None
    return Case(n, gates, xs, init, rng)


@st.composite
def observables(draw, n: int, rng: np.random.Generator) -> ObsPair:  # noqa: ANN001
    def wires(lo: int, hi: int) -> tuple[int, ...]:
        k = draw(st.integers(lo, min(hi, n)))
        return tuple(draw(st.permutations(range(n)))[:k])

    def word(c: float = 1.0) -> ObsPair:
        ws = wires(1, 4)
        return pauli_pair({w: draw(st.sampled_from("XYZI")) for w in ws}, c)

    def coeff() -> float:
        return draw(st.floats(-2, 2, allow_nan=False))

    kind = draw(st.sampled_from(["word", "pauli_sum", "hermitian", "projector", "mixed_sum"]))
    if kind == "word":
        return word()
    if kind == "pauli_sum":
        return sum_pairs([word(coeff()) for _ in range(draw(st.integers(1, 4)))])
    if kind == "hermitian":
        ws = wires(1, 4)
        return hermitian_pair(ref.random_hermitian(2 ** len(ws), rng), ws)
    if kind == "projector":
        ws = wires(1, 4)
        return projector_pair([draw(st.integers(0, 1)) for _ in ws], ws)
    ws = wires(1, 2)
    ps = wires(1, 3)
    return sum_pairs(
        [
            hermitian_pair(ref.random_hermitian(2 ** len(ws), rng), ws, coeff()),
            projector_pair([draw(st.integers(0, 1)) for _ in ps], ps, coeff()),
            word(),
        ]
    )
