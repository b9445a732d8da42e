"""Scale on paper: memory per rank, bytes per swap and swaps per layer of the sharded
layered circuit (RX, RY, RZ on every wire, then a CNOT ring) from the scheduler's own
counts — nothing is simulated.

    python benches/sharded_scaling.py [--qubits 36,38,40,42,44] [--nodes 4,16,64,256,1024]
        [--gpus-per-node 4] [--layers 8] [--link-gbs 25] [--hbm-gbs 2000] [--c64]

Ranks = nodes × GPUs per node (a power of two). Per layer: the schedule of `layers` layers
divided by `layers` (the first layer's swaps are amortised). Communication share: time
to send a rank's bytes at --link-gbs (GB/s per GPU, e.g. 25 for 200 Gb/s InfiniBand per
GPU) against the local work of one layer — 4n gate passes over the shard at --hbm-gbs
(read + write), i.e. a bandwidth-bound estimate, not a measurement.
"""

from __future__ import annotations

import argparse

from qoxide import _core


def ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v]


def rows(qubits, nodes, gpn, layers, item, link, hbm):  # noqa: ANN001
    for n in qubits:
        for nd in nodes:
            ranks = nd * gpn
            k = ranks.bit_length() - 1
            if 1 << k != ranks or k >= n - 3:
                continue
            d = _core.layered_schedule(n, layers, k)
            nv = _core.layered_schedule(n, layers, k, naive=True)
            shard = (1 << (n - k)) * item
            swaps = d["swaps"] / layers
            sent = d["amps_sent_per_rank"] * item / layers
            naive_sent = nv["amps_sent_per_rank"] * item / layers
            ms = d["swap_bits"]
            local_s = 4 * n * 2 * shard / (hbm * 1e9)
            comm_s = sent / (link * 1e9)
            yield {
                "qubits": n,
                "nodes": nd,
                "ranks": ranks,
                "global_bits": k,
                "mem_per_rank_GiB": shard / 2**30,
                "swaps_per_layer": swaps,
                "bits_per_swap": sum(ms) / max(len(ms), 1),
                "GiB_sent_per_swap": (d["amps_sent_per_rank"] * item / max(len(ms), 1)) / 2**30,
                "GiB_sent_per_layer": sent / 2**30,
                "naive_GiB_per_layer": naive_sent / 2**30,
                "volume_vs_naive": sent / naive_sent if naive_sent else 0.0,
                "comm_share": comm_s / (comm_s + local_s),
            }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--qubits", type=ints, default=ints("36,38,40,42,44"))
    ap.add_argument("--nodes", type=ints, default=ints("4,16,64,256,1024"))
    ap.add_argument("--gpus-per-node", type=int, default=4)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--link-gbs", type=float, default=25.0)
    ap.add_argument("--hbm-gbs", type=float, default=2000.0)
    ap.add_argument("--c64", action="store_true", help="complex64 (8 bytes per amplitude)")
    a = ap.parse_args(argv)
    item = 8 if a.c64 else 16
    cols = [
        "qubits",
        "nodes",
        "ranks",
        "global_bits",
        "mem_per_rank_GiB",
        "swaps_per_layer",
        "bits_per_swap",
        "GiB_sent_per_swap",
        "GiB_sent_per_layer",
        "naive_GiB_per_layer",
        "volume_vs_naive",
        "comm_share",
    ]
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in rows(a.qubits, a.nodes, a.gpus_per_node, a.layers, item, a.link_gbs, a.hbm_gbs):
        print(" | ".join(f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols))


if __name__ == "__main__":
    main()
