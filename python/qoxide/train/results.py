"""What ``Trainer.fit`` / ``predict`` / ``score`` return (the fields of Qiskit ML's
TorchRuntimeResult, split by call so each result holds only what its call produced)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class FitResult:
    """``train_history`` / ``val_history``: one dict per logged epoch (see ``MetricLogger``);
    ``execution_time``: seconds for the whole ``fit``; ``model_state_dict``: a copy of the
    trained weights (the trainer's model holds them too)."""

    train_history: list[dict[str, float]]
    val_history: list[dict[str, float]]
    execution_time: float
    model_state_dict: dict[str, torch.Tensor] = field(repr=False)


@dataclass
class PredictResult:
    """``prediction``: the model outputs for the whole loader, concatenated along dim 0."""

    prediction: torch.Tensor = field(repr=False)
    execution_time: float


@dataclass
class ScoreResult:
    """``score``: the loader's score; ``prediction``: the outputs it was computed from."""

    score: float
    prediction: torch.Tensor = field(repr=False)
    execution_time: float
