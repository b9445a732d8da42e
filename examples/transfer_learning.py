"""Example 2: classical→quantum transfer learning (PennyLane's quantum transfer learning
demo), without downloads.

    python examples/transfer_learning.py [--epochs 15] [--png transfer_learning.png]

The demo freezes an ImageNet ResNet18 (network A) and trains a 4-qubit dressed quantum
circuit on its 512 penultimate features to tell ants from bees. Here everything ships with
scikit-learn: network A is a small CNN trained on the bundled 8×8 digits 0–7; frozen, its
512 penultimate features feed ``qx.nn.DressedQuantumNet(512, 4, 6, 2)``, trained on a task
A never saw: telling 8 from 9. Optimiser and schedule as in the demo: Adam (lr 0.0004) and
StepLR (×0.1 every 10 epochs), cross-entropy, batch 4. Prints the best validation accuracy
and the time, and saves a PNG of sample predictions.
"""

from __future__ import annotations

import argparse
import copy
import time

import qoxide as qx
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

SEED = 0
FEATURES = 512


class NetworkA(nn.Module):
    """A small CNN; ``features`` ends in the 512-wide penultimate layer."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, FEATURES),
            nn.ReLU(),
        )
        self.fc = nn.Linear(FEATURES, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)  # [N, 1, 8, 8]
    return x, torch.tensor(d.target)


def split(x: torch.Tensor, y: torch.Tensor, frac: float, g: torch.Generator):
    idx = torch.randperm(len(x), generator=g)
    k = int(frac * len(x))
    return (x[idx[:k]], y[idx[:k]]), (x[idx[k:]], y[idx[k:]])


def train_network_a(x: torch.Tensor, y: torch.Tensor, epochs: int = 8) -> NetworkA:
    net = NetworkA(n_classes=8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            nn.functional.cross_entropy(net(xb), yb).backward()
            opt.step()
    return net


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).double().mean().item()


def save_predictions(images, labels, preds, path: str) -> bool:  # noqa: ANN001
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib not installed: no PNG; pip install matplotlib)")
        return False
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.6))
    for ax, img, lab, pred in zip(axes.flat, images, labels, preds, strict=False):
        ax.imshow(img.squeeze(0).numpy(), cmap="gray_r")
        ax.set_title(
            f"pred {pred} / true {lab}", fontsize=8, color="green" if pred == lab else "red"
        )
        ax.axis("off")
    fig.suptitle("DressedQuantumNet on frozen CNN features: 8 vs 9")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(epochs: int = 15, png: str = "transfer_learning.png") -> float:
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    x, y = digits()

    # network A: trained on digits 0-7, then frozen (the demo's pretrained ResNet18)
    seen = y < 8
    (xa, ya), (xa_val, ya_val) = split(x[seen], y[seen], 0.8, g)
    net_a = train_network_a(xa, ya)
    print(f"network A (digits 0-7): validation accuracy {accuracy(net_a, xa_val, ya_val):.3f}")
    for p in net_a.parameters():
        p.requires_grad_(False)

    # the new task: 8 vs 9, through A's frozen 512 features and a dressed quantum circuit
    (xb, yb), (xb_val, yb_val) = split(x[~seen], y[~seen] - 8, 0.7, g)
    net_a.fc = qx.nn.DressedQuantumNet(FEATURES, n_qubits=4, depth=6, out_features=2)
    model = net_a
    optimizer = torch.optim.Adam(model.fc.parameters(), lr=0.0004)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    loader = DataLoader(TensorDataset(xb, yb), batch_size=4, shuffle=True)
    best_acc, best_state = 0.0, copy.deepcopy(model.fc.state_dict())
    for epoch in range(epochs):
        running = 0.0
        for xs, ys in loader:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xs), ys)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(xs)
        scheduler.step()
        acc = accuracy(model, xb_val, yb_val)
        if acc > best_acc:
            best_acc, best_state = acc, copy.deepcopy(model.fc.state_dict())
        print(f"  epoch {epoch + 1:2d}: train loss {running / len(xb):.4f}, val accuracy {acc:.3f}")
    model.fc.load_state_dict(best_state)
    elapsed = time.perf_counter() - start
    print(f"best validation accuracy {best_acc:.3f}; total time {elapsed:.1f} s")
    with torch.no_grad():
        preds = model(xb_val[:12]).argmax(1)
    if save_predictions(xb_val[:12], (yb_val[:12] + 8).tolist(), (preds + 8).tolist(), png):
        print(f"saved sample predictions to {png}")
    return best_acc


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--png", default="transfer_learning.png")
    args = ap.parse_args()
    main(args.epochs, args.png)
