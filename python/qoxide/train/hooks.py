"""Hooks: callbacks around training, and the built-in ones.

The protocol is that of Qiskit ML's Torch Runtime (its ``HookBase``)::

    hook.before_train()
    for epoch in range(start_epoch, max_epochs):
        hook.before_epoch()
        for batch in train_loader:
            hook.before_step()
            train_step()            # forward, backward, hook.after_backward(), optimizer step
            hook.after_step()
            global_step += 1
        hook.after_epoch()          # trainer.epoch_metrics holds this epoch's metrics
        epoch += 1
    hook.after_train()

``after_backward`` is the one addition: gradients (already averaged across ranks under
DDP) can be read or changed there, before the optimizer uses them. A hook stops training
by setting ``self.trainer.epoch = self.trainer.max_epochs`` (as Qiskit ML's StopHook does).

Hooks with state that must survive a restart (counters, best weights, LR schedules)
override ``state_dict``/``load_state_dict``; checkpoints store it and a resumed ``fit``
loads it right after ``before_train``. Every rank runs every hook; hooks that read only
all-reduced metrics take the same decisions on every rank, which DDP requires.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from .trainer import Trainer


class HookBase:
    """Base class for training callbacks; override the methods you need.

    ``self.trainer`` is set by the Trainer before ``before_train`` and exposes ``model``,
    ``optimizer``, ``loss_func``, ``train_loader``, ``val_loader``, ``max_epochs``,
    ``log_period``, ``start_epoch``, ``epoch``, ``global_step``, ``train_logger.metrics``,
    ``val_logger.metrics`` and ``epoch_metrics``.
    """

    trainer: Trainer

    def before_train(self) -> None:
        """Called once before the first epoch."""

    def before_epoch(self) -> None:
        """Called at the start of every epoch."""

    def before_step(self) -> None:
        """Called before every training step."""

    def after_backward(self) -> None:
        """Called after ``loss.backward()`` and before ``optimizer.step()``."""

    def after_step(self) -> None:
        """Called after every training step (before ``global_step`` advances)."""

    def after_epoch(self) -> None:
        """Called after every epoch, once its metrics are known."""

    def after_train(self) -> None:
        """Called once after the last epoch."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint; stateless hooks keep this default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""


def is_stateful(hook: HookBase) -> bool:
    return type(hook).state_dict is not HookBase.state_dict


def monitored(trainer: Trainer, name: str, who: str) -> float:
    """The current epoch's value of a monitored metric (``loss``, ``val_loss``, ...)."""
    try:
        return trainer.epoch_metrics[name]
    except KeyError:
        hint = " (pass val_loader to fit)" if name.startswith("val_") else ""
        raise KeyError(
            f"{who} monitors {name!r}, which this epoch did not produce{hint}; available: "
            f"{sorted(trainer.epoch_metrics)}"
        ) from None


class EarlyStopping(HookBase):
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Args:
        monitor: ``"loss"``, ``"accuracy"``, ``"val_loss"``, ``"val_accuracy"``, ...
        min_delta: an improvement must beat the best value by more than this.
        patience: epochs without improvement before stopping.
        mode: ``"min"`` (loss) or ``"max"`` (accuracy).
        restore_best_weights: load the weights of the best epoch when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 3,
        mode: str = "min",
        restore_best_weights: bool = False,
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 1 or min_delta < 0:
            raise ValueError("patience must be >= 1 and min_delta >= 0")
        self.monitor, self.min_delta, self.patience, self.mode = monitor, min_delta, patience, mode
        self.restore_best_weights = restore_best_weights
        self.before_train()

    def before_train(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def after_epoch(self) -> None:
        value = monitored(self.trainer, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, self.trainer.epoch, 0
            if self.restore_best_weights:
                state = self.trainer.model.state_dict()
                self.best_weights = {k: v.detach().clone() for k, v in state.items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = self.trainer.epoch
            self.trainer.epoch = self.trainer.max_epochs

    def after_train(self) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.stopped_epoch, self.best_weights = state["stopped_epoch"], state["best_weights"]


class LRSchedulerHook(HookBase):
    """Step a torch LR scheduler every epoch or every optimizer step.

    ``ReduceLROnPlateau`` is stepped per epoch with the monitored metric (default
    ``"val_loss"`` when there is a validation loader, else ``"loss"``).
    """

    def __init__(
        self,
        scheduler: LRScheduler | ReduceLROnPlateau,
        interval: str = "epoch",
        monitor: str | None = None,
    ):
        if interval not in ("epoch", "step"):
            raise ValueError(f"interval must be 'epoch' or 'step', got {interval!r}")
        self.plateau = isinstance(scheduler, ReduceLROnPlateau)
        if self.plateau and interval != "epoch":
            raise ValueError("ReduceLROnPlateau needs an epoch metric: use interval='epoch'")
        if monitor is not None and not self.plateau:
            raise ValueError("monitor applies only to ReduceLROnPlateau")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    def after_step(self) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def after_epoch(self) -> None:
        if self.interval != "epoch":
            return
        if self.plateau:
            default = "val_loss" if self.trainer.val_loader is not None else "loss"
            name = self.monitor or default
            self.scheduler.step(monitored(self.trainer, name, "ReduceLROnPlateau"))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])


class GradientClipping(HookBase):
    """Clip the gradient norm of all parameters (``torch.nn.utils.clip_grad_norm_``) before
    every optimizer step; under DDP the clipped gradients are the averaged ones."""

    def __init__(self, max_norm: float, norm_type: float = 2.0):
        if not max_norm > 0:
            raise ValueError(f"max_norm must be positive, got {max_norm!r}")
        self.max_norm, self.norm_type = float(max_norm), float(norm_type)

    def after_backward(self) -> None:
        params = [p for p in self.trainer.model.parameters() if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, self.max_norm, self.norm_type)


class ProgressBar(HookBase):
    """A tqdm bar over epochs showing the latest step loss and the epoch metrics.

    The Trainer adds one on rank 0 when ``progress=True``.
    """

    def before_train(self) -> None:
        t = self.trainer
        self.bar = tqdm(total=t.max_epochs, initial=t.start_epoch, desc="epochs", unit="epoch")

    def after_step(self) -> None:
        self.bar.set_postfix(step_loss=f"{self.trainer.step_loss:.4g}", refresh=False)

    def after_epoch(self) -> None:
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in self.trainer.epoch_metrics.items()})
        self.bar.update(1)

    def after_train(self) -> None:
        self.bar.close()
