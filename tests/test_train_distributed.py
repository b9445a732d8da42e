"""Data-parallel Trainer: 2 processes (torchrun, and mpirun when installed) on loopback train
seed 001's dressed net to the weights and histories of one process with the same global
batch."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from qoxide.train import ddp_demo, load_checkpoint
from qoxide.train.data import eval_loader_for, set_epoch, train_loader_for
from qoxide.train.distributed import Launch, detect_launch
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset

DEMO_ARGS = ["--dtype", "float64", "--epochs", "3", "--samples", "32", "--global-batch", "8"]
DEMO_ARGS += ["--in-features", "16", "--no-progress"]
TIMEOUT_S = 240


@pytest.fixture(scope="module")
def single_process():  # noqa: ANN201
    """The reference: one process, global batch 8."""
    _, result = ddp_demo.train(ddp_demo.parse_args([*DEMO_ARGS, "--nproc", "1"]))
    return result


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_ADDR", "MASTER_PORT")}
    env.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run a launcher in its own session, so a hang kills it and every rank it started."""
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{cmd[0]} did not finish in {TIMEOUT_S} s:\n{out}\n{err}")
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{out}\n{err}"
    assert "2 process(es)" in out  # rank 0 alone prints the summary once
    assert out.count("epoch 0:") == 1


def _assert_matches(saved_path: Path, reference) -> None:  # noqa: ANN001
    saved = torch.load(saved_path, weights_only=True)
    assert saved["world_size"] == 2
    ref = reference.model_state_dict
    assert saved["model_state_dict"].keys() == ref.keys()
    for k, w in saved["model_state_dict"].items():
        assert w.dtype == torch.float64
        assert (w - ref[k]).abs().max().item() <= 1e-6, k
    for ddp, single in (
        (saved["train_history"], reference.train_history),
        (saved["val_history"], reference.val_history),
    ):
        assert [h["epoch"] for h in ddp] == [h["epoch"] for h in single] == [0, 1, 2]
        for a, b in zip(ddp, single, strict=True):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-9)
            assert a["accuracy"] == b["accuracy"]


def test_single_process_reference_is_sensitive_to_the_global_batch(single_process) -> None:
    """The equality below means something: another global batch ends elsewhere."""
    args = [*DEMO_ARGS, "--nproc", "1", "--global-batch", "4"]
    _, other = ddp_demo.train(ddp_demo.parse_args(args))
    diff = max(
        (other.model_state_dict[k] - w).abs().max().item()
        for k, w in single_process.model_state_dict.items()
    )
    assert diff > 1e-4


def test_torchrun_two_processes_match_one(tmp_path, single_process) -> None:
    out, ckpt = tmp_path / "ddp.pt", tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "qoxide.train.ddp_demo", *DEMO_ARGS, "--save", str(out)]
    cmd += ["--checkpoint-dir", str(ckpt)]
    _run(cmd, _env(), tmp_path)
    _assert_matches(out, single_process)
    # rank 0 alone wrote the checkpoint: the last epoch, the weights just compared
    assert [p.name for p in ckpt.iterdir()] == ["checkpoint.pt"]
    saved = load_checkpoint(ckpt)
    assert saved["next_epoch"] == 3
    for k, w in saved["model"].items():
        assert torch.equal(w, torch.load(out, weights_only=True)["model_state_dict"][k])


@pytest.mark.skipif(
    shutil.which("mpirun") is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpirun and mpi4py (apt-get install openmpi-bin libopenmpi-dev; "
    "pip install mpi4py)",
)
def test_mpirun_two_processes_match_one(tmp_path, single_process) -> None:
    out = tmp_path / "mpi.pt"
    cmd = ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "qoxide.train.ddp_demo"]
    cmd += [*DEMO_ARGS, "--save", str(out)]
    env = _env(  # MASTER_ADDR/PORT unset: rank 0 publishes them through mpi4py
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_btl_vader_single_copy_mechanism="none",
    )
    _run(cmd, env, tmp_path)
    _assert_matches(out, single_process)


def test_rank_shards_of_each_global_batch_are_the_single_process_batch() -> None:
    data = TensorDataset(torch.arange(24))
    single = train_loader_for(DataLoader(data, batch_size=8, shuffle=True), Launch(), seed=3)
    ranks = [
        train_loader_for(
            DataLoader(data, batch_size=4, shuffle=True), Launch(r, 2, r, "torchrun"), seed=3
        )
        for r in range(2)
    ]
    orders = []
    for epoch in (0, 1):
        for loader in (single, *ranks):
            set_epoch(loader, epoch)
        one = [sorted(b[0].tolist()) for b in single]
        two = [sorted(a[0].tolist() + b[0].tolist()) for a, b in zip(*ranks, strict=True)]
        assert one == two and sorted(sum(one, [])) == list(range(24))
        orders.append(one)
    assert orders[0] != orders[1]  # reshuffled per epoch (seed + epoch)


def test_validation_shards_cover_every_sample_once() -> None:
    loader = DataLoader(TensorDataset(torch.arange(10)), batch_size=4)
    shards = [
        [i for (b,) in eval_loader_for(loader, Launch(r, 3, r, "mpi")) for i in b.tolist()]
        for r in range(3)
    ]
    assert shards == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_custom_samplers_are_kept_locally_and_refused_distributed() -> None:
    data = TensorDataset(torch.arange(8))
    loader = DataLoader(data, batch_size=2, sampler=SubsetRandomSampler(range(4)))
    assert train_loader_for(loader, Launch(), seed=0) is loader
    with pytest.raises(ValueError, match="DistributedSampler"):
        train_loader_for(loader, Launch(0, 2, 0, "torchrun"), seed=0)
    with pytest.raises(ValueError, match="shards the dataset"):
        eval_loader_for(loader, Launch(0, 2, 0, "torchrun"))


@pytest.mark.parametrize(
    "env, launch",
    [
        ({}, Launch()),
        ({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, Launch(1, 4, 1, "torchrun")),
        (
            {
                "OMPI_COMM_WORLD_RANK": "3",
                "OMPI_COMM_WORLD_SIZE": "4",
                "OMPI_COMM_WORLD_LOCAL_RANK": "1",
            },
            Launch(3, 4, 1, "mpi"),
        ),
        ({"PMI_RANK": "0", "PMI_SIZE": "2"}, Launch(0, 2, 0, "mpi")),
        ({"PMI_RANK": "0", "PMI_SIZE": "1"}, Launch(0, 1, 0, "mpi")),
    ],
)
def test_detect_launch(env, launch) -> None:  # noqa: ANN001
    assert detect_launch(env) == launch
    assert launch.distributed == (launch.world_size > 1)


def test_detect_launch_rejects_a_bad_rank() -> None:
    with pytest.raises(RuntimeError, match="outside"):
        detect_launch({"RANK": "2", "WORLD_SIZE": "2"})


def test_auto_device_needs_qoxides_cuda_backend_not_only_torchs(monkeypatch):
    """device="auto" picks CUDA only where qoxide's kernels can run too (driver, GPU and
    NVRTC): torch seeing a GPU while qoxide's backend cannot (e.g. no NVRTC) must train on
    the CPU instead of failing at the first quantum call."""
    from qoxide import cuda
    from qoxide.train.distributed import resolve_device

    picked: list = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", picked.append)
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    assert resolve_device("auto", Launch()) == torch.device("cpu")
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    assert resolve_device("auto", Launch(1, 2, 1, "torchrun")) == torch.device("cuda:1")
    assert picked == [torch.device("cuda:1")]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", Launch()) == torch.device("cpu")
    assert resolve_device("cpu", Launch()) == torch.device("cpu")
