"""Circuit templates: PennyLane's definitions, as functions of the recorder ``q``.

    @qx.circuit(n_qubits=4)
    def net(q, x, w):
        AngleEmbedding(q, x, rotation="Y")
        StronglyEntanglingLayers(q, w)
        return [q.expval(qx.Z(i)) for i in range(4)]

    qx.nn.QuantumLayer(net, {"w": StronglyEntanglingLayers.shape(n_layers=2, n_wires=4)})

Features and weights are the symbolic arrays the circuit function receives (or numbers);
``wires`` defaults to the first wires of the register.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..recorder import Recorder

Wires = Sequence[int] | None

_ROTATIONS = {"X": "RX", "Y": "RY", "Z": "RZ", "RX": "RX", "RY": "RY", "RZ": "RZ"}


def _wires(q: Recorder, wires: Wires, needed: int, what: str) -> list[int]:
    ws = list(range(needed)) if wires is None else [int(w) for w in wires]
    if wires is None and needed > q.n_qubits:
        raise ValueError(f"{what} needs {needed} wires; the register has {q.n_qubits}")
    q.check_wires(ws, what)
    return ws


def _rotation(rotation: str) -> str:
    try:
        return _ROTATIONS[rotation.upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"rotation must be 'X', 'Y' or 'Z', got {rotation!r}") from None


def _array(values: Any, ndim: int, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=object)
    if a.ndim != ndim:
        raise ValueError(f"{what} must have {ndim} dimension(s), got shape {a.shape}")
    return a


def AngleEmbedding(q: Recorder, features: Any, wires: Wires = None, rotation: str = "X") -> None:
    """One rotation R(features[i]) on wire i (``rotation`` X, Y or Z); at most one feature
    per wire."""
    f = _array(features, 1, "AngleEmbedding features")
    ws = _wires(q, wires, len(f), "AngleEmbedding")
    if len(f) > len(ws):
        raise ValueError(f"AngleEmbedding: {len(f)} features for {len(ws)} wires")
    gate = _rotation(rotation)
    for value, w in zip(f, ws, strict=False):
        q.op(gate, w, [value])


def AmplitudeEmbedding(
    q: Recorder,
    features: Any,
    wires: Wires = None,
    pad_with: complex | None = None,
    normalize: bool = False,
) -> None:
    """The features as the amplitudes of ``wires`` (all wires by default); must come first.
    See :meth:`Recorder.amplitude_embedding`."""
    q.amplitude_embedding(features, wires, pad_with=pad_with, normalize=normalize)


def _cnot_ring(q: Recorder, ws: list[int]) -> None:
    """CNOT(w_i, w_{i+1 mod n}) around the ring; two wires get one CNOT, one wire none."""
    n = len(ws)
    if n == 2:
        q.cnot(ws[0], ws[1])
    elif n > 2:
        for i in range(n):
            q.cnot(ws[i], ws[(i + 1) % n])


def BasicEntanglerLayers(
    q: Recorder, weights: Any, wires: Wires = None, rotation: str = "X"
) -> None:
    """Per layer: R(weights[l, i]) on every wire, then a closed ring of CNOTs
    (one CNOT for two wires). ``weights`` has shape [n_layers, n_wires]."""
    w = _array(weights, 2, "BasicEntanglerLayers weights")
    ws = _wires(q, wires, w.shape[1], "BasicEntanglerLayers")
    if w.shape[1] != len(ws):
        raise ValueError(f"BasicEntanglerLayers weights {w.shape} need {len(ws)} columns")
    gate = _rotation(rotation)
    for layer in w:
        for value, wire in zip(layer, ws, strict=True):
            q.op(gate, wire, [value])
        _cnot_ring(q, ws)


def _basic_shape(n_layers: int, n_wires: int) -> tuple[int, int]:
    return (n_layers, n_wires)


def StronglyEntanglingLayers(
    q: Recorder, weights: Any, wires: Wires = None, ranges: Sequence[int] | None = None
) -> None:
    """Per layer l: Rot(weights[l, i, 0..2]) on every wire, then CNOT(w_i, w_{(i+r_l) mod n})
    for every i. Default ranges r_l = (l mod (n−1)) + 1. ``weights``: [n_layers, n_wires, 3]."""
    w = _array(weights, 3, "StronglyEntanglingLayers weights")
    if w.shape[2] != 3:
        raise ValueError(f"StronglyEntanglingLayers weights need shape [L, n, 3], got {w.shape}")
    ws = _wires(q, wires, w.shape[1], "StronglyEntanglingLayers")
    n = len(ws)
    if w.shape[1] != n:
        raise ValueError(f"StronglyEntanglingLayers weights {w.shape} need {n} wires")
    n_layers = w.shape[0]
    if ranges is None:
        ranges = [(layer % (n - 1)) + 1 for layer in range(n_layers)] if n > 1 else [0] * n_layers
    ranges = [int(r) for r in ranges]
    if len(ranges) != n_layers:
        raise ValueError(f"ranges has {len(ranges)} entries for {n_layers} layers")
    if n > 1 and any(not 0 < r < n for r in ranges):
        raise ValueError(f"ranges must lie in 1..{n - 1} for {n} wires, got {ranges}")
    for layer, r in zip(w, ranges, strict=True):
        for i, wire in enumerate(ws):
            q.rot(layer[i, 0], layer[i, 1], layer[i, 2], wire)
        if n > 1:
            for i in range(n):
                q.cnot(ws[i], ws[(i + r) % n])


def _strong_shape(n_layers: int, n_wires: int) -> tuple[int, int, int]:
    return (n_layers, n_wires, 3)


BasicEntanglerLayers.shape = _basic_shape  # type: ignore[attr-defined]
StronglyEntanglingLayers.shape = _strong_shape  # type: ignore[attr-defined]


# dressed-circuit layers (PennyLane's quantum transfer learning demo) ----------------------


def h_layer(q: Recorder, wires: Wires = None, n_wires: int | None = None) -> None:
    """A Hadamard on every wire: |+>^n, unbiased between |0> and |1>."""
    for w in _wires(q, wires, q.n_qubits if n_wires is None else n_wires, "h_layer"):
        q.h(w)


def ry_layer(q: Recorder, angles: Any, wires: Wires = None) -> None:
    """RY(angles[i]) on wire i."""
    a = _array(angles, 1, "ry_layer angles")
    for value, w in zip(a, _wires(q, wires, len(a), "ry_layer"), strict=True):
        q.ry(value, w)


def entangling_layer(q: Recorder, wires: Wires = None) -> None:
    """CNOTs on pairs (0,1), (2,3), ... then on the shifted pairs (1,2), (3,4), ..."""
    ws = _wires(q, wires, q.n_qubits, "entangling_layer")
    for i in range(0, len(ws) - 1, 2):
        q.cnot(ws[i], ws[i + 1])
    for i in range(1, len(ws) - 1, 2):
        q.cnot(ws[i], ws[i + 1])
