"""Sharded statevector over torch.distributed (gloo on 127.0.0.1): 1, 2 and 4 processes
give the single-process results — gathered state (logical order), Pauli expvals with
X/Y/Z on global wires, probs, the VJP through torch autograd and the Jacobian — and the
collectives and bytes each rank sends equal what the schedule predicts; hypothesis draws
more circuits and registers on 2 ranks; ``qoxide.qubit(mpi=True)`` equals default.qubit."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import qoxide as qx
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples
from qoxide import _core

HERE = Path(__file__).parent / "shard_scripts"
sys.path.insert(0, str(HERE))
from cases import make_case  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with gloo is needed",
)

SEEDS = [3, 11]
FRAC = 0.25


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    procs: int, n: int, tmp: Path, frac: float = FRAC, seeds: list[int] = SEEDS
) -> list[dict]:
    return spawn(procs, ["worker.py", str(tmp), ",".join(map(str, seeds)), str(n), str(frac)], tmp)


def spawn(procs: int, argv: list[str], tmp: Path) -> list[dict]:
    """Run ``shard_scripts/argv[0] argv[1:]`` on ``procs`` gloo ranks; each rank's results."""
    port = free_port()
    env_base = dict(
        os.environ,
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(procs),
        RAYON_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    env_base.pop("LOCAL_RANK", None)
    ps = []
    for r in range(procs):
        env = dict(env_base, RANK=str(r), LOCAL_RANK=str(r))
        ps.append(
            subprocess.Popen(
                [sys.executable, str(HERE / argv[0]), *argv[1:]],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = []
    try:
        for p in ps:
            out, _ = p.communicate(timeout=120)
            logs.append(out)
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
    for p, log in zip(ps, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    return [dict(np.load(tmp / f"rank{r}.npz")) for r in range(procs)]


def reference(seed: int, n: int, dt: torch.dtype) -> dict:
    net, net_ev, x, w, g = make_case(seed, n)
    xt = torch.tensor(x, dtype=dt, requires_grad=True)
    wt = torch.tensor(w, dtype=dt, requires_grad=True)
    *evs, probs, state = net(xt, wt)
    y = net_ev(xt, wt)
    (y * torch.tensor(g, dtype=dt)).sum().backward()
    prog = net_ev.program((3,), [(w.size,)])
    theta = prog.theta_numpy(x, w, 2, np.float64 if dt == torch.float64 else np.float32)
    return {
        "ev": torch.stack([e.detach() for e in evs], 1).numpy(),
        "probs": probs.detach().numpy(),
        "state": state.detach().numpy(),
        "gx": xt.grad.numpy(),
        "gw": wt.grad.numpy(),
        "jac": _core.jacobian(prog.tape, theta, prog.observables),
    }


@pytest.mark.parametrize("procs,n", [(1, 6), (2, 7), (4, 8)])
def test_sharded_equals_single_process(procs: int, n: int, tmp_path: Path) -> None:
    check(launch(procs, n, tmp_path), procs, n)


@settings(max_examples=examples(4), deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(6, 8))
def test_sharded_random_circuits_on_two_ranks(
    seed: int, n: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Hypothesis draws the circuit (a seed of the every-gate generator) and the register."""
    tmp = tmp_path_factory.mktemp("drawn")
    check(launch(2, n, tmp, seeds=[seed]), 2, n, seeds=[seed], need_swaps=False)


@pytest.mark.skipif(importlib.util.find_spec("pennylane") is None, reason="needs PennyLane")
@pytest.mark.parametrize("procs", [1, 2])
def test_pennylane_device_mpi_equals_default_qubit(procs: int, tmp_path: Path) -> None:
    import pennylane as qml
    from cases import pennylane_case

    n = 6
    expvals, probs, x, w, g = pennylane_case(n)
    dev = qml.device("default.qubit", wires=n)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    ev = torch.stack(qml.QNode(expvals, dev, interface="torch")(xt, wt))
    (ev * torch.tensor(g)).sum().backward()
    want_probs = np.asarray(qml.QNode(probs, dev)(x, w))
    for r in spawn(procs, ["pl_worker.py", str(tmp_path), str(n)], tmp_path):
        for tag in ("vjp", "jac"):
            np.testing.assert_allclose(r[f"ev_{tag}"], ev.detach().numpy(), atol=1e-12)
            np.testing.assert_allclose(r[f"gx_{tag}"], xt.grad.numpy(), atol=1e-10)
            np.testing.assert_allclose(r[f"gw_{tag}"], wt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(r["probs"], want_probs, atol=1e-12)
        assert r["shots_refused"]
        assert r["ranks"] == procs and (procs == 1 or r["collectives"] > 0)


@pytest.mark.skipif(
    shutil.which("mpirun") is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpirun and mpi4py (apt-get install openmpi-bin libopenmpi-dev; "
    "pip install mpi4py)",
)
def test_mpirun_two_processes(tmp_path: Path) -> None:
    n = 7
    env = dict(
        os.environ,
        RAYON_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_btl_vader_single_copy_mechanism="none",
    )
    for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(v, None)  # rank 0 publishes its address through mpi4py
    cmd = [
        "mpirun",
        "-n",
        "2",
        "--oversubscribe",
        sys.executable,
        str(HERE / "worker.py"),
        str(tmp_path),
        ",".join(map(str, SEEDS)),
        str(n),
        str(FRAC),
    ]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    check([dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)], 2, n)


def check(
    ranks: list[dict], procs: int, n: int, seeds: list[int] = SEEDS, need_swaps: bool = True
) -> None:
    itemsize = {"64": 16, "32": 8}
    for seed in seeds:
        for dt in (torch.float64, torch.float32):
            tag = f"{seed}_{str(dt)[-2:]}"
            tol = 1e-12 if dt == torch.float64 else 1e-5
            ref = reference(seed, n, dt)
            for r, res in enumerate(ranks):
                ctx = f"rank {r}/{procs} n={n} {tag}"
                np.testing.assert_allclose(res[f"state_{tag}"], ref["state"], atol=tol, err_msg=ctx)
                np.testing.assert_allclose(res[f"ev_{tag}"], ref["ev"], atol=tol, err_msg=ctx)
                np.testing.assert_allclose(res[f"probs_{tag}"], ref["probs"], atol=tol, err_msg=ctx)
                np.testing.assert_allclose(res[f"gx_{tag}"], ref["gx"], atol=10 * tol, err_msg=ctx)
                np.testing.assert_allclose(res[f"gw_{tag}"], ref["gw"], atol=10 * tol, err_msg=ctx)
                np.testing.assert_allclose(
                    res[f"jac_{tag}"], ref["jac"], atol=10 * tol, err_msg=ctx
                )
                # communication: exactly what the schedule predicts
                n_coll, amps, n_swaps, m = res[f"plan_{tag}"]
                full_coll, full_amps = res[f"planfull_{tag}"]
                b, isz = 2, itemsize[tag[-2:]]
                many = procs > 1
                assert list(res[f"fwd_calls_{tag}"]) == [
                    full_coll,
                    int(many),
                    int(many),
                    full_amps * b * isz,
                ], ctx
                assert list(res[f"bwd_calls_{tag}"]) == [
                    n_coll,
                    int(many),
                    0,
                    amps * b * 2 * isz,
                ], ctx
                # the Jacobian runs its forward (φ alone), then the backward (φ + M λ's)
                assert list(res[f"jac_calls_{tag}"]) == [
                    2 * n_coll,
                    int(many),
                    0,
                    amps * b * (2 + m) * isz,
                ], ctx
                if procs > 1 and need_swaps:
                    assert n_swaps > 0, ctx  # the fixed cases do exercise swaps


def test_schedule_counts_and_naive_comparison() -> None:
    n = 16

    @qx.circuit(n_qubits=n, inputs=None)
    def layered(q, w):
        for layer in range(2):
            for g, name in enumerate(("RX", "RY", "RZ")):
                for i in range(n):
                    q.op(name, [i], [w[layer, g, i]])
            for i in range(n):
                q.cnot(i, (i + 1) % n)
        return [q.expval(qx.X(0) @ qx.Y(1)), q.expval(qx.Z(n - 1))]

    prog = layered.program(None, [(2, 3, n)])
    for k in (1, 2, 3):
        plan = _core.ShardPlan(prog.tape, k, prog.observables)
        naive = _core.ShardPlan(prog.tape, k, prog.observables, True)
        assert plan.local_qubits == n - k and plan.n_ranks == 1 << k
        assert plan.amps_sent_per_rank * 3 < naive.amps_sent_per_rank
        steps = plan.steps()
        swaps = [s for s in steps if s[0] == "swap"]
        assert len(swaps) == plan.n_swaps > 0
        l_bits = plan.local_qubits
        per = sum((1 << l_bits) - (1 << (l_bits - len(s[1]))) for s in swaps)
        assert per == plan.amps_sent_per_rank
        # X/Y wires are local at the end
        fm = plan.final_map
        assert fm[0] < l_bits and fm[1] < l_bits
        assert plan.n_collectives(1e9) == plan.n_swaps
    # the layered circuit at 40 qubits: at most 1/5 of swap-in-and-back's volume
    for k in (2, 4, 8):
        d = _core.layered_schedule(40, 4, k)
        nv = _core.layered_schedule(40, 4, k, naive=True)
        assert d["amps_sent_per_rank"] * 5 <= nv["amps_sent_per_rank"], (k, d, nv)
        assert d["swaps"] <= 2 * 4, d  # about one swap per layer
    with pytest.raises(NotImplementedError, match="Pauli"):

        @qx.circuit(n_qubits=3, inputs=None)
        def herm(q, w):
            q.rx(w[0], 0)
            return q.expval(qx.Hermitian(np.eye(2), 0))

        hp = herm.program(None, [(1,)])
        _core.ShardPlan(hp.tape, 1, hp.observables)
