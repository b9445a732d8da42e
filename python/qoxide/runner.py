"""One measurement runner for `@qx.circuit` and the PennyLane device: a list of requests
on one native tape becomes one native call per kind (all expvals together, all variances
together, the final state once), and one batched result per request.

Results are numpy arrays with the batch first: expval/var ``[B]``, probs ``[B, 2^k]``,
state ``[B, 2^n]``, sample ``[B, shots, k]`` (uint8 bits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _core


@dataclass(frozen=True)
class Request:
    """One measurement: ``kind`` is "expval", "var", "probs", "state" or "sample"."""

    kind: str
    obs: _core.Observable | None = None  # expval, var
    wires: tuple[int, ...] = ()  # probs, sample (register indices)
    shots: int = 0  # sample
    seed: int = 0  # sample


def expval(obs: _core.Observable) -> Request:
    return Request("expval", obs=obs)


def var(obs: _core.Observable) -> Request:
    return Request("var", obs=obs)


def probs(wires: Sequence[int]) -> Request:
    return Request("probs", wires=tuple(wires))


def state() -> Request:
    return Request("state")


def sample(wires: Sequence[int], shots: int, seed: int) -> Request:
    return Request("sample", wires=tuple(wires), shots=shots, seed=seed)


def run(
    tape: _core.Tape,
    theta: np.ndarray,
    init: np.ndarray | None,
    requests: Sequence[Request],
) -> list[np.ndarray]:
    """Evaluate every request on the batch ``theta`` [B, P] (initial state ``init``)."""
    results: list[np.ndarray | None] = [None] * len(requests)
    for kind, fn in (("expval", _core.expval), ("var", _core.var)):
        idx = [k for k, r in enumerate(requests) if r.kind == kind]
        if idx:
            cols = fn(tape, theta, [requests[k].obs for k in idx], init)
            for j, k in enumerate(idx):
                results[k] = cols[:, j]
    final = None  # computed at most once
    for k, r in enumerate(requests):
        if r.kind == "probs":
            results[k] = _core.probs(tape, theta, list(r.wires), init)
        elif r.kind == "state":
            final = _core.state(tape, theta, init) if final is None else final
            results[k] = final
        elif r.kind == "sample":
            results[k] = _core.sample(tape, theta, list(r.wires), r.shots, r.seed, init)
        elif r.kind not in ("expval", "var"):
            raise ValueError(f"unknown measurement kind {r.kind!r}")
    return results  # type: ignore[return-value]
