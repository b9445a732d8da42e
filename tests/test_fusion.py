"""Gate fusion: with tiles forced small, random circuits of 7-10 qubits split into many
fused segments, with register blocks of 0, 2, 3 or 4 bits inside the tiles; states,
expectation values and adjoint gradients must equal the unfused run to 1e-12 (float64).
The fusion switch is process-wide, so each test restores it."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import torch
from helpers import make_circuit
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from strategies import cases, observables


@pytest.fixture(autouse=True)
def restore_fusion():
    yield
    qx.set_fusion(True)


def _fused_and_plain(fn, tile: int, block_bits: int):  # noqa: ANN001, ANN202
    qx.set_fusion(False)
    plain = fn()
    qx.set_fusion(True, tile_qubits=tile, block_bits=block_bits)
    fused = fn()
    return plain, fused


@settings(max_examples=examples(40), deadline=None)
@given(
    st.data(),
    cases(min_qubits=7, max_qubits=10, max_gates=40),
    st.sampled_from([6, 7, 8]),
    st.sampled_from([0, 2, 3, 4, 6]),
)
def test_fused_equals_unfused(data, case, tile, block_bits):  # noqa: ANN001
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=3))
    f_state = make_circuit(case.n, case.gates, lambda q: q.state(), init=case.init)
    plain, fused = _fused_and_plain(lambda: f_state(case.xs), tile, block_bits)
    np.testing.assert_allclose(fused, plain, atol=1e-12, rtol=0)

    f_ev = make_circuit(
        case.n, case.gates, lambda q: [q.expval(o.qx_obs) for o in obs], init=case.init
    )

    def value_and_grad() -> tuple[np.ndarray, np.ndarray]:
        x = torch.tensor(case.xs, requires_grad=True)
        ev = f_ev(x)
        if not ev.requires_grad:  # no gate reads the inputs
            return ev.numpy(), np.zeros_like(case.xs)
        weights = torch.linspace(0.5, 1.5, ev.numel(), dtype=ev.dtype).reshape(ev.shape)
        (g,) = torch.autograd.grad((ev * weights).sum(), x, allow_unused=True)
        return ev.detach().numpy(), (np.zeros_like(case.xs) if g is None else g.numpy())

    (ev_p, g_p), (ev_f, g_f) = _fused_and_plain(value_and_grad, tile, block_bits)
    np.testing.assert_allclose(ev_f, ev_p, atol=1e-12, rtol=0)
    np.testing.assert_allclose(g_f, g_p, atol=1e-12, rtol=0)


def test_fusion_switch_and_bad_tile():
    qx.set_fusion(False)
    assert not qx.fusion_enabled()
    qx.set_fusion(True)
    assert qx.fusion_enabled()
    with pytest.raises(ValueError, match="tile_qubits"):
        qx.set_fusion(True, tile_qubits=2)
    for bad in (-1, 7):
        with pytest.raises(ValueError, match="block_bits must be between 0"):
            qx.set_fusion(True, block_bits=bad)
    qx.set_fusion(True, block_bits=None)  # the default


def _ringed(n: int) -> qx.QuantumFunction:
    """Entangling layers ending with a CNOT ring, then X, SWAP and CZ: the trailing run a
    Z readout is pulled back through on a register wider than a tile."""

    @qx.circuit(n_qubits=n, inputs=None)
    def ringed(q, w):  # noqa: ANN001
        for layer in range(w.shape[0]):
            for i in range(n):
                q.rx(w[layer, i, 0], i)
                q.ry(w[layer, i, 1], i)
                q.rz(w[layer, i, 2], i)
            for i in range(n):
                q.cnot(i, (i + 1) % n)
        q.x(2)
        q.swap(0, 4)
        q.cz(1, 3)
        return [q.expval(qx.Z(i)) for i in range(n)] + [q.expval(qx.Z(0) @ qx.Z(5))]

    return ringed


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_z_readout_behind_a_trailing_ring_equals_unfused(dtype):
    n = 9
    f = _ringed(n)
    w = np.random.default_rng(3).uniform(0, 2 * np.pi, (3, n, 3)).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 2e-5

    def values_and_jacobian() -> tuple[np.ndarray, np.ndarray]:
        wt = torch.tensor(w)
        return np.asarray(f(w)), torch.func.jacrev(f)(wt).numpy()

    (v_plain, j_plain), (v_fused, j_fused) = _fused_and_plain(values_and_jacobian, 6, 4)
    np.testing.assert_allclose(v_fused, v_plain, atol=tol, rtol=0)
    np.testing.assert_allclose(j_fused, j_plain, atol=tol, rtol=0)
