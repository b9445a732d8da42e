"""Device check, large registers (sections (ii) and (iii) of issue 17; run by
benches/gpu_check.sh after gpu_check.py).

(ii)  One unfused 1-qubit gate (RX on wire 0, the highest index bit, so no shared-memory
      segment takes it) at 26, 28, 30 qubits, complex64 and complex128: the time of a run
      with the gate minus the same run without it, against a torch device-to-device copy
      of the statevector's bytes (a gate reads and writes each amplitude once, as a copy
      does): ``copy_over_gate`` is the fraction of copy bandwidth the gate reaches.
(iii) The layered circuit (RX, RY, RZ on every wire, then a CNOT ring; LAYERS layers;
      <Z_0>) forward at 26-30 qubits and its adjoint Jacobian at 20-24 qubits, qoxide CUDA
      vs qoxide's CPU engine on this machine's cores (CPU timings above 28 qubits are
      skipped to keep the check within its time budget).

Every ratio comes from figures measured in this run. Prints JSON lines, then a table.
``--dry`` runs the CPU side at small sizes only (no GPU needed).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import qoxide as qx
import torch
from gpu_check import timed  # this folder is on sys.path when run as a script
from qoxide import cuda_ops

LAYERS = 2


def layered_tape(n: int, layers: int = LAYERS) -> tuple[Any, list[Any]]:
    t = qx._core.Tape(n, 3 * n * layers)
    p = 0
    for _ in range(layers):
        for w in range(n):
            for gate in ("RX", "RY", "RZ"):
                t.add(gate, [w], [p])
                p += 1
        for w in range(n):
            t.add("CNOT", [w, (w + 1) % n])
    return t, [qx._core.Observable.pauli(n, [(1.0, [(0, "Z")])])]


def one_gate_tape(n: int, with_gate: bool) -> tuple[Any, list[Any]]:
    t = qx._core.Tape(n, 1)
    if with_gate:
        t.add("RX", [0], [0])
    return t, [qx._core.Observable.pauli(n, [(1.0, [(0, "Z")])])]


def gpu_run(tape: Any, obs: list, theta: np.ndarray, dtype: torch.dtype, **kw: Any) -> Callable:
    prog = cuda_ops.upload(tape, obs, torch.cuda.current_device())
    th = torch.as_tensor(theta, dtype=dtype, device="cuda")
    if kw.get("jacobian"):
        return lambda: cuda_ops.run(prog, th, jacobian=True)
    return lambda: cuda_ops.run(prog, th)


def cpu_run(
    tape: Any, obs: list, theta: np.ndarray, dtype: Any, jacobian: bool = False
) -> Callable:
    th = theta.astype(dtype)
    if jacobian:
        return lambda: qx._core.jacobian(tape, th, obs)
    return lambda: qx._core.expval(tape, th, obs)


def copy_seconds(n: int, cdt: torch.dtype, repeats: int) -> float:
    """A device-to-device copy of a 2^n statevector (freed after)."""
    src = torch.empty(1 << n, dtype=cdt, device="cuda")
    dst = torch.empty_like(src)
    try:
        return timed(lambda: dst.copy_(src), torch.cuda.synchronize, repeats)
    finally:
        src = dst = None  # noqa: F841  (freed before the next, larger size)
        torch.cuda.empty_cache()


def section_gate(sizes: list[int], repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        for dtype, cdt in ((torch.float32, torch.complex64), (torch.float64, torch.complex128)):
            theta = np.array([[0.3]])
            with_gate = gpu_run(*one_gate_tape(n, True), theta, dtype)
            without = gpu_run(*one_gate_tape(n, False), theta, dtype)
            t_with = timed(with_gate, torch.cuda.synchronize, repeats)
            t_without = timed(without, torch.cuda.synchronize, repeats)
            torch.cuda.empty_cache()
            t_copy = copy_seconds(n, cdt, repeats)
            t_gate = max(t_with - t_without, 1e-9)
            row = {
                "section": "one_unfused_gate_vs_copy",
                "qubits": n,
                "precision": str(cdt).removeprefix("torch."),
                "gate_s": t_gate,
                "copy_s": t_copy,
                "copy_over_gate": t_copy / t_gate,
                "gate_GBps": 2 * (1 << n) * cdt.itemsize / t_gate / 1e9,
            }
            rows.append(row)
            print(json.dumps(row))
    return rows


def section_layered(
    fwd_sizes: list[int], jac_sizes: list[int], cpu_max: int, gpu: bool, repeats: int
) -> list[dict]:
    rows = []
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    for what, sizes in (("forward", fwd_sizes), ("jacobian", jac_sizes)):
        jac = what == "jacobian"
        for n in sizes:
            tape, obs = layered_tape(n)
            theta = np.random.default_rng(n).uniform(-3, 3, size=(1, tape.n_params))
            t_cpu = (
                timed(cpu_run(tape, obs, theta, np.float32, jac), lambda: None, 1)
                if n <= cpu_max
                else None
            )
            t_gpu = (
                timed(gpu_run(tape, obs, theta, torch.float32, jacobian=jac), sync, repeats)
                if gpu
                else None
            )
            if gpu:
                torch.cuda.empty_cache()
            row = {
                "section": f"layered_{what}",
                "qubits": n,
                "precision": "complex64",
                "qoxide_cpu_s": t_cpu,
                "qoxide_cuda_s": t_gpu,
                "cpu_over_cuda": None if t_cpu is None or t_gpu is None else t_cpu / t_gpu,
            }
            rows.append(row)
            print(json.dumps(row))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry", action="store_true", help="CPU side only, small registers")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    gpu = not a.dry and qx.cuda.is_available()
    if not a.dry and not gpu:
        print(json.dumps({"section": "large", "skipped": f"qoxide CUDA: {qx.cuda.reason()}"}))
        return 0
    if gpu:
        # the large-register kernels agree with the CPU engine before anything is timed
        tape, obs = layered_tape(14)
        theta = np.random.default_rng(0).uniform(-3, 3, size=(2, tape.n_params))
        got = gpu_run(tape, obs, theta, torch.float64)()[0].cpu().numpy()
        err = float(np.abs(got - qx._core.expval(tape, theta, obs)).max())
        print(json.dumps({"check": "large-register cuda == cpu (14 q)", "max_abs_err": err}))
        if err > 1e-10:
            return 1
        gate_rows = section_gate([26, 28, 30], a.repeats)
        layered = section_layered([26, 28, 30], [20, 22, 24], 28, True, a.repeats)
    else:
        gate_rows = []
        layered = section_layered([14, 16], [12, 14], 16, False, 1)
    print()
    if gate_rows:
        print(
            f"{'qubits':>6} {'precision':>10} {'gate (s)':>10} {'copy (s)':>10} {'copy/gate':>10}"
        )
        for r in gate_rows:
            print(
                f"{r['qubits']:>6} {r['precision']:>10} {r['gate_s']:>10.5f} "
                f"{r['copy_s']:>10.5f} {r['copy_over_gate']:>10.2f}"
            )
    print(f"{'section':>17} {'qubits':>6} {'cpu (s)':>10} {'cuda (s)':>10} {'cpu/cuda':>9}")
    for r in layered:

        def cell(v: float | None, fmt: str) -> str:
            return "n/a" if v is None else format(v, fmt)

        print(
            f"{r['section']:>17} {r['qubits']:>6} {cell(r['qoxide_cpu_s'], '.4f'):>10} "
            f"{cell(r['qoxide_cuda_s'], '.4f'):>10} {cell(r['cpu_over_cuda'], '.1f'):>9}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
