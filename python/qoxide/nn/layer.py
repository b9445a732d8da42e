"""`QuantumLayer`: an nn.Module over a recorded circuit, like PennyLane's TorchLayer.

@qx.circuit(n_qubits=4)
def net(q, x, w):
    ...
    return [q.expval(qx.Z(i)) for i in range(4)]

layer = qx.nn.QuantumLayer(net, weight_shapes={"w": (6, 4)}, seed=0)
y = layer(torch.randn(64, 4))        # [64, 4]: one native call forward, one adjoint sweep back
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..circuit import QuantumFunction


def _uniform_2pi(t: torch.Tensor, generator: torch.Generator | None) -> None:
    """PennyLane TorchLayer's default: U(0, 2π)."""
    with torch.no_grad():
        t.uniform_(0.0, 2 * math.pi, generator=generator)


def _weight_shape(name: str, value: object) -> tuple[int, ...]:
    """``weight_shapes[name]`` as a tuple of positive ints (an int n means (n,)); anything
    else (0, 1.5, -1, "3", True) is refused naming the weight and the value."""

    def dim(v: object) -> int | None:
        ok = isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
        return int(v) if ok and v > 0 else None  # type: ignore[operator]

    dims = [value] if not isinstance(value, (tuple, list)) else list(value)
    shape = tuple(dim(v) for v in dims)
    if None in shape:
        raise ValueError(
            f"weight_shapes[{name!r}] must be a positive int or a tuple of positive ints "
            f"(the shape of weight {name!r}), got {value!r}"
        )
    return shape  # type: ignore[return-value]


class QuantumLayer(nn.Module):
    """A quantum circuit as a layer: the circuit's input argument takes the layer input,
    every other argument is an ``nn.Parameter`` named as in ``weight_shapes``.

    Args:
        circuit: a ``@qx.circuit`` function whose first argument after ``q`` is the input.
        weight_shapes: ``{argument name: shape}`` for every weight argument.
        init: ``init(tensor, generator)`` filling a weight in place; default U(0, 2π).
        seed: seed for the default/``init`` generator, for reproducible weights.
        dtype: parameter dtype (default: torch's default dtype). Inputs run in their own
            float dtype; ``.to(torch.float64)`` converts the parameters as usual.
    """

    def __init__(
        self,
        circuit: QuantumFunction,
        weight_shapes: Mapping[str, int | Sequence[int]],
        init: Callable[[torch.Tensor, torch.Generator | None], Any] | None = None,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        if not isinstance(circuit, QuantumFunction):
            raise TypeError("QuantumLayer needs a @qoxide.circuit function")
        if circuit.input_index is None:
            raise ValueError(
                "QuantumLayer's circuit needs an input argument (inputs='auto' or a name)"
            )
        names = [n for i, n in enumerate(circuit.arg_names) if i != circuit.input_index]
        missing = [n for n in names if n not in weight_shapes]
        extra = [n for n in weight_shapes if n not in names]
        if missing or extra:
            raise ValueError(
                f"weight_shapes must name exactly the circuit's weight arguments {names}; "
                f"missing {missing}, unknown {extra}"
            )
        self.circuit = circuit
        self.weight_names = names
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        fill = init or _uniform_2pi
        for n in names:
            shape = _weight_shape(n, weight_shapes[n])
            p = nn.Parameter(torch.empty(shape, dtype=dtype or torch.get_default_dtype()))
            fill(p, gen)
            self.register_parameter(n, p)

    @classmethod
    def from_pennylane(cls, layer: Any) -> QuantumLayer:
        """A ``qml.qnn.TorchLayer`` as a native layer (see ``qoxide.from_pennylane``)."""
        import pennylane as qml

        from ..pennylane_convert import from_pennylane

        if not isinstance(layer, qml.qnn.TorchLayer):
            raise TypeError(
                "QuantumLayer.from_pennylane takes a qml.qnn.TorchLayer, "
                f"got {type(layer).__name__}; use qoxide.from_pennylane for a QNode"
            )
        return from_pennylane(layer)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # _parameters directly: Module.__getattr__ costs about 1 us per weight and call
        # (torch.func.functional_call swaps tensors in this dict too)
        args: list[Any] = [self._parameters[n] for n in self.weight_names]
        args.insert(self.circuit.input_index, inputs)
        return self.circuit(*args)

    def extra_repr(self) -> str:
        shapes = ", ".join(f"{n}={tuple(getattr(self, n).shape)}" for n in self.weight_names)
        return f"circuit={self.circuit.__name__}, n_qubits={self.circuit.n_qubits}, {shapes}"
