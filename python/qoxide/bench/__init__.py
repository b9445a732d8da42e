"""`qoxide bench`: qoxide against PennyLane anchors, as ratios measured in the same run.

Workloads (choose with ``--workloads``):
  dressed   the 4-qubit dressed quantum net of PennyLane's quantum transfer learning demo
            (Linear 512→4, tanh·π/2, 4 qubits depth 6, Linear 4→2) forward+backward per
            batch; anchors: default.qubit backprop (broadcast), lightning.qubit adjoint
            (per-sample loop as the demo writes it, and broadcast), qoxide.qubit through
            PennyLane when installed.
  moons     the hybrid make_moons classifier (PennyLane TorchLayer): full training (6
            epochs); anchors: TorchLayer on default.qubit backprop, lightning.qubit
            adjoint, qoxide.qubit adjoint.
  layered   4 layers of RX,RY,RZ on every wire + CNOT ring, <Z_i> for all i: forward, and the
            adjoint Jacobian w.r.t. all angles; anchors: lightning.qubit through its device
            API (execute / compute_derivatives: no QNode overhead counted), default.qubit
            forward up to 16 qubits. Effective bandwidth as a fraction of an all-cores copy.

Writes results.jsonl, results.md and results.png (with matplotlib) to ``--out``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

import qoxide as qx

from .. import _core
from . import pennylane_models as plm
from .report import markdown, write
from .workloads import bench_dressed, bench_layered_forward, bench_layered_jacobian, bench_moons

WORKLOADS = ("dressed", "moons", "layered")


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _workloads(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in WORKLOADS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown workload(s) {bad}; choose from {WORKLOADS}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="qoxide bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--workloads",
        type=_workloads,
        default=list(WORKLOADS),
        help="comma-separated subset of dressed,moons,layered (default: all)",
    )
    ap.add_argument("--batches", type=_ints, default=[4, 64], help="dressed batch sizes")
    ap.add_argument("--epochs", type=int, default=6, help="moons training epochs")
    ap.add_argument(
        "--forward-sizes",
        type=_ints,
        default=[12, 16, 20, 22, 24],
        help="qubit counts for the layered forward",
    )
    ap.add_argument(
        "--jacobian-sizes",
        type=_ints,
        default=[12, 16, 20],
        help="qubit counts for the layered adjoint Jacobian",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=2.0,
        help="seconds of repeats per measurement (medians; default 2)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: small sizes, short budget, 1 epoch"
    )
    ap.add_argument("--no-pennylane", action="store_true", help="time qoxide only")
    ap.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder")
    args = ap.parse_args(argv)
    if args.quick:
        args.batches, args.epochs, args.budget = [4, 16], 1, 0.3
        args.forward_sizes, args.jacobian_sizes = [10, 12], [10]
    if max(args.forward_sizes + args.jacobian_sizes, default=0) > _core.MAX_QUBITS:
        ap.error(f"sizes must be at most {_core.MAX_QUBITS} qubits")

    pl = not args.no_pennylane and plm.pennylane_available()
    qq = pl and plm.device_available("qoxide.qubit")
    header = (
        f"# qoxide bench\n\nqoxide {qx.__version__}, torch {torch.__version__}, "
        f"{'PennyLane anchors' if pl else 'no PennyLane (qoxide only)'}"
        f"{', qoxide.qubit' if qq else ''}; {platform.machine()}, "
        f"{qx.get_num_threads()} threads; {time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(header.replace("# ", "").replace("\n\n", ": "), flush=True)
    rows = []
    for wl in args.workloads:
        t0 = time.perf_counter()
        print(f"== {wl}", flush=True)
        if wl == "dressed":
            new = bench_dressed(args.batches, args.budget, pl, qq)
        elif wl == "moons":
            new = bench_moons(args.epochs, pl, qq)
        else:
            new = bench_layered_forward(args.forward_sizes, args.budget, pl, qq)
            new += bench_layered_jacobian(args.jacobian_sizes, args.budget, pl, qq)
        for r in new:
            print(
                f"  {r['case']:>10} | {r['impl']:<42} {r['seconds'] * 1e3:10.3f} ms "
                f"| {r['qoxide_speedup']:8.2f}x vs qoxide",
                flush=True,
            )
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        rows += new
    files = write(rows, args.out, header)
    print()
    print(markdown(rows, header))
    print("wrote " + ", ".join(str(f) for f in files))
    if not any(f.suffix == ".png" for f in files):
        print("(no plot: matplotlib is not installed; pip install 'qoxide[bench]')")
    return 0
