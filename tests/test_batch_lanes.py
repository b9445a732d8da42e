"""The batch-lane engine (registers of up to 10 qubits, batch >= 4: all samples at once)
against the per-sample path, which the other tests hold to the dense reference: random
circuits of every gate kind, batches that fill and overrun 16-sample blocks. The switch is
process-wide, so each test restores it."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import torch
from helpers import make_circuit
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from strategies import N_INPUTS, cases, observables


@pytest.fixture(autouse=True)
def restore_lanes():
    yield
    qx.set_batch_lanes(True)


def _plain_and_lanes(fn):  # noqa: ANN001, ANN202
    qx.set_batch_lanes(False)
    plain = fn()
    qx.set_batch_lanes(True)
    return plain, fn()


@settings(max_examples=examples(40), deadline=None)
@given(
    st.data(),
    cases(min_qubits=1, max_qubits=6, max_gates=30),
    st.sampled_from([4, 16, 21]),
    st.sampled_from([torch.float64, torch.float32]),
)
def test_lanes_equal_per_sample(data, case, batch, dtype):  # noqa: ANN001
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    xs = np.resize(case.xs, (batch, N_INPUTS)) + np.arange(batch)[:, None] * 0.1
    obs = data.draw(st.lists(observables(case.n, case.rng), min_size=1, max_size=3))
    f_state = make_circuit(case.n, case.gates, lambda q: q.state(), init=case.init)
    x_state = torch.tensor(xs, dtype=dtype)
    plain, lanes = _plain_and_lanes(lambda: f_state(x_state))
    np.testing.assert_allclose(lanes, plain, atol=tol, rtol=0)

    f_ev = make_circuit(
        case.n, case.gates, lambda q: [q.expval(o.qx_obs) for o in obs], init=case.init
    )

    def value_and_grad() -> tuple[np.ndarray, np.ndarray]:
        x = torch.tensor(xs, dtype=dtype, requires_grad=True)
        ev = f_ev(x)
        if not ev.requires_grad:  # no gate reads the inputs
            return ev.numpy(), np.zeros_like(xs)
        weights = torch.linspace(0.5, 1.5, ev.numel(), dtype=ev.dtype).reshape(ev.shape)
        (g,) = torch.autograd.grad((ev * weights).sum(), x, allow_unused=True)
        return ev.detach().numpy(), (np.zeros_like(xs) if g is None else g.numpy())

    (ev_p, g_p), (ev_l, g_l) = _plain_and_lanes(value_and_grad)
    np.testing.assert_allclose(ev_l, ev_p, atol=tol, rtol=0)
    np.testing.assert_allclose(g_l, g_p, atol=10 * tol, rtol=0)


def test_lanes_gradcheck():
    """The dressed net's circuit on a batch of 8 through the lanes, float64 gradcheck."""
    torch.manual_seed(0)
    net = qx.nn.DressedQuantumNet(3, n_qubits=4, depth=3, out_features=2).double()
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    assert qx.batch_lanes_enabled()
    assert torch.autograd.gradcheck(lambda x: net(x), (x,))


def test_lanes_switch():
    qx.set_batch_lanes(False)
    assert not qx.batch_lanes_enabled()
    qx.set_batch_lanes(True)
    assert qx.batch_lanes_enabled()
