"""Core benchmark: qoxide against PennyLane anchors, as ratios measured in the same run.

    python benches/core.py [--quick]

Workloads
  dressed/*     seed dressed circuit (4 qubits, H + RY(x), 6 layers CNOT pairs + RY(w),
                <Z_i> x4), batch 64, forward+backward. Anchors: default.qubit backprop with
                broadcasting; lightning.qubit adjoint in a per-sample loop (as users write it).
  forward/n     4 layers of RX,RY,RZ on every wire + CNOT ring, <Z_i> for all i, n qubits.
                Anchor: lightning.qubit. Also "bw_fraction": effective bandwidth counting one
                read+write pass per (unfused) gate, as a fraction of an all-cores torch copy_
                of the same array measured in this run (>1 is possible: qoxide fuses gates).
  jacobian/n    adjoint Jacobian of <Z_i> for all i w.r.t. all 12n angles. Anchor:
                lightning.qubit adjoint through its device API (compute_derivatives).

Prints one JSON line per measurement, then a table. Times are medians of repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import qoxide as qx
import torch
from qoxide.demo import BATCH, DEPTH, dressed_core
from qoxide.demo import N_QUBITS as N_Q


def timeit(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def emit(rows: list[dict], **row: object) -> None:
    rows.append(row)
    print(json.dumps(row), flush=True)


# --- dressed circuit -------------------------------------------------------------------


dressed = dressed_core  # the same circuit `qoxide demo` runs


def pl_dressed(qml, dev):
    @qml.qnode(
        dev, interface="torch", diff_method="backprop" if dev.name == "default.qubit" else "adjoint"
    )
    def circuit(x, w):
        for i in range(N_Q):
            qml.Hadamard(i)
            qml.RY(x[..., i], wires=i)
        for k in range(DEPTH):
            for i in range(0, N_Q - 1, 2):
                qml.CNOT([i, i + 1])
            for i in range(1, N_Q - 1, 2):
                qml.CNOT([i, i + 1])
            for i in range(N_Q):
                qml.RY(w[k, i], wires=i)
        return [qml.expval(qml.PauliZ(i)) for i in range(N_Q)]

    return circuit


def bench_dressed(rows: list[dict], repeat: int) -> None:
    import pennylane as qml

    torch.manual_seed(0)
    x = torch.rand(BATCH, N_Q, dtype=torch.float64) * np.pi
    w = (0.01 * torch.randn(DEPTH, N_Q, dtype=torch.float64)).requires_grad_()

    def ours():
        w.grad = None
        dressed(x, w).sum().backward()

    dq = pl_dressed(qml, qml.device("default.qubit", wires=N_Q))

    def default_qubit():
        w.grad = None
        torch.stack(dq(x, w), dim=-1).sum().backward()

    lq = pl_dressed(qml, qml.device("lightning.qubit", wires=N_Q))

    def lightning_loop():
        w.grad = None
        for b in range(BATCH):
            torch.stack(lq(x[b], w)).sum().backward()

    t_ours = timeit(ours, repeat * 10)
    t_dq = timeit(default_qubit, repeat)
    t_lq = timeit(lightning_loop, max(1, repeat // 2))
    for name, t in (
        ("default.qubit backprop (broadcast)", t_dq),
        ("lightning.qubit adjoint loop", t_lq),
    ):
        emit(
            rows,
            workload=f"dressed b{BATCH} fwd+bwd",
            anchor=name,
            qoxide_s=t_ours,
            anchor_s=t,
            ratio=t / t_ours,
        )


# --- layered circuits --------------------------------------------------------------------


def layered(n: int, layers: int = 4):
    @qx.circuit(n_qubits=n, inputs=None)
    def f(q, w):
        for layer in range(layers):
            for i in range(n):
                q.rx(w[layer, i, 0], i)
                q.ry(w[layer, i, 1], i)
                q.rz(w[layer, i, 2], i)
            for i in range(n):
                q.cnot(i, (i + 1) % n)
        return [q.expval(qx.Z(i)) for i in range(n)]

    return f


def pl_layered_tape(qml, n: int, w: np.ndarray, layers: int = 4):
    ops = []
    for layer in range(layers):
        for i in range(n):
            ops += [qml.RX(w[layer, i, 0], i), qml.RY(w[layer, i, 1], i), qml.RZ(w[layer, i, 2], i)]
        for i in range(n):
            ops.append(qml.CNOT([i, (i + 1) % n]))
    tape = qml.tape.QuantumScript(ops, [qml.expval(qml.PauliZ(i)) for i in range(n)])
    tape.trainable_params = list(range(len(tape.get_parameters(trainable_only=False))))
    return tape


def copy_time(n: int, repeat: int) -> float:
    a = torch.zeros(2**n, dtype=torch.complex128)
    b = torch.ones(2**n, dtype=torch.complex128)
    return timeit(lambda: a.copy_(b), repeat * 5, warmup=2)


def bench_layered(
    rows: list[dict], sizes_fwd: list[int], sizes_jac: list[int], repeat: int
) -> None:
    rng = np.random.default_rng(1)
    for n in sorted(set(sizes_fwd) | set(sizes_jac)):
        w = rng.uniform(0, 2 * np.pi, (4, n, 3))
        reps = max(1, repeat if n <= 20 else repeat // 2)
        bench_size(rows, n, w, n in sizes_fwd, n in sizes_jac, reps)


def bench_size(rows: list[dict], n: int, w: np.ndarray, fwd: bool, jac: bool, reps: int) -> None:
    import pennylane as qml
    from pennylane.devices import ExecutionConfig

    f = layered(n)
    dev = qml.device("lightning.qubit", wires=n)
    tape = pl_layered_tape(qml, n, w)
    if fwd:
        t_ours = timeit(lambda: f(w), reps)
        t_l = timeit(lambda: dev.execute(tape), reps)
        n_gates = 4 * 4 * n
        t_copy = copy_time(n, reps)
        emit(
            rows,
            workload=f"forward {n}q",
            anchor="lightning.qubit",
            qoxide_s=t_ours,
            anchor_s=t_l,
            ratio=t_l / t_ours,
            bw_fraction=n_gates * t_copy / t_ours,
            copy_s=t_copy,
        )
    if jac:
        prog = f.program(None, [w.shape])
        theta = prog.theta_numpy(None, w.reshape(-1), 1, np.float64)
        cfg = ExecutionConfig(gradient_method="adjoint")
        t_ours = timeit(lambda: qx._core.jacobian(prog.tape, theta, prog.observables), reps)
        t_l = timeit(lambda: dev.compute_derivatives(tape, cfg), reps)
        ours = qx._core.jacobian(prog.tape, theta, prog.observables)[0]
        theirs = np.array(dev.compute_derivatives(tape, cfg))
        assert np.allclose(ours, theirs, atol=1e-8), "Jacobians disagree"
        emit(
            rows,
            workload=f"adjoint jacobian {n}q",
            anchor="lightning.qubit",
            qoxide_s=t_ours,
            anchor_s=t_l,
            ratio=t_l / t_ours,
        )


def table(rows: list[dict]) -> str:
    lines = [
        "| workload | anchor | qoxide | anchor | ratio (anchor/qoxide) | bw fraction |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        bw = f"{r['bw_fraction']:.2f}" if "bw_fraction" in r else ""
        lines.append(
            f"| {r['workload']} | {r['anchor']} | {r['qoxide_s'] * 1e3:.3f} ms | "
            f"{r['anchor_s'] * 1e3:.3f} ms | {r['ratio']:.2f}x | {bw} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke test)")
    args = ap.parse_args()
    rows: list[dict] = []
    if args.quick:
        bench_dressed(rows, repeat=2)
        bench_layered(rows, [12], [12], repeat=2)
    else:
        bench_dressed(rows, repeat=5)
        bench_layered(rows, [16, 20, 22], [16, 20], repeat=5)
    print()
    print(f"threads: {qx.get_num_threads()}")
    print(table(rows))


if __name__ == "__main__":
    main()
