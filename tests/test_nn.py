"""qx.nn.QuantumLayer: an nn.Module over a recorded circuit."""

import math

import numpy as np
import pytest
import qoxide as qx
import torch
from torch import nn


@qx.circuit(n_qubits=3)
def ansatz(q, x, w, b):
    for i in range(3):
        q.h(i)
        q.ry(x[i], i)
    for k in range(w.shape[0]):
        q.cnot(0, 1)
        q.cnot(1, 2)
        for i in range(3):
            q.rot(w[k, i, 0], w[k, i, 1], w[k, i, 2], i)
    q.rz(b[0], 2)
    return [q.expval(qx.Z(i)) for i in range(3)]


def make(seed=0, **kw):
    return qx.nn.QuantumLayer(ansatz, {"w": (2, 3, 3), "b": 1}, seed=seed, **kw)


def test_parameters_are_named_seeded_and_in_range():
    a, b = make(seed=3), make(seed=3)
    assert [n for n, _ in a.named_parameters()] == ["w", "b"]
    assert a.w.shape == (2, 3, 3) and a.b.shape == (1,)
    torch.testing.assert_close(a.w, b.w)
    assert not torch.equal(a.w, make(seed=4).w)
    w = a.w.detach()
    assert 0.0 <= float(w.min()) and float(w.max()) < 2 * math.pi


def test_forward_matches_the_circuit_and_shapes():
    layer = make()
    x = torch.rand(5, 3)
    y = layer(x)
    assert y.shape == (5, 3) and y.dtype == torch.float32
    torch.testing.assert_close(y, ansatz(x, layer.w, layer.b))
    assert layer(x[0]).shape == (3,)


def test_gradcheck_float64():
    layer = make().to(torch.float64)
    x = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    w, b = layer.w, layer.b

    def fn(x, w, b):
        return ansatz(x, w, b)

    assert torch.autograd.gradcheck(fn, (x, w, b))
    layer(x).sum().backward()
    assert layer.w.grad is not None and layer.b.grad is not None
    assert float(layer.w.grad.abs().sum()) > 0


def test_trains_inside_sequential():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), make(seed=1), nn.Linear(3, 1))
    x = torch.rand(32, 2)
    y = (x[:, :1] - x[:, 1:]).sin()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_state_dict_round_trip():
    a, b = make(seed=1), make(seed=2)
    x = torch.rand(3, 3)
    assert not torch.allclose(a(x), b(x))
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x), b(x))


def test_no_grad():
    layer = make()
    with torch.no_grad():
        y = layer(torch.rand(2, 3))
    assert y.grad_fn is None and not y.requires_grad


def test_torch_compile_falls_back_to_eager():
    model = nn.Sequential(nn.Linear(3, 3), make(seed=5))
    compiled = torch.compile(model, backend="eager")
    x = torch.rand(4, 3)
    torch.testing.assert_close(compiled(x), model(x))
    compiled(x).sum().backward()
    assert model[1].w.grad is not None


def test_bad_construction():
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        qx.nn.QuantumLayer(ansatz, {"w": (2, 3, 3)})
    with pytest.raises(ValueError, match="unknown \\['v'\\]"):
        qx.nn.QuantumLayer(ansatz, {"w": (2, 3, 3), "b": 1, "v": 2})
    with pytest.raises(TypeError, match="circuit"):
        qx.nn.QuantumLayer(lambda q, x: None, {})  # type: ignore[arg-type]


def test_custom_init():
    layer = qx.nn.QuantumLayer(
        ansatz, {"w": (1, 3, 3), "b": 1}, init=lambda t, g: nn.init.zeros_(t)
    )
    assert layer.w.abs().sum().item() == 0.0
    np.testing.assert_allclose(layer(torch.zeros(3)).detach().numpy(), 0.0, atol=1e-6)
