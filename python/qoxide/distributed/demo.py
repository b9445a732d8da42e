"""``qoxide sharded-demo --qubits N --procs P``: launch torchrun with P local processes,
run the layered circuit (RX, RY, RZ on every wire, then a CNOT ring; all ⟨Z_i⟩ plus
⟨X_0 Y_1⟩) sharded, and print the schedule (swaps, bytes per rank) and timings of the
forward and the VJP backward."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def layered_circuit(n: int, layers: int):  # noqa: ANN201
    import qoxide as qx

    @qx.circuit(n_qubits=n, inputs=None)
    def layered(q, w):
        for layer in range(layers):
            for g, name in enumerate(("RX", "RY", "RZ")):
                for i in range(n):
                    q.op(name, [i], [w[layer, g, i]])
            for i in range(n):
                q.cnot(i, (i + 1) % n)
        return [q.expval(qx.Z(i)) for i in range(n)] + [q.expval(qx.X(0) @ qx.Y(1))]

    return layered


def worker(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    import qoxide.distributed as qd

    n, layers = args.qubits, args.layers
    net = layered_circuit(n, layers)
    sn = qd.sharded(net, buffer_fraction=args.buffer_fraction)
    rng = np.random.default_rng(0)
    w = torch.tensor(rng.uniform(0, 2 * np.pi, (layers, 3, n)), requires_grad=True)
    plan = sn.plan_for(w)
    main = sn.rank == 0
    if main:
        item = 16
        print(
            f"{n} qubits on {plan.n_ranks} process(es): {plan.local_qubits} local qubits, "
            f"{(1 << plan.local_qubits) * item / 2**20:.3g} MiB per rank (complex128)"
        )
        for i, s in enumerate(plan.steps()):
            if s[0] == "segment":
                print(f"  step {i:3d}: segment of {len(s[1])} op(s)")
            else:
                m = len(s[1])
                sent = ((1 << plan.local_qubits) - (1 << (plan.local_qubits - m))) * item
                print(
                    f"  step {i:3d}: swap of {m} bit(s) (global bits {list(s[1])}, "
                    f"{len(s[2])} local transposition(s)), {sent / 2**20:.3g} MiB sent per rank, "
                    f"{plan.rounds(m, sn.buffer_fraction)} round(s)"
                )
        print(
            f"swaps: {plan.n_swaps}; amplitudes sent per rank: {plan.amps_sent_per_rank} "
            f"({plan.amps_sent_per_rank * item / 2**20:.3g} MiB)"
        )
    times = {"forward": [], "backward": []}
    for _ in range(args.repeats):
        sn.comm.reset()
        t0 = time.perf_counter()
        y = sn(w)
        t1 = time.perf_counter()
        y.sum().backward()
        t2 = time.perf_counter()
        times["forward"].append(t1 - t0)
        times["backward"].append(t2 - t1)
    if main:
        print(
            f"collectives per forward+backward: {dict(sn.comm.calls)}, "
            f"{sn.comm.bytes_sent / 2**20:.3g} MiB sent by rank 0"
        )
        for k, v in times.items():
            print(f"{k}: median {np.median(v) * 1e3:.1f} ms over {len(v)} call(s)")
        y = y.detach()
        print(f"<Z_0> = {float(y[0]):.6f}, <X_0 Y_1> = {float(y[-1]):.6f}")
        if n <= 20:
            ref = net(w.detach())
            err = float((y - ref).abs().max())
            print(f"max |sharded - single process| over the expvals: {err:.2e}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qoxide sharded-demo", description=__doc__)
    ap.add_argument("--qubits", type=int, default=16)
    ap.add_argument("--procs", type=int, default=2, help="local processes (a power of two)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--buffer-fraction", type=float, default=0.25)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.procs < 1 or args.procs & (args.procs - 1):
        ap.error("--procs must be a power of two")
    if not 2 <= args.qubits <= 30:
        ap.error("--qubits must be between 2 and 30 for the demo")
    if args.worker:
        return worker(args)
    from ..train.distributed import free_port

    env = dict(
        os.environ, OMP_NUM_THREADS="1", RAYON_NUM_THREADS=os.environ.get("RAYON_NUM_THREADS", "1")
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={args.procs}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        "-m",
        "qoxide.distributed.demo",
        "--worker",
        f"--qubits={args.qubits}",
        f"--procs={args.procs}",
        f"--layers={args.layers}",
        f"--repeats={args.repeats}",
        f"--buffer-fraction={args.buffer_fraction}",
    ]
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
