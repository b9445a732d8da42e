"""Training loops for torch models: ``Trainer.fit`` / ``predict`` / ``score`` with hooks,
histories, atomic checkpoints and data-parallel training on torch.distributed."""

from .checkpoint import load_checkpoint, save_checkpoint
from .history import MetricLogger
from .hooks import EarlyStopping, GradientClipping, HookBase, LRSchedulerHook, ProgressBar
from .results import FitResult, PredictResult, ScoreResult
from .scoring import accuracy_counts, r2_score
from .trainer import NonFiniteLossError, Trainer

__all__ = [
    "EarlyStopping",
    "FitResult",
    "GradientClipping",
    "HookBase",
    "LRSchedulerHook",
    "MetricLogger",
    "NonFiniteLossError",
    "PredictResult",
    "ProgressBar",
    "ScoreResult",
    "Trainer",
    "accuracy_counts",
    "load_checkpoint",
    "r2_score",
    "save_checkpoint",
]
