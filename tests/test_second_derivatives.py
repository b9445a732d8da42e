"""Second derivatives through a qoxide circuit are exact, never silently zero (issue 16,
item 6): Hessian-vector products by parameter shift of the adjoint VJP, checked against
torch autograd on a dense statevector reference. Third derivatives raise."""

from __future__ import annotations

import pytest
import qoxide as qx
import torch
from qoxide import ops

C = torch.complex128


@qx.circuit(n_qubits=2)
def circ(q, x, w):
    q.ry(x[0], 0)
    q.rx(x[1], 1)
    q.cnot(0, 1)
    q.ry(w[0], 0)
    q.rz(w[1], 1)
    q.crx(w[0], 0, 1)  # w[0] drives two gates (one column, two occurrences); four-term rule
    q.rz(2.0 * x[0] + 0.3, 1)  # an affine angle
    q.phase_shift(w[2], 1, inverse=True)
    return [q.expval(qx.Z(0)), q.expval(qx.X(1)), q.expval(qx.Y(0) @ qx.Y(1))]


def _ry(t):
    c, s = torch.cos(t / 2).to(C), torch.sin(t / 2).to(C)
    return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])


def _rx(t):
    c, s = torch.cos(t / 2).to(C), torch.sin(t / 2).to(C)
    return torch.stack([torch.stack([c, -1j * s]), torch.stack([-1j * s, c])])


def _diag(a, b):
    z = torch.zeros((), dtype=C)
    return torch.stack([torch.stack([a, z]), torch.stack([z, b])])


def _rz(t):
    e = torch.exp(-0.5j * t.to(C))
    return _diag(e, e.conj())


def dense(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The same circuit as a dense torch statevector: the autograd reference."""
    eye = torch.eye(2, dtype=C)
    p0, p1 = torch.diag(torch.tensor([1.0, 0.0])).to(C), torch.diag(torch.tensor([0.0, 1.0])).to(C)
    cnot = torch.kron(p0, eye) + torch.kron(p1, torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to(C))
    psi = torch.zeros(4, dtype=C)
    psi[0] = 1
    psi = torch.kron(_ry(x[0]), _rx(x[1])) @ psi
    psi = cnot @ psi
    psi = torch.kron(_ry(w[0]), _rz(w[1])) @ psi
    psi = (torch.kron(p0, eye) + torch.kron(p1, _rx(w[0]))) @ psi
    psi = torch.kron(eye, _rz(2.0 * x[0] + 0.3)) @ psi
    one = torch.ones((), dtype=C)
    psi = torch.kron(eye, _diag(one, torch.exp(-1j * w[2].to(C)))) @ psi
    z = torch.diag(torch.tensor([1.0, -1.0])).to(C)
    xm = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to(C)
    ym = torch.tensor([[0.0, -1j], [1j, 0.0]], dtype=C)
    obs = (torch.kron(z, eye), torch.kron(eye, xm), torch.kron(ym, ym))
    return torch.stack([(psi.conj() @ (o @ psi)).real for o in obs])


X0 = torch.tensor([0.3, -0.7], dtype=torch.float64)
W0 = torch.tensor([1.1, 0.4, -0.9], dtype=torch.float64)
G = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64)


def loss(f, x, w):
    y = f(x, w)
    return y @ G + (y**2).sum()  # nonlinear in the outputs: the cotangent depends on theta


def test_the_reference_is_the_circuit():
    torch.testing.assert_close(circ(X0, W0), dense(X0, W0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("wrt", ["w", "x"])
def test_functional_hessian_is_exact(wrt):
    if wrt == "w":
        got = torch.autograd.functional.hessian(lambda w: loss(circ, X0, w), W0)
        want = torch.autograd.functional.hessian(lambda w: loss(dense, X0, w), W0)
    else:
        got = torch.autograd.functional.hessian(lambda x: loss(circ, x, W0), X0)
        want = torch.autograd.functional.hessian(lambda x: loss(dense, x, W0), X0)
    assert want.abs().max() > 0.1  # zeros would be wrong
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_grad_of_grad_is_exact():
    w, wr = W0.clone().requires_grad_(), W0.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss(circ, X0, w), w, create_graph=True)
    (gr,) = torch.autograd.grad(loss(dense, X0, wr), wr, create_graph=True)
    torch.testing.assert_close(g, gr, rtol=0, atol=1e-12)
    v = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    (hv,) = torch.autograd.grad(g @ v, w)
    (hvr,) = torch.autograd.grad(gr @ v, wr)
    torch.testing.assert_close(hv, hvr, rtol=0, atol=1e-10)


@pytest.mark.parametrize("route", ["hessian", "jacrev_jacrev"])
def test_torch_func_hessian_is_exact_and_one_native_hvp_call(route):
    def f(w):
        return loss(circ, X0, w)

    fn = torch.func.hessian(f) if route == "hessian" else torch.func.jacrev(torch.func.jacrev(f))
    before = ops.CALLS["hvp"]
    got = fn(W0)
    assert ops.CALLS["hvp"] - before == 1  # all P directions and all shifts: one native call
    want = torch.func.hessian(lambda w: loss(dense, X0, w))(W0)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_batched_inputs_hessian():
    x = torch.tensor([[0.3, -0.7], [1.2, 0.4], [-0.5, 2.0]], dtype=torch.float64)

    def batched(f, w):
        return sum(loss(f, x[b], w) for b in range(3))

    def circ_batch(w):  # y @ G and y**2 summed over samples too
        y = circ(x, w)
        return (y @ G).sum() + (y**2).sum()

    got = torch.autograd.functional.hessian(circ_batch, W0)
    want = torch.autograd.functional.hessian(lambda w: batched(dense, w), W0)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)


def test_third_derivatives_raise_instead_of_zeros():
    w = W0.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss(circ, X0, w), w, create_graph=True)
    (h0,) = torch.autograd.grad(g[0], w, create_graph=True)
    with pytest.raises(NotImplementedError, match="third derivatives"):
        torch.autograd.grad(h0.sum(), w)
