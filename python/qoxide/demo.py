"""`qoxide demo`: the hybrid make_moons classifier (PennyLane forum benchmark), trained with qoxide.

The model of the PennyLane forum benchmark users know: Linear(2,10)–ReLU–Linear(10,2)–Tanh,
a 2-qubit quantum layer (H + RZ(2x) encoding, CNOT, RY weights, ⟨Z0⟩, ⟨Z1⟩), then the same
classical block; make_moons(200, noise=0.1), SGD lr 0.2, L1 loss on one-hot targets, batch 5,
6 epochs. The quantum layer is a ``qx.nn.QuantumLayer``: one native call per batch forward,
one adjoint sweep per batch backward. ``examples/moons_hybrid.py`` runs this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import qoxide as qx

N_SAMPLES, NOISE, BATCH_SIZE, EPOCHS, LR, SEED = 200, 0.1, 5, 6, 0.2, 42


@qx.circuit(n_qubits=2)
def moons_circuit(q, inputs, weights):  # noqa: ANN001
    # data encoding
    for i in range(2):
        q.h(i)
        q.rz(2.0 * inputs[i], i)
    # trainable part
    q.cnot(0, 1)
    q.ry(weights[0], 0)
    q.ry(weights[1], 1)
    return [q.expval(qx.Z(0)), q.expval(qx.Z(1))]


def classical_block() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 10), nn.ReLU(True), nn.Linear(10, 2), nn.Tanh())


class HybridMoons(nn.Module):
    """classical block → quantum layer → classical block, as in the forum benchmark."""

    def __init__(self, qlayer: nn.Module):
        super().__init__()
        self.cnet_in = classical_block()
        self.qlayer = qlayer
        self.cnet_out = classical_block()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnet_out(self.qlayer(self.cnet_in(x)))


def qoxide_layer() -> nn.Module:
    """The 2-qubit layer as a qoxide QuantumLayer (TorchLayer's U(0, 2π) weight init)."""
    return qx.nn.QuantumLayer(moons_circuit, {"weights": (2,)})


def moons_data(seed: int = SEED) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(X [200, 2] float32, one-hot targets [200, 2], labels [200]), seeded as the original
    PennyLane script (the hybrid make_moons classifier) does."""
    from sklearn.datasets import make_moons

    np.random.seed(seed)
    x, y = make_moons(n_samples=N_SAMPLES, noise=NOISE)
    y_hot = torch.zeros(N_SAMPLES, 2).scatter_(1, torch.tensor(y).unsqueeze(1), 1.0)
    return torch.tensor(x).float(), y_hot, y


def train_moons(
    make_layer: Callable[[], nn.Module] = qoxide_layer,
    epochs: int = EPOCHS,
    seed: int = SEED,
    progress: bool = True,
    log: Callable[[str], Any] | None = tqdm.write,
) -> dict[str, Any]:
    """Train the hybrid model; returns losses per epoch, accuracy and wall time (s)."""
    torch.manual_seed(seed)
    x, y_hot, y = moons_data(seed)
    model = HybridMoons(make_layer())
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.L1Loss()
    loader = torch.utils.data.DataLoader(
        list(zip(x, y_hot, strict=True)), batch_size=BATCH_SIZE, shuffle=True, drop_last=True
    )
    losses = []
    start = time.perf_counter()
    steps = tqdm(total=epochs * len(loader), desc="training", disable=not progress, leave=False)
    for epoch in range(epochs):
        running = 0.0
        for xs, ys in loader:
            opt.zero_grad()
            loss = loss_fn(model(xs), ys)
            loss.backward()
            opt.step()
            running += loss.item()
            steps.update()
        losses.append(running / len(loader))
        if log:
            log(f"  epoch {epoch + 1}: average loss {losses[-1]:.4f}")
    steps.close()
    with torch.no_grad():
        pred = model(x).argmax(dim=1).numpy()
    wall = time.perf_counter() - start
    return {"losses": losses, "accuracy": float((pred == y).mean()), "seconds": wall}


def main(epochs: int = EPOCHS, progress: bool = True) -> dict[str, Any]:
    print(
        f"qoxide {qx.__version__}: hybrid make_moons classifier "
        f"({N_SAMPLES} samples, batch {BATCH_SIZE}, {epochs} epochs, SGD lr {LR}, L1 loss)"
    )
    result = train_moons(epochs=epochs, progress=progress)
    print(
        f"  accuracy {result['accuracy'] * 100:.1f}%, training time {result['seconds']:.2f} s "
        f"({result['seconds'] / max(epochs, 1) * 1e3:.0f} ms per epoch, "
        f"threads {qx.get_num_threads()})"
    )
    print("  compare: `qoxide bench --workloads moons` times the same training in PennyLane")
    return result
