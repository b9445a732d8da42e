"""Measurements: sample/counts (shape, bits, wire order, seeds, statistics), probs,
var, Hermitian products via ``@``, sums, projectors, identity, mixed return lists."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import reference as ref
import torch
from helpers import (
    GateSpec,
    Lin,
    hermitian_pair,
    make_circuit,
    pauli_pair,
    projector_pair,
    sum_pairs,
)

N = 4


def _layer(n: int, rng: np.random.Generator) -> list[GateSpec]:
    """An entangling circuit with input-dependent angles (2 inputs per wire)."""
    gates = []
    for w in range(n):
        gates.append(GateSpec("RY", (w,), (Lin(2 * w),)))
        gates.append(GateSpec("RZ", (w,), (Lin(2 * w + 1),)))
    for w in range(n - 1):
        gates.append(GateSpec("CNOT", (w, w + 1)))
    gates.append(GateSpec("QubitUnitary", (n - 1, 0), matrix=ref.random_unitary(4, rng)))
    return gates


@pytest.fixture
def circuit_case(rng):  # noqa: ANN001, ANN201
    gates = _layer(N, rng)
    xs = rng.uniform(-np.pi, np.pi, size=(3, 2 * N))
    states = np.stack([ref.simulate(N, [g.numeric(r) for g in gates]) for r in xs])
    return gates, xs, states


# ---------------------------------------------------------------------------------------
# sample / counts
# ---------------------------------------------------------------------------------------


def test_sample_shape_dtype_and_bits(circuit_case):  # noqa: ANN001
    gates, xs, _ = circuit_case
    f = make_circuit(N, gates, lambda q: q.sample([2, 0], shots=500, seed=7))
    s = f(xs)
    assert s.shape == (3, 500, 2)
    assert s.dtype == np.uint8
    assert set(np.unique(s)) <= {0, 1}
    one = f(xs[0])
    assert one.shape == (500, 2)
    g = make_circuit(N, gates, lambda q: q.sample(shots=10, seed=1))  # all wires by default
    assert g(xs).shape == (3, 10, N)


def test_sample_wire_order_on_basis_state():
    """Columns follow the requested wire order; a basis state is sampled exactly."""
    bits = [1, 0, 1, 1, 0]

    @qx.circuit(n_qubits=5, inputs=None)
    def f(q):  # noqa: ANN001, ANN202
        q.basis_state(bits)
        return [
            q.sample([3, 1, 0, 4], shots=64, seed=3),
            q.sample(shots=8),
            q.counts([4, 2], shots=50),
        ]

    s, s_all, c = f()
    np.testing.assert_array_equal(s, np.tile([1, 0, 1, 0], (64, 1)))
    np.testing.assert_array_equal(s_all, np.tile(bits, (8, 1)))
    assert c == {"01": 50}


def test_sample_seed_reproducible(circuit_case):  # noqa: ANN001
    gates, xs, _ = circuit_case
    f = make_circuit(
        N, gates, lambda q: [q.sample(shots=300, seed=123), q.sample(shots=300, seed=124)]
    )
    a1, b1 = f(xs)
    a2, b2 = f(xs)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(a1, b1)  # a different seed gives different shots
    # seed=None draws a fresh seed every call
    g = make_circuit(N, gates, lambda q: q.sample(shots=300))
    assert not np.array_equal(g(xs), g(xs))


def test_sample_rows_of_a_batch_are_independent():
    """Identical rows of a batch draw from different streams (not copies)."""

    @qx.circuit(n_qubits=3)
    def f(q, x):  # noqa: ANN001, ANN202
        for w in range(3):
            q.ry(x[w], w)
        return q.sample(shots=200, seed=5)

    s = f(np.full((4, 3), np.pi / 2))
    for i in range(4):
        for j in range(i):
            assert not np.array_equal(s[i], s[j])


def test_sample_independent_of_thread_count(rng):
    gates = _layer(10, rng)
    xs = rng.uniform(-np.pi, np.pi, size=(4, 20))
    f = make_circuit(10, gates, lambda q: q.sample([9, 0, 4], shots=1000, seed=99))
    old = qx.get_num_threads()
    try:
        qx.set_num_threads(2)
        a = f(xs)
        qx.set_num_threads(1)
        b = f(xs)
    finally:
        qx.set_num_threads(old)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_frequencies_match_probs(circuit_case, dtype):  # noqa: ANN001
    gates, xs, states = circuit_case
    shots = 20000
    wires = [3, 1, 2]
    f = make_circuit(N, gates, lambda q: q.sample(wires, shots=shots, seed=2024))
    s = f(xs.astype(dtype))
    for b in range(len(xs)):
        idx = s[b] @ (1 << np.arange(len(wires))[::-1])
        freq = np.bincount(idx, minlength=2 ** len(wires)) / shots
        p = ref.probs(states[b], wires, N)
        tol = 5 * np.sqrt(p * (1 - p) / shots) + 1e-3
        assert np.all(np.abs(freq - p) <= tol), (freq, p)


def test_counts_match_samples(circuit_case):  # noqa: ANN001
    gates, xs, states = circuit_case
    shots = 20000
    f = make_circuit(
        N,
        gates,
        lambda q: [q.counts([0, 3], shots=shots, seed=11), q.sample([0, 3], shots=shots, seed=11)],
    )
    counts, samples = f(xs)
    assert isinstance(counts, list) and len(counts) == 3
    for b, c in enumerate(counts):
        assert isinstance(c, dict)
        assert sum(c.values()) == shots
        assert all(len(k) == 2 and set(k) <= {"0", "1"} for k in c)
        keys, n = np.unique(samples[b], axis=0, return_counts=True)
        assert c == {"".join(map(str, k)): int(v) for k, v in zip(keys, n, strict=True)}
        p = ref.probs(states[b], [0, 3], N)
        for i in range(4):
            assert (
                abs(c.get(format(i, "02b"), 0) / shots - p[i])
                <= 5 * np.sqrt(p[i] * (1 - p[i]) / shots) + 1e-3
            )
    single = make_circuit(N, gates, lambda q: q.counts(shots=100, seed=1))(xs[0])
    assert isinstance(single, dict) and sum(single.values()) == 100
    assert all(len(k) == N for k in single)


def test_sample_rejects_bad_shots():
    rec = qx.Recorder(2)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError):
            rec.sample(shots=bad)


# ---------------------------------------------------------------------------------------
# probs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probs_sum_to_one_and_match_state(circuit_case, dtype):  # noqa: ANN001
    gates, xs, states = circuit_case
    subsets = [[0], [3], [2, 0], [3, 1, 0], [1, 3, 0, 2]]
    f = make_circuit(N, gates, lambda q: [q.probs()] + [q.probs(w) for w in subsets])
    res = f(xs.astype(dtype))
    atol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(res[0], np.abs(states) ** 2, atol=atol, rtol=0)
    for r, w in zip(res[1:], subsets, strict=True):
        assert r.dtype == dtype
        assert r.shape == (3, 2 ** len(w))
        assert np.all(r >= 0)
        np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=atol)
        np.testing.assert_allclose(
            r, np.stack([ref.probs(s, w, N) for s in states]), atol=atol, rtol=0
        )


def test_probs_of_a_basis_state_follow_wire_order():
    @qx.circuit(n_qubits=3, inputs=None)
    def f(q):  # noqa: ANN001, ANN202
        q.x(0)  # |100>
        return [q.probs([0, 2]), q.probs([2, 0]), q.probs(1)]

    a, b, c = f()
    np.testing.assert_array_equal(a, [0, 0, 1, 0])  # outcome "10"
    np.testing.assert_array_equal(b, [0, 1, 0, 0])  # outcome "01"
    np.testing.assert_array_equal(c, [1, 0])


# ---------------------------------------------------------------------------------------
# var, expval
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        {0: "Z"},
        {3: "X"},
        {1: "Y", 2: "Y"},
        {3: "Z", 0: "X"},
        {0: "X", 1: "Y", 2: "Z", 3: "X"},
        {2: "Y", 0: "Z"},
    ],
)
def test_var_of_pauli_word_is_one_minus_square(circuit_case, word):  # noqa: ANN001
    gates, xs, states = circuit_case
    p = pauli_pair(word)
    f = make_circuit(N, gates, lambda q: [q.expval(p.qx_obs), q.var(p.qx_obs)])
    out = f(xs)
    np.testing.assert_allclose(out[:, 1], 1 - out[:, 0] ** 2, atol=1e-12)
    np.testing.assert_allclose(out[:, 0], [p.expval(s, N) for s in states], atol=1e-12)


def test_identity_observable(circuit_case):  # noqa: ANN001
    gates, xs, _ = circuit_case
    f = make_circuit(
        N, gates, lambda q: [q.expval(qx.I(2)), q.var(qx.I(0)), q.expval(3.0 * qx.I(1) + qx.Z(0))]
    )
    out = f(xs)
    np.testing.assert_allclose(out[:, 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(out[:, 1], 0.0, atol=1e-12)
    z = make_circuit(N, gates, lambda q: q.expval(qx.Z(0)))(xs)
    np.testing.assert_allclose(out[:, 2], 3.0 + z, atol=1e-12)


def test_hermitian_products_via_matmul(circuit_case, rng):  # noqa: ANN001
    gates, xs, states = circuit_case
    m = ref.random_hermitian(2, rng)
    m2 = ref.random_hermitian(4, rng)
    cases = [
        (qx.Hermitian(m, 0) @ qx.Z(2), ref.embed(np.kron(m, ref.PZ), [0, 2], N)),
        (qx.Z(2) @ qx.Hermitian(m, 0), ref.embed(np.kron(m, ref.PZ), [0, 2], N)),
        (
            qx.Hermitian(m, 3) @ qx.X(0) @ qx.Y(1),
            ref.embed(np.kron(np.kron(m, ref.PX), ref.PY), [3, 0, 1], N),
        ),
        (qx.Hermitian(m2, [3, 1]) @ qx.Hermitian(m, 0), ref.embed(np.kron(m2, m), [3, 1, 0], N)),
        (
            qx.Hermitian(m, 2) @ qx.Projector([1], 0),
            ref.embed(np.kron(m, np.diag([0, 1])), [2, 0], N),
        ),
        (
            0.5 * qx.Hermitian(m2, [2, 0])
            - 1.5 * (qx.Z(1) @ qx.X(3))
            + qx.Projector([0, 1], [3, 0]),
            0.5 * ref.embed(m2, [2, 0], N)
            - 1.5 * ref.pauli_word_matrix({1: "Z", 3: "X"}, N)
            + ref.projector_matrix([0, 1], [3, 0], N),
        ),
        (
            (qx.X(0) + 2.0 * qx.Z(1)) @ qx.Hermitian(m, 3),
            ref.embed(np.kron(ref.PX, m), [0, 3], N) + 2 * ref.embed(np.kron(ref.PZ, m), [1, 3], N),
        ),
    ]
    f = make_circuit(
        N, gates, lambda q: [q.expval(o) for o, _ in cases] + [q.var(o) for o, _ in cases]
    )
    out = f(xs)
    for b, s in enumerate(states):
        expected = [ref.expval(s, mat) for _, mat in cases] + [ref.var(s, mat) for _, mat in cases]
        np.testing.assert_allclose(out[b], expected, atol=1e-11, rtol=0)


def test_matmul_rejects_overlapping_wires(rng):
    m = ref.random_hermitian(2, rng)
    with pytest.raises(ValueError):
        qx.Hermitian(m, 0) @ qx.Z(0)
    with pytest.raises(ValueError):
        qx.X(1) @ qx.Z(1)


def test_projector_expval_equals_probs(circuit_case):  # noqa: ANN001
    gates, xs, _ = circuit_case
    wires = [2, 0, 3]
    f = make_circuit(
        N,
        gates,
        lambda q: (
            [q.probs(wires)]
            + [q.expval(qx.Projector([int(c) for c in format(i, "03b")], wires)) for i in range(8)]
        ),
    )
    out = f(xs)
    np.testing.assert_allclose(np.stack(out[1:], axis=1), out[0], atol=1e-12)


def test_pauli_sum_expval_and_var(circuit_case, rng):  # noqa: ANN001
    gates, xs, states = circuit_case
    h = sum_pairs(
        [
            pauli_pair({0: "Z", 1: "Z"}, 0.7),
            pauli_pair({2: "X"}, -1.3),
            pauli_pair({3: "Y", 0: "X"}, 0.25),
            pauli_pair({0: "Z", 1: "Z"}, 0.3),  # repeated word: merged coefficients
            hermitian_pair(ref.random_hermitian(4, rng), (1, 3), 0.5),
            projector_pair((1,), (2,), 2.0),
        ]
    )
    f = make_circuit(N, gates, lambda q: [q.expval(h.qx_obs), q.var(h.qx_obs)])
    out = f(xs)
    for b, s in enumerate(states):
        np.testing.assert_allclose(out[b], [h.expval(s, N), h.var(s, N)], atol=1e-11, rtol=0)


# ---------------------------------------------------------------------------------------
# return structure
# ---------------------------------------------------------------------------------------


def test_mixed_return_structure(circuit_case):  # noqa: ANN001
    gates, xs, states = circuit_case
    f = make_circuit(
        N, gates, lambda q: [q.state(), q.expval(qx.Z(0)), q.probs([1]), q.var(qx.X(2))]
    )
    st_, ev, pr, va = f(xs)
    assert st_.shape == (3, 2**N) and ev.shape == (3,) and pr.shape == (3, 2) and va.shape == (3,)
    np.testing.assert_allclose(st_, states, atol=1e-12)
    np.testing.assert_allclose(ev, [pauli_pair({0: "Z"}).expval(s, N) for s in states], atol=1e-12)
    np.testing.assert_allclose(va, [pauli_pair({2: "X"}).var(s, N) for s in states], atol=1e-12)
    single = make_circuit(N, gates, lambda q: q.expval(qx.Z(0)))
    assert single(xs).shape == (3,)
    assert np.ndim(single(xs[0])) == 0
    lst = make_circuit(N, gates, lambda q: [q.expval(qx.Z(0)), q.var(qx.Z(1))])
    assert lst(xs).shape == (3, 2) and lst(xs[0]).shape == (2,)


def test_torch_outputs(circuit_case):  # noqa: ANN001
    gates, xs, states = circuit_case
    f = make_circuit(
        N, gates, lambda q: [q.state(), q.probs([0]), q.sample(shots=5, seed=0), q.expval(qx.Z(1))]
    )
    st_, pr, sa, ev = f(torch.tensor(xs))
    assert all(isinstance(t, torch.Tensor) for t in (st_, pr, sa, ev))
    assert st_.dtype == torch.complex128 and pr.dtype == torch.float64
    np.testing.assert_allclose(st_.numpy(), states, atol=1e-12)
    st32 = f(torch.tensor(xs, dtype=torch.float32))[0]
    assert st32.dtype == torch.complex64
    np.testing.assert_allclose(st32.numpy(), states, atol=1e-5)


def test_numpy_scalar_coefficients(circuit_case):  # noqa: ANN001
    """Hamiltonians built from numpy coefficient arrays (``c[i] * Z(i)``, numpy scalar on
    the left) are observables with the right value."""
    gates, xs, states = circuit_case
    c = np.array([0.5, -1.25, 2.0, 0.75])
    h = sum(c[i] * qx.Z(i) for i in range(N)) + np.float32(0.5) * (qx.X(0) @ qx.X(3))
    assert isinstance(h, qx.Observable)
    f = make_circuit(N, gates, lambda q: q.expval(h))
    mat = sum(c[i] * ref.pauli_word_matrix({i: "Z"}, N) for i in range(N))
    mat = mat + 0.5 * ref.pauli_word_matrix({0: "X", 3: "X"}, N)
    np.testing.assert_allclose(f(xs), [ref.expval(s, mat) for s in states], atol=1e-12)


def test_hermitian_and_projector_accept_numpy_integer_wire():
    m = np.diag([1.0, -1.0])
    for w in np.arange(2):  # np.int64 wires, e.g. from a loop over np.arange
        assert qx.Hermitian(m, w).wires == [int(w)]
        assert qx.Projector([1], w).wires == [int(w)]
