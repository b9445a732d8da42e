"""The eager call of a circuit on torch tensors: one native call each way through
``_core.Circuit`` (theta map, expvals and kept final states natively), values and gradients
equal to the custom-op route that torch.func takes, in every argument layout."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide import _core, ops


@qx.circuit(n_qubits=3)
def affine(q, x, w, v):
    for i in range(3):
        q.h(i)
        q.ry(2.0 * x[i] + 0.1, i)  # affine theta map
    for k in range(w.shape[0]):
        q.cnot(0, 1)
        q.cnot(1, 2)
        for i in range(3):
            q.rot(w[k, i, 0], w[k, i, 1], w[k, i, 2], i)
    q.crx(v[0] - x[0], 0, 2)
    return [q.expval(qx.Z(0)), q.expval(qx.Z(1) @ qx.X(2)), q.expval(0.5 * qx.Y(2) + qx.Z(0))]


@qx.circuit(n_qubits=2)
def gather(q, x, w):
    q.basis_state([1, 0])  # an initial state
    q.ry(x[0], 0)
    q.rx(x[1], 1)
    q.cnot(0, 1)
    q.rz(w[0], 0)
    q.ry(w[1], 1)
    return q.expval(qx.Z(0) @ qx.Z(1))  # one measurement: no M axis


@qx.circuit(n_qubits=2, inputs=None)
def weights_only(q, w):
    q.rx(w[0], 0)
    q.cnot(0, 1)
    q.ry(w[1], 1)
    return [q.expval(qx.Z(1)), q.expval(qx.X(0))]


def rand(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * 4 - 2).to(dtype)


def by_ops(fn, *args):
    """Values and gradients of sum(fn(*args) * weights) through the custom ops: torch.func
    is active, so the eager path is not taken."""
    out, pull = torch.func.vjp(fn, *args)
    cot = rand(*out.shape, seed=7, dtype=out.dtype)
    return out, pull(cot), cot


def affine_args(x_shape):
    def make(dt):
        return rand(*x_shape, dtype=dt), rand(2, 3, 3, seed=1, dtype=dt), rand(1, seed=2, dtype=dt)

    return make


CASES = [
    ("batched", affine, affine_args((5, 3))),
    ("lead axes", affine, affine_args((2, 3, 3))),
    ("one sample", affine, affine_args((3,))),
    (
        "gather, init state, one measurement",
        gather,
        lambda dt: (rand(4, 2, dtype=dt), rand(2, seed=1, dtype=dt)),
    ),
    ("no inputs", weights_only, lambda dt: (rand(2, dtype=dt),)),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("name", "fn", "make"), CASES, ids=[c[0] for c in CASES])
def test_eager_values_and_gradients_equal_the_op_route(name, fn, make, dtype):
    args = [a.requires_grad_() for a in make(dtype)]
    ref, ref_grads, cot = by_ops(fn, *args)
    out = fn(*args)
    assert out.dtype == dtype and out.shape == ref.shape
    assert out.grad_fn is not None and type(out.grad_fn).__name__ == "EagerCircuitFunctionBackward"
    grads = torch.autograd.grad(out, args, cot)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out, ref, rtol=0, atol=tol)
    for g, r, a in zip(grads, ref_grads, args, strict=True):
        assert g.shape == a.shape and g.dtype == dtype
        torch.testing.assert_close(g, r, rtol=0, atol=tol)
    with torch.no_grad():  # no graph: the native call alone, same values
        torch.testing.assert_close(fn(*args), ref, rtol=0, atol=tol)


class Counting:
    """Counts calls of a native Circuit's forward and backward."""

    def __init__(self, inner):
        self.inner, self.calls = inner, {"forward": 0, "backward": 0}

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in self.calls:

            def counted(*a, **k):
                self.calls[name] += 1
                return attr(*a, **k)

            return counted
        return attr


def test_a_layer_step_is_one_native_call_each_way():
    layer = qx.nn.QuantumLayer(affine, {"w": (2, 3, 3), "v": 1}, seed=0, dtype=torch.float64)
    x = rand(8, 3, dtype=torch.float64).requires_grad_()
    layer(x)  # records and compiles
    prog = affine.program((3,), [(2, 3, 3), (1,)])
    counting = Counting(prog.circuit)
    # the prepared eager calls keep the native circuit: count through them
    calls = [hit[0] for hit in affine._eager.values() if hit[0].prog is prog]
    for call in calls:
        call.native = counting
    before = dict(ops.CALLS)
    try:
        for _ in range(3):
            layer.zero_grad()
            layer(x).sum().backward()
    finally:
        for call in calls:
            call.native = counting.inner
    assert counting.calls == {"forward": 3, "backward": 3}
    assert ops.CALLS == before  # nothing through the custom ops
    assert layer.w.grad is not None and layer.w.grad.shape == (2, 3, 3)


def test_calls_with_new_shapes_or_dtypes_get_their_own_program():
    w, v = rand(2, 3, 3, seed=1), rand(1, seed=2)
    for x in (rand(4, 3), rand(3), rand(2, 2, 3), rand(4, 3).float()):
        wx, vx = w.to(x.dtype), v.to(x.dtype)
        got = affine(x, wx, vx)
        ref = affine(x.numpy(), wx.numpy(), vx.numpy())
        assert tuple(got.shape) == ref.shape and got.dtype == x.dtype
        np.testing.assert_allclose(
            got.numpy(), ref, atol=1e-6 if x.dtype == torch.float32 else 1e-12
        )
    # mixed dtypes convert to the first float argument's dtype (not a cached eager call)
    assert affine(rand(4, 3), w.float(), v.float()).dtype == torch.float64


def test_second_derivatives_through_the_eager_node_are_exact():
    x, w = rand(3, 2).requires_grad_(), rand(2, seed=1).requires_grad_()
    (gw,) = torch.autograd.grad(gather(x, w).sum(), w, create_graph=True)
    hess = torch.stack([torch.autograd.grad(gw[i], w, retain_graph=True)[0] for i in range(2)])
    ref = torch.func.hessian(lambda b: gather(x.detach(), b).sum())(w.detach())
    torch.testing.assert_close(hess, ref, rtol=0, atol=1e-10)


def test_native_circuit_refuses_bad_arguments():
    prog = affine.program((3,), [(2, 3, 3), (1,)])
    c = prog.circuit
    assert (c.n_inputs, c.n_weights, c.n_params) == (3, 19, prog.n_params)
    x, w = np.zeros((2, 3)), np.zeros(19)
    with pytest.raises(qx.ShapeError, match=r"x must be a 2-D array of shape \[2, 3\]"):
        c.forward(np.zeros((2, 4)), w, 2)
    with pytest.raises(qx.ShapeError, match=r"w must be a 1-D array of shape \[19\]"):
        c.forward(x, np.zeros(18), 2)
    with pytest.raises(qx.ShapeError, match="at least 1"):
        c.forward(np.zeros((0, 3)), w, 0)
    with pytest.raises(TypeError, match="same dtype"):
        c.forward(x.astype(np.float32), w, 2)
    with pytest.raises(qx.ShapeError, match="weights"):
        c.forward(x, None, 2)
    out, saved = c.forward(x, w, 2, save=True)
    assert out.shape == (2, 3) and saved is not None
    with pytest.raises(qx.ShapeError, match="grad_out"):
        c.backward(saved, np.ones((2, 2)))
    other = gather.program((2,), [(2,)]).circuit
    with pytest.raises(ValueError, match="another circuit"):
        other.backward(saved, np.ones((2, 1)))
    with pytest.raises(qx.ShapeError, match="columns"):
        _core.Circuit(prog.tape, [], np.zeros((3, 1)), np.zeros((19, 1)), np.zeros(1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_native_circuit_reads_strided_arrays_as_their_values(dtype):
    """Broadcast (stride 0, as ``sum()``'s cotangent), transposed and sliced arrays give
    what their contiguous copies give, in both precisions (the binding copies 1-D and 2-D
    arrays row by row itself)."""
    c = affine.program((3,), [(2, 3, 3), (1,)]).circuit
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (3, 2)).astype(dtype).T  # transposed: [2, 3], strided
    w = rng.uniform(-2, 2, 38).astype(dtype)[::2]  # every other value: [19], strided
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    out, saved = c.forward(x, w, 2, save=True)
    ref, ref_saved = c.forward(np.ascontiguousarray(x), np.ascontiguousarray(w), 2, save=True)
    np.testing.assert_array_equal(out, ref)
    assert out.dtype == dtype
    for g in (np.broadcast_to(np.asarray(0.7, dtype), (2, 3)), rng.uniform(size=(3, 2)).T):
        g = g.astype(dtype, copy=False)
        assert not g.flags.c_contiguous
        gx, gw = c.backward(saved, g)
        rx, rw = c.backward(ref_saved, np.ascontiguousarray(g))
        np.testing.assert_array_equal(gx, rx)
        np.testing.assert_array_equal(gw, rw)
        assert np.abs(gw).sum() > 0


def test_layer_under_functional_call_uses_the_given_weights():
    layer = qx.nn.QuantumLayer(gather, {"w": 2}, seed=0, dtype=torch.float64)
    x, w = rand(3, 2), rand(2, seed=5).requires_grad_()
    got = torch.func.functional_call(layer, {"w": w}, (x,))
    torch.testing.assert_close(got, gather(x, w), rtol=0, atol=0)
    (g,) = torch.autograd.grad(got.sum(), w)
    assert g.abs().sum() > 0 and layer.w.grad is None


def test_a_frozen_weight_gets_no_gradient():
    x, w, v = affine_args((4, 3))(torch.float64)
    w.requires_grad_()
    affine(x, w, v).sum().backward()
    assert w.grad is not None and v.grad is None and x.grad is None


@pytest.mark.parametrize(("name", "fn", "make"), CASES, ids=[c[0] for c in CASES])
def test_as_tuple_splits_per_measurement_on_every_route(name, fn, make):
    """``as_tuple=True``: one tensor per measurement (PennyLane's convention) equal to the
    columns of the stacked result, with the same gradients, on the eager route (no split
    node: the entries come straight from the native node), through the ops (torch.func)
    and for numpy arguments; one measurement stays one tensor."""
    args = [a.requires_grad_() for a in make(torch.float64)]
    ref = fn(*args)
    cot = rand(*ref.shape, seed=7)
    ref_grads = torch.autograd.grad(ref, args, cot)
    got = fn(*args, as_tuple=True)
    if fn is gather:  # a single measurement
        assert isinstance(got, torch.Tensor)
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
        return
    assert isinstance(got, tuple) and len(got) == ref.shape[-1]
    for k, g in enumerate(got):
        assert g.shape == ref.shape[:-1]
        assert type(g.grad_fn).__name__ == "EagerCircuitFunctionBackward"
        torch.testing.assert_close(g, ref[..., k], rtol=0, atol=1e-12)
    # cotangents for only some of the entries: the others count as zeros
    part = torch.autograd.grad(
        (got[0] * cot[..., 0] + got[-1] * cot[..., -1]).sum(), args, retain_graph=True
    )
    masked = cot.clone()
    masked[..., 1:-1] = 0
    for g, r in zip(part, torch.autograd.grad(fn(*args), args, masked), strict=True):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)
    grads = torch.autograd.grad(torch.stack(got, -1), args, cot)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)
    ops_out, pull = torch.func.vjp(lambda *a: torch.stack(fn(*a, as_tuple=True), -1), *args)
    torch.testing.assert_close(ops_out, ref, rtol=0, atol=1e-12)
    for g, r in zip(pull(cot), ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)
    np_out = fn(*[a.detach().numpy() for a in args], as_tuple=True)
    assert isinstance(np_out, tuple)
    for k, o in enumerate(np_out):
        np.testing.assert_allclose(o, ref[..., k].detach().numpy(), rtol=0, atol=1e-12)


def test_an_inplace_change_after_the_forward_is_refused_where_the_inputs_are_reread():
    """The create_graph backward rebuilds the theta map from the arguments: changed in
    place since the forward, they would give the gradient of another point, so it raises
    as torch does for saved tensors. The first-order backward reads only what the forward
    kept natively, so it gives the gradient at the forward's point."""
    x, w, v = (t.requires_grad_() for t in affine_args((4, 3))(torch.float64))
    x0, w0, v0 = (t.detach().clone().requires_grad_() for t in (x, w, v))
    want = torch.autograd.grad(affine(x0, w0, v0).sum(), (x0, w0, v0))
    y = affine(x, w, v)
    with torch.no_grad():
        w.add_(0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(y.sum(), (x, w, v), create_graph=True, retain_graph=True)
    got = torch.autograd.grad(y.sum(), (x, w, v))
    for g, e in zip(got, want, strict=True):
        torch.testing.assert_close(g, e)
