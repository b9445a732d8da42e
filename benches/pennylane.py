"""qoxide.qubit against PennyLane's own simulators, timed in the same run.

    python benches/pennylane.py [--quick] [--repeats N] [--budget SECONDS]

1. The hybrid make_moons classifier (Linear-ReLU-Linear-Tanh, 2-qubit PennyLane
   TorchLayer, Linear-ReLU-Linear-Tanh; SGD lr 0.2, L1 loss, batch 5, 6 epochs, 200 samples) trained
   with default.qubit (backprop), lightning.qubit (adjoint) and qoxide.qubit (adjoint).
2. One broadcast TorchLayer batch (64 inputs) through the 4-qubit depth-6 dressed circuit,
   forward + backward, on the same three devices.

Each figure is the median of up to ``--repeats`` runs (fewer when an implementation's runs
exceed ``--budget`` seconds); ratios are anchor time / qoxide.qubit time (>1: qoxide faster).

lightning.qubit parallelises with OpenMP; on a small machine its thread pool contends with
torch's and it can run several times slower. ``OMP_NUM_THREADS=1 python benches/pennylane.py``
gives it (and default.qubit) the single-threaded setting where they are fastest here.
"""

# ruff: noqa: E402 - the import path must be fixed before PennyLane is imported (below)
from __future__ import annotations

import sys
from pathlib import Path

# This script is named like the package it benchmarks: drop its own folder from the import
# path so that `import pennylane` finds PennyLane, not this file.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pennylane as qml
import qoxide as qx
import torch
from qoxide.bench.pennylane_models import device_available, dressed_qnode, moons_layer
from qoxide.demo import train_moons

IMPLEMENTATIONS = [
    ("default.qubit", "backprop"),
    ("lightning.qubit", "adjoint"),
    ("qoxide.qubit", "adjoint"),
]
N_QUBITS, DEPTH = 4, 6


def dressed_layer(device: str, diff_method: str) -> torch.nn.Module:
    """The 4-qubit dressed quantum circuit (qoxide.bench's QNode) as a flat-weight TorchLayer."""
    torch.manual_seed(0)
    qnode = dressed_qnode(device, diff_method, N_QUBITS, DEPTH)
    return qml.qnn.TorchLayer(qnode, {"q_weights_flat": (DEPTH * N_QUBITS,)})


def repeat_median(run: Callable[[], float], repeats: int, budget: float) -> tuple[float, int]:
    """Median of up to ``repeats`` timings; stops early once ``budget`` seconds are spent."""
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget):
        times.append(run())
    return statistics.median(times), len(times)


def bench_moons(epochs: int, repeats: int, budget: float) -> dict[str, tuple[float, int, float]]:
    """Training seconds (median), runs, final accuracy (last run) per implementation."""
    out = {}
    for device, method in IMPLEMENTATIONS:
        layer = partial(moons_layer, device, method)
        runs: list[dict] = []
        while len(runs) < repeats and (not runs or sum(r["seconds"] for r in runs) < budget):
            runs.append(train_moons(layer, epochs=epochs, progress=False, log=None))
        seconds = statistics.median(r["seconds"] for r in runs)
        out[device] = (seconds, len(runs), runs[-1]["accuracy"])
        print(f"  moons  {device:16s} {seconds:9.3f} s  ({len(runs)} runs)")
    return out


def bench_broadcast(batch: int, repeats: int, budget: float) -> dict[str, tuple[float, int]]:
    """Forward + backward of one broadcast TorchLayer batch, seconds (median), runs."""
    out = {}
    x = torch.rand(batch, N_QUBITS, dtype=torch.float64) * np.pi
    for device, method in IMPLEMENTATIONS:
        layer = dressed_layer(device, method).double()
        inputs = x.clone().requires_grad_()

        def step(layer: torch.nn.Module = layer, inputs: torch.Tensor = inputs) -> float:
            t0 = time.perf_counter()
            layer(inputs).sum().backward()
            return time.perf_counter() - t0

        step()  # warm-up: first-call imports and caches
        seconds, runs = repeat_median(step, repeats, budget)
        out[device] = (seconds, runs)
        print(f"  batch  {device:16s} {seconds * 1e3:9.3f} ms ({runs} runs)")
    return out


def report(title: str, seconds: dict[str, float]) -> None:
    ours = seconds["qoxide.qubit"]
    print(f"\n{title}")
    print(f"  {'device':16s} {'seconds':>10s} {'anchor / qoxide.qubit':>22s}")
    for device, s in seconds.items():
        ratio = "" if device == "qoxide.qubit" else f"{s / ours:21.1f}x"
        print(f"  {device:16s} {s:10.4f} {ratio}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat: a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="timings per implementation")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per implementation")
    parser.add_argument("--batch", type=int, default=64, help="broadcast batch size")
    args = parser.parse_args(argv)
    epochs, repeats = (1, 1) if args.quick else (6, args.repeats)
    missing = [d for d, _ in IMPLEMENTATIONS if not device_available(d)]
    if missing:
        parser.error(
            f"devices not available: {', '.join(missing)} (pip install pennylane-lightning)"
        )

    print(
        f"qoxide {qx.__version__}, pennylane {qml.__version__}, torch {torch.__version__}; "
        f"threads: torch {torch.get_num_threads()}, qoxide {qx.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(f"make_moons model, {epochs} epoch(s); broadcast dressed layer, batch {args.batch}")
    moons = bench_moons(epochs, repeats, args.budget)
    # one batch is cheap: at least 10 timings unless --quick
    broadcast = bench_broadcast(
        args.batch, repeats if args.quick else max(repeats, 10), args.budget
    )

    report(
        f"moons training ({epochs} epochs, batch 5): seconds",
        {d: s for d, (s, _, _) in moons.items()},
    )
    print("  final accuracy: " + ", ".join(f"{d} {a:.3f}" for d, (_, _, a) in moons.items()))
    report(
        f"broadcast TorchLayer, {N_QUBITS} qubits depth {DEPTH}, batch {args.batch}, "
        "forward + backward: seconds",
        {d: s for d, (s, _) in broadcast.items()},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
