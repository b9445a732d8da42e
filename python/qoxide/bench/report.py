"""Writing results: JSON lines, a markdown table and PNG plots under one folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def _fmt_seconds(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.3f} s"


def markdown(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| workload | case | implementation | median time | vs qoxide | accuracy | bw fraction |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acc = f"{r['accuracy'] * 100:.1f}%" if "accuracy" in r else ""
        bw = f"{r['bw_fraction']:.2f}" if "bw_fraction" in r else ""
        lines.append(
            f"| {r['workload']} | {r['case']} | {r['impl']} | "
            f"{_fmt_seconds(r['seconds'])} | {r['qoxide_speedup']:.2f}x | {acc} | {bw} |"
        )
    lines += [
        "",
        "*vs qoxide*: that implementation's time / qoxide's time in this run "
        "(>1: qoxide is faster). *bw fraction*: one all-cores copy of the state times the "
        "number of unfused gates, over the measured time.",
    ]
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> bool:
    """One panel per workload: time per implementation and case (log scale). False when
    matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    fig, axes = plt.subplots(len(workloads), 1, figsize=(9, 3.2 * len(workloads)), squeeze=False)
    for ax, wl in zip(axes[:, 0], workloads, strict=True):
        sub = [r for r in rows if r["workload"] == wl]
        cases = list(dict.fromkeys(r["case"] for r in sub))
        impls = list(dict.fromkeys(r["impl"] for r in sub))
        width = 0.8 / len(impls)
        for k, impl in enumerate(impls):
            xs, ys = [], []
            for c, case in enumerate(cases):
                for r in sub:
                    if r["case"] == case and r["impl"] == impl:
                        xs.append(c + k * width)
                        ys.append(r["seconds"])
            ax.bar(xs, ys, width, label=impl)
        ax.set_xticks([c + 0.4 - width / 2 for c in range(len(cases))], cases)
        ax.set_yscale("log")
        ax.set_ylabel("median seconds")
        ax.set_title(wl)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(rows: list[Row], out: Path, header: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    jsonl, md, png = out / "results.jsonl", out / "results.md", out / "results.png"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    md.write_text(markdown(rows, header))
    written = [jsonl, md]
    if plot(rows, png):
        written.append(png)
    return written
