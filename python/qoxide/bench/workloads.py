"""The benchmark workloads. Each returns rows: one per implementation and case, with the
median time and ``qoxide_speedup`` = that time / qoxide native's time in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import qoxide as qx

from .. import _core
from . import pennylane_models as plm
from .timing import copy_seconds, median_seconds

Row = dict[str, Any]
QOXIDE = "qoxide"


def adaptive_seconds(fn: Callable[[], object], budget: float) -> float:
    """Median time of ``fn`` with as many repeats as fit in ``budget`` seconds (3..200); a
    call slower than half the budget is timed once (its first run, after compilation)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > budget / 2:
        return median_seconds(fn, 1, warmup=0) if first < budget else first
    return median_seconds(fn, min(200, max(3, int(budget / max(first, 1e-6)))), warmup=0)


def _rows(workload: str, case: str, times: dict[str, float], **extra: dict[str, Any]) -> list[Row]:
    base = times[QOXIDE]
    rows = []
    for impl, t in times.items():
        row: Row = {
            "workload": workload,
            "case": case,
            "impl": impl,
            "seconds": t,
            "qoxide_speedup": t / base,
        }
        row.update(extra.get(impl, {}))
        rows.append(row)
    return rows


# (a) dressed net forward+backward ----------------------------------------------------------

N_QUBITS, DEPTH, IN_FEATURES, OUT = 4, 6, 512, 2


def dressed_models(pl: bool, qoxide_qubit: bool) -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {
        QOXIDE: qx.nn.DressedQuantumNet(IN_FEATURES, N_QUBITS, DEPTH, OUT)
    }
    if not pl:
        return models
    shape = (IN_FEATURES, N_QUBITS, DEPTH, OUT)
    specs = [
        ("default.qubit", "backprop", False),
        ("lightning.qubit", "adjoint", True),
        ("lightning.qubit", "adjoint", False),
    ]
    if qoxide_qubit:
        specs.append(("qoxide.qubit", "adjoint", False))
    for dev, diff, loop in specs:
        name = f"{dev} {diff}, {'per-sample loop' if loop else 'broadcast'}"
        qnode = plm.dressed_qnode(dev, diff, N_QUBITS, DEPTH)
        models[name] = plm.PennyLaneDressedNet(qnode, *shape, loop=loop)
    return models


def bench_dressed(batches: list[int], budget: float, pl: bool, qoxide_qubit: bool) -> list[Row]:
    rows: list[Row] = []
    loss_fn = nn.CrossEntropyLoss()
    for batch in batches:
        torch.manual_seed(0)
        x, y = torch.randn(batch, IN_FEATURES), torch.randint(0, OUT, (batch,))
        times = {}
        for name, model in dressed_models(pl, qoxide_qubit).items():

            def step(model: nn.Module = model, x: torch.Tensor = x, y: torch.Tensor = y) -> None:
                model.zero_grad()
                loss_fn(model(x), y).backward()

            times[name] = adaptive_seconds(step, budget)
        rows += _rows("dressed fwd+bwd", f"batch {batch}", times)
    return rows


# (b) hybrid make_moons classifier training (PennyLane TorchLayer) ---------------------------


def bench_moons(epochs: int, pl: bool, qoxide_qubit: bool) -> list[Row]:
    from ..demo import qoxide_layer, train_moons

    makers: dict[str, Callable[[], nn.Module]] = {QOXIDE: qoxide_layer}
    if pl:
        makers["default.qubit backprop"] = lambda: plm.moons_layer("default.qubit", "backprop")
        makers["lightning.qubit adjoint"] = lambda: plm.moons_layer("lightning.qubit", "adjoint")
        if qoxide_qubit:
            makers["qoxide.qubit adjoint"] = lambda: plm.moons_layer("qoxide.qubit", "adjoint")
    times, extra = {}, {}
    for name, make in makers.items():
        runs = [
            train_moons(make, epochs=epochs, progress=False, log=None)
            for _ in range(3 if name == QOXIDE else 1)
        ]
        times[name] = float(np.median([r["seconds"] for r in runs]))
        extra[name] = {"accuracy": runs[0]["accuracy"], "final_loss": runs[0]["losses"][-1]}
    return _rows("moons training", f"{epochs} epochs", times, **extra)


# (c) layered RX/RY/RZ + CNOT ring: forward and adjoint Jacobian -------------------------------

LAYERS = 4


def layered_circuit(n: int) -> qx.QuantumFunction:
    @qx.circuit(n_qubits=n, inputs=None)
    def layered(q, w):  # noqa: ANN001
        for layer in range(LAYERS):
            for i in range(n):
                q.rx(w[layer, i, 0], i)
                q.ry(w[layer, i, 1], i)
                q.rz(w[layer, i, 2], i)
            for i in range(n):
                q.cnot(i, (i + 1) % n)
        return [q.expval(qx.Z(i)) for i in range(n)]

    return layered


def _pl_devices(n: int, qoxide_qubit: bool, default_max: int = 16) -> dict[str, Any]:
    import pennylane as qml

    devices = {"lightning.qubit": qml.device("lightning.qubit", wires=n)}
    if n <= default_max:
        devices["default.qubit"] = qml.device("default.qubit", wires=n)
    if qoxide_qubit:
        devices["qoxide.qubit"] = qml.device("qoxide.qubit", wires=n)
    return devices


def bench_layered_forward(
    sizes: list[int], budget: float, pl: bool, qoxide_qubit: bool
) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(1)
    for n in sorted(sizes):
        w = rng.uniform(0, 2 * np.pi, (LAYERS, n, 3))
        f = layered_circuit(n)
        times = {QOXIDE: adaptive_seconds(lambda f=f, w=w: f(w), budget)}
        if pl:
            tape = plm.layered_tape(n, w)
            for name, dev in _pl_devices(n, qoxide_qubit).items():
                times[name] = adaptive_seconds(lambda d=dev, t=tape: d.execute(t), budget)
        t_copy = copy_seconds(n, 5)
        gates = LAYERS * 4 * n  # unfused gate passes over the state
        extra = {k: {"bw_fraction": gates * t_copy / t, "copy_s": t_copy} for k, t in times.items()}
        rows += _rows("layered forward", f"{n} qubits", times, **extra)
    return rows


def bench_layered_jacobian(
    sizes: list[int], budget: float, pl: bool, qoxide_qubit: bool
) -> list[Row]:
    rows: list[Row] = []
    rng = np.random.default_rng(1)
    for n in sorted(sizes):
        w = rng.uniform(0, 2 * np.pi, (LAYERS, n, 3))
        prog = layered_circuit(n).program(None, [w.shape])
        theta = prog.theta_numpy(None, w.reshape(-1), 1, np.float64)
        times = {
            QOXIDE: adaptive_seconds(
                lambda p=prog, t=theta: _core.jacobian(p.tape, t, p.observables), budget
            )
        }
        if pl:
            from pennylane.devices import ExecutionConfig

            cfg = ExecutionConfig(gradient_method="adjoint")
            tape = plm.layered_tape(n, w)
            ours = _core.jacobian(prog.tape, theta, prog.observables)[0]
            for name, dev in _pl_devices(n, qoxide_qubit, default_max=0).items():
                theirs = np.array(dev.compute_derivatives(tape, cfg))
                if not np.allclose(ours, theirs, atol=1e-8):
                    raise AssertionError(f"adjoint Jacobians of qoxide and {name} disagree")
                times[name] = adaptive_seconds(
                    lambda d=dev, t=tape, c=cfg: d.compute_derivatives(t, c), budget
                )
        rows += _rows("adjoint jacobian", f"{n} qubits", times)
    return rows
