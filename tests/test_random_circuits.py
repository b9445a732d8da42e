"""Hypothesis: random circuits up to 10 qubits (every gate kind, random wires, random
angles, constants and affine input expressions, some inverses, optional state_prep)
against the dense reference: states, expvals (Pauli words, sums, Hermitian, Projector),
probs on random wire subsets in random order, variances; batched runs equal per-sample
runs; float32 close to float64; torch in gives the same numbers as numpy in."""

from __future__ import annotations

import numpy as np
import qoxide as qx
import reference as ref
import torch
from helpers import make_circuit
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from strategies import BATCH, cases, observables

# -----------------------------------------------------------------------------------------


@given(cases())
def test_state_matches_reference(case):  # noqa: ANN001
    f = make_circuit(case.n, case.gates, lambda q: q.state(), init=case.init)
    out = f(case.xs)
    assert out.shape == (BATCH, 2**case.n) and out.dtype == np.complex128
    np.testing.assert_allclose(out, case.states(), atol=1e-10, rtol=0)


@given(st.data(), cases())
def test_expvals_match_reference(data, case):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=4))
    f = make_circuit(
        case.n, case.gates, lambda q: [q.expval(o.qx_obs) for o in obs], init=case.init
    )
    out = f(case.xs)
    assert out.shape == (BATCH, len(obs))
    expected = np.array([[o.expval(s, case.n) for o in obs] for s in case.states()])
    np.testing.assert_allclose(out, expected, atol=1e-9, rtol=0)


@given(st.data(), cases())
def test_var_matches_reference(data, case):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=3))
    f = make_circuit(case.n, case.gates, lambda q: [q.var(o.qx_obs) for o in obs], init=case.init)
    out = f(case.xs)
    assert out.shape == (BATCH, len(obs))
    expected = np.array([[o.var(s, case.n) for o in obs] for s in case.states()])
    np.testing.assert_allclose(out, expected, atol=1e-9, rtol=0)


@given(st.data(), cases())
def test_probs_match_reference(data, case):  # noqa: ANN001
    n = case.n
    subsets = data.draw(
        st.lists(
            st.integers(1, n).flatmap(lambda k: st.permutations(range(n)).map(lambda p: p[:k])),
            min_size=1,
            max_size=3,
        )
    )
    f = make_circuit(
        n, case.gates, lambda q: [q.probs(list(w)) for w in subsets] + [q.probs()], init=case.init
    )
    out = f(case.xs)
    states = case.states()
    for res, w in zip(out, [*subsets, tuple(range(n))], strict=True):
        assert res.shape == (BATCH, 2 ** len(w))
        expected = np.stack([ref.probs(s, w, n) for s in states])
        np.testing.assert_allclose(res, expected, atol=1e-12, rtol=0)


@given(st.data(), cases())
def test_batched_equals_per_sample(data, case):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=2))
    pw = list(range(case.n))[::-1][: min(3, case.n)]

    def measure(q):  # noqa: ANN001, ANN202
        return (
            [q.state(), q.probs(pw)]
            + [q.expval(o.qx_obs) for o in obs]
            + [q.var(o.qx_obs) for o in obs]
        )

    f = make_circuit(case.n, case.gates, measure, init=case.init)
    batched = f(case.xs)
    for b, row in enumerate(case.xs):
        single = f(row)
        assert len(single) == len(batched)
        for s, bt in zip(single, batched, strict=True):
            assert np.shape(s) == bt.shape[1:]
            np.testing.assert_allclose(s, bt[b], atol=1e-12, rtol=0)
    # leading batch axes are preserved: [2, 3, F] -> [2, 3, ...]
    xs2 = np.stack([case.xs, case.xs[::-1]])
    nested = f(xs2)
    for r, bt in zip(nested, batched, strict=True):
        assert r.shape == (2, BATCH) + bt.shape[1:]
        np.testing.assert_allclose(r[0], bt, atol=1e-12, rtol=0)
        np.testing.assert_allclose(r[1], bt[::-1], atol=1e-12, rtol=0)


@given(st.data(), cases(max_gates=15))
def test_float32_close_to_float64(data, case):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=2))

    def measure(q):  # noqa: ANN001, ANN202
        return [q.state(), q.probs()] + [q.expval(o.qx_obs) for o in obs]

    f = make_circuit(case.n, case.gates, measure, init=case.init)
    r64 = f(case.xs)
    r32 = f(case.xs.astype(np.float32))
    assert r32[0].dtype == np.complex64 and r64[0].dtype == np.complex128
    assert r32[1].dtype == np.float32 and r32[2].dtype == np.float32
    # also by the dtype argument, from float64 inputs
    r32b = f(case.xs, dtype=np.float32)
    assert r32b[0].dtype == np.complex64
    states = case.states()
    for a, b, c in zip(r32, r64, r32b, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=0)
        np.testing.assert_allclose(c, b, atol=2e-5, rtol=0)
    np.testing.assert_allclose(r32[0], states, atol=2e-5, rtol=0)


@given(st.data(), cases(max_qubits=6, max_gates=12))
def test_torch_matches_numpy(data, case):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=2))
    f = make_circuit(
        case.n, case.gates, lambda q: [q.expval(o.qx_obs) for o in obs], init=case.init
    )
    g = make_circuit(case.n, case.gates, lambda q: [q.state(), q.probs()], init=case.init)
    for dtype, atol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        xt = torch.tensor(case.xs, dtype=dtype)
        ev = f(xt)
        assert isinstance(ev, torch.Tensor) and ev.dtype == dtype and ev.shape == (BATCH, len(obs))
        np.testing.assert_allclose(ev.numpy(), f(case.xs), atol=atol, rtol=0)
        st_, pr = g(xt)
        assert isinstance(st_, torch.Tensor) and isinstance(pr, torch.Tensor)
        np.testing.assert_allclose(st_.numpy(), case.states(), atol=atol, rtol=0)


def test_inputs_and_weights_numpy_and_torch(rng):  # noqa: ANN001
    """Affine mixes of inputs and (2-D) weights, through the numpy and the torch theta
    maps, against the reference."""
    n = 4
    init = ref.random_state(n, rng)
    xs = rng.uniform(-3, 3, size=(5, 3))
    w = rng.uniform(-3, 3, size=(2, 2))

    @qx.circuit(n_qubits=n)
    def f(q, x, wt):  # noqa: ANN001, ANN202
        q.state_prep(init)
        q.rx(x[0], 0)
        q.ry(wt[0, 1] + 2 * x[1], 1)
        q.crz(wt[1, 0] - 0.3, 3, 1, inverse=True)
        q.rot(wt[0, 0], x[2], 0.2, 2)
        q.ising_xy(x[0] - x[2] + wt[1, 1], 2, 0)
        q.u3(-x[1], 0.5 * wt[1, 1], x[0] / 4, 3)
        return [q.expval(qx.Z(2)), q.expval(qx.X(0) @ qx.Y(3)), q.expval(qx.Hermitian(ref.PY, 1))]

    def ref_state(x: np.ndarray) -> np.ndarray:
        ops = [
            ref.Op("RX", (0,), (x[0],)),
            ref.Op("RY", (1,), (w[0, 1] + 2 * x[1],)),
            ref.Op("CRZ", (3, 1), (w[1, 0] - 0.3,), inverse=True),
            ref.Op("Rot", (2,), (w[0, 0], x[2], 0.2)),
            ref.Op("IsingXY", (2, 0), (x[0] - x[2] + w[1, 1],)),
            ref.Op("U3", (3,), (-x[1], 0.5 * w[1, 1], x[0] / 4)),
        ]
        return ref.simulate(n, ops, init)

    mats = [
        ref.pauli_word_matrix({2: "Z"}, n),
        ref.pauli_word_matrix({0: "X", 3: "Y"}, n),
        ref.embed(ref.PY, [1], n),
    ]
    expected = np.array([[ref.expval(ref_state(x), m) for m in mats] for x in xs])
    np.testing.assert_allclose(f(xs, w), expected, atol=1e-12, rtol=0)
    np.testing.assert_allclose(
        f(torch.tensor(xs), torch.tensor(w)).numpy(), expected, atol=1e-12, rtol=0
    )
    t32 = f(torch.tensor(xs, dtype=torch.float32), torch.tensor(w, dtype=torch.float32))
    assert t32.dtype == torch.float32
    np.testing.assert_allclose(t32.numpy(), expected, atol=1e-5, rtol=0)
    nested = f(xs.reshape(5, 1, 3), w)
    assert nested.shape == (5, 1, 3)
    np.testing.assert_allclose(nested[:, 0], expected, atol=1e-12, rtol=0)


@settings(max_examples=examples(8))
@given(st.data(), cases(min_qubits=14, max_qubits=15, max_gates=30))
def test_large_register_random_circuits(data, case):  # noqa: ANN001
    """14-15 qubits (>= 2^14 amplitudes): single samples run each gate in parallel over
    amplitudes, batches run one sample per thread; both against the reference."""
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=2))

    def measure(q):  # noqa: ANN001, ANN202
        return [q.state(), q.probs([case.n - 1, 0])] + [q.expval(o.qx_obs) for o in obs]

    f = make_circuit(case.n, case.gates, measure, init=case.init)
    states = case.states()[:2]
    old = qx.get_num_threads()
    qx.set_num_threads(max(2, old))
    try:
        batched = f(case.xs[:2])
        single = f(case.xs[0])
    finally:
        qx.set_num_threads(old)
    for b, s in enumerate(states):
        np.testing.assert_allclose(batched[0][b], s, atol=1e-10, rtol=0)
        np.testing.assert_allclose(batched[1][b], ref.probs(s, [case.n - 1, 0], case.n), atol=1e-12)
        for i, o in enumerate(obs):
            np.testing.assert_allclose(batched[2 + i][b], o.expval(s, case.n), atol=1e-9, rtol=0)
    for got, want in zip(single, batched, strict=True):
        np.testing.assert_allclose(got, want[0], atol=1e-12, rtol=0)
