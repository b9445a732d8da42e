"""qoxide against the peers a user would pick for small circuits, timed in the same run.

    python benches/peers.py [--batches 1 64 1024 16384] [--budget SECONDS] [--json PATH]

Workload: the dressed quantum circuit of PennyLane's quantum transfer learning demo (4
qubits: H + RY(x_i), 6 x [CNOT pairs, shifted CNOT pairs, RY(w_k,i)], <Z_i>), forward +
gradient of sum(outputs) with respect to the inputs x [B, 4] and the weights w [24],
float64, for each batch size B.

- qoxide: ``@qx.circuit`` on torch tensors, ``torch.autograd.grad`` (adjoint VJP).
- JAX statevector (hand-written): a real [2]*4 state, one ``tensordot`` per gate,
  ``jax.jit(jax.value_and_grad(lambda x, w: sum(jax.vmap(circuit, (0, None))(x, w))))``
  with x64 enabled.
- PennyLane + JAX: default.qubit, ``interface="jax"``, backprop, broadcast over the batch,
  under ``jax.jit(jax.value_and_grad(...))``.
JAX peers are skipped with a message when jax is not installed. Ratios are peer time /
qoxide time (> 1: qoxide faster), all from this run. Per batch the implementations are
timed in ROUNDS alternating rounds (the VM's speed drifts by tens of percent within
minutes; alternating spreads the drift over all of them); each time is the median of its
rounds' medians of repeats (first, compiling call excluded).

Throughput: qoxide's GFLOP/s at batch >= 1024 next to the machine's measured float64 peak
(a torch 1024x1024 float64 matmul on the same cores), from the table's times and again in a
child process with ``OMP_WAIT_POLICY=PASSIVE`` (without torch's spinning OpenMP worker, see
:func:`passive_throughput`), counting nominal flops per sample:
each 1-qubit gate as a dense complex 2x2 matrix on every amplitude pair (28 flops per pair;
CNOTs are permutations, 0 flops), the <Z_i> reductions at 3 flops per amplitude each, and
the adjoint gradient as twice the forward (the sweep un-computes phi and carries lambda
back through every gate), so forward + gradient = 3 x forward gates + reductions.

Then the per-call cost at batch 1 and 64 (forward, forward + gradient) next to torch's
floor for a no-op custom autograd.Function on the same tensors; and the scheduling check:
the DressedQuantumNet(512, 4, 6, 2) training step at batch 64, idle and with 1 and 2 busy
background processes, and the ratios, under each of LOAD_SETTINGS (default, passive
OpenMP waiting, one torch intra-op thread), each in a fresh process.
"""

# ruff: noqa: E402 - the import path must be fixed before PennyLane is imported (below)
from __future__ import annotations

import sys
from pathlib import Path

# benches/pennylane.py is named like PennyLane: keep this folder off the import path
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np
import qoxide as qx
import torch
from qoxide.bench.timing import median_seconds
from qoxide.nn.dressed import dressed_circuit

N_QUBITS, DEPTH = 4, 6
BATCHES = [1, 8, 64, 256, 1024, 4096, 16384]


#: Alternating rounds per batch (see the module doc).
ROUNDS = 5


def timed(fn: Callable[[], object], budget: float) -> float:
    """Median seconds of ``fn`` over as many repeats as fit in ``budget`` (3..2000), after
    one untimed warm-up call (compilation)."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    return median_seconds(fn, int(min(2000, max(3, budget / once))), warmup=0)


def interleaved(fns: dict[str, Callable[[], object]], budget: float) -> dict[str, float]:
    """Seconds per call of each of ``fns``: ROUNDS rounds, each timing every fn in turn for
    ``budget / ROUNDS`` (:func:`timed`); per fn the median of its round figures."""
    rounds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            rounds[name].append(timed(fn, budget / ROUNDS))
    return {name: statistics.median(t) for name, t in rounds.items()}


# qoxide -------------------------------------------------------------------------------------


def qoxide_step(batch: int) -> Callable[[], object]:
    circuit = dressed_circuit(N_QUBITS, DEPTH)
    g = torch.Generator().manual_seed(batch)
    x = torch.rand(batch, N_QUBITS, generator=g, dtype=torch.float64).requires_grad_()
    w = torch.rand(DEPTH * N_QUBITS, generator=g, dtype=torch.float64).requires_grad_()

    def step() -> object:
        y = circuit(x, w)
        return torch.autograd.grad(y.sum(), (x, w))

    return step


class _NoOp(torch.autograd.Function):
    """torch's floor for a custom Function: the same inputs, fresh outputs, no work."""

    @staticmethod
    def forward(ctx, x, w):  # noqa: ANN001, ANN205
        return x.new_empty(x.shape[0], N_QUBITS)

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        return g.new_empty(g.shape[0], N_QUBITS), g.new_empty(DEPTH * N_QUBITS)


def per_call(batch: int, budget: float) -> dict[str, float]:
    """Seconds per call of the dressed circuit, forward alone and forward + gradient, next
    to torch's floor for the same calls through a no-op autograd.Function."""
    circuit = dressed_circuit(N_QUBITS, DEPTH)
    g = torch.Generator().manual_seed(batch)
    x = torch.rand(batch, N_QUBITS, generator=g, dtype=torch.float64).requires_grad_()
    w = torch.rand(DEPTH * N_QUBITS, generator=g, dtype=torch.float64).requires_grad_()
    return {
        "fwd_s": timed(lambda: circuit(x, w), budget),
        "fwd_grad_s": timed(lambda: torch.autograd.grad(circuit(x, w).sum(), (x, w)), budget),
        "floor_fwd_s": timed(lambda: _NoOp.apply(x, w), budget),
        "floor_fwd_grad_s": timed(
            lambda: torch.autograd.grad(_NoOp.apply(x, w).sum(), (x, w)), budget
        ),
    }


# JAX peers ----------------------------------------------------------------------------------


def flops_per_sample() -> int:
    """Nominal flops of the dressed circuit's forward + gradient for one sample (see the
    module doc for the convention)."""
    pairs = 2 ** (N_QUBITS - 1)
    one_qubit_gates = 2 * N_QUBITS + DEPTH * N_QUBITS  # H + RY(x), then RY(w) per layer
    forward = one_qubit_gates * pairs * 28
    reductions = N_QUBITS * 2**N_QUBITS * 3
    return 3 * forward + reductions


def matmul_peak_gflops(budget: float) -> float:
    """float64 GFLOP/s of a 1024x1024 torch matmul on this process's torch threads."""
    a = torch.rand(1024, 1024, dtype=torch.float64)
    b = torch.rand(1024, 1024, dtype=torch.float64)
    return 2 * 1024**3 / timed(lambda: a @ b, budget) / 1e9


#: Throughput is reported from this batch up (the issue's large-batch criterion).
THROUGHPUT_MIN_BATCH = 1024


def throughput(times: dict[int, float], peak: float) -> list[dict[str, float]]:
    """GFLOP/s of qoxide's step at each batch of ``times`` (batch -> seconds) from
    THROUGHPUT_MIN_BATCH, next to ``peak``."""
    return [
        {"batch": b, "gflops": flops_per_sample() * b / t / 1e9, "peak_gflops": peak}
        for b, t in times.items()
        if b >= THROUGHPUT_MIN_BATCH
    ]


def passive_throughput(batches: list[int], budget: float) -> list[dict[str, float]]:
    """:func:`throughput` with torch's OpenMP workers waiting passively, in a child process
    (OpenMP reads the policy at start-up). After a parallel torch op (the ``sum()`` of
    [B, 4] outputs is one from batch 8192) a spinning worker holds a core for about 4 ms
    that qoxide's pool needs (docs/performance.md): this is the kernels' figure without it."""
    big = [b for b in batches if b >= THROUGHPUT_MIN_BATCH]
    if not big:
        return []
    out = subprocess.run(
        [sys.executable, __file__, "--throughput", str(budget), "--batches", *map(str, big)],
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def jax_available() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def jax_statevector_step(batch: int) -> Callable[[], object]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    h = jnp.array([[1.0, 1.0], [1.0, -1.0]]) / math.sqrt(2.0)
    cnot = jnp.eye(4)[jnp.array([0, 1, 3, 2])].reshape(2, 2, 2, 2)
    z = jnp.array([1.0, -1.0])

    def one(state, gate, wire):  # noqa: ANN001, ANN202
        return jnp.moveaxis(jnp.tensordot(gate, state, axes=([1], [wire])), 0, wire)

    def two(state, a, b):  # noqa: ANN001, ANN202
        out = jnp.tensordot(cnot, state, axes=([2, 3], [a, b]))
        return jnp.moveaxis(out, (0, 1), (a, b))

    def ry(t):  # noqa: ANN001, ANN202
        c, s = jnp.cos(t / 2), jnp.sin(t / 2)
        return jnp.array([[c, -s], [s, c]])

    def circuit(x, w):  # noqa: ANN001, ANN202
        state = jnp.zeros((2,) * N_QUBITS).at[(0,) * N_QUBITS].set(1.0)
        for i in range(N_QUBITS):
            state = one(state, h, i)
            state = one(state, ry(x[i]), i)
        w = w.reshape(DEPTH, N_QUBITS)
        for k in range(DEPTH):
            for i in range(0, N_QUBITS - 1, 2):
                state = two(state, i, i + 1)
            for i in range(1, N_QUBITS - 1, 2):
                state = two(state, i, i + 1)
            for i in range(N_QUBITS):
                state = one(state, ry(w[k, i]), i)
        p = state**2
        return jnp.stack(
            [jnp.sum(jnp.tensordot(p, z, axes=([i], [0]))) for i in range(N_QUBITS)]
        )

    f = jax.jit(
        jax.value_and_grad(
            lambda x, w: jnp.sum(jax.vmap(circuit, (0, None))(x, w)), argnums=(0, 1)
        )
    )
    rng = np.random.default_rng(batch)
    x = jnp.asarray(rng.uniform(size=(batch, N_QUBITS)))
    w = jnp.asarray(rng.uniform(size=DEPTH * N_QUBITS))
    return lambda: jax.block_until_ready(f(x, w))


def pennylane_jax_step(batch: int) -> Callable[[], object]:
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    jax.config.update("jax_enable_x64", True)
    dev = qml.device("default.qubit", wires=N_QUBITS)

    @qml.qnode(dev, interface="jax", diff_method="backprop")
    def net(x, w):  # noqa: ANN001, ANN202
        w = w.reshape(DEPTH, N_QUBITS)
        for i in range(N_QUBITS):
            qml.Hadamard(wires=i)
            qml.RY(x[..., i], wires=i)
        for k in range(DEPTH):
            for i in range(0, N_QUBITS - 1, 2):
                qml.CNOT(wires=[i, i + 1])
            for i in range(1, N_QUBITS - 1, 2):
                qml.CNOT(wires=[i, i + 1])
            for i in range(N_QUBITS):
                qml.RY(w[k, i], wires=i)
        return [qml.expval(qml.PauliZ(i)) for i in range(N_QUBITS)]

    f = jax.jit(
        jax.value_and_grad(lambda x, w: jnp.sum(jnp.stack(net(x, w))), argnums=(0, 1))
    )
    rng = np.random.default_rng(batch)
    x = jnp.asarray(rng.uniform(size=(batch, N_QUBITS)))
    w = jnp.asarray(rng.uniform(size=DEPTH * N_QUBITS))
    return lambda: jax.block_until_ready(f(x, w))


# idle vs loaded -------------------------------------------------------------------------------


def dressed_train_step(batch: int = 64) -> Callable[[], None]:
    torch.manual_seed(0)
    net = qx.nn.DressedQuantumNet(512, N_QUBITS, DEPTH, 2)
    x, y = torch.randn(batch, 512), torch.randint(0, 2, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        net.zero_grad()
        loss_fn(net(x), y).backward()

    return step


def idle_vs_loaded(budget: float) -> dict[str, float]:
    """The dressed step's median alone, then with 1 and with 2 spinning background
    processes (the issue's check is 2; 1 leaves torch's two threads one core)."""
    step = dressed_train_step()
    result = {"idle_s": timed(step, budget)}
    for busy in (1, 2):
        spinners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)
        ]
        try:
            time.sleep(0.5)  # let them reach the CPUs
            result[f"busy{busy}_s"] = timed(step, budget)
        finally:
            for p in spinners:
                p.kill()
                p.wait()
        result[f"ratio_busy{busy}"] = result[f"busy{busy}_s"] / result["idle_s"]
    return result


#: Process settings the idle/loaded check runs under, each in a fresh process (OpenMP reads
#: them at start-up). The cliff is torch's: its intra-op OpenMP threads spin-wait at their
#: barriers, so with the cores busy a step waits for a descheduled thread for whole
#: scheduler periods (~24 ms); a torch-only step shows it too. Passive OpenMP waiting or one
#: intra-op thread removes it.
LOAD_SETTINGS = {
    "default": {},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}


def idle_vs_loaded_by_setting(budget: float) -> dict[str, dict[str, float]]:
    """:func:`idle_vs_loaded` in a child process per entry of :data:`LOAD_SETTINGS`."""
    results = {}
    for name, env in LOAD_SETTINGS.items():
        out = subprocess.run(
            [sys.executable, __file__, "--idle-vs-loaded", str(budget)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


# main -----------------------------------------------------------------------------------------


def machine() -> str:
    """The CPU, cores and library versions the figures come from (timings on different
    cards are not comparable)."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = f"qoxide {qx.__version__}, torch {torch.__version__}"
    if jax_available():
        import jax

        versions += f", jax {jax.__version__}"
    return f"machine: {cpu}, {os.cpu_count()} cores; {versions}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="*", default=BATCHES)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--no-pennylane", action="store_true", help="skip PennyLane + JAX")
    ap.add_argument("--json", type=Path, help="append JSON lines here")
    ap.add_argument("--idle-vs-loaded", type=float, metavar="BUDGET", help=argparse.SUPPRESS)
    ap.add_argument("--throughput", type=float, metavar="BUDGET", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.idle_vs_loaded is not None:  # the child of idle_vs_loaded_by_setting
        print(json.dumps(idle_vs_loaded(args.idle_vs_loaded)))
        return
    if args.throughput is not None:  # the child of passive_throughput
        steps = {b: qoxide_step(b) for b in args.batches}
        times = {b: interleaved({"qoxide": s}, args.throughput)["qoxide"] for b, s in steps.items()}
        print(json.dumps(throughput(times, matmul_peak_gflops(args.throughput))))
        return

    print(machine())
    impls: dict[str, Callable[[int], Callable[[], object]]] = {"qoxide": qoxide_step}
    if jax_available():
        impls["JAX statevector jit"] = jax_statevector_step
        if not args.no_pennylane:
            impls["PennyLane+JAX jit"] = pennylane_jax_step
    else:
        print("jax is not installed: JAX peers skipped (pip install jax)")

    rows = []
    for batch in args.batches:
        times = interleaved({name: make(batch) for name, make in impls.items()}, args.budget)
        for name, t in times.items():
            rows.append(
                {"batch": batch, "impl": name, "seconds": t, "ratio": t / times["qoxide"]}
            )
    peak = matmul_peak_gflops(args.budget)
    ours = {r["batch"]: r["seconds"] for r in rows if r["impl"] == "qoxide"}
    rates = {"default": throughput(ours, peak)}
    rates["OMP_WAIT_POLICY=PASSIVE"] = passive_throughput(args.batches, args.budget)
    overhead = {b: per_call(b, args.budget) for b in (1, 64)}
    loads = idle_vs_loaded_by_setting(args.budget)

    names = list(impls)
    head = f"{'batch':>6} | " + " | ".join(f"{n:>22}" for n in names)
    print(head + "\n" + "-" * len(head))
    for batch in args.batches:
        cells = []
        for n in names:
            r = next(r for r in rows if r["batch"] == batch and r["impl"] == n)
            ratio = "" if n == "qoxide" else f" ({r['ratio']:.2f}x)"
            cells.append(f"{_fmt(r['seconds']) + ratio:>22}")
        print(f"{batch:>6} | " + " | ".join(cells))
    print("ratio = peer time / qoxide time (> 1: qoxide faster)")
    for setting, ts in rates.items():
        for t in ts:
            print(
                f"throughput, batch {t['batch']}, {setting}: {t['gflops']:.2f} GFLOP/s nominal "
                f"= {100 * t['gflops'] / t['peak_gflops']:.1f}% of a float64 matmul's "
                f"{t['peak_gflops']:.1f} GFLOP/s ({flops_per_sample()} flops per sample)"
            )
    for b, t in overhead.items():
        print(
            f"per call, batch {b}: forward {_fmt(t['fwd_s'])}, forward + gradient "
            f"{_fmt(t['fwd_grad_s'])} (torch's floor for a custom Function: "
            f"{_fmt(t['floor_fwd_s'])}, {_fmt(t['floor_fwd_grad_s'])})"
        )
    for name, load in loads.items():
        print(
            f"dressed step, batch 64, {name}: idle {_fmt(load['idle_s'])}, with 1 / 2 busy "
            f"processes {_fmt(load['busy1_s'])} / {_fmt(load['busy2_s'])}: loaded/idle "
            f"{load['ratio_busy1']:.2f}x / {load['ratio_busy2']:.2f}x"
        )
    if args.json:
        with args.json.open("a") as f:
            for r in rows:
                f.write(json.dumps({"workload": "dressed fwd+grad", **r}) + "\n")
            for setting, ts in rates.items():
                for t in ts:
                    f.write(json.dumps({"workload": "throughput", "setting": setting, **t}))
                    f.write("\n")
            for b, t in overhead.items():
                f.write(json.dumps({"workload": "per call", "batch": b, **t}) + "\n")
            for name, load in loads.items():
                f.write(json.dumps({"workload": "idle vs loaded", "setting": name, **load}))
                f.write("\n")


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
