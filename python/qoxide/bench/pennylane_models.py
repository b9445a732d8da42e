"""The benchmark workloads written as PennyLane users write them (the anchors)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import torch
from torch import nn


def pennylane_available() -> bool:
    return importlib.util.find_spec("pennylane") is not None


def device_available(name: str) -> bool:
    """Whether ``qml.device(name)`` loads (e.g. qoxide.qubit or lightning.qubit)."""
    if not pennylane_available():
        return False
    import pennylane as qml

    try:
        qml.device(name, wires=1)
    except Exception:  # noqa: BLE001 - any failure means "not usable here"
        return False
    return True


def moons_layer(device: str, diff_method: str) -> nn.Module:
    """The 2-qubit TorchLayer of the hybrid make_moons classifier (PennyLane TorchLayer)."""
    import pennylane as qml

    dev = qml.device(device, wires=2)

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def qnode(inputs, weights):  # noqa: ANN001
        for x in range(2):
            qml.Hadamard(x)
            qml.RZ(2.0 * inputs[..., x], wires=x)
        qml.CNOT(wires=[0, 1])
        qml.RY(weights[0], wires=0)
        qml.RY(weights[1], wires=1)
        return [qml.expval(qml.PauliZ(wires=0)), qml.expval(qml.PauliZ(wires=1))]

    return qml.qnn.TorchLayer(qnode, {"weights": (2,)})


def dressed_qnode(device: str, diff_method: str, n_qubits: int, depth: int) -> Any:
    """The ``quantum_net`` of PennyLane's quantum transfer learning demo (inputs may carry a
    leading batch axis; the input argument is named ``inputs`` so the QNode also works in
    ``qml.qnn.TorchLayer``)."""
    import pennylane as qml

    dev = qml.device(device, wires=n_qubits)

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def quantum_net(inputs, q_weights_flat):  # noqa: ANN001
        q_weights = q_weights_flat.reshape(depth, n_qubits)
        for idx in range(n_qubits):
            qml.Hadamard(wires=idx)
        for idx in range(n_qubits):
            qml.RY(inputs[..., idx], wires=idx)
        for k in range(depth):
            for i in range(0, n_qubits - 1, 2):
                qml.CNOT(wires=[i, i + 1])
            for i in range(1, n_qubits - 1, 2):
                qml.CNOT(wires=[i, i + 1])
            for idx in range(n_qubits):
                qml.RY(q_weights[k, idx], wires=idx)
        return tuple(qml.expval(qml.PauliZ(p)) for p in range(n_qubits))

    return quantum_net


class PennyLaneDressedNet(nn.Module):
    """The DressedQuantumNet of PennyLane's quantum transfer learning demo over a QNode: a
    per-sample loop (as the demo writes it) or one broadcast call for the whole batch."""

    def __init__(
        self, qnode: Any, in_features: int, n_qubits: int, depth: int, out: int, loop: bool
    ):
        super().__init__()
        self.pre_net = nn.Linear(in_features, n_qubits)
        self.q_params = nn.Parameter(0.01 * torch.randn(depth * n_qubits))
        self.post_net = nn.Linear(n_qubits, out)
        self.qnode, self.loop = qnode, loop

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        q_in = torch.tanh(self.pre_net(input_features)) * np.pi / 2.0
        if self.loop:
            q_out = torch.stack([torch.hstack(self.qnode(e, self.q_params)) for e in q_in])
        else:
            q_out = torch.stack(self.qnode(q_in, self.q_params), dim=-1)
        return self.post_net(q_out.to(input_features.dtype))


def layered_tape(n: int, w: np.ndarray) -> Any:
    """The layered RX/RY/RZ + CNOT-ring circuit as a QuantumScript, every angle trainable."""
    import pennylane as qml

    ops = []
    for layer in range(w.shape[0]):
        for i in range(n):
            ops += [qml.RX(w[layer, i, 0], i), qml.RY(w[layer, i, 1], i), qml.RZ(w[layer, i, 2], i)]
        for i in range(n):
            ops.append(qml.CNOT([i, (i + 1) % n]))
    tape = qml.tape.QuantumScript(ops, [qml.expval(qml.PauliZ(i)) for i in range(n)])
    tape.trainable_params = list(range(len(tape.get_parameters(trainable_only=False))))
    return tape
