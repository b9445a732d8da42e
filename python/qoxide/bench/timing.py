"""Timing helpers: medians of repeats, and the memory-bandwidth yardstick."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def median_seconds(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_seconds(n_qubits: int, repeat: int) -> float:
    """One all-cores copy of a complex128 state of ``n_qubits`` (read + write of 2^n amps):
    the time one memory-bound pass over the state cannot beat on this machine."""
    a = torch.zeros(2**n_qubits, dtype=torch.complex128)
    b = torch.ones(2**n_qubits, dtype=torch.complex128)
    return median_seconds(lambda: a.copy_(b), max(3, repeat), warmup=2)
