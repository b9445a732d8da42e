"""PennyLane default.qubit as an oracle: random circuits built identically in PennyLane
and qoxide give the same states (qml.state(), same wire order) and expvals."""

from __future__ import annotations

import functools
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

qml = pytest.importorskip("pennylane")

import qoxide as qx  # noqa: E402
import reference as ref  # noqa: E402
from helpers import GateSpec, ObsPair, make_circuit  # noqa: E402
from hypothesis_profiles import examples  # noqa: E402
from strategies import cases, observables  # noqa: E402

MAX_QUBITS = 7
PL_PAULI = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ, "I": qml.Identity}


def pl_gate(g: GateSpec, row: np.ndarray) -> None:
    """Queue ``g`` (numeric angles from input row ``row``) in the active PennyLane tape."""
    op = g.numeric(row)
    wires = list(op.wires)
    cls = getattr(qml, op.name)
    if op.name == "QubitUnitary":
        gate = cls(op.matrix, wires=wires)
    elif op.name == "MultiControlledX":
        cv = [int(v) for v in op.control_values] if op.control_values else None
        gate = cls(wires=wires, control_values=cv)
    elif op.name == "GlobalPhase":
        gate = cls(*op.params, wires=wires) if wires else cls(*op.params)
    else:
        gate = cls(*op.params, wires=wires)
    if op.inverse:
        qml.adjoint(gate)


def pl_observable(pair: ObsPair):  # noqa: ANN201
    terms = []
    for c, kind, data, wires in pair.spec:
        if kind == "pauli":
            o = functools.reduce(operator.matmul, [PL_PAULI[p](w) for w, p in data.items()])
        elif kind == "hermitian":
            o = qml.Hermitian(data, wires=list(wires))
        else:
            o = qml.Projector(list(data), wires=list(wires))
        terms.append(o if c == 1.0 and len(pair.spec) == 1 else c * o)
    return functools.reduce(operator.add, terms)


def pl_run(n: int, gates: list[GateSpec], row: np.ndarray, init, measure):  # noqa: ANN001, ANN201
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev)
    def circuit():  # noqa: ANN202
        if init is not None:
            qml.StatePrep(init, wires=range(n))
        for g in gates:
            pl_gate(g, row)
        return measure()

    return circuit()


@settings(max_examples=examples(30))
@given(cases(max_qubits=MAX_QUBITS, max_gates=20))
def test_state_matches_pennylane(case):  # noqa: ANN001
    f = make_circuit(case.n, case.gates, lambda q: q.state(), init=case.init)
    out = f(case.xs)
    for b in range(2):  # two rows of the batch are enough
        expected = pl_run(case.n, case.gates, case.xs[b], case.init, qml.state)
        np.testing.assert_allclose(out[b], expected, atol=1e-10, rtol=0)


@settings(max_examples=examples(30))
@given(st.data(), cases(max_qubits=MAX_QUBITS, max_gates=20))
def test_expvals_match_pennylane(data, case):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=3))
    f = make_circuit(
        case.n, case.gates, lambda q: [q.expval(o.qx_obs) for o in obs], init=case.init
    )
    out = f(case.xs)
    row = case.xs[0]
    expected = pl_run(
        case.n, case.gates, row, case.init, lambda: [qml.expval(pl_observable(o)) for o in obs]
    )
    np.testing.assert_allclose(out[0], np.array(expected, dtype=float), atol=1e-9, rtol=0)


@pytest.mark.parametrize("name", qx.GATES)
def test_every_gate_matches_pennylane(name, rng):
    """One gate (and its adjoint) on reversed, non-adjacent wires of a random state."""
    n = 4
    n_par, n_wires = ref.GATE_SPECS[name]
    wires = {1: (2,), 2: (3, 1), 3: (3, 0, 2), None: (3, 0, 1)}[n_wires]
    if name == "GlobalPhase":
        wires = ()
    matrix = ref.random_unitary(2 ** len(wires), rng) if name == "QubitUnitary" else None
    cv = (True, False) if name == "MultiControlledX" else ()
    params = tuple(float(v) for v in rng.uniform(-2 * np.pi, 2 * np.pi, size=n_par))
    init = ref.random_state(n, rng)
    for inverse in (False, True):
        g = GateSpec(name, wires, params, inverse, matrix, cv)
        out = make_circuit(n, [g], lambda q: q.state(), init=init, with_input=False)()
        expected = pl_run(n, [g], np.zeros(0), init, qml.state)
        np.testing.assert_allclose(
            out, expected, atol=1e-12, rtol=0, err_msg=f"{name} inverse={inverse}"
        )
