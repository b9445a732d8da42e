"""qx.from_pennylane against the PennyLane it replaces and the native qoxide layer.

    python benches/from_pennylane.py [--repeats N] [--script-runs N]

1. The PennyLane script of the hybrid make_moons classifier (PennyLane TorchLayer;
   examples/moons_from_pennylane.py: the whole training, 6 epochs) with its one changed
   line (``qx.from_pennylane(qml.qnn.TorchLayer(...))``) against the same script without it
   (default.qubit, backprop). Each run is a fresh interpreter, the two variants alternate
   (``--script-runs`` each); the figure is the script's "Runtime" (model build + training +
   final prediction, so the conversion is included), median over the runs. Per-epoch
   losses are printed with 8 decimals and compared. torch.optim.SGD() imports
   torch._dynamo (seconds) on first use; whether that already happened before the timer
   (``import qoxide`` does it in both variants today) is reported.
2. The 4-qubit dressed quantum net of PennyLane's quantum transfer learning demo (Linear
   512→4, tanh·π/2, the 4-qubit depth-6 circuit, Linear 4→2), forward + backward on a
   batch of 64 and of 1: the quantum part converted from its QNode
   (``from_pennylane(QNode)``: a tuple of expvals, stacked as the demo does) and from a
   TorchLayer (``[M, B, 1]``, squeezed and transposed back), against
   ``qx.nn.DressedQuantumNet``. Median of repeats, all nets timed round-robin. Also timed:
   DressedQuantumNet with the same restructuring of its output as each converted net (a
   tuple of M expvals, ``as_tuple=True``, and the user's stack; TorchLayer's layout and its
   undoing), the part of the gap that PennyLane's return conventions cost any converter.

Prints one JSON line per figure, then a table; ratios > 1 mean the first-named is faster.
"""

# ruff: noqa: E402 - the import path must be fixed before PennyLane is imported (below)
from __future__ import annotations

import sys
from pathlib import Path

sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import math
import re
import statistics
import subprocess
import tempfile
import time

import pennylane as qml
import qoxide as qx
import torch
from qoxide.bench.pennylane_models import dressed_qnode
from torch import nn

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "moons_from_pennylane.py"
CHANGED = "self.qlayer = qx.from_pennylane(qml.qnn.TorchLayer(self.qcircuit, weight_shape))"
ORIGINAL = "self.qlayer = qml.qnn.TorchLayer(self.qcircuit, weight_shape)"


TIMER = "    begin_time = perf_counter()\n"
DYNAMO = "    print('torch._dynamo before the timer:', 'torch._dynamo' in sys.modules)\n"


def run_script(source: str) -> tuple[float, list[float], bool]:
    """(Runtime in s, per-epoch losses, torch._dynamo imported before the timer) of one
    variant of the script, fresh interpreter."""
    source = source.replace("{:.4f}", "{:.8f}").replace(TIMER, DYNAMO + TIMER)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    out = subprocess.run(
        [sys.executable, f.name, "default.qubit", "backprop"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    Path(f.name).unlink()
    losses = [float(v) for v in re.findall(r"Average loss over epoch \d+: ([0-9.]+)", out)]
    runtime = float(re.search(r"Runtime: ([0-9.e+-]+) s", out).group(1))
    return runtime, losses, "torch._dynamo before the timer: True" in out


class ConvertedDressedNet(nn.Module):
    """The demo's DressedQuantumNet with its quantum part converted from a QNode."""

    def __init__(self, quantum: object, layer: bool):
        super().__init__()
        torch.manual_seed(0)
        self.pre_net = nn.Linear(512, 4)
        self.q_params = nn.Parameter(0.01 * torch.randn(24))
        self.post_net = nn.Linear(4, 2)
        self.quantum, self.layer = quantum, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q_in = torch.tanh(self.pre_net(x)) * (math.pi / 2.0)
        if self.layer:
            q_out = self.quantum(q_in).squeeze(-1).T  # TorchLayer stacks a tuple: [M, B, 1]
        else:
            q_out = torch.stack(self.quantum(q_in, self.q_params), dim=-1)
        return self.post_net(q_out.float())


class RestructuredDressedNet(nn.Module):
    """DressedQuantumNet with its [B, M] quantum output taken apart and put back together as
    a converted net's is (the floor of a converter honouring PennyLane's return layout)."""

    def __init__(self, native: qx.nn.DressedQuantumNet, layer: bool):
        super().__init__()
        self.native, self.layer = native, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.native
        q_in = torch.tanh(n.pre_net(x)) * (math.pi / 2.0)
        if self.layer:  # TorchLayer's [M, B, 1], undone as ConvertedDressedNet does
            q_out = n.quantum(q_in).t().unsqueeze(-1).squeeze(-1).T
        else:  # the QNode's tuple of M expvals (as_tuple: no split node), stacked by the caller
            q_out = torch.stack(n.circuit(q_in, n.q_params, as_tuple=True), dim=-1)
        return n.post_net(q_out.float())


def time_steps(models: dict[str, nn.Module], x: torch.Tensor, repeats: int) -> dict:
    """Median forward+backward time of each model, measured round-robin (one step of
    each in turn), so that load changes on a shared machine hit every model alike."""
    times: dict[str, list[float]] = {k: [] for k in models}
    for i in range(repeats + 5):
        for name, model in models.items():
            t = time.perf_counter()
            model(x).sum().backward()
            if i >= 5:
                times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--script-runs", type=int, default=3)
    args = ap.parse_args()
    src = EXAMPLE.read_text()
    assert CHANGED in src and TIMER in src
    runs: dict[str, list] = {"qoxide": [], "default.qubit": []}
    for _ in range(args.script_runs):  # alternating, so load changes hit both variants
        runs["qoxide"].append(run_script(src))
        runs["default.qubit"].append(run_script(src.replace(CHANGED, ORIGINAL)))
    t_qx = statistics.median(r[0] for r in runs["qoxide"])
    t_dq = statistics.median(r[0] for r in runs["default.qubit"])
    diff = max(
        abs(a - b)
        for rq, rd in zip(runs["qoxide"], runs["default.qubit"], strict=True)
        for a, b in zip(rq[1], rd[1], strict=True)
    )
    rows: list[dict] = [
        {
            "bench": "moons script (one changed line) vs default.qubit backprop",
            "qoxide_s": t_qx,
            "default_qubit_s": t_dq,
            "speedup": t_dq / t_qx,
            "qoxide_runs_s": [r[0] for r in runs["qoxide"]],
            "default_qubit_runs_s": [r[0] for r in runs["default.qubit"]],
            "max_epoch_loss_diff": diff,
            "torch_dynamo_imported_before_timer": sorted(
                {r[2] for rs in runs.values() for r in rs}
            ),
        }
    ]
    native = qx.nn.DressedQuantumNet(512, 4, 6, 2)
    conv_q = ConvertedDressedNet(
        qx.from_pennylane(dressed_qnode("default.qubit", "backprop", 4, 6)), False
    )
    tl = qml.qnn.TorchLayer(
        dressed_qnode("default.qubit", "backprop", 4, 6), {"q_weights_flat": 24}
    )
    conv_l = ConvertedDressedNet(qx.from_pennylane(tl), True)
    models = {
        "native": native,
        "native_split": RestructuredDressedNet(native, False),
        "native_layout": RestructuredDressedNet(native, True),
        "qnode": conv_q,
        "layer": conv_l,
    }
    for batch in (64, 1):
        t = time_steps(models, torch.randn(batch, 512), args.repeats)
        for name, conv, floor in (
            ("from_pennylane(QNode)", "qnode", "native_split"),
            ("from_pennylane(TorchLayer)", "layer", "native_layout"),
        ):
            rows.append(
                {
                    "bench": f"dressed net B={batch} fwd+bwd, {name}",
                    "converted_ms": t[conv] * 1e3,
                    "DressedQuantumNet_ms": t["native"] * 1e3,
                    "converted_over_native": t[conv] / t["native"],
                    "restructured_native_ms": t[floor] * 1e3,
                    "converted_over_restructured_native": t[conv] / t[floor],
                }
            )
    for r in rows:
        print(json.dumps(r))
    print(f"\nthreads: qoxide {qx.get_num_threads()}, torch {torch.get_num_threads()}")
    r = rows[0]
    print(
        f"{r['bench']}: from_pennylane {r['qoxide_s']:.2f} s, default.qubit "
        f"{r['default_qubit_s']:.2f} s (medians of {args.script_runs}) -> "
        f"{r['speedup']:.2f}x; per-epoch losses differ by at most "
        f"{r['max_epoch_loss_diff']:.1e}; torch._dynamo imported before the timer: "
        f"{r['torch_dynamo_imported_before_timer']}"
    )
    for r in rows[1:]:
        print(
            f"{r['bench']}: {r['converted_ms']:.3f} ms vs DressedQuantumNet "
            f"{r['DressedQuantumNet_ms']:.3f} ms ({r['converted_over_native']:.2f}x); "
            f"vs DressedQuantumNet restructured alike {r['restructured_native_ms']:.3f} ms "
            f"({r['converted_over_restructured_native']:.2f}x)"
        )


if __name__ == "__main__":
    main()
