"""A checkpointed, seeded training run for the kill/resume test.

    python resumable_fit.py CHECKPOINT_DIR [--hang-at GLOBAL_STEP MARKER]

With ``--hang-at`` the run touches MARKER before that global step and sleeps there (the test
then SIGKILLs it mid-epoch). The model has dropout and the loader shuffles, so an exact
resume needs the data order, the random states, the optimizer and the LR schedule restored.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import qoxide as qx
import torch
from qoxide.train import EarlyStopping, FitResult, HookBase, Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

EPOCHS, SAMPLES, BATCH, SEED = 4, 24, 4, 1234  # 6 steps per epoch


@qx.circuit(n_qubits=2)
def head(q, x, w):
    for i in range(2):
        q.ry(x[i], i)
    q.cnot(0, 1)
    for i in range(2):
        q.ry(w[i], i)
    return [q.expval(qx.Z(i)) for i in range(2)]


def build(checkpoint_dir: str | Path | None) -> tuple[Trainer, DataLoader, DataLoader]:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(3, 2),
        nn.Dropout(0.3),
        qx.nn.QuantumLayer(head, {"w": 2}, seed=0, dtype=torch.float64),
        nn.Linear(2, 1),
    ).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(SAMPLES, 3, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(dim=1, keepdim=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    trainer = Trainer(
        model,
        optimizer,
        nn.MSELoss(),
        EPOCHS,
        hooks=EarlyStopping(monitor="val_loss", patience=EPOCHS, restore_best_weights=True),
        scheduler=torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7),
        checkpoint_dir=checkpoint_dir,
        device="cpu",
        progress=False,
    )
    train = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    val = DataLoader(TensorDataset(x[:8], y[:8]), batch_size=BATCH)
    return trainer, train, val


def run(checkpoint_dir: str | Path | None, hooks: list[HookBase] | None = None) -> FitResult:
    trainer, train, val = build(checkpoint_dir)
    return trainer.fit(
        train, val_loader=val, hooks=hooks, seed=SEED, resume=checkpoint_dir is not None
    )


class HangAt(HookBase):
    def __init__(self, global_step: int, marker: Path):
        self.global_step, self.marker = global_step, marker

    def before_step(self) -> None:
        if self.trainer.global_step == self.global_step:
            self.marker.touch()
            time.sleep(600)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir")
    parser.add_argument("--hang-at", nargs=2, metavar=("GLOBAL_STEP", "MARKER"))
    args = parser.parse_args()
    hang = [HangAt(int(args.hang_at[0]), Path(args.hang_at[1]))] if args.hang_at else None
    run(args.checkpoint_dir, hang)
    sys.exit(0)
