"""Per-epoch metrics: running sums during a pass, and the history of logged epochs.

Sums (not means) are kept so that data-parallel ranks combine exactly: one all-reduce of
(loss × samples, samples, correct, scored samples, unscored batches) gives the metrics of
the whole global epoch, identical on every rank, so every rank takes the same decisions
(early stopping, LR plateaus) from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .distributed import all_reduce_sum
from .scoring import accuracy_counts


class MetricLogger:
    """History of one phase: ``metrics`` holds one dict per logged epoch, in order.

    Keys: ``epoch``, ``loss`` (mean over samples), ``forward_time``, ``backward_time``,
    ``epoch_time`` (seconds, this process), and ``accuracy`` when the batches are
    classification (see :mod:`qoxide.train.scoring`).
    """

    def __init__(self, metrics: list[dict[str, float]] | None = None):
        self.metrics: list[dict[str, float]] = list(metrics or [])

    def log(self, record: dict[str, float]) -> None:
        self.metrics.append(record)


@dataclass
class EpochStats:
    """Running sums over one pass through a loader."""

    loss_sum: float = 0.0
    samples: int = 0
    correct: int = 0
    scored: int = 0
    unscored_batches: int = 0
    forward_time: float = 0.0
    step_time: float = 0.0

    def add(self, loss: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        """One batch: ``loss`` is the batch's (scalar) loss, weighted by its sample count."""
        n = target.shape[0] if isinstance(target, torch.Tensor) and target.ndim else 1
        self.loss_sum += float(loss) * n
        self.samples += n
        counts = accuracy_counts(output, target)
        if counts is None:
            self.unscored_batches += 1
        else:
            self.correct += counts[0]
            self.scored += counts[1]

    def all_reduce(self, device: torch.device) -> None:
        """Replace the sums by their totals over all ranks."""
        t = torch.tensor(
            [self.loss_sum, self.samples, self.correct, self.scored, self.unscored_batches],
            dtype=torch.float64,
            device=device,
        )
        loss_sum, samples, correct, scored, unscored = all_reduce_sum(t).tolist()
        self.loss_sum, self.samples, self.correct = loss_sum, int(samples), int(correct)
        self.scored, self.unscored_batches = int(scored), int(unscored)

    def record(self, epoch: int, epoch_time: float) -> dict[str, float]:
        rec: dict[str, float] = {
            "epoch": epoch,
            "loss": self.loss_sum / self.samples,
            "forward_time": self.forward_time,
            "backward_time": self.step_time - self.forward_time if self.step_time else 0.0,
            "epoch_time": epoch_time,
        }
        if self.unscored_batches == 0 and self.scored > 0:
            rec["accuracy"] = self.correct / self.scored
        return rec
