"""Data-parallel setup on torch.distributed: who am I, which device, and the process group.

One process per device. The launcher tells each process its rank through environment
variables: ``torchrun`` sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` and the rendezvous address;
``mpirun`` (Open MPI) sets ``OMPI_COMM_WORLD_*`` and Hydra-based MPIs (MPICH, Intel MPI) set
``PMI_RANK``/``PMI_SIZE``. Under MPI without ``MASTER_ADDR``/``MASTER_PORT`` the address of
rank 0 is published once through mpi4py (as PennyLane's quantum transfer learning demo,
data-parallel variant, reads its ranks from mpi4py); all training communication then goes
through torch.distributed (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import atexit
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .. import cuda

# (rank, size, local rank) variables per launcher, most specific first
_LAUNCHERS = (
    ("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("mpi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
)


@dataclass(frozen=True)
class Launch:
    """Where this process sits in a multi-process launch."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launcher: str = "single"

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, writes checkpoints and shows progress."""
        return self.rank == 0


def detect_launch(environ: Mapping[str, str] | None = None) -> Launch:
    """This process's rank from the launcher's environment variables (single process if none)."""
    env = os.environ if environ is None else environ
    for launcher, rank_var, size_var, local_var in _LAUNCHERS:
        if rank_var in env and size_var in env:
            rank, size = int(env[rank_var]), int(env[size_var])
            if not 0 <= rank < size:
                raise RuntimeError(f"{rank_var}={rank} is outside [0, {size_var}={size})")
            return Launch(rank, size, int(env.get(local_var, 0)), launcher)
    return Launch()


def resolve_device(device: str | torch.device, launch: Launch) -> torch.device:
    """``"auto"``: CUDA when both torch and qoxide's CUDA backend can run there (one GPU
    per local rank), otherwise CPU: torch alone seeing a GPU is not enough when qoxide's
    kernels cannot run (no NVRTC, say)."""
    if str(device) == "auto":
        gpu = torch.cuda.is_available() and cuda.is_available()
        device = f"cuda:{launch.local_rank}" if gpu else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def init_process_group(launch: Launch, device: torch.device) -> Launch:
    """Join (or create) the default process group; a no-op for a single process.

    A group the caller already initialised is used as is, so scripts that set up
    torch.distributed themselves keep working.
    """
    if dist.is_available() and dist.is_initialized():
        return Launch(dist.get_rank(), dist.get_world_size(), launch.local_rank, "existing")
    if not launch.distributed:
        return launch
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if launch.launcher == "mpi":
        _mpi_rendezvous(launch)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size)
    atexit.register(_destroy)
    return launch


def _destroy() -> None:
    """Tear the group down while the interpreter is alive: gloo's worker threads may still
    hold the tensors of the last collective, and releasing them during interpreter shutdown
    aborts the process ("terminate called without an active exception"). Destroying the
    group joins those threads, provided nothing else (such as a DDP wrapper, which the
    Trainer keeps only for the length of a ``fit``) still holds it."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _mpi_rendezvous(launch: Launch) -> None:
    """Set MASTER_ADDR/MASTER_PORT for an MPI launch that did not export them."""
    if "MASTER_ADDR" in os.environ and "MASTER_PORT" in os.environ:
        return
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError(
            "launched by MPI without MASTER_ADDR/MASTER_PORT: install mpi4py so rank 0 can "
            "publish its address, or export MASTER_ADDR and MASTER_PORT on every rank"
        ) from exc
    comm = MPI.COMM_WORLD
    if comm.Get_size() != launch.world_size:
        raise RuntimeError(
            f"mpi4py sees {comm.Get_size()} ranks but the environment says {launch.world_size}"
        )
    hosts = comm.allgather(socket.gethostname())
    address = None
    if launch.rank == 0:
        one_host = len(set(hosts)) == 1
        address = (
            os.environ.get("MASTER_ADDR")
            or ("127.0.0.1" if one_host else socket.gethostbyname(hosts[0])),
            os.environ.get("MASTER_PORT") or str(free_port()),
        )
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = comm.bcast(address, root=0)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago (for a rendezvous on one host)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum ``values`` over all ranks in place (identity for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast_int(value: int, device: torch.device) -> int:
    """Rank 0's ``value`` on every rank (identity for a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return int(t.item())
