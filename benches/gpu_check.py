"""Device check for qoxide's CUDA backend (run by benches/gpu_check.sh on a GPU machine).

Section (i) of issue 17: the dressed quantum circuit of PennyLane's quantum transfer
learning demo (H layer, RY(x), depth x (CNOT pairs, shifted pairs, RY(w)), <Z_i>) forward
+ backward at batch 64 ... 262144, timed for
- qoxide on the CPU (the anchor),
- a plain-torch batched statevector on CUDA (autograd backward),
- qoxide on CUDA: the same ``@qx.circuit`` called with torch CUDA tensors (one forward
  launch, one VJP launch, on torch's stream, no host copy), or null with the reason where
  qoxide's CUDA backend is unavailable.
Every ratio is taken from figures measured in the same run. Prints one JSON line per
measurement, then a table. ``--dry`` runs the CPU side only (tiny batches, no GPU needed):
the torch statevector reference on the CPU is checked against qoxide first.
Sections (ii) and (iii) (large registers) are benches/gpu_large.py.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import qoxide as qx
import torch

N_QUBITS = 4
DEPTH = 6


def make_qoxide() -> Any:
    @qx.circuit(n_qubits=N_QUBITS)
    def dressed(q, x, w):  # type: ignore[no-untyped-def]
        for i in range(N_QUBITS):
            q.h(i)
            q.ry(x[i], i)
        for k in range(DEPTH):
            for i in range(0, N_QUBITS - 1, 2):
                q.cnot(i, i + 1)
            for i in range(1, N_QUBITS - 1, 2):
                q.cnot(i, i + 1)
            for i in range(N_QUBITS):
                q.ry(w[k, i], i)
        return [q.expval(qx.Z(i)) for i in range(N_QUBITS)]

    return dressed


def torch_statevector(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The same circuit as a plain-torch batched statevector [B, 2, ..., 2] (autograd)."""
    n, b = N_QUBITS, x.shape[0]
    cdt = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    psi = torch.zeros((b,) + (2,) * n, dtype=cdt, device=x.device)
    psi[(slice(None),) + (0,) * n] = 1
    h = torch.tensor([[1, 1], [1, -1]], dtype=cdt, device=x.device) / math.sqrt(2)

    def one(psi: torch.Tensor, m: torch.Tensor, wire: int) -> torch.Tensor:
        # m: [2, 2] or [B, 2, 2]; wire 0 is the most significant axis (axis 1)
        p = psi.movedim(wire + 1, -1)
        p = (
            torch.einsum("...ij,b...j->b...i", m, p)
            if m.dim() == 2
            else torch.einsum("bij,b...j->b...i", m, p)
        )
        return p.movedim(-1, wire + 1)

    def ry(t: torch.Tensor) -> torch.Tensor:
        c, s = torch.cos(t / 2), torch.sin(t / 2)
        return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2).to(cdt)

    def cnot(psi: torch.Tensor, c: int, t: int) -> torch.Tensor:
        idx1 = [slice(None)] * (n + 1)
        idx1[c + 1] = 1
        sub = psi[tuple(idx1)]
        tt = t if t < c else t - 1
        sub = sub.flip(tt + 1)
        return torch.stack([psi.select(c + 1, 0), sub], dim=c + 1)

    for i in range(n):
        psi = one(psi, h, i)
        psi = one(psi, ry(x[:, i]), i)
    for k in range(DEPTH):
        for i in list(range(0, n - 1, 2)) + list(range(1, n - 1, 2)):
            psi = cnot(psi, i, i + 1)
        for i in range(n):
            psi = one(psi, ry(w[k, i].expand(b)), i)
    prob = (psi.conj() * psi).real.reshape(b, -1)
    idx = torch.arange(2**n, device=x.device)
    signs = torch.stack([1 - 2 * ((idx >> (n - 1 - i)) & 1) for i in range(n)], 1).to(prob.dtype)
    return prob @ signs


def timed(fn: Callable[[], Any], sync: Callable[[], None], repeats: int) -> float:
    fn()
    sync()  # warm-up (compile, allocate)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def fwd_bwd(f: Callable[..., torch.Tensor], x: torch.Tensor, w: torch.Tensor) -> Callable[[], Any]:
    def run() -> None:
        xx = x.detach().requires_grad_(True)
        ww = w.detach().requires_grad_(True)
        f(xx, ww).sum().backward()

    return run


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry", action="store_true", help="CPU side only, tiny batches")
    ap.add_argument("--batches", default="64,1024,16384,262144")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    dtype = getattr(torch, a.dtype)
    batches = [64, 256] if a.dry else [int(b) for b in a.batches.split(",")]
    gpu = torch.cuda.is_available() and not a.dry
    dev = torch.device("cuda" if gpu else "cpu")
    qfn = make_qoxide()
    rows: list[dict[str, Any]] = []

    # the reference equals qoxide (CPU, float64) before anything is timed
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, N_QUBITS, generator=g, dtype=torch.float64) * math.pi
    w = torch.rand(DEPTH, N_QUBITS, generator=g, dtype=torch.float64) * 2 * math.pi
    err = (qfn(x, w) - torch_statevector(x, w)).abs().max().item()
    print(json.dumps({"check": "torch statevector == qoxide cpu", "max_abs_err": err}))
    if err > 1e-10:
        print("reference mismatch", file=sys.stderr)
        return 1

    cuda_reason = None if qx.cuda.is_available() else qx.cuda.reason()
    qoxide_gpu_reason = f"CUDA backend unavailable: {cuda_reason}" if cuda_reason else None
    if cuda_reason is None:  # the kernel agrees with the CPU engine before it is timed
        x8 = torch.rand(8, N_QUBITS, generator=g, dtype=torch.float64)
        w8 = torch.rand(DEPTH, N_QUBITS, generator=g, dtype=torch.float64)
        got = qfn(x8.to(dev), w8.to(dev)).cpu()
        err = float((got - qfn(x8, w8)).abs().max())
        print(json.dumps({"check": "qoxide cuda == qoxide cpu", "max_abs_err": err}))
        if err > 1e-10:
            return 1
    sync_gpu = torch.cuda.synchronize if gpu else (lambda: None)
    for b in batches:
        x = torch.rand(b, N_QUBITS, generator=g, dtype=dtype) * math.pi
        w = torch.rand(DEPTH, N_QUBITS, generator=g, dtype=dtype) * 2 * math.pi
        reps = max(1, a.repeats if b <= 16384 else a.repeats // 2)
        t_cpu = timed(fwd_bwd(qfn, x, w), lambda: None, reps)
        t_torch = timed(fwd_bwd(torch_statevector, x.to(dev), w.to(dev)), sync_gpu, reps)
        t_qcuda = (
            None
            if qoxide_gpu_reason
            else timed(fwd_bwd(qfn, x.to(dev), w.to(dev)), sync_gpu, reps)
        )
        row = {
            "section": "dressed_fwd_bwd",
            "batch": b,
            "dtype": a.dtype,
            "qoxide_cpu_s": t_cpu,
            f"torch_{dev.type}_s": t_torch,
            "qoxide_cuda_s": t_qcuda,
            "qoxide_cuda_skipped": qoxide_gpu_reason,
            f"torch_{dev.type}_over_qoxide_cuda": None if t_qcuda is None else t_torch / t_qcuda,
            "qoxide_cpu_over_qoxide_cuda": None if t_qcuda is None else t_cpu / t_qcuda,
            f"qoxide_cpu_over_torch_{dev.type}": t_cpu / t_torch,
            "device": torch.cuda.get_device_name() if gpu else "cpu (dry run)",
        }
        rows.append(row)
        print(json.dumps(row))

    print()
    tcol = f"torch_{dev.type}_s"
    head = f"{'batch':>8} {'qoxide cpu (s)':>15} {tcol:>15} {'qoxide cuda (s)':>16}"
    print(head + f" {'torch/qx-cuda':>14} {'qx-cpu/qx-cuda':>15}")
    for r in rows:
        tq = r["qoxide_cuda_s"]
        cells = (
            ("n/a", "n/a", "n/a")
            if tq is None
            else (f"{tq:.5f}", f"{r[tcol] / tq:.2f}", f"{r['qoxide_cpu_s'] / tq:.2f}")
        )
        print(
            f"{r['batch']:>8} {r['qoxide_cpu_s']:>15.5f} {r[tcol]:>15.5f} {cells[0]:>16} "
            f"{cells[1]:>14} {cells[2]:>15}"
        )
    if qoxide_gpu_reason:
        print(f"qoxide cuda: {qoxide_gpu_reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
