"""Amplitude embedding: a feature vector becomes the amplitudes of (some of) the wires.

PennyLane's convention: ``2^k`` features on ``k`` wires (padded with ``pad_with`` when
shorter, divided by their norm when ``normalize``), the other wires start in |0>, wire 0 is
the most significant bit. Embedding circuit *inputs* gives one initial state per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def check_feature_count(n_features: int, n_wires: int, pad_with: complex | None) -> None:
    """``n_features`` fit ``n_wires`` (2^k of them, or fewer with ``pad_with``)."""
    size = 2**n_wires
    if n_features > size:
        raise ValueError(
            f"AmplitudeEmbedding on {n_wires} wires takes at most {size} features, got {n_features}"
        )
    if n_features < size and pad_with is None:
        raise ValueError(
            f"AmplitudeEmbedding on {n_wires} wires needs {size} features, got {n_features}; "
            "pass pad_with to pad the rest"
        )


def embed(
    features: np.ndarray,
    wires: tuple[int, ...],
    n_qubits: int,
    pad_with: complex | None = None,
    normalize: bool = False,
) -> np.ndarray:
    """States [B, 2^n] (complex128) embedding each row of ``features`` [B, F] on ``wires``."""
    f = np.asarray(features)
    f = f.reshape(1, -1) if f.ndim == 1 else f
    size = 2 ** len(wires)
    check_feature_count(f.shape[1], len(wires), pad_with)
    if f.shape[1] < size:
        pad = np.full((f.shape[0], size - f.shape[1]), pad_with, dtype=np.complex128)
        f = np.concatenate([f.astype(np.complex128), pad], axis=1)
    f = f.astype(np.complex128)
    norms = np.linalg.norm(f, axis=1)
    if normalize:
        if np.any(norms == 0):
            raise ValueError("AmplitudeEmbedding cannot normalise an all-zero feature vector")
        f = f / norms[:, None]
    elif not np.allclose(norms, 1.0, atol=1e-6):
        bad = norms[~np.isclose(norms, 1.0, atol=1e-6)][0]
        raise ValueError(
            f"AmplitudeEmbedding features must have norm 1 (got {bad:.6g}); "
            "pass normalize=True to normalise them"
        )
    batch = f.shape[0]
    # the embedded wires' amplitudes, then |0> on the rest; axes are then put in wire order
    rest = [w for w in range(n_qubits) if w not in wires]
    full = np.zeros((batch, size, 2 ** len(rest)), dtype=np.complex128)
    full[:, :, 0] = f
    full = full.reshape((batch,) + (2,) * n_qubits)
    order = list(wires) + rest  # axis j + 1 of `full` is wire order[j]
    perm = [0] + [1 + order.index(w) for w in range(n_qubits)]
    return np.ascontiguousarray(full.transpose(perm).reshape(batch, 2**n_qubits))


@dataclass(frozen=True)
class InputEmbedding:
    """Amplitude embedding of circuit inputs: the initial state is built per sample from
    the flattened input columns ``columns``."""

    columns: tuple[int, ...]
    wires: tuple[int, ...]
    n_qubits: int
    pad_with: complex | None
    normalize: bool

    def states(self, x: np.ndarray, complex_dtype: type) -> np.ndarray:
        """Initial states [B, 2^n] for the batch of flattened inputs ``x`` [B, F]."""
        f = np.asarray(x)[:, list(self.columns)]
        return embed(f, self.wires, self.n_qubits, self.pad_with, self.normalize).astype(
            complex_dtype, copy=False
        )
