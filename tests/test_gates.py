"""Every gate, forward and inverse, in both precisions, on several wire placements
(adjacent, non-adjacent, reversed), starting from a random state so that every matrix
entry matters, against the independent numpy reference in ``reference.py``.

Also: the reference checks itself (two ways of placing matrices, gate identities), and
a 15-qubit register (>= 2^14 amplitudes: the amplitude-parallel kernels) is checked
against the reference applied by index arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import reference as ref
import scipy.linalg
from helpers import GateSpec, Lin, apply_gate, make_circuit

N = 5
TWO_PI = 2 * np.pi
ATOL = {np.float64: 1e-12, np.float32: 1e-5}
CDTYPE = {np.float64: np.complex128, np.float32: np.complex64}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])

# On 5 qubits wire w is index bit 4 - w: wires 0 and 1 take the contiguous-slice kernels
# (bit >= 3), wires 2..4 the grouped kernels.
FIXED_PLACEMENTS = {
    1: [(0,), (1,), (2,), (4,)],
    2: [(0, 1), (1, 0), (0, 4), (4, 0), (3, 1), (2, 4)],
    3: [(0, 2, 4), (4, 0, 2), (3, 1, 0), (1, 4, 2), (2, 3, 4)],
}
VARIABLE_PLACEMENTS = {
    "MultiRZ": [(2,), (0, 3), (4, 1, 2), (3, 0, 4, 1), (0, 1, 2, 3, 4)],
    "MultiControlledX": [(0, 1), (4, 0), (3, 0, 2), (1, 4, 2, 0), (4, 3, 2, 1, 0)],
    "QubitUnitary": [(3,), (4, 1), (0, 2), (2, 0, 4), (1, 4, 3, 0)],
    "GlobalPhase": [()],
}


def placements(name: str, table_fixed=FIXED_PLACEMENTS, table_var=VARIABLE_PLACEMENTS):  # noqa: ANN001, ANN201
    n_wires = ref.GATE_SPECS[name][1]
    return table_var[name] if n_wires is None else table_fixed[n_wires]


def variants(name: str, wires: tuple[int, ...], rng: np.random.Generator):  # noqa: ANN201
    """(matrix, control_values) options for one placement."""
    if name == "QubitUnitary":
        return [(ref.random_unitary(2 ** len(wires), rng), ())]
    if name == "MultiControlledX":
        k = len(wires) - 1
        cv = tuple(bool(b) for b in rng.integers(0, 2, size=k))
        if all(cv):
            cv = (False,) + cv[1:]
        return [(None, ()), (None, cv), (None, (True,) * k)]
    return [(None, ())]


def full_matrix(op: ref.Op, n: int) -> np.ndarray:
    u = op.unitary()
    if op.name == "GlobalPhase":
        return u[0, 0] * np.eye(2**n)
    return ref.embed(u, op.wires, n)


# ---------------------------------------------------------------------------------------
# the reference checks itself
# ---------------------------------------------------------------------------------------


def test_reference_covers_exactly_qoxide_gates():
    assert set(qx.GATES) == set(ref.GATE_SPECS)


@pytest.mark.parametrize("wires", [(0,), (3,), (2, 0), (0, 3), (3, 1, 0), (1, 3, 2, 0)])
def test_reference_embed_agrees_with_index_arithmetic(wires, rng):
    n = 4
    m = ref.random_unitary(2 ** len(wires), rng)
    s = ref.random_state(n, rng)
    np.testing.assert_allclose(
        ref.embed(m, wires, n) @ s, ref.apply_on_wires(s, m, wires, n), atol=1e-13
    )


def test_reference_embed_conventions(rng):
    m = ref.random_unitary(4, rng)
    a = ref.random_unitary(2, rng)
    b = ref.random_unitary(2, rng)
    np.testing.assert_allclose(ref.embed(m, [0, 1], 2), m, atol=1e-14)
    np.testing.assert_allclose(
        ref.embed(m, [1, 0], 2), ref.SWAP_GATE @ m @ ref.SWAP_GATE, atol=1e-14
    )
    # wire 0 is the most significant bit
    np.testing.assert_allclose(ref.embed(a, [0], 2), np.kron(a, np.eye(2)), atol=1e-14)
    np.testing.assert_allclose(ref.embed(b, [2], 3), np.kron(np.eye(4), b), atol=1e-14)
    np.testing.assert_allclose(
        ref.embed(np.kron(a, b), [2, 0], 3), np.kron(np.kron(b, np.eye(2)), a), atol=1e-14
    )
    # CNOT with control 1, target 0 flips wire 0 when wire 1 is set: |01> -> |11>
    cnot10 = ref.embed(ref.gate_matrix("CNOT"), [1, 0], 2)
    assert cnot10[3, 1] == 1 and cnot10[1, 3] == 1 and cnot10[0, 0] == 1 and cnot10[2, 2] == 1


def test_reference_gate_identities():
    t, p, lam = 0.731, -1.234, 2.05
    expm = scipy.linalg.expm
    X, Y, Z = ref.PX, ref.PY, ref.PZ
    g = ref.gate_matrix
    close = np.testing.assert_allclose
    close(g("RX", [t]), expm(-0.5j * t * X), atol=1e-14)
    close(g("RY", [t]), expm(-0.5j * t * Y), atol=1e-14)
    close(g("RZ", [t]), expm(-0.5j * t * Z), atol=1e-14)
    close(g("U1", [t]), g("PhaseShift", [t]), atol=1e-15)
    close(g("U2", [p, lam]), g("U3", [np.pi / 2, p, lam]), atol=1e-14)
    close(g("U3", [t, -np.pi / 2, np.pi / 2]), g("RX", [t]), atol=1e-14)
    close(g("Rot", [p, t, lam]), g("RZ", [lam]) @ g("RY", [t]) @ g("RZ", [p]), atol=1e-14)
    close(g("SX") @ g("SX"), X, atol=1e-15)
    close(g("T") @ g("T"), g("S"), atol=1e-15)
    close(g("S") @ g("S"), Z, atol=1e-15)
    close(g("Hadamard") @ Z @ g("Hadamard"), X, atol=1e-15)
    close(g("IsingXX", [t]), expm(-0.5j * t * np.kron(X, X)), atol=1e-14)
    close(g("IsingYY", [t]), expm(-0.5j * t * np.kron(Y, Y)), atol=1e-14)
    close(g("IsingZZ", [t]), expm(-0.5j * t * np.kron(Z, Z)), atol=1e-14)
    close(g("IsingXY", [t]), expm(0.25j * t * (np.kron(X, X) + np.kron(Y, Y))), atol=1e-14)
    close(g("MultiRZ", [t], 2), g("IsingZZ", [t]), atol=1e-14)
    close(g("MultiRZ", [t], 3), expm(-0.5j * t * np.kron(np.kron(Z, Z), Z)), atol=1e-14)
    close(g("ISWAP"), expm(0.25j * np.pi * (np.kron(X, X) + np.kron(Y, Y))), atol=1e-14)
    close(g("CRot", [p, t, lam])[2:, 2:], g("Rot", [p, t, lam]), atol=1e-15)
    close(g("ControlledPhaseShift", [t]), np.diag([1, 1, 1, np.exp(1j * t)]), atol=1e-15)
    close(g("GlobalPhase", [t], 1), np.exp(-1j * t) * np.eye(2), atol=1e-15)
    mcx = g("MultiControlledX", [], 3, control_values=[True, False])
    assert mcx[4, 5] == 1 and mcx[5, 4] == 1 and mcx[6, 6] == 1 and mcx[7, 7] == 1
    close(g("MultiControlledX", [], 3), g("Toffoli"), atol=0)
    for name, (n_par, n_wires) in ref.GATE_SPECS.items():
        k = n_wires or 2
        mat = ref.random_unitary(2**k, np.random.default_rng(0)) if name == "QubitUnitary" else None
        u = g(name, [0.3, -1.1, 0.7][:n_par], k, matrix=mat)
        close(u @ u.conj().T, np.eye(2**k), atol=1e-14, err_msg=name)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_reference_simulators_agree(n, rng):
    ops = [
        ref.Op("Hadamard", (0,)),
        ref.Op("RX", (n - 1,), (0.4,), inverse=True),
        ref.Op("GlobalPhase", (), (0.3,)),
    ]
    if n >= 3:
        ops += [
            ref.Op("CRot", (2, 0), (0.1, 0.2, 0.3)),
            ref.Op("Toffoli", (2, 0, 1)),
            ref.Op("QubitUnitary", (n - 1, 0, 1), matrix=ref.random_unitary(8, rng)),
            ref.Op("MultiControlledX", (1, n - 1, 0), control_values=(False, True)),
        ]
    init = ref.random_state(n, rng)
    np.testing.assert_allclose(
        ref.simulate(n, ops, init), ref.simulate_dense(n, ops, init), atol=1e-13
    )


# ---------------------------------------------------------------------------------------
# qoxide against the reference, one gate at a time
# ---------------------------------------------------------------------------------------


@DTYPES
@pytest.mark.parametrize("inverse", [False, True], ids=["fwd", "inv"])
@pytest.mark.parametrize("name", qx.GATES)
def test_gate_matches_reference(name, inverse, dtype, rng):
    """Batched input angles (3 samples) from a random initial state, through both the
    generic ``q.op`` and the named recorder method."""
    n_par = ref.GATE_SPECS[name][0]
    atol = ATOL[dtype]
    for wires in placements(name):
        for matrix, cv in variants(name, wires, rng):
            init = ref.random_state(N, rng)
            xs = rng.uniform(-TWO_PI, TWO_PI, size=(3, n_par))
            g = GateSpec(name, wires, tuple(Lin(j) for j in range(n_par)), inverse, matrix, cv)
            expected = np.stack([full_matrix(g.numeric(row), N) @ init for row in xs])
            for via in ("op", "method"):
                f = make_circuit(
                    N, [g], lambda q: q.state(), init=init, via=via, with_input=n_par > 0
                )
                if n_par:
                    out = f(xs.astype(dtype))
                    assert out.shape == (3, 2**N)
                else:
                    out = f(dtype=dtype)
                    assert out.shape == (2**N,)
                    expected = expected[:1]
                    out = out[None]
                assert out.dtype == CDTYPE[dtype]
                np.testing.assert_allclose(
                    out,
                    expected,
                    atol=atol,
                    rtol=0,
                    err_msg=f"{name} wires={wires} cv={cv} via={via}",
                )


@pytest.mark.parametrize("name", [g for g in qx.GATES if ref.GATE_SPECS[g][0] > 0])
def test_parameter_sources(name, rng):
    """Constant angles (fixed kernels), affine expressions of inputs and weights (the
    general theta map) and plain inputs give the same gate."""
    n_par, n_wires = ref.GATE_SPECS[name]
    wires = {None: (3, 0), 1: (3,), 2: (4, 1), 3: (2, 4, 0)}[n_wires]
    if name == "GlobalPhase":
        wires = ()
    init = ref.random_state(N, rng)
    consts = rng.uniform(-TWO_PI, TWO_PI, size=n_par)
    xs = rng.uniform(-np.pi, np.pi, size=(4, n_par))
    w = rng.uniform(-np.pi, np.pi, size=n_par)

    def make(inv: bool):  # noqa: ANN202
        @qx.circuit(n_qubits=N)
        def f(q, x, wt):  # noqa: ANN001, ANN202
            q.state_prep(init)
            q.op(name, wires, list(consts), inverse=inv)  # constants
            q.op(name, wires, [2.5 * x[j] - 0.7 for j in range(n_par)], inverse=inv)
            q.op(name, wires, [wt[j] + x[j] for j in range(n_par)], inverse=inv)
            q.op(name, wires, [0.5 * wt[j] for j in range(n_par)], inverse=inv)
            return q.state()

        return f

    for inverse in (False, True):
        out = make(inverse)(xs, w)
        for b, row in enumerate(xs):
            ops = [
                ref.Op(name, wires, tuple(consts), inverse),
                ref.Op(name, wires, tuple(2.5 * row - 0.7), inverse),
                ref.Op(name, wires, tuple(w + row), inverse),
                ref.Op(name, wires, tuple(0.5 * w), inverse),
            ]
            np.testing.assert_allclose(out[b], ref.simulate_dense(N, ops, init), atol=1e-12, rtol=0)


@DTYPES
def test_gate_then_inverse_is_identity(dtype, rng):
    """U followed by U^dagger (inverse=True) restores any state, for every gate."""
    init = ref.random_state(N, rng)
    gates = []
    for name in qx.GATES:
        n_par = ref.GATE_SPECS[name][0]
        for wires in placements(name)[:2]:
            for matrix, cv in variants(name, wires, rng)[:2]:
                params = tuple(float(v) for v in rng.uniform(-TWO_PI, TWO_PI, size=n_par))
                gates.append(GateSpec(name, wires, params, False, matrix, cv))
    seq = gates + [
        GateSpec(g.name, g.wires, g.params, True, g.matrix, g.control_values) for g in gates[::-1]
    ]
    f = make_circuit(N, seq, lambda q: q.state(), init=init, with_input=False)
    np.testing.assert_allclose(f(dtype=dtype), init, atol=50 * ATOL[dtype], rtol=0)


def test_basis_state_and_default_zero_state():
    @qx.circuit(n_qubits=4, inputs=None)
    def f(q):  # noqa: ANN001, ANN202
        q.basis_state([1, 0, 1, 1])
        return q.state()

    @qx.circuit(n_qubits=4, inputs=None)
    def g(q):  # noqa: ANN001, ANN202
        q.x(0)
        q.x(2)
        q.x(3)
        return q.state()

    @qx.circuit(n_qubits=4, inputs=None)
    def z(q):  # noqa: ANN001, ANN202
        return q.state()

    expected = np.zeros(16)
    expected[0b1011] = 1
    np.testing.assert_array_equal(f(), expected)
    np.testing.assert_array_equal(g(), expected)
    np.testing.assert_array_equal(z(), ref.zero_state(4))


# ---------------------------------------------------------------------------------------
# a 15-qubit register: amplitude-parallel kernels (>= 2^14 amplitudes)
# ---------------------------------------------------------------------------------------

BIG = 15
# wire w is bit 14 - w: wire 0 is the top bit (the slice path's "one block" branch),
# wires 1..11 the chunked slice path, wires 12..14 the grouped path.
BIG_FIXED = {
    1: [(0,), (4,), (12,), (14,)],
    2: [(0, 14), (14, 0), (3, 9), (13, 12)],
    3: [(0, 14, 7), (14, 0, 8), (2, 13, 5)],
}
BIG_VARIABLE = {
    "MultiRZ": [(7,), (0, 5, 10, 14)],
    "MultiControlledX": [(0, 14), (1, 3, 5, 7, 13), (14, 9, 0)],
    "QubitUnitary": [(14,), (0, 14), (13, 2, 7)],
    "GlobalPhase": [()],
}


@DTYPES
@pytest.mark.parametrize("name", qx.GATES)
def test_gate_on_15_qubits(name, dtype, rng, two_threads):
    n_par = ref.GATE_SPECS[name][0]
    for wires in placements(name, BIG_FIXED, BIG_VARIABLE):
        for matrix, cv in variants(name, wires, rng)[-2:]:
            init = ref.random_state(BIG, rng)
            x = rng.uniform(-TWO_PI, TWO_PI, size=n_par)
            inverse = bool(rng.integers(2))
            g = GateSpec(name, wires, tuple(Lin(j) for j in range(n_par)), inverse, matrix, cv)
            f = make_circuit(BIG, [g], lambda q: q.state(), init=init, with_input=n_par > 0)
            out = f(x.astype(dtype)) if n_par else f(dtype=dtype)
            expected = ref.simulate(BIG, [g.numeric(x)], init)
            np.testing.assert_allclose(
                out, expected, atol=ATOL[dtype], rtol=0, err_msg=f"{name} wires={wires} cv={cv}"
            )


def _big_circuit(rng: np.random.Generator) -> list[GateSpec]:
    specs = [
        ("Hadamard", (0,)),
        ("RX", (14,)),
        ("U3", (5,)),
        ("CNOT", (0, 14)),
        ("CRY", (14, 2)),
        ("IsingXY", (1, 13)),
        ("ISWAP", (12, 0)),
        ("CSWAP", (7, 0, 14)),
        ("MultiRZ", (0, 6, 14)),
        ("Rot", (13,)),
        ("QubitUnitary", (11, 1, 14)),
        ("MultiControlledX", (2, 14, 0, 9)),
        ("IsingYY", (0, 3)),
        ("CRot", (1, 12)),
    ]
    gates, j = [], 0
    for name, wires in specs:
        n_par = ref.GATE_SPECS[name][0]
        mat = ref.random_unitary(8, rng) if name == "QubitUnitary" else None
        cv = (True, False, True) if name == "MultiControlledX" else ()
        gates.append(
            GateSpec(name, wires, tuple(Lin(j + i) for i in range(n_par)), bool(j % 2), mat, cv)
        )
        j += n_par
    return gates


def test_15_qubit_circuit_measurements(rng, two_threads):
    """A multi-gate 15-qubit circuit: state, expvals, var and probs, batched (one sample
    per thread) and single-sample (each gate parallel over amplitudes), with two
    threads and with one, all against the reference."""
    gates = _big_circuit(rng)
    n_par = sum(len(g.params) for g in gates)
    init = ref.random_state(BIG, rng)
    xs = rng.uniform(-np.pi, np.pi, size=(2, n_par))
    h = ref.random_hermitian(4, rng)
    from helpers import hermitian_pair, pauli_pair, projector_pair, sum_pairs

    pairs = [
        pauli_pair({0: "Z", 14: "X"}),
        pauli_pair({7: "Y", 2: "X", 13: "Z"}),
        hermitian_pair(h, (14, 0)),
        projector_pair((1, 0), (3, 12)),
        sum_pairs(
            [pauli_pair({0: "X"}, 0.5), hermitian_pair(h, (5, 9), -1.5), pauli_pair({14: "Z"})]
        ),
    ]
    prob_wires = [14, 0, 7]

    def measure(q):  # noqa: ANN001, ANN202
        return (
            [q.state(), q.probs(prob_wires)]
            + [q.expval(p.qx_obs) for p in pairs]
            + [q.var(p.qx_obs) for p in pairs]
        )

    f = make_circuit(BIG, gates, measure, init=init)
    states = np.stack([ref.simulate(BIG, [g.numeric(row) for g in gates], init) for row in xs])
    for threads in (2, 1):
        qx.set_num_threads(threads)
        batched = f(xs)
        singles = [f(row) for row in xs]
        for b in range(2):
            for res in (tuple(r[b] for r in batched), singles[b]):
                s = states[b]
                np.testing.assert_allclose(res[0], s, atol=1e-11, rtol=0)
                np.testing.assert_allclose(
                    res[1], ref.probs(s, prob_wires, BIG), atol=1e-12, rtol=0
                )
                for i, p in enumerate(pairs):
                    np.testing.assert_allclose(res[2 + i], p.expval(s, BIG), atol=1e-11, rtol=0)
                    np.testing.assert_allclose(
                        res[2 + len(pairs) + i], p.var(s, BIG), atol=1e-10, rtol=0
                    )


def test_apply_gate_helper_rejects_unknown_method():
    # guard for the helper itself: a typo in METHODS would silently skip the method path
    from helpers import METHODS

    rec = qx.Recorder(2)
    for name in qx.GATES:
        assert hasattr(rec, METHODS[name]), name
    apply_gate(rec, GateSpec("CRX", (1, 0), (0.3,)), None, via="method")
    assert (
        rec.ops[-1].name == "CRX" and rec.ops[-1].wires == (1, 0) and rec.ops[-1].params == (0.3,)
    )


@pytest.mark.parametrize("k", [4, 5, 6])
def test_wide_qubit_unitary_and_hermitian(k, rng):
    """Dense matrices on 4-6 scattered wires (the general k-qubit kernel), forward and
    inverse with the wires reversed, and a Hermitian observable on the same wires."""
    n = 8
    wires = [int(w) for w in rng.permutation(n)[:k]]
    u = ref.random_unitary(2**k, rng)
    h = ref.random_hermitian(2**k, rng)
    init = ref.random_state(n, rng)

    @qx.circuit(n_qubits=n, inputs=None)
    def f(q):  # noqa: ANN001, ANN202
        q.state_prep(init)
        q.qubit_unitary(u, wires)
        q.qubit_unitary(u, wires[::-1], inverse=True)
        return [q.state(), q.expval(qx.Hermitian(h, wires)), q.var(qx.Hermitian(h, wires))]

    ops = [
        ref.Op("QubitUnitary", tuple(wires), matrix=u),
        ref.Op("QubitUnitary", tuple(wires[::-1]), matrix=u, inverse=True),
    ]
    s_ref = ref.simulate(n, ops, init)
    m = ref.embed(h, wires, n)
    for dtype, atol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        s, e, v = f(dtype=dtype)
        np.testing.assert_allclose(s, s_ref, atol=atol, rtol=0)
        np.testing.assert_allclose(e, ref.expval(s_ref, m), atol=atol * 10, rtol=0)
        np.testing.assert_allclose(v, ref.var(s_ref, m), atol=atol * 100, rtol=0)
