"""qx.from_pennylane against the PennyLane it replaces and the native qoxide layer.

    python benches/from_pennylane.py [--repeats N]

1. The PennyLane script of the hybrid make_moons classifier (PennyLane TorchLayer;
   examples/moons_from_pennylane.py: the whole training, 6 epochs) with its one changed
   line (``qx.from_pennylane(qml.qnn.TorchLayer(...))``) against the same script without it
   (default.qubit, backprop). Each variant runs in a fresh interpreter; the script's
   "Runtime" (model build + training + final prediction, so the conversion is included) is
   the figure. Per-epoch losses are printed with 8 decimals and compared.
   torch.optim.SGD() imports torch._dynamo on first use, seconds inside that timed region
   for both variants; a second pair runs with it imported before the timer starts.
2. The 4-qubit dressed quantum net of PennyLane's quantum transfer learning demo (Linear
   512→4, tanh·π/2, the 4-qubit depth-6 circuit, Linear 4→2) on a batch of 64, forward +
   backward: the quantum part converted from its QNode (``from_pennylane(QNode)``, tuple
   output stacked as the demo does, and ``from_pennylane(TorchLayer)``) against
   ``qx.nn.DressedQuantumNet``. Median of repeats.

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


def run_script(source: str) -> tuple[float, list[float]]:
    """(Runtime in s, per-epoch losses) of one variant of the script, fresh interpreter."""
    source = source.replace("{:.4f}", "{:.8f}")
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
    return runtime, losses


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
        q_in = torch.tanh(self.pre_net(x)) * math.pi / 2.0
        if self.layer:
            q_out = self.quantum(q_in).squeeze(-1).T  # TorchLayer stacks a tuple: [M, B, 1]
        else:
            q_out = torch.stack(self.quantum(q_in, self.q_params), dim=-1)
        return self.post_net(q_out.float())


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
    args = ap.parse_args()
    rows = []
    src = EXAMPLE.read_text()
    assert CHANGED in src
    # torch.optim.SGD() imports torch._dynamo on first use (seconds, inside the script's
    # timed region, the same in both variants); the second pair imports it beforehand.
    pre = "import torch._dynamo  # noqa: F401 - imported outside the timed region\n"
    for label, prefix in (("as written", ""), ("torch._dynamo pre-imported", pre)):
        t_qx, l_qx = run_script(prefix + src)
        t_dq, l_dq = run_script(prefix + src.replace(CHANGED, ORIGINAL))
        diff = max(abs(a - b) for a, b in zip(l_qx, l_dq, strict=True))
        rows.append(
            {
                "bench": f"seed003 script, {label}",
                "qoxide_s": t_qx,
                "default_qubit_s": t_dq,
                "speedup": t_dq / t_qx,
                "max_epoch_loss_diff": diff,
            }
        )
    x = torch.randn(64, 512)
    native = qx.nn.DressedQuantumNet(512, 4, 6, 2)
    conv_q = ConvertedDressedNet(
        qx.from_pennylane(dressed_qnode("default.qubit", "backprop", 4, 6)), False
    )
    tl = qml.qnn.TorchLayer(
        dressed_qnode("default.qubit", "backprop", 4, 6), {"q_weights_flat": 24}
    )
    conv_l = ConvertedDressedNet(qx.from_pennylane(tl), True)
    t = time_steps({"native": native, "qnode": conv_q, "layer": conv_l}, x, args.repeats)
    t_nat, t_q, t_l = t["native"], t["qnode"], t["layer"]
    for name, t in (("from_pennylane(QNode)", t_q), ("from_pennylane(TorchLayer)", t_l)):
        rows.append(
            {
                "bench": f"dressed net B=64 fwd+bwd, {name}",
                "converted_ms": t * 1e3,
                "DressedQuantumNet_ms": t_nat * 1e3,
                "converted_over_native": t / t_nat,
            }
        )
    for r in rows:
        print(json.dumps(r))
    print(f"\nthreads: qoxide {qx.get_num_threads()}, torch {torch.get_num_threads()}")
    for r in rows[:2]:
        print(
            f"{r['bench']}: from_pennylane {r['qoxide_s']:.2f} s, default.qubit backprop "
            f"{r['default_qubit_s']:.2f} s -> {r['speedup']:.2f}x; per-epoch losses differ by "
            f"at most {r['max_epoch_loss_diff']:.1e}"
        )
    for r in rows[2:]:
        print(
            f"{r['bench']}: {r['converted_ms']:.3f} ms vs DressedQuantumNet "
            f"{r['DressedQuantumNet_ms']:.3f} ms ({r['converted_over_native']:.2f}x)"
        )


if __name__ == "__main__":
    main()
