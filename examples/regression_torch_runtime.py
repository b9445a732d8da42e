"""Example 3: the 1-qubit regression of Qiskit ML's Torch Runtime regression workflow, run
locally with qoxide.

    python examples/regression_torch_runtime.py [--epochs 5]

Noisy sine data (20 points on [-π, π]); the model is Qiskit ML's TwoLayerQNN: an RY(x)
feature map, an RY(w) ansatz and ⟨Z⟩, here a ``qx.nn.QuantumLayer`` with the workflow's
weight init 0.1·U(-1, 1). Adam (lr 0.1), summed MSE, batch 1, trained by
``qx.train.Trainer`` with a validation set; then ``predict`` and
``score(..., "regression")`` (R²) as in the workflow.
"""

from __future__ import annotations

import argparse

import numpy as np
import qoxide as qx
import torch
from qoxide.train import Trainer
from torch.utils.data import DataLoader, TensorDataset


@qx.circuit(n_qubits=1)
def two_layer_qnn(q, x, w):  # noqa: ANN001
    q.ry(x[0], 0)  # feature map
    q.ry(w[0], 0)  # ansatz
    return q.expval(qx.Z(0))


def seed_init(t: torch.Tensor, generator: torch.Generator | None) -> None:
    """The workflow's weight init ``0.1 * (2 * random - 1)``."""
    with torch.no_grad():
        t.copy_(0.1 * (2 * torch.rand(t.shape, generator=generator) - 1))


def sine_data(n: int, seed: int) -> TensorDataset:
    rng = np.random.default_rng(seed)
    x = 2 * np.pi * rng.random((n, 1)) - np.pi
    y = np.sin(x) + 0.2 * (2 * rng.random((n, 1)) - 1)
    return TensorDataset(torch.tensor(x).float(), torch.tensor(y).float())


def main(epochs: int = 5) -> float:
    torch.manual_seed(0)
    layer = qx.nn.QuantumLayer(two_layer_qnn, {"w": (1,)}, init=seed_init, seed=0)
    model = torch.nn.Sequential(layer, torch.nn.Unflatten(0, (-1, 1)))  # [B] -> [B, 1]
    train_loader = DataLoader(sine_data(20, seed=0), batch_size=1, shuffle=False)
    val_loader = DataLoader(sine_data(10, seed=1), batch_size=1, shuffle=False)

    trainer = Trainer(
        model=model,
        optimizer=torch.optim.Adam(model.parameters(), lr=0.1),
        loss_func=torch.nn.MSELoss(reduction="sum"),
        epochs=epochs,
    )
    fit = trainer.fit(train_loader, val_loader)
    for tr, va in zip(fit.train_history, fit.val_history, strict=False):
        print(f"  epoch {tr['epoch']}: train loss {tr['loss']:.4f}, val loss {va['loss']:.4f}")
    print(f"fit time {fit.execution_time:.2f} s")
    pred = trainer.predict(val_loader)
    print(f"predictions for the validation points: {pred.prediction.reshape(-1)[:5].tolist()}")
    score = trainer.score(val_loader, score_func="regression")
    print(f"validation R^2: {score.score:.3f}")
    return float(score.score)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=5)
    main(ap.parse_args().epochs)
