"""Gradients: torch autograd (adjoint VJP) vs finite differences, for every parametrised
gate kind, every observable kind, inputs and weights, both precisions and both parallel
paths."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide import _core
from torch.autograd import gradcheck

try:
    from ._grad_helpers import (
        PARAM_GATES,
        central_fd_jacobian,
        layered_circuit,
        num_threads,
        random_hermitian,
        random_unitary,
        theta_of,
    )
except ImportError:
    from _grad_helpers import (
        PARAM_GATES,
        central_fd_jacobian,
        layered_circuit,
        num_threads,
        random_hermitian,
        random_unitary,
        theta_of,
    )

F64 = torch.float64
RNG_SEED = 1234


def _t(a, requires_grad=True, dtype=F64):
    return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _observables(rng: np.random.Generator) -> list:
    """One of each observable kind on 3 qubits."""
    return [
        qx.Z(0),
        qx.X(1) @ qx.Y(2),
        0.5 * qx.Z(0) @ qx.Z(1) - 0.3 * qx.X(2) + 0.2 * qx.Y(0),
        qx.Hermitian(random_hermitian(2, rng), wires=[2, 0]),
        qx.Projector([1, 0], wires=[1, 2]),
        0.7 * qx.Hermitian(random_hermitian(1, rng), wires=1) + qx.Projector([1], wires=0),
    ]


def _gate_circuit(name: str, inverse: bool, obs: list):
    n_par, n_w, apply = PARAM_GATES[name]
    wires = [0, 1, 2][: max(n_w, 1)] if name != "MultiRZ" else [2, 0, 1]

    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        for i in range(3):
            q.h(i)
            q.ry(x[i], i)
        q.cnot(0, 1)
        q.cnot(1, 2)
        q.rx(w[0], 0)  # a parametrised op before the gate under test
        # gate parameters mix inputs and weights (affine) so both get gradients
        params = [w[1 + j] + 0.5 * x[j % 3] for j in range(n_par)]
        apply(q, params, wires, inverse)
        q.cz(0, 2)
        q.ry(w[4], 1)  # and one after it
        q.cry(w[5], 2, 0)
        return [q.expval(o) for o in obs]

    return circ


@pytest.mark.parametrize("inverse", [False, True], ids=["fwd", "inv"])
@pytest.mark.parametrize("name", list(PARAM_GATES))
def test_gradcheck_every_parametrised_gate(name, inverse):
    rng = np.random.default_rng(RNG_SEED)
    obs = _observables(rng)
    circ = _gate_circuit(name, inverse, obs)
    n_par = PARAM_GATES[name][0]
    x = _t(rng.uniform(-np.pi, np.pi, size=(3, 3)))
    w = _t(rng.uniform(-np.pi, np.pi, size=6))
    assert gradcheck(circ, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)
    # the gate really is in the tape (and its params are theta columns)
    prog = circ.program((3,), [(6,)])
    assert prog.tape.n_ops == 13
    assert prog.n_params == 6 + n_par  # 3 inputs, w0, w4, w5 and one column per gate param


@pytest.mark.parametrize("name", ["RX", "Rot", "CRot", "IsingXY", "MultiRZ", "U3"])
def test_inverse_gate_undoes_gate(name):
    """U(θ)† U(θ) = I: the inverse variant is the adjoint of the same gate."""
    n_par, n_w, apply = PARAM_GATES[name]
    wires = [0, 1, 2][:n_w]

    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        for i in range(3):
            q.ry(x[i], i)
        apply(q, list(w), wires, False)
        apply(q, list(w), wires, True)
        return [q.expval(qx.Z(i)) for i in range(3)]

    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, size=(4, 3))
    w = rng.uniform(-2, 2, size=n_par)
    np.testing.assert_allclose(circ(x, w), np.cos(x), atol=1e-12)
    xt, wt = _t(x), _t(w)
    circ(xt, wt).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), -np.sin(x), atol=1e-12)
    np.testing.assert_allclose(wt.grad.numpy(), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    "obs_factory",
    [
        lambda rng: qx.Z(1),
        lambda rng: qx.X(0) @ qx.Y(1) @ qx.Z(2),
        lambda rng: 0.3 * qx.X(0) + 1.5 * qx.Z(1) @ qx.Z(2) - 0.25 * qx.Y(2) + 0.1 * qx.I(0),
        lambda rng: qx.Hermitian(random_hermitian(1, rng), wires=2),
        lambda rng: qx.Hermitian(random_hermitian(2, rng), wires=[2, 0]),
        lambda rng: qx.Hermitian(random_hermitian(3, rng), wires=[1, 2, 0]),
        lambda rng: qx.Projector([1], wires=1),
        lambda rng: qx.Projector([0, 1, 1], wires=[2, 0, 1]),
        lambda rng: qx.Hermitian(random_hermitian(1, rng), wires=0) @ qx.X(2),
        lambda rng: (
            qx.Projector([1, 0], wires=[0, 2])
            - 0.5 * qx.Hermitian(random_hermitian(1, rng), wires=1)
            + qx.Z(0)
        ),
    ],
    ids=[
        "Z",
        "pauli-word",
        "pauli-sum",
        "herm1",
        "herm2-reversed",
        "herm3",
        "proj1",
        "proj3",
        "herm@pauli",
        "mixed-sum",
    ],
)
def test_gradcheck_every_observable_kind(obs_factory):
    rng = np.random.default_rng(99)
    obs = obs_factory(rng)

    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        for i in range(3):
            q.ry(x[i], i)
            q.rz(w[0, i], i)
        q.cnot(0, 1)
        q.cnot(1, 2)
        q.crx(w[1, 0], 2, 0)
        for i in range(3):
            q.rot(w[1, i], w[2, i], w[3, i], i)
        return q.expval(obs)

    x = _t(rng.uniform(-np.pi, np.pi, size=(2, 3)))
    w = _t(rng.uniform(-np.pi, np.pi, size=(4, 3)))
    assert gradcheck(circ, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)
    # and the forward value is not trivially constant in the weights
    with torch.no_grad():
        y0 = circ(x, w)
        y1 = circ(x, w + 0.3)
    assert (y0 - y1).abs().max() > 1e-3


def test_parameter_reused_by_two_gates():
    @qx.circuit(n_qubits=2)
    def circ(q, x, w):
        q.h(0)
        q.ry(x[0], 1)
        q.rx(w[0], 0)
        q.crz(w[0], 0, 1)  # same weight, second gate
        q.rz(x[0], 0)  # same input, second gate
        q.ising_xx(w[1], 0, 1)
        q.ry(1.0 * w[1], 1)  # same variable written differently -> same theta column
        return [q.expval(qx.Z(0)), q.expval(qx.X(0) @ qx.Y(1)), q.expval(qx.Y(1))]

    prog = circ.program((1,), [(2,)])
    assert prog.n_params == 3  # x0, w0, w1: duplicates share one column
    rng = np.random.default_rng(3)
    x = _t(rng.uniform(-2, 2, size=(3, 1)))
    w = _t(rng.uniform(-2, 2, size=2))
    assert gradcheck(circ, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)

    # contributions of both gates are summed: compare with a circuit using distinct weights
    @qx.circuit(n_qubits=2)
    def split(q, x, w):
        q.h(0)
        q.ry(x[0], 1)
        q.rx(w[0], 0)
        q.crz(w[1], 0, 1)
        q.rz(x[0], 0)
        q.ising_xx(w[2], 0, 1)
        q.ry(w[3], 1)
        return [q.expval(qx.Z(0)), q.expval(qx.X(0) @ qx.Y(1)), q.expval(qx.Y(1))]

    w4 = w.detach()[[0, 0, 1, 1]].clone().requires_grad_(True)
    circ(x, w).sum().backward()
    split(x.detach(), w4).sum().backward()
    g4 = w4.grad
    torch.testing.assert_close(w.grad, torch.stack([g4[0] + g4[1], g4[2] + g4[3]]))


def test_affine_expressions_gradcheck():
    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        q.ry(2.0 * x[0] + 0.1, 0)
        q.rx(-x[1], 1)
        q.rz(x[2] / 2, 2)
        q.h(2)
        q.ry(x[0] + w[0], 2)
        q.crx(w[1] - 3.0 * x[1] + 0.25, 0, 1)
        q.rot(0.5 * (w[0] + w[1]), 1 - x[2], x[0] * 4 - w[1], 2)
        q.cnot(2, 0)
        return [q.expval(qx.Z(i)) for i in range(3)] + [q.expval(qx.X(2) @ qx.Y(0))]

    prog = circ.program((3,), [(2,)])
    assert prog.gather is None  # non-trivial affine map
    rng = np.random.default_rng(11)
    x = _t(rng.uniform(-2, 2, size=(4, 3)))
    w = _t(rng.uniform(-2, 2, size=2))
    assert gradcheck(circ, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_multi_dim_batch_and_single_sample():
    rng = np.random.default_rng(5)
    circ = layered_circuit(3, n_obs=3)
    w = _t(rng.uniform(-2, 2, size=(2, 3, 2)))
    x3 = _t(rng.uniform(-2, 2, size=(2, 3, 3)))  # [A, B, F]
    assert gradcheck(circ, (x3, w), eps=1e-6, atol=1e-6, rtol=1e-5)
    x1 = _t(rng.uniform(-2, 2, size=3))  # [F] -> unbatched
    assert gradcheck(circ, (x1, w), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradient_only_wrt_weights_or_only_inputs():
    rng = np.random.default_rng(8)
    circ = layered_circuit(3)
    x = rng.uniform(-2, 2, size=(5, 3))
    w = rng.uniform(-2, 2, size=(2, 3, 2))

    xt, wt = _t(x, requires_grad=False), _t(w)
    circ(xt, wt).sum().backward()
    assert xt.grad is None
    xt2, wt2 = _t(x), _t(w)
    circ(xt2, wt2).sum().backward()
    torch.testing.assert_close(wt.grad, wt2.grad)

    xt3, wt3 = _t(x), _t(w, requires_grad=False)
    circ(xt3, wt3).sum().backward()
    assert wt3.grad is None
    torch.testing.assert_close(xt3.grad, xt2.grad)
    assert gradcheck(lambda a: circ(a, wt3), (xt3,), eps=1e-6, atol=1e-6)
    assert gradcheck(lambda b: circ(xt3.detach(), b), (wt2,), eps=1e-6, atol=1e-6)


def test_gradcheck_with_state_prep_and_qubit_unitary():
    rng = np.random.default_rng(21)
    psi = rng.normal(size=8) + 1j * rng.normal(size=8)
    psi /= np.linalg.norm(psi)
    u = random_unitary(2, rng)

    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        q.state_prep(psi)
        q.ry(x[0], 0)
        q.qubit_unitary(u, [2, 0])
        q.crot(w[0], w[1], w[2], 0, 1)
        q.qubit_unitary(u, [1, 2], inverse=True)
        q.ising_yy(x[1] - w[0], 1, 2)
        return [q.expval(qx.Z(0) @ qx.Z(2)), q.expval(qx.Projector([1, 1], [0, 1]))]

    x = _t(rng.uniform(-2, 2, size=(3, 2)))
    w = _t(rng.uniform(-2, 2, size=3))
    assert gradcheck(circ, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)


# ----------------------------------------------------------------------------------------
# native adjoint Jacobian / VJP vs finite differences


def _mixed_program(rng):
    obs = _observables(rng)

    @qx.circuit(n_qubits=3)
    def circ(q, x, w):
        for i in range(3):
            q.h(i)
            q.ry(x[i], i)
        for name, (n_par, n_w, apply) in PARAM_GATES.items():
            k = sum(ord(c) for c in name) % 6
            params = [w[(k + j) % 6] + 0.1 * j for j in range(n_par)]
            wires = [2, 0, 1][:n_w] if name != "MultiRZ" else [1, 2, 0]
            apply(q, params, wires, len(name) % 2 == 0)
            q.cnot(k % 3, (k + 1) % 3)
        return [q.expval(o) for o in obs]

    prog = circ.program((3,), [(6,)])
    x = rng.uniform(-np.pi, np.pi, size=(3, 3))
    w = rng.uniform(-np.pi, np.pi, size=6)
    return circ, prog, x, w


def test_adjoint_jacobian_matches_central_differences():
    rng = np.random.default_rng(42)
    _, prog, x, w = _mixed_program(rng)
    theta = theta_of(prog, x, [w])
    jac = _core.jacobian(prog.tape, theta, prog.observables)
    assert jac.shape == (3, len(prog.observables), prog.n_params)
    assert jac.dtype == np.float64
    fd = central_fd_jacobian(prog.tape, theta, prog.observables)
    np.testing.assert_allclose(jac, fd, atol=1e-7, rtol=0)
    assert np.abs(jac).max() > 0.1  # not a vacuous comparison


def test_vjp_equals_jacobian_transpose_times_g():
    rng = np.random.default_rng(43)
    _, prog, x, w = _mixed_program(rng)
    theta = theta_of(prog, x, [w])
    jac = _core.jacobian(prog.tape, theta, prog.observables)
    g = rng.normal(size=(theta.shape[0], len(prog.observables)))
    g[1, 2] = 0.0  # zero entries are skipped internally: must still be exact
    g[2, :] = 0.0
    v = _core.vjp(prog.tape, theta, prog.observables, g)
    assert v.shape == theta.shape
    np.testing.assert_allclose(v, np.einsum("bm,bmp->bp", g, jac), atol=1e-10)
    np.testing.assert_allclose(v[2], 0.0, atol=0)
    # one observable at a time = the matching Jacobian row
    for m in range(len(prog.observables)):
        e = np.zeros_like(g)
        e[:, m] = 1.0
        np.testing.assert_allclose(
            _core.vjp(prog.tape, theta, prog.observables, e), jac[:, m], atol=1e-10
        )


def test_torch_backward_equals_native_vjp_through_affine_map():
    rng = np.random.default_rng(44)
    circ, prog, x, w = _mixed_program(rng)
    xt, wt = _t(x), _t(w)
    y = circ(xt, wt)
    g = rng.normal(size=tuple(y.shape))
    y.backward(torch.from_numpy(g))
    theta = theta_of(prog, x, [w])
    v = _core.vjp(prog.tape, theta, prog.observables, g)  # dL/dtheta [B, P]
    # chain rule through theta = x @ a_in + w @ a_w + const
    np.testing.assert_allclose(xt.grad.numpy(), v @ prog.a_in.T, atol=1e-10)
    np.testing.assert_allclose(wt.grad.numpy(), (v @ prog.a_w.T).sum(0), atol=1e-10)


def test_float32_gradients_close_to_float64():
    rng = np.random.default_rng(45)
    circ, prog, x, w = _mixed_program(rng)
    grads = {}
    for dt in (torch.float32, torch.float64):
        xt, wt = _t(x, dtype=dt), _t(w, dtype=dt)
        y = circ(xt, wt)
        assert y.dtype == dt
        (y * torch.arange(1, y.shape[1] + 1, dtype=dt)).sum().backward()
        assert xt.grad.dtype == dt and wt.grad.dtype == dt
        grads[dt] = (y.detach().double(), xt.grad.double(), wt.grad.double())
    for a, b in zip(grads[torch.float32], grads[torch.float64], strict=True):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-4)
    # the native float32 Jacobian too
    theta = theta_of(prog, x, [w])
    j64 = _core.jacobian(prog.tape, theta, prog.observables)
    j32 = _core.jacobian(prog.tape, theta.astype(np.float32), prog.observables)
    assert j32.dtype == np.float32
    np.testing.assert_allclose(j32, j64, atol=2e-4)


# ----------------------------------------------------------------------------------------
# parallel paths


def test_amplitude_parallel_path_14_qubits():
    """Batch 1, 2^14 amplitudes: gates run parallel over amplitudes."""
    n = 14
    rng = np.random.default_rng(46)

    @qx.circuit(n_qubits=n)
    def circ(q, x, w):
        for i in range(n):
            q.h(i)
            q.ry(x[i % 3], i)
        for i in range(n - 1):
            q.cnot(i, i + 1)
        q.crx(w[0], 0, n - 1)
        q.ising_zz(w[1], 3, 11)
        q.rot(w[2], w[3], w[4], 7)
        q.multi_rz(w[5], [1, 6, 13])
        q.cry(w[0] - x[1], n - 1, 2)
        obs = [
            qx.Z(0) @ qx.Z(n - 1),
            qx.X(7) + 0.5 * qx.Y(3),
            qx.Hermitian(np.array([[0.5, 0.2 - 0.1j], [0.2 + 0.1j, -1.0]]), wires=11),
            qx.Projector([0, 1], wires=[2, 12]),
        ]
        return [q.expval(o) for o in obs]

    x = _t(rng.uniform(-2, 2, size=3))
    w = _t(rng.uniform(-2, 2, size=6))
    with num_threads(2):
        assert gradcheck(circ, (x, w), eps=1e-6, atol=1e-6, rtol=1e-5)
        prog = circ.program((3,), [(6,)])
        theta = theta_of(prog, x.detach().numpy()[None], [w.detach().numpy()])
        jac_par = _core.jacobian(prog.tape, theta, prog.observables)
        ev_par = _core.expval(prog.tape, theta, prog.observables)
    with num_threads(1):
        jac_ser = _core.jacobian(prog.tape, theta, prog.observables)
        ev_ser = _core.expval(prog.tape, theta, prog.observables)
    np.testing.assert_allclose(ev_par, ev_ser, atol=1e-12)
    np.testing.assert_allclose(jac_par, jac_ser, atol=1e-12)
    np.testing.assert_allclose(
        jac_par, central_fd_jacobian(prog.tape, theta, prog.observables), atol=1e-7
    )


def test_batch_parallel_path_64_samples():
    """4 qubits, batch 64, enough ops to leave the serial path: parallel over samples.
    Every row must equal the same sample run on its own."""
    rng = np.random.default_rng(47)
    circ = layered_circuit(4, n_obs=4)
    layers = 6  # ~ 4 + 6 * 11 ops: 64 * 16 * 70 amplitude updates >> serial threshold
    x = rng.uniform(-2, 2, size=(64, 4))
    w = rng.uniform(-2, 2, size=(layers, 4, 2))
    g = rng.normal(size=(64, 4))
    with num_threads(2):
        xt, wt = _t(x), _t(w)
        y = circ(xt, wt)
        y.backward(torch.from_numpy(g))
        assert gradcheck(
            circ, (_t(x), wt.detach().requires_grad_()), eps=1e-6, atol=1e-6, fast_mode=True
        )
    with num_threads(1):
        for b in range(0, 64, 9):
            xb, wb = _t(x[b]), _t(w)
            yb = circ(xb, wb)
            yb.backward(torch.from_numpy(g[b]))
            torch.testing.assert_close(y[b].detach(), yb.detach(), atol=1e-12, rtol=0)
            torch.testing.assert_close(xt.grad[b], xb.grad, atol=1e-12, rtol=0)
    with num_threads(1):
        xs, ws = _t(x), _t(w)
        circ(xs, ws).backward(torch.from_numpy(g))
    torch.testing.assert_close(wt.grad, ws.grad, atol=1e-10, rtol=0)
    torch.testing.assert_close(xt.grad, xs.grad, atol=1e-12, rtol=0)


# ----------------------------------------------------------------------------------------
# autograd plumbing


def test_no_grad_gives_plain_tensors():
    rng = np.random.default_rng(48)
    circ = layered_circuit(3)
    x, w = _t(rng.uniform(size=(4, 3))), _t(rng.uniform(size=(1, 3, 2)))
    y_grad = circ(x, w)
    assert y_grad.requires_grad and y_grad.grad_fn is not None
    with torch.no_grad():
        y = circ(x, w)
    assert not y.requires_grad and y.grad_fn is None
    torch.testing.assert_close(y, y_grad.detach(), atol=0, rtol=0)
    # tensors that never required grad: no graph either
    y2 = circ(x.detach(), w.detach())
    assert not y2.requires_grad
    torch.testing.assert_close(y2, y, atol=0, rtol=0)


def test_probs_raises_not_implemented_only_on_backward():
    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.ry(x[0], 0)
        q.cnot(0, 1)
        return q.probs()

    x = torch.tensor([[0.3], [1.2]], dtype=F64, requires_grad=True)
    p = circ(x)  # forward must work
    assert p.shape == (2, 4)
    c2 = np.cos(x.detach().numpy()[:, 0] / 2) ** 2
    np.testing.assert_allclose(p.detach().numpy()[:, 0], c2, atol=1e-12)
    np.testing.assert_allclose(p.detach().numpy()[:, 3], 1 - c2, atol=1e-12)
    assert p.requires_grad  # it sits in the graph...
    with pytest.raises(NotImplementedError, match="probs"):
        p.sum().backward()  # ...and refuses to pretend its gradient is zero
    with torch.no_grad():
        assert not circ(x).requires_grad


def test_mixed_expval_and_probs_tuple_gradients():
    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.ry(x[0], 0)
        q.cnot(0, 1)
        return [q.expval(qx.Z(1)), q.probs([0]), q.var(qx.Z(0))]

    x = torch.tensor([[0.3], [1.2]], dtype=F64, requires_grad=True)
    ev, pr, va = circ(x)
    ev.sum().backward(retain_graph=True)
    torch.testing.assert_close(x.grad[:, 0], -torch.sin(x.detach()[:, 0]))
    with pytest.raises(NotImplementedError, match="probs"):
        pr.sum().backward(retain_graph=True)
    with pytest.raises(NotImplementedError, match="var"):
        va.sum().backward()


def test_expval_gradient_matches_closed_form():
    """d/dθ <Z> of RY(θ)|0> is -sin θ; d/dφ <X> of RZ(φ)H|0> is -sin φ."""

    @qx.circuit(n_qubits=2)
    def circ(q, x):
        q.ry(x[0], 0)
        q.h(1)
        q.rz(x[1], 1)
        return [q.expval(qx.Z(0)), q.expval(qx.X(1))]

    x = torch.tensor([[0.1, 0.4], [2.0, -1.3], [-0.7, 3.0]], dtype=F64, requires_grad=True)
    y = circ(x)
    torch.testing.assert_close(y, torch.cos(x.detach()))
    y.sum().backward()
    torch.testing.assert_close(x.grad, -torch.sin(x.detach()))
