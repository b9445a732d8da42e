"""`DressedQuantumNet`: the dressed quantum net of PennyLane's quantum transfer learning demo.

Linear(in_features → n_qubits) → tanh · π/2 → H layer, RY(x) embedding, ``depth`` ×
(entangling layer + RY(w) layer) → ⟨Z_i⟩ → Linear(n_qubits → out_features).

Parameter names follow the demo (``pre_net``, ``q_params`` flat [depth · n_qubits],
``post_net``), so a state_dict saved from the demo's PennyLane model loads here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..circuit import QuantumFunction, circuit
from ..observables import Z
from ..recorder import Recorder
from .templates import entangling_layer, h_layer, ry_layer


def dressed_circuit(n_qubits: int, depth: int) -> QuantumFunction:
    """The demo's variational circuit: ``f(x[n_qubits], q_params[depth * n_qubits])``."""

    @circuit(n_qubits=n_qubits)
    def quantum_net(q: Recorder, q_input_features, q_weights_flat):  # noqa: ANN001
        q_weights = q_weights_flat.reshape(depth, n_qubits)
        h_layer(q)
        ry_layer(q, q_input_features)
        for k in range(depth):
            entangling_layer(q)
            ry_layer(q, q_weights[k])
        return [q.expval(Z(i)) for i in range(n_qubits)]

    return quantum_net


class DressedQuantumNet(nn.Module):
    """Args:
    in_features: classical features per sample (512 for the demo's ResNet18 head).
    n_qubits: qubits of the variational circuit (4 in the demo).
    depth: variational layers (6 in the demo).
    out_features: outputs, e.g. class logits (2 in the demo).
    q_delta: spread of the initial quantum weights, ``q_delta * randn`` (0.01 in the demo).
    """

    def __init__(
        self,
        in_features: int,
        n_qubits: int,
        depth: int,
        out_features: int,
        q_delta: float = 0.01,
    ):
        super().__init__()
        for name, v in (
            ("in_features", in_features),
            ("n_qubits", n_qubits),
            ("out_features", out_features),
        ):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(depth, int) or depth < 0:
            raise ValueError(f"depth must be a non-negative integer, got {depth!r}")
        self.n_qubits, self.depth = n_qubits, depth
        self.pre_net = nn.Linear(in_features, n_qubits)
        self.q_params = nn.Parameter(q_delta * torch.randn(depth * n_qubits))
        self.post_net = nn.Linear(n_qubits, out_features)
        self.circuit = dressed_circuit(n_qubits, depth)

    def quantum(self, q_in: torch.Tensor) -> torch.Tensor:
        """⟨Z_i⟩ [B, n_qubits] of the circuit for the angles ``q_in`` [B, n_qubits]."""
        return self.circuit(q_in, self.q_params.to(q_in.dtype))

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        q_in = torch.tanh(self.pre_net(input_features)) * (math.pi / 2.0)
        return self.post_net(self.quantum(q_in).to(input_features.dtype))

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, depth={self.depth}"
