"""The native call as a torch custom op: torch.compile (fullgraph), torch.export, and
torch.func (vmap, grad, jacrev, jacfwd) with one native call per transform."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide import _core, ops
from torch import nn


@qx.circuit(n_qubits=3)
def ansatz(q, x, w):
    for i in range(3):
        q.h(i)
        q.ry(2.0 * x[i] + 0.1, i)  # affine: the theta map is a matmul, not a gather
    for k in range(w.shape[0]):
        q.cnot(0, 1)
        q.cnot(1, 2)
        for i in range(3):
            q.rot(w[k, i, 0], w[k, i, 1], w[k, i, 2], i)
    q.crx(w[0, 0, 0] - x[0], 0, 2)
    return [q.expval(qx.Z(0)), q.expval(qx.Z(1) @ qx.X(2)), q.expval(0.5 * qx.Y(2) + qx.Z(0))]


W_SHAPE = (2, 3, 3)


def weights(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(W_SHAPE, generator=g, dtype=torch.float64) * 6.0


def inputs(batch: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, generator=g, dtype=torch.float64) * 2.0 - 1.0


@contextlib.contextmanager
def native_calls():
    """Counts native calls made through the ops: yields a dict filled in on exit."""
    before = dict(ops.CALLS)
    delta: dict[str, int] = {}
    try:
        yield delta
    finally:
        delta.update({k: ops.CALLS[k] - before[k] for k in before})


def reference_jacobian(x: torch.Tensor, w: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """∂out/∂x [M, F] and ∂out/∂w [M, W] of one sample from the native adjoint Jacobian
    chained through the theta map by hand."""
    prog = ansatz.program((3,), [W_SHAPE])
    xn, wn = x.detach().numpy()[None], w.detach().numpy().reshape(-1)
    theta = prog.theta_numpy(xn, wn, 1, np.float64)
    jac = _core.jacobian(prog.tape, theta, prog.observables)[0]  # [M, P]
    return jac @ prog.a_in.T, jac @ prog.a_w.T


def central_fd(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central differences of f at x: [*f(x).shape, *x.shape]."""
    flat = x.detach().reshape(-1)
    cols = []
    for i in range(flat.numel()):
        d = torch.zeros_like(flat)
        d[i] = eps
        cols.append((f((flat + d).reshape(x.shape)) - f((flat - d).reshape(x.shape))) / (2 * eps))
    return torch.stack(cols, -1).reshape(*f(x).shape, *x.shape)


# torch.func ------------------------------------------------------------------------------


def test_vmap_of_a_circuit_is_one_batched_native_call():
    x, w = inputs(7), weights()
    with native_calls() as calls:
        got = torch.vmap(lambda xi: ansatz(xi, w))(x)
    assert calls == {"expval": 1, "vjp": 0, "jacobian": 0, "hvp": 0}
    torch.testing.assert_close(got, ansatz(x, w), rtol=0, atol=1e-12)
    # over the weights too (in_dims over a stack of weight sets)
    ws = torch.stack([weights(1), weights(2)])
    with native_calls() as calls:
        got = torch.vmap(lambda wi: ansatz(x, wi))(ws)
    assert calls["expval"] == 1
    torch.testing.assert_close(got[1], ansatz(x, ws[1]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
def test_jacobians_come_from_one_native_jacobian_call(transform):
    x, w = inputs(1)[0], weights()
    jac_fn = getattr(torch.func, transform)
    with native_calls() as calls:
        jx, jw = jac_fn(lambda a, b: ansatz(a, b), argnums=(0, 1))(x, w)
    assert calls["jacobian"] == 1 and calls["vjp"] == 0
    ref_x, ref_w = reference_jacobian(x, w)
    np.testing.assert_allclose(jx.numpy(), ref_x, atol=1e-10)
    np.testing.assert_allclose(jw.reshape(3, -1).numpy(), ref_w, atol=1e-10)
    torch.testing.assert_close(jx, central_fd(lambda a: ansatz(a, w), x), rtol=0, atol=1e-7)
    torch.testing.assert_close(jw, central_fd(lambda b: ansatz(x, b), w), rtol=0, atol=1e-7)


def test_functional_jacobian_vectorized_is_one_native_jacobian():
    x, w = inputs(4), weights()
    with native_calls() as calls:
        jx, jw = torch.autograd.functional.jacobian(ansatz, (x, w), vectorize=True)
    assert calls["jacobian"] == 1 and calls["vjp"] == 0
    plain_x, plain_w = torch.autograd.functional.jacobian(ansatz, (x, w))  # M backward sweeps
    torch.testing.assert_close(jx, plain_x, rtol=0, atol=1e-12)
    torch.testing.assert_close(jw, plain_w, rtol=0, atol=1e-12)


def test_per_sample_jacobians_under_vmap_are_one_call():
    x, w = inputs(5), weights()
    with native_calls() as calls:
        per = torch.vmap(torch.func.jacrev(lambda a: ansatz(a, w)))(x)  # [5, M, F]
    assert calls["jacobian"] == 1
    for b in range(5):
        np.testing.assert_allclose(per[b].numpy(), reference_jacobian(x[b], w)[0], atol=1e-10)


def test_grad_and_gradcheck():
    x, w = inputs(3), weights()
    gw = torch.func.grad(lambda b: ansatz(x, b).sum())(w)
    w_ = w.clone().requires_grad_()
    ansatz(x, w_).sum().backward()
    torch.testing.assert_close(gw, w_.grad, rtol=0, atol=1e-12)
    xg = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: ansatz(a, b), (xg, w.clone().requires_grad_()))
    assert torch.autograd.gradgradcheck is not None  # second order: tests/test_second_derivatives


# torch.compile and torch.export -----------------------------------------------------------


def hybrid(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layer = qx.nn.QuantumLayer(ansatz, {"w": W_SHAPE}, seed=seed, dtype=torch.float64)
    return nn.Sequential(nn.Linear(5, 3), nn.Tanh(), layer, nn.Linear(3, 2)).double()


def values_and_grads(model: nn.Module, fn, x: torch.Tensor) -> tuple[torch.Tensor, list]:
    model.zero_grad()
    x = x.clone().requires_grad_()
    out = fn(x)
    (out**2).sum().backward()
    return out.detach(), [x.grad] + [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compile_fullgraph_equals_eager(backend):
    torch._dynamo.reset()
    model = hybrid()
    x = torch.randn(6, 5, dtype=torch.float64)
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    got, got_grads = values_and_grads(model, compiled, x)  # compiled first: a cold cache
    want, want_grads = values_and_grads(model, model, x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    for g, r in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)


def test_compile_dressed_net_fullgraph():
    torch._dynamo.reset()
    torch.manual_seed(0)
    net = qx.nn.DressedQuantumNet(8, 4, 3, 2).double()
    x = torch.randn(5, 8, dtype=torch.float64)
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    got, got_grads = values_and_grads(net, compiled, x)
    want, want_grads = values_and_grads(net, net, x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    for g, r in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)


def test_export_a_model_with_a_quantum_layer():
    model = hybrid()
    x = torch.randn(4, 5, dtype=torch.float64)
    ep = torch.export.export(model, (x,))
    assert "qoxide.expval" in str(ep.graph)
    x2 = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(ep.module()(x2), model(x2), rtol=0, atol=1e-12)


def test_import_leaves_dynamo_for_the_first_circuit():
    """``import qoxide`` does not import torch._dynamo (about a third of the import time);
    defining the first circuit does, for torch.compile's sake."""
    import subprocess
    import sys

    code = (
        "import sys, qoxide as qx\n"
        "print('torch._dynamo' in sys.modules)\n"
        "qx.circuit(n_qubits=1)(lambda q, x: q.expval(qx.Z(0)))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
