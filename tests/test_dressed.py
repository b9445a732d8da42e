"""qx.nn.DressedQuantumNet: the seeds' dressed quantum circuit."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from qoxide.nn import DressedQuantumNet
from torch import nn


def test_parameters_follow_the_seed_names_and_shapes():
    torch.manual_seed(0)
    net = DressedQuantumNet(512, 4, 6, 2)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "pre_net.weight": (4, 512),
        "pre_net.bias": (4,),
        "q_params": (24,),
        "post_net.weight": (2, 4),
        "post_net.bias": (2,),
    }
    assert float(net.q_params.detach().abs().max()) < 0.1  # q_delta * randn with q_delta = 0.01


def test_forward_equals_the_seed_pennylane_model():
    qml = pytest.importorskip("pennylane")
    torch.manual_seed(1)
    n_qubits, depth = 4, 3
    net = DressedQuantumNet(6, n_qubits, depth, 2, q_delta=0.5).double()
    dev = qml.device("default.qubit", wires=n_qubits)

    @qml.qnode(dev, interface="torch")
    def quantum_net(q_input_features, q_weights_flat):
        q_weights = q_weights_flat.reshape(depth, n_qubits)
        for idx in range(n_qubits):
            qml.Hadamard(wires=idx)
        for idx, element in enumerate(q_input_features):
            qml.RY(element, wires=idx)
        for k in range(depth):
            for i in range(0, n_qubits - 1, 2):
                qml.CNOT(wires=[i, i + 1])
            for i in range(1, n_qubits - 1, 2):
                qml.CNOT(wires=[i, i + 1])
            for idx, element in enumerate(q_weights[k]):
                qml.RY(element, wires=idx)
        return tuple(qml.expval(qml.PauliZ(p)) for p in range(n_qubits))

    x = torch.randn(5, 6, dtype=torch.float64)
    q_in = torch.tanh(net.pre_net(x)) * np.pi / 2.0
    q_out = torch.stack([torch.hstack(quantum_net(e, net.q_params)) for e in q_in])
    want = net.post_net(q_out)
    torch.testing.assert_close(net(x), want, atol=1e-12, rtol=0)


def test_gradcheck_float64_through_inputs_and_all_parameters():
    torch.manual_seed(2)
    net = DressedQuantumNet(3, 3, 2, 2, q_delta=0.7).double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in net.parameters())

    def f(x, *ps):
        return torch.func.functional_call(net, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_float32_and_float64_agree():
    torch.manual_seed(3)
    net = DressedQuantumNet(5, 4, 6, 3, q_delta=0.3)
    x = torch.randn(7, 5)
    y32 = net(x)
    assert y32.dtype == torch.float32
    y64 = net.double()(x.double())
    torch.testing.assert_close(y32.double(), y64, atol=1e-5, rtol=0)


def test_trains_to_high_accuracy_on_a_tiny_problem_quickly():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    net = DressedQuantumNet(8, 4, 2, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(40):
        for b in range(0, 128, 16):
            opt.zero_grad()
            loss = loss_fn(net(x[b : b + 16]), y[b : b + 16])
            loss.backward()
            opt.step()
    elapsed = time.perf_counter() - start
    acc = (net(x).argmax(1) == y).double().mean().item()
    assert acc > 0.9, acc
    assert elapsed < 10.0, elapsed


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_qubits"):
        DressedQuantumNet(4, 0, 2, 2)
    with pytest.raises(ValueError, match="depth"):
        DressedQuantumNet(4, 2, -1, 2)
    net = DressedQuantumNet(4, 2, 1, 2)
    with pytest.raises(RuntimeError):
        net(torch.randn(3, 5))  # wrong feature count: torch's Linear says so
    assert torch.isfinite(net(torch.randn(3, 4))).all()
