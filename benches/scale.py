"""CPU performance at scale: qoxide against lightning.qubit and qiskit-aer, every ratio
measured in one run.

    python benches/scale.py [--quick] [--budget S] [--no-anchors] [--out FILE]
        [--forward-sizes 16,20,22,24] [--gate-sizes 22,24] [--jacobian-sizes 16,20]
        [--rss-qubits 26]

1. forward: qoxide.bench's 4-layer circuit (RX/RY/RZ on every wire, then a CNOT ring), all
   <Z_i>. qoxide at c128 and c64 (float64 / float32 weights); lightning.qubit through its
   device API (``dev.execute(tape)``, no QNode overhead) at c128 and c64; qiskit-aer
   AerSimulator(method="statevector") at double and single precision, one
   ``save_expectation_value(Z, [i])`` per qubit (Aer's own gate fusion on, as shipped);
   qsim (``qsimcirq``, complex64 only) ``simulate`` of the cirq circuit, final state only
   (no expectation values: qsim's cost is counted without them), with every core and
   ``max_fused_gate_size`` 2, 3 and 4, each a row (the best one is the anchor).
   Ratio: anchor time / qoxide time at the same precision (> 1: qoxide is faster).
2. gates: one unfused gate, (T(K gates) - T(0 gates)) / K with qoxide's fusion off, over one
   all-cores torch ``mul_`` pass on a state of the same size and dtype (the memory floor).
3. jacobian: adjoint Jacobian of all <Z_i> w.r.t. every angle, qoxide ``_core.jacobian``
   against lightning's ``dev.compute_derivatives`` (adjoint); both checked against each
   other. qoxide with fusion on and off.
4. rss: in a fresh process per precision, peak RSS of one forward (<Z_0>) above the RSS just
   before it, over the state's size.

Times are medians of as many repeats as fit in --budget seconds (qoxide.bench's
adaptive_seconds); a call slower than the budget is timed once: the call whose result was
checked. Every row also goes to --out as a JSON line.
"""

# ruff: noqa: E402 - the import path must be fixed before PennyLane is imported (below)
from __future__ import annotations

import sys
from pathlib import Path

# benches/pennylane.py sits next to this script: drop this folder from the import path so that
# `import pennylane` finds PennyLane, not that file.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import IO, Any

import numpy as np
import qoxide as qx
import torch
from qoxide import _core
from qoxide.bench import pennylane_models as plm
from qoxide.bench.workloads import LAYERS, adaptive_seconds, layered_circuit

Row = dict[str, Any]
Impls = dict[tuple[str, str], Callable[[], Any]]  # (implementation, precision) -> call

PRECISIONS: dict[str, Any] = {"c128": np.float64, "c64": np.float32}
COMPLEX = {"c128": torch.complex128, "c64": torch.complex64}
TOLERANCE = {"c128": 1e-8, "c64": 1e-4}  # max |<Z_i> - qoxide c128's|
DISTS = (
    "qoxide",
    "numpy",
    "torch",
    "pennylane",
    "pennylane_lightning",
    "qiskit",
    "qiskit-aer",
    "qsimcirq",
)
GATE_KINDS = ("RX", "RY", "RZ", "H", "CNOT", "CZ")
GATES_PER_CIRCUIT = 12
QUICK = {"forward": "12,16", "gates": "16", "jacobian": "12", "rss": 20, "budget": 0.2}
LIGHTNING, AER, QSIM = "lightning.qubit", "qiskit-aer", "qsim"
QSIM_FUSED_SIZES = (2, 3, 4)
AER_PRECISION = (("c128", "double"), ("c64", "single"))

APPLY: dict[str, Callable[[Any, Any, tuple[int, ...]], None]] = {
    "RX": lambda q, t, w: q.rx(t, *w),
    "RY": lambda q, t, w: q.ry(t, *w),
    "RZ": lambda q, t, w: q.rz(t, *w),
    "H": lambda q, t, w: q.h(*w),
    "CNOT": lambda q, t, w: q.cnot(*w),
    "CZ": lambda q, t, w: q.cz(*w),
}


# timing and switches ---------------------------------------------------------------------


def checked_seconds(fn: Callable[[], Any], budget: float) -> tuple[Any, float]:
    """(fn's result, its median time). A first call slower than the budget is not repeated:
    that call, whose result gets checked, is the one sample."""
    t0 = time.perf_counter()
    value = fn()
    first = time.perf_counter() - t0
    if first >= budget:
        return value, first
    return value, adaptive_seconds(fn, budget)


@contextlib.contextmanager
def fusion(enabled: bool) -> Iterator[None]:
    """qoxide's gate fusion set to ``enabled`` for the block, then restored."""
    before = qx.fusion_enabled()
    qx.set_fusion(enabled)
    try:
        yield
    finally:
        qx.set_fusion(before)


def weights(n: int) -> np.ndarray:
    return np.random.default_rng(n).uniform(0, 2 * np.pi, (LAYERS, n, 3))


# machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> Row:
    return {
        "section": "machine",
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "loadavg": os.getloadavg(),
        "qoxide_threads": _core.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "fusion_default": qx.fusion_enabled(),
        "versions": {d: version(d) for d in DISTS},
    }


def print_machine(info: Row) -> None:
    print(f"CPU: {info['cpu']}, {info['usable_cores']} usable of {info['cores']} cores")
    load = ", ".join(f"{x:.2f}" for x in info["loadavg"])
    print(
        f"threads: qoxide {info['qoxide_threads']}, torch {info['torch_threads']}, "
        f"OMP_NUM_THREADS={info['OMP_NUM_THREADS']}; load average {load}"
    )
    print("versions: " + ", ".join(f"{d} {v}" for d, v in info["versions"].items()))
    print(
        "note: the anchors (OpenMP pools, all cores unless OMP_NUM_THREADS is set) degrade "
        "badly under background load, as their threads spin-wait at barriers: run on an idle "
        "machine."
    )


def anchors_available(wanted: bool) -> set[str]:
    """The anchors to run, with a note for each one that is wanted but not installed."""
    if not wanted:
        print("anchors: skipped (--no-anchors)")
        return set()
    found = set()
    if importlib.util.find_spec("pennylane_lightning") is not None:
        found.add(LIGHTNING)
    else:
        print(f"note: {LIGHTNING} not installed, skipped")
    if importlib.util.find_spec("qiskit_aer") is not None:
        found.add(AER)
    else:
        print(f"note: {AER} not installed, skipped")
    if importlib.util.find_spec("qsimcirq") is not None:
        found.add(QSIM)
    else:
        print(f"note: {QSIM} (qsimcirq) not installed, skipped")
    return found


# 1. forward ------------------------------------------------------------------------------


def qoxide_forward(n: int, w: np.ndarray) -> Impls:
    f = layered_circuit(n)
    cast = {p: w.astype(dt) for p, dt in PRECISIONS.items()}  # float32 weights run complex64
    return {("qoxide", p): (lambda wp=wp: f(wp)) for p, wp in cast.items()}


def lightning_forward(n: int, w: np.ndarray) -> Impls:
    import pennylane as qml

    tape = plm.layered_tape(n, w)
    impls: Impls = {}
    for p, c_dtype in (("c128", np.complex128), ("c64", np.complex64)):
        try:
            dev = qml.device(LIGHTNING, wires=n, c_dtype=c_dtype)
        except Exception as e:  # noqa: BLE001 - an unsupported precision is skipped, not fatal
            print(f"note: {LIGHTNING} at {p} unavailable ({e}), skipped")
            continue
        impls[(LIGHTNING, p)] = lambda dev=dev: np.asarray(dev.execute(tape))
    return impls


def aer_circuit(n: int, w: np.ndarray) -> Any:
    """The layered circuit in qiskit, saving <Z_i> of every qubit as "z{i}"."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Pauli

    qc = QuantumCircuit(n)
    for layer in range(LAYERS):
        for i in range(n):
            qc.rx(w[layer, i, 0], i)
            qc.ry(w[layer, i, 1], i)
            qc.rz(w[layer, i, 2], i)
        for i in range(n):
            qc.cx(i, (i + 1) % n)
    for i in range(n):
        qc.save_expectation_value(Pauli("Z"), [i], label=f"z{i}")
    return qc


def aer_forward(n: int, w: np.ndarray) -> Impls:
    from qiskit_aer import AerSimulator

    qc = aer_circuit(n, w)

    def run(sim: Any) -> np.ndarray:
        data = sim.run(qc).result().data()
        return np.array([data[f"z{i}"] for i in range(n)])

    sims = {p: AerSimulator(method="statevector", precision=pr) for p, pr in AER_PRECISION}
    return {(AER, p): (lambda sim=sim: run(sim)) for p, sim in sims.items()}


def qsim_circuit(n: int, w: np.ndarray) -> Any:
    import cirq

    q = cirq.LineQubit.range(n)  # cirq's state order: qubit 0 is the high bit, as in qoxide
    c = cirq.Circuit()
    for layer in range(LAYERS):
        for i in range(n):
            c.append([g(w[layer, i, k])(q[i]) for k, g in enumerate((cirq.rx, cirq.ry, cirq.rz))])
        c.append(cirq.CNOT(q[i], q[(i + 1) % n]) for i in range(n))
    return c


def z_expvals(state: np.ndarray, n: int) -> np.ndarray:
    """<Z_i> of a state vector, wire 0 the high bit (for the check only, untimed)."""
    p = (np.abs(state.astype(np.complex128)) ** 2).reshape([2] * n)  # float32 sums drift
    return np.array([np.moveaxis(p, i, 0).reshape(2, -1).sum(1) @ [1, -1] for i in range(n)])


class QsimState:
    """qsim's timed call returns the final state; the check converts it to <Z_i>."""

    def __init__(self, n: int, state: np.ndarray) -> None:
        self.n, self.state = n, state

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return z_expvals(self.state, self.n)


def qsim_forward(n: int, w: np.ndarray) -> Impls:
    import qsimcirq

    c = qsim_circuit(n, w)
    impls: Impls = {}
    for size in QSIM_FUSED_SIZES:
        opts = qsimcirq.QSimOptions(max_fused_gate_size=size, cpu_threads=os.cpu_count() or 1)
        sim = qsimcirq.QSimSimulator(opts)
        impls[(f"{QSIM} fused {size}", "c64")] = lambda sim=sim: QsimState(
            n, sim.simulate(c).final_state_vector
        )
    return impls


def forward_impls(n: int, w: np.ndarray, anchors: set[str]) -> Impls:
    impls = qoxide_forward(n, w)  # qoxide c128 first: it is the reference values
    if LIGHTNING in anchors:
        impls.update(lightning_forward(n, w))
    if AER in anchors:
        impls.update(aer_forward(n, w))
    if QSIM in anchors:
        impls.update(qsim_forward(n, w))
    return impls


def bench_forward(n: int, budget: float, anchors: set[str]) -> list[Row]:
    rows: list[Row] = []
    ref: np.ndarray | None = None
    for (impl, p), fn in forward_impls(n, weights(n), anchors).items():
        values, seconds = checked_seconds(fn, budget)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        ref = values if ref is None else ref
        diff = float(np.abs(values - ref).max())
        rows.append(
            {
                "section": "forward",
                "qubits": n,
                "impl": impl,
                "precision": p,
                "seconds": seconds,
                "max_abs_diff": diff,
                "agrees": diff <= TOLERANCE[p],
            }
        )
    return with_ratios(rows)


def with_ratios(rows: list[Row]) -> list[Row]:
    """Adds each row's time over qoxide's at the same precision, and qoxide's c128 / c64."""
    ours = {r["precision"]: r["seconds"] for r in rows if r["impl"] == "qoxide"}
    for r in rows:
        r["over_qoxide"] = r["seconds"] / ours[r["precision"]]
        if r["impl"] == "qoxide" and r["precision"] == "c64":
            r["c128_over_c64"] = ours["c128"] / r["seconds"]
    return rows


def print_forward(rows: list[Row]) -> None:
    lines = [
        [
            f"{r['qubits']}",
            r["impl"],
            r["precision"],
            ms(r["seconds"]),
            f"{r['over_qoxide']:.2f}x",
            f"{r['max_abs_diff']:.1e}",
            ok(r["agrees"]),
        ]
        for r in rows
    ]
    head = ["qubits", "impl", "prec", "time", "time/qoxide", "max|d| vs qoxide c128", "agree"]
    print_table(
        "1. forward, 4 layers RX/RY/RZ + CNOT ring, all <Z_i> (aer: save_expectation_value)",
        head,
        lines,
    )
    split = [f"{r['qubits']}q {r['c128_over_c64']:.2f}x" for r in rows if "c128_over_c64" in r]
    print("qoxide c128 time / c64 time: " + ", ".join(split))
    best: dict[int, float] = {}
    for r in rows:
        if r["impl"].startswith(QSIM):
            best[r["qubits"]] = min(best.get(r["qubits"], np.inf), r["over_qoxide"])
    if best:
        print(
            "best qsim time / qoxide c64 time: "
            + ", ".join(f"{n}q {x:.2f}x" for n, x in best.items())
        )


# 2. single gates -------------------------------------------------------------------------


def spread_wires(n: int, k: int) -> list[int]:
    """k wires stepping by a stride coprime to n: low and high wires alike, and never the
    same wire twice in a row (a same-wire run would be merged)."""
    stride = next(s for s in (7, 5, 3, 1) if s < n and np.gcd(s, n) == 1)
    return [(j * stride) % n for j in range(k)]


def gate_wires(kind: str, n: int, k: int) -> list[tuple[int, ...]]:
    ws = spread_wires(n, k + 1)
    if kind in ("CNOT", "CZ"):  # neighbouring and distant pairs, alternately
        return [(ws[j], (ws[j] + 1) % n if j % 2 == 0 else ws[j + 1]) for j in range(k)]
    return [(wire,) for wire in ws[:k]]


def gate_circuit(n: int, kind: str, k: int) -> qx.QuantumFunction:
    """k gates of one kind, then <Z_0>: the cheapest measurement, the same for every k."""
    placed = gate_wires(kind, n, k)

    @qx.circuit(n_qubits=n, inputs=None)
    def gates(q, w):  # noqa: ANN001
        for j, wires in enumerate(placed):
            APPLY[kind](q, w[j], wires)
        return q.expval(qx.Z(0))

    return gates


def mul_seconds(n: int, p: str, budget: float) -> float:
    """One all-cores in-place pass over a 2^n state (read + write): what a gate cannot beat."""
    x = torch.ones(2**n, dtype=COMPLEX[p])
    phase = complex(np.cos(0.1), np.sin(0.1))  # unit modulus: repeats never over/underflow
    return adaptive_seconds(lambda: x.mul_(phase), budget)


def circuit_seconds(f: qx.QuantumFunction, w: np.ndarray, budget: float) -> float:
    return checked_seconds(lambda: f(w), budget)[1]


def bench_gates(n: int, budget: float, k: int = GATES_PER_CIRCUIT) -> list[Row]:
    rows: list[Row] = []
    for p, dtype in PRECISIONS.items():
        w = np.linspace(0.1, 3.0, k).astype(dtype)  # the dtype picks the state's precision
        mul = mul_seconds(n, p, budget)
        with fusion(False):
            empty = circuit_seconds(gate_circuit(n, "H", 0), w, budget)
            for kind in GATE_KINDS:
                full = circuit_seconds(gate_circuit(n, kind, k), w, budget)
                per_gate = (full - empty) / k
                rows.append(
                    {
                        "section": "gates",
                        "qubits": n,
                        "impl": "qoxide",
                        "gate": kind,
                        "precision": p,
                        "seconds": per_gate,
                        "gates": k,
                        "empty_seconds": empty,
                        "mul_seconds": mul,
                        "over_mul": per_gate / mul,
                    }
                )
    return rows


def print_gates(rows: list[Row]) -> None:
    lines = [
        [
            f"{r['qubits']}",
            r["precision"],
            r["gate"],
            ms(r["seconds"]),
            ms(r["mul_seconds"]),
            f"{r['over_mul']:.2f}x",
            ms(r["empty_seconds"]),
        ]
        for r in rows
    ]
    k = rows[0]["gates"] if rows else GATES_PER_CIRCUIT
    print_table(
        f"2. one unfused gate = (T({k} gates) - T(0 gates)) / {k}, fusion off, "
        f"vs torch mul_ ({torch.get_num_threads()} threads)",
        ["qubits", "prec", "gate", "per gate", "mul_", "gate/mul_", "T(0 gates)"],
        lines,
    )


# 3. adjoint Jacobian ---------------------------------------------------------------------


def jacobian_impls(n: int, w: np.ndarray, anchors: set[str]) -> dict[str, Callable[[], Any]]:
    prog = layered_circuit(n).program(None, [w.shape])
    theta = prog.theta_numpy(None, w.reshape(-1), 1, np.float64)

    def ours() -> np.ndarray:
        return _core.jacobian(prog.tape, theta, prog.observables)[0]

    def unfused() -> np.ndarray:
        with fusion(False):
            return ours()

    impls = {"qoxide": ours, "qoxide fusion off": unfused}
    if LIGHTNING in anchors:
        import pennylane as qml
        from pennylane.devices import ExecutionConfig

        dev = qml.device(LIGHTNING, wires=n)
        cfg = ExecutionConfig(gradient_method="adjoint")
        tape = plm.layered_tape(n, w)
        impls[f"{LIGHTNING} adjoint"] = lambda: np.asarray(dev.compute_derivatives(tape, cfg))
    return impls


def bench_jacobian(n: int, budget: float, anchors: set[str]) -> list[Row]:
    rows: list[Row] = []
    ref: np.ndarray | None = None
    with fusion(True):  # "qoxide" is the default configuration
        for impl, fn in jacobian_impls(n, weights(n), anchors).items():
            jac, seconds = checked_seconds(fn, budget)
            jac = np.asarray(jac, dtype=np.float64)
            ref = jac if ref is None else ref
            diff = float(np.abs(jac - ref).max())
            rows.append(
                {
                    "section": "jacobian",
                    "qubits": n,
                    "impl": impl,
                    "precision": "c128",
                    "seconds": seconds,
                    "max_abs_diff": diff,
                    "agrees": diff <= 1e-8,
                }
            )
    for r in rows:
        r["over_qoxide"] = r["seconds"] / rows[0]["seconds"]
    return rows


def print_jacobian(rows: list[Row]) -> None:
    lines = [
        [
            f"{r['qubits']}",
            r["impl"],
            ms(r["seconds"]),
            f"{r['over_qoxide']:.2f}x",
            f"{r['max_abs_diff']:.1e}",
            ok(r["agrees"]),
        ]
        for r in rows
    ]
    print_table(
        "3. adjoint Jacobian of all <Z_i> w.r.t. all 12n angles, c128",
        ["qubits", "impl", "time", "time/qoxide", "max|d| vs qoxide", "agree"],
        lines,
    )


# 4. peak memory --------------------------------------------------------------------------


def status_kib(field: str) -> int:
    """A field of /proc/self/status such as VmRSS or VmHWM, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_rss() -> bool:
    """Resets VmHWM to the current RSS (Linux >= 4.0), so that import-time transients do not
    count as the call's peak; False where not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_child(n: int, p: str) -> Row:
    """Run in a fresh process: peak RSS of one forward (<Z_0>) above the RSS just before."""
    w = weights(n)
    prog = layered_circuit(n).program(None, [w.shape])  # compiled before the baseline
    theta = prog.theta_numpy(None, w.reshape(-1), 1, PRECISIONS[p])
    hwm_reset = reset_peak_rss()
    before = status_kib("VmRSS")
    t0 = time.perf_counter()
    _core.expval(prog.tape, theta, prog.observables[:1])
    seconds = time.perf_counter() - t0
    peak = status_kib("VmHWM")
    state_bytes = 2**n * COMPLEX[p].itemsize
    return {
        "section": "rss",
        "qubits": n,
        "impl": "qoxide",
        "precision": p,
        "seconds": seconds,
        "baseline_kib": before,
        "peak_kib": peak,
        "peak_reset": hwm_reset,
        "state_bytes": state_bytes,
        "extra_over_state": (peak - before) * 1024 / state_bytes,
    }


def bench_rss(n: int) -> list[Row]:
    rows = []
    for p in PRECISIONS:
        cmd = [sys.executable, __file__, "--rss-child", f"{n}:{p}"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows


def print_rss(rows: list[Row]) -> None:
    lines = [
        [
            f"{r['qubits']}",
            r["precision"],
            mib(r["state_bytes"]),
            mib(r["baseline_kib"] * 1024),
            mib(r["peak_kib"] * 1024),
            f"{r['extra_over_state']:.2f}",
            ms(r["seconds"]),
        ]
        for r in rows
    ]
    print_table(
        "4. peak RSS of one forward (<Z_0>), fresh process per precision",
        ["qubits", "prec", "state", "RSS before", "peak RSS", "(peak-before)/state", "time"],
        lines,
    )
    if rows and not all(r["peak_reset"] for r in rows):
        print("note: VmHWM could not be reset; the peak may include import-time transients")


# output ----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    """A time with three significant digits in a readable unit."""
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.0f} MiB"


def ok(agrees: bool) -> str:
    return "yes" if agrees else "NO"


def print_table(title: str, header: Sequence[str], lines: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(line[i]) for line in lines]) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)), flush=True)


def write_rows(out: IO[str], rows: list[Row]) -> None:
    """Rows go out as they are measured, so that a run cut short keeps what it measured."""
    for r in rows:
        out.write(json.dumps(r) + "\n")
    out.flush()


# main ------------------------------------------------------------------------------------


def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a short budget")
    parser.add_argument("--budget", type=float, help="seconds per timing (default 2)")
    parser.add_argument("--no-anchors", action="store_true", help="skip lightning, aer and qsim")
    parser.add_argument("--out", default="bench-results/scale.jsonl", help="JSON lines file")
    parser.add_argument("--forward-sizes", help="qubits (default 16,20,22,24)")
    parser.add_argument("--gate-sizes", help="qubits (default 22,24)")
    parser.add_argument("--jacobian-sizes", help="qubits (default 16,20)")
    parser.add_argument("--rss-qubits", type=int, help="qubits (default 26)")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)  # N:PRECISION, internal
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {}
    args.budget = args.budget or defaults.get("budget", 2.0)

    def pick(given: str | None, key: str, default: str) -> list[int]:
        """The sizes asked for ("" skips the section), else the default."""
        return sizes(defaults.get(key, default) if given is None else given)

    args.forward_sizes = pick(args.forward_sizes, "forward", "16,20,22,24")
    args.gate_sizes = pick(args.gate_sizes, "gates", "22,24")
    args.jacobian_sizes = pick(args.jacobian_sizes, "jacobian", "16,20")
    # 0 skips the RSS section
    args.rss_qubits = defaults.get("rss", 26) if args.rss_qubits is None else args.rss_qubits
    return args


def run_sections(args: argparse.Namespace, anchors: set[str], out: IO[str]) -> list[Row]:
    """Runs the four sections, writing each size's rows as they come and printing each
    section's table at its end; returns every row."""
    b = args.budget
    sections: list[tuple[Callable[[int], list[Row]], list[int], Callable[[list[Row]], None]]] = [
        (partial(bench_forward, budget=b, anchors=anchors), args.forward_sizes, print_forward),
        (partial(bench_gates, budget=b), args.gate_sizes, print_gates),
        (partial(bench_jacobian, budget=b, anchors=anchors), args.jacobian_sizes, print_jacobian),
        (bench_rss, [args.rss_qubits] if args.rss_qubits > 0 else [], print_rss),
    ]
    rows: list[Row] = []
    for bench, qubits, show in sections:
        part: list[Row] = []
        for n in qubits:
            new = bench(n)
            write_rows(out, new)
            part += new
        if part:
            show(part)
        rows += part
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rss_child:
        n, p = args.rss_child.split(":")
        print(json.dumps(rss_child(int(n), p)))
        return 0
    # the memory floor (torch mul_) gets every core this process may use, as qoxide's pool does
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    info = machine_info()
    print_machine(info)
    anchors = anchors_available(not args.no_anchors)
    info["anchors"] = sorted(anchors)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        write_rows(out, [info])
        rows = run_sections(args, anchors, out)
    bad = [f"{r['section']} {r['qubits']}q {r['impl']}" for r in rows if r.get("agrees") is False]
    print(f"\nrows written to {path}")
    if bad:
        print(f"FAILED: results disagree with qoxide c128: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
