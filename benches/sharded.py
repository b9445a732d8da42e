"""Sharded statevector: this scheduler's communication against swap-in-and-back per global
gate (lightning.gpu's way), from the scheduler's counts, and the wall time of a sharded
forward + VJP on 1/2/4 local processes (gloo on 127.0.0.1).

    python benches/sharded.py [--count-qubits 24,28,32,36,40,44] [--ranks 4,16,64,256]
        [--layers 8] [--time-qubits 20,22] [--procs 1,2,4] [--time-layers 2] [--out FILE]

Part 1 (counts, nothing simulated): swaps per layer and amplitudes sent per rank per layer
for the layered RX/RY/RZ + CNOT-ring circuit; ratio = look-ahead volume / swap-and-back
volume (target ≤ 0.2 at 40+ qubits). Part 2 (wall time): `qoxide sharded-demo` on P local
processes, one thread each; medians of --repeats calls. On a shared 2-core VM the 4-process
row oversubscribes the cores: it measures correctness of the plumbing more than speed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

from qoxide import _core


def ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--count-qubits", type=ints, default=ints("24,28,32,36,40,44"))
    ap.add_argument("--ranks", type=ints, default=ints("4,16,64,256"))
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--time-qubits", type=ints, default=ints("20,22"))
    ap.add_argument("--procs", type=ints, default=ints("1,2,4"))
    ap.add_argument("--time-layers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="also write JSON lines here")
    a = ap.parse_args(argv)
    out = open(a.out, "w") if a.out else None  # noqa: SIM115

    def emit(row: dict) -> None:
        if out:
            out.write(json.dumps(row) + "\n")

    print(
        "qubits | ranks | swaps/layer (look-ahead) | swaps/layer (swap-and-back) | "
        "amps sent/rank/layer (look-ahead) | (swap-and-back) | ratio"
    )
    print("---|---|---|---|---|---|---")
    for n in a.count_qubits:
        for ranks in a.ranks:
            k = ranks.bit_length() - 1
            if 1 << k != ranks or k > n - 3:
                continue
            d = _core.layered_schedule(n, a.layers, k)
            nv = _core.layered_schedule(n, a.layers, k, naive=True)
            ratio = d["amps_sent_per_rank"] / nv["amps_sent_per_rank"]
            row = {
                "part": "counts",
                "qubits": n,
                "ranks": ranks,
                "layers": a.layers,
                "swaps": d["swaps"],
                "naive_swaps": nv["swaps"],
                "amps": d["amps_sent_per_rank"],
                "naive_amps": nv["amps_sent_per_rank"],
                "ratio": ratio,
            }
            emit(row)
            print(
                f"{n} | {ranks} | {d['swaps'] / a.layers:.2f} | {nv['swaps'] / a.layers:.2f} | "
                f"{d['amps_sent_per_rank'] / a.layers:.3g} | "
                f"{nv['amps_sent_per_rank'] / a.layers:.3g} | "
                f"{ratio:.3f}"
            )
    if a.time_qubits and a.procs:
        print("\nqubits | procs | forward ms | backward (VJP) ms")
        print("---|---|---|---")
    for n in a.time_qubits:
        for p in a.procs:
            cmd = [
                sys.executable,
                "-m",
                "qoxide",
                "sharded-demo",
                f"--qubits={n}",
                f"--procs={p}",
                f"--layers={a.time_layers}",
                f"--repeats={a.repeats}",
            ]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                print(f"{n} | {p} | failed: {r.stdout[-500:]} {r.stderr[-500:]}")
                continue
            f = re.search(r"forward: median ([\d.]+) ms", r.stdout)
            b = re.search(r"backward: median ([\d.]+) ms", r.stdout)
            fw, bw = float(f.group(1)), float(b.group(1))
            emit({"part": "time", "qubits": n, "procs": p, "forward_ms": fw, "backward_ms": bw})
            print(f"{n} | {p} | {fw:.1f} | {bw:.1f}")
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
