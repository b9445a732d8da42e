"""HSM benchmark: qoxide vs a plain torch implementation (dense H, autograd through
torch.linalg.eigh), forward + backward of a training step, ratios measured in one run.

    python benches/hsm.py [--quick] [--json results.jsonl]

* PauliHSM: batch 64, K = 10 inputs, input and output Pauli weight 2, J = 1, at 6, 8 and 10
  qubits (qoxide: dense ground states at d = 64, matrix-free Lanczos above). Ground energies
  of the two implementations must agree to 1e-8.
* GeneralHSM: batch 256, K = 10, J = 1, complex operators, at d = 16 and 32.

Dense eigh on 64 matrices of 1024×1024 takes many minutes, so at 10 qubits the torch anchor
runs on the first ``--anchor-batch`` samples (default 8, --quick 2) and is scaled to the full
batch as T(64) = T(0) + (T(b) − T(0))·64/b, where T(0) (the same step on an empty batch) is the
per-call cost of building A_k, B_j and S = Σ A_k² and its backward; the table marks such rows.
Times are the fastest of the repeats after one warm-up call, for both implementations.
``--torch-threads`` sets torch's intra-op threads for both (qoxide's Rust pool keeps its own
setting). qoxide's warm starts are off: every call starts Lanczos cold.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import torch
from qoxide.hsm import GeneralHSM, PauliHSM


def best_seconds(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` timed calls after a warm-up: on a shared machine other load only
    ever adds time, so the minimum is the least disturbed measurement."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def parity(v: torch.Tensor, bits: int) -> torch.Tensor:
    """(-1)^popcount(v) for integer tensors with at most ``bits`` bits."""
    ones = sum((v >> b) & 1 for b in range(bits))
    return 1.0 - 2.0 * (ones % 2).to(torch.float64)


class PlainPauliOperators:
    """Dense Σ_s a_s P_s in plain torch: P_s[i, i ^ x] = i^{|x & z|} (-1)^{|(i ^ x) & z|}."""

    def __init__(self, qubits: int, x: list[int], z: list[int]):
        d = 2**qubits
        xs = torch.tensor(x)[:, None]
        zs = torch.tensor(z)[:, None]
        rows = torch.arange(d)[None, :].expand(len(x), d)
        self.cols = rows ^ xs
        ny = sum(((xs & zs) >> b) & 1 for b in range(qubits)) % 4
        phase = torch.tensor([1, 1j, -1, -1j], dtype=torch.complex128)[ny]
        self.vals = phase * parity(self.cols & zs, qubits)
        self.rows, self.d = rows, d

    def dense(self, coeffs: torch.Tensor) -> torch.Tensor:
        k = coeffs.shape[0]
        values = coeffs.to(torch.complex128)[:, :, None] * self.vals[None]
        index = (
            torch.arange(k)[:, None, None].expand_as(values),
            self.rows[None].expand_as(values),
            self.cols[None].expand_as(values),
        )
        out = torch.zeros(k, self.d, self.d, dtype=torch.complex128)
        return out.index_put(index, values, accumulate=True)


def plain_step(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """ŷ and E₀ with autograd through torch.linalg.eigh."""
    h = 0.5 * (a @ a).sum(0) - torch.einsum("bk,kij->bij", x.to(a.dtype), a)
    evals, vecs = torch.linalg.eigh(h)
    psi = vecs[:, :, 0]
    y = torch.einsum("bi,jik,bk->bj", psi.conj(), b, psi).real
    return y, evals[:, 0] + 0.5 * (x * x).sum(-1)


def qoxide_step(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward+backward of an HSM; returns (predictions, ground energies)."""
    model.zero_grad()
    y, e0 = model.predict_with_energy(x)
    y.sum().backward()
    return y.detach(), e0.detach()


def bench_pauli(qubits: int, batch: int, anchor_batch: int, repeat: int) -> dict[str, Any]:
    torch.manual_seed(qubits)
    # a cold start every call: warm starts would reuse the previous call's ground states
    model = PauliHSM(10, 1, qubits, 2, 2, seed=qubits, warm_start_mib=0)
    x = torch.randn(batch, 10, dtype=torch.float64)

    def ours() -> tuple[torch.Tensor, torch.Tensor]:
        return qoxide_step(model, x)

    ops_in = PlainPauliOperators(qubits, model.input_strings.x, model.input_strings.z)
    ops_out = PlainPauliOperators(qubits, model.output_strings.x, model.output_strings.z)
    a_in = model.input_pauli_coeffs.detach().clone().requires_grad_(True)
    a_out = model.output_pauli_coeffs.detach().clone().requires_grad_(True)
    xs = x[:anchor_batch]

    def plain(rows: torch.Tensor = xs) -> tuple[torch.Tensor, torch.Tensor]:
        a_in.grad = a_out.grad = None
        y, e0 = plain_step(ops_in.dense(a_in), ops_out.dense(a_out), rows)
        y.sum().backward()
        return y.detach(), e0.detach()

    t_ours = best_seconds(ours, repeat)
    y, e0 = ours()
    grads_ok = all(torch.isfinite(p.grad).all() for p in model.parameters())
    if anchor_batch < batch:
        fixed = best_seconds(lambda: plain(x[:0]), repeat)
        t_plain = fixed + (best_seconds(plain, min(repeat, 2)) - fixed) * batch / len(xs)
    else:
        t_plain = best_seconds(plain, repeat)
    y_ref, e_ref = plain()
    return {
        "workload": f"PauliHSM q={qubits}",
        "d": 2**qubits,
        "batch": batch,
        "path": "lanczos" if model.matrix_free(x.device) else "dense",
        "qoxide_s": t_ours,
        "torch_s": t_plain,
        "ratio": t_plain / t_ours,
        "max_dE0": float((e0[: len(xs)] - e_ref).abs().max()),
        "max_dy": float((y[: len(xs)] - y_ref).abs().max()),
        "grads_finite": bool(grads_ok),
        "torch_samples": len(xs),
    }


def bench_general(d: int, batch: int, repeat: int) -> dict[str, Any]:
    torch.manual_seed(d)
    model = GeneralHSM(10, 1, d, seed=d)
    x = torch.randn(batch, 10, dtype=torch.float64)

    def ours() -> tuple[torch.Tensor, torch.Tensor]:
        return qoxide_step(model, x)

    def plain() -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad()
        a, b = model.operators()
        y, e0 = plain_step(a, b, x)
        y.sum().backward()
        return y.detach(), e0.detach()

    t_ours = best_seconds(ours, repeat)
    y, e0 = ours()
    grads_ok = all(torch.isfinite(p.grad).all() for p in model.parameters())
    t_plain = best_seconds(plain, repeat)
    y_ref, e_ref = plain()
    return {
        "workload": f"GeneralHSM d={d}",
        "d": d,
        "batch": batch,
        "path": "rust dense",
        "qoxide_s": t_ours,
        "torch_s": t_plain,
        "ratio": t_plain / t_ours,
        "max_dE0": float((e0 - e_ref).abs().max()),
        "max_dy": float((y - y_ref).abs().max()),
        "grads_finite": bool(grads_ok),
        "torch_samples": batch,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller anchors")
    parser.add_argument("--json", help="append one JSON line per workload to this file")
    parser.add_argument("--anchor-batch", type=int, help="torch samples at 10 qubits")
    parser.add_argument("--repeat", type=int, help="timed repeats per measurement")
    parser.add_argument("--torch-threads", type=int, help="torch intra-op threads (both sides)")
    args = parser.parse_args(argv)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    repeat = args.repeat or (1 if args.quick else 3)
    anchor = args.anchor_batch or (2 if args.quick else 8)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads; "
        f"fastest of {repeat} after a warm-up"
    )
    rows = []
    for q in (6, 8, 10):
        rows.append(bench_pauli(q, 64, 64 if q < 10 else anchor, repeat))
        print_row(rows[-1])
    for d in (16, 32):
        rows.append(bench_general(d, 256, repeat))
        print_row(rows[-1])
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    bad = [r["workload"] for r in rows if r["max_dE0"] > 1e-8 or not r["grads_finite"]]
    if bad:
        print(f"FAILED (energies differ by > 1e-8 or NaN gradients): {bad}")
        return 1
    return 0


def print_row(r: dict[str, Any]) -> None:
    note = "" if r["torch_samples"] == r["batch"] else f"  (torch on {r['torch_samples']}, scaled)"
    print(
        f"{r['workload']:<18} d={r['d']:<5} B={r['batch']:<4} {r['path']:<10} "
        f"qoxide {r['qoxide_s'] * 1e3:9.1f} ms  torch {r['torch_s'] * 1e3:10.1f} ms  "
        f"ratio {r['ratio']:6.1f}x  max|dE0| {r['max_dE0']:.1e}  max|dy| {r['max_dy']:.1e}"
        f"  grads finite: {r['grads_finite']}{note}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
