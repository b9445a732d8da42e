"""`qoxide train-ddp-demo`: the 4-qubit dressed quantum net trained data-parallel.

    qoxide train-ddp-demo                         # starts torchrun with 2 processes
    torchrun --nproc_per_node=2 -m qoxide.train.ddp_demo
    mpirun -n 2 python -m qoxide.train.ddp_demo   # ranks from MPI (mpi4py for the address)

PennyLane's quantum transfer learning demo (data-parallel variant) fine-tunes ResNet18's
last layer (``DressedQuantumNet``, 512 features → 4 qubits, depth 6 → 2 classes) on
ants/bees images with CrossEntropyLoss, Adam and StepLR. Here the 512 features come from
two Gaussian clusters, so this demo needs no download and shows the same training loop:
DDP over ranks, DistributedSampler shards, all-reduced loss/accuracy.

``--global-batch`` is split evenly over the processes, so runs with any process count take
the same optimizer steps on the same samples (and end with the same weights, up to
floating-point summation order).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..nn import DressedQuantumNet
from .distributed import detect_launch
from .results import FitResult
from .trainer import Trainer

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="qoxide train-ddp-demo",
        description="train the 4-qubit dressed quantum net data-parallel on torch.distributed",
    )
    p.add_argument("--nproc", type=int, default=2, help="processes torchrun starts (default 2)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--samples", type=int, default=64, help="training samples (validation: half)")
    p.add_argument("--global-batch", type=int, default=8, help="samples per step, all ranks")
    p.add_argument("--in-features", type=int, default=512)
    p.add_argument("--n-qubits", type=int, default=4)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--dtype", choices=sorted(_DTYPES), default="float32")
    p.add_argument(
        "--checkpoint-dir", help="checkpoint every epoch here and resume from it if present"
    )
    p.add_argument("--save", help="rank 0 writes final weights and histories here (torch.save)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def make_datasets(
    n_train: int, n_val: int, in_features: int, seed: int, dtype: torch.dtype
) -> tuple[TensorDataset, TensorDataset]:
    """Two Gaussian clusters (labels 0/1) at ±3 along a random direction of unit-variance
    noise, like two image classes in a pre-trained network's feature space."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.randn(in_features, generator=g, dtype=torch.float64)
    direction /= direction.norm()
    n = n_train + n_val
    labels = torch.arange(n) % 2
    features = torch.randn(n, in_features, generator=g, dtype=torch.float64)
    features += (2.0 * labels[:, None] - 1.0) * 3.0 * direction
    features = features.to(dtype)
    return (
        TensorDataset(features[:n_train], labels[:n_train]),
        TensorDataset(features[n_train:], labels[n_train:]),
    )


def train(args: argparse.Namespace) -> tuple[Trainer, FitResult]:
    """One process's part of the run (all of it when not launched distributed)."""
    dtype = _DTYPES[args.dtype]
    torch.manual_seed(args.seed)
    model = DressedQuantumNet(args.in_features, args.n_qubits, args.depth, 2).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    trainer = Trainer(
        model,
        optimizer,
        nn.CrossEntropyLoss(),
        epochs=args.epochs,
        scheduler=torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1),
        device="cpu",  # DressedQuantumNet runs on CPU in this build
        checkpoint_dir=args.checkpoint_dir,
        progress=not args.no_progress,
    )
    if args.global_batch % trainer.world_size:
        raise SystemExit(
            f"--global-batch {args.global_batch} is not a multiple of {trainer.world_size} ranks"
        )
    batch = args.global_batch // trainer.world_size
    train_set, val_set = make_datasets(
        args.samples, args.samples // 2, args.in_features, args.seed, dtype
    )
    result = trainer.fit(
        DataLoader(train_set, batch_size=batch, shuffle=True),
        val_loader=DataLoader(val_set, batch_size=batch),
        seed=args.seed,
        resume=args.checkpoint_dir is not None,
    )
    return trainer, result


def _torchrun(nproc: int, argv: list[str]) -> int:
    """Run this module on ``nproc`` local processes: ``torchrun --standalone`` (its console
    entry point, called in-process to spare one interpreter start)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun(
            ["--standalone", f"--nproc_per_node={nproc}", "-m", "qoxide.train.ddp_demo", *argv]
        )
    except ChildFailedError:
        return 1  # torchrun has printed which rank failed and why
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.nproc > 1 and detect_launch().launcher == "single":  # not started by a launcher
        return _torchrun(args.nproc, sys.argv[1:] if argv is None else list(argv))
    trainer, result = train(args)
    if trainer.is_main:
        for rec, val in zip(result.train_history, result.val_history, strict=True):
            print(
                f"epoch {rec['epoch']}: loss {rec['loss']:.4f} acc {rec['accuracy']:.3f} | "
                f"val loss {val['loss']:.4f} acc {val['accuracy']:.3f} | "
                f"{rec['epoch_time']:.2f} s"
            )
        print(f"{trainer.world_size} process(es), {result.execution_time:.2f} s in fit")
        if args.save:
            torch.save(
                {
                    "model_state_dict": result.model_state_dict,
                    "train_history": result.train_history,
                    "val_history": result.val_history,
                    "world_size": trainer.world_size,
                },
                args.save,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
