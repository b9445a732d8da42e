"""Second derivatives through a qoxide circuit are never silently zero (issue 16, item 6):
the adjoint method gives first derivatives only, so every second-order route raises
NotImplementedError naming the limitation, while first derivatives taken with
``create_graph=True`` stay exact."""

from __future__ import annotations

import pytest
import qoxide as qx
import torch

SECOND = "second derivatives"


@qx.circuit(n_qubits=2)
def circ(q, x, w):
    q.ry(x[0], 0)
    q.rx(x[1], 1)
    q.cnot(0, 1)
    q.ry(w[0], 0)
    q.rz(w[1], 1)
    return [q.expval(qx.Z(0)), q.expval(qx.X(1))]


def dense(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The same circuit as a dense torch statevector (complex128): an autograd reference."""

    def ry(t):
        c, s = torch.cos(t / 2), torch.sin(t / 2)
        return torch.stack([torch.stack([c, -s]), torch.stack([s, c])]).to(torch.complex128)

    def rx(t):
        c, s = torch.cos(t / 2).to(torch.complex128), torch.sin(t / 2).to(torch.complex128)
        return torch.stack([torch.stack([c, -1j * s]), torch.stack([-1j * s, c])])

    def rz(t):
        e = torch.exp(-0.5j * t.to(torch.complex128))
        z = torch.zeros((), dtype=torch.complex128)
        return torch.stack([torch.stack([e, z]), torch.stack([z, e.conj()])])

    eye = torch.eye(2, dtype=torch.complex128)
    cnot = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]).to(eye)
    psi = torch.zeros(4, dtype=torch.complex128)
    psi[0] = 1
    psi = torch.kron(ry(x[0]), rx(x[1])) @ psi
    psi = torch.kron(ry(w[0]), rz(w[1])) @ (cnot @ psi)
    z0 = torch.kron(torch.diag(torch.tensor([1.0, -1.0])).to(eye), eye)
    x1 = torch.kron(eye, torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to(eye))
    return torch.stack([(psi.conj() @ (o @ psi)).real for o in (z0, x1)])


X0 = torch.tensor([0.3, -0.7], dtype=torch.float64)
W0 = torch.tensor([1.1, 0.4], dtype=torch.float64)


def loss(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    y = circ(x, w)
    return y[0] + 2.0 * y[1]


def test_the_reference_is_the_circuit_and_has_nonzero_hessian():
    torch.testing.assert_close(circ(X0, W0), dense(X0, W0), rtol=0, atol=1e-12)
    h = torch.autograd.functional.hessian(
        lambda w: dense(X0, w) @ torch.tensor([1.0, 2.0]).double(), W0
    )
    assert h.abs().max() > 0.1  # zeros would be wrong


def test_functional_hessian_raises():
    with pytest.raises(NotImplementedError, match=SECOND):
        torch.autograd.functional.hessian(lambda w: loss(X0, w), W0)
    with pytest.raises(NotImplementedError, match=SECOND):
        torch.autograd.functional.hessian(lambda x: loss(x, W0), X0, vectorize=True)


def test_grad_of_grad_raises_but_the_first_grad_is_exact():
    w = W0.clone().requires_grad_()
    (g,) = torch.autograd.grad(loss(X0, w), w, create_graph=True)
    wr = W0.clone().requires_grad_()
    (gr,) = torch.autograd.grad(dense(X0, wr) @ torch.tensor([1.0, 2.0]).double(), wr)
    torch.testing.assert_close(g.detach(), gr, rtol=0, atol=1e-12)
    assert g.requires_grad  # connected to w: differentiating it must not give zeros
    with pytest.raises(NotImplementedError, match=SECOND):
        torch.autograd.grad(g.sum(), w)


@pytest.mark.parametrize("route", ["hessian", "jacrev_jacrev", "grad_grad"])
def test_torch_func_second_order_raises(route):
    f = lambda w: loss(X0, w)  # noqa: E731
    fn = {
        "hessian": torch.func.hessian(f),  # forward-over-reverse
        "jacrev_jacrev": torch.func.jacrev(torch.func.jacrev(f)),
        "grad_grad": torch.func.grad(lambda w: torch.func.grad(f)(w).sum()),
    }[route]
    with pytest.raises(NotImplementedError, match=SECOND):
        fn(W0)
