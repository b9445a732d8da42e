"""`Trainer`: fit / predict / score a torch model, locally or data-parallel (the flow of
Qiskit ML's TorchRuntimeClient).

    import torch
    from torch.utils.data import DataLoader, TensorDataset
    import qoxide as qx
    from qoxide.train import Trainer, HookBase

    @qx.circuit(n_qubits=1)
    def qnn(q, x, w):                       # Qiskit ML's TwoLayerQNN: RY(x), RY(w), ⟨Z⟩
        q.ry(x[0], 0)
        q.ry(w[0], 0)
        return [q.expval(qx.Z(0))]

    model = qx.nn.QuantumLayer(qnn, weight_shapes={"w": 1}, seed=42)
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=0.1),
                      torch.nn.MSELoss(reduction="sum"), epochs=5)
    fit = trainer.fit(DataLoader(TensorDataset(X, y), batch_size=1), val_loader=test_loader)
    fit.train_history[-1]     # {"epoch", "loss", "forward_time", "backward_time", "epoch_time"}
    trainer.predict(test_loader).prediction              # [N, 1]
    trainer.score(test_loader, score_func="regression").score     # R²

    class StopHook(HookBase):                # stop once the loss is small enough
        def after_epoch(self):
            if self.trainer.train_logger.metrics[-1]["loss"] < 0.05:
                self.trainer.epoch = self.trainer.max_epochs

    trainer.fit(train_loader, hooks=StopHook())

Data-parallel: start the same script with ``torchrun --nproc_per_node=N`` or
``mpirun -n N``. The Trainer then joins a process group (gloo on CPU, nccl on CUDA), wraps
the model in DistributedDataParallel, gives each process its share of every epoch through
DistributedSampler (the loader's ``batch_size`` is per process), and all-reduces the loss and
accuracy sums, so histories are those of the global epoch. Only rank 0 writes checkpoints,
logs and shows progress; ``predict`` and ``score`` run the whole loader on every rank.

With ``checkpoint_dir`` the state after every epoch (model, optimizer, hook states such as
LR schedulers and early stopping, random states, histories) is written atomically, and
``fit(..., resume=True)`` continues after the last complete epoch (every rank reads the
file, so multi-node runs need a shared filesystem). Data order depends only on (seed,
epoch), so a killed and resumed run ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torch.utils.data import DataLoader

from . import rng
from .checkpoint import (
    check_resume_state,
    checkpoint_path,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from .data import eval_loader_for, inputs_of, set_epoch, to_device, train_loader_for, unpack
from .distributed import (
    all_reduce_sum,
    broadcast_int,
    detect_launch,
    init_process_group,
    resolve_device,
)
from .history import EpochStats, MetricLogger
from .hooks import GradientClipping, HookBase, LRSchedulerHook, ProgressBar, is_stateful
from .results import FitResult, PredictResult, ScoreResult
from .scoring import ScoreFunc, accuracy_counts, check_score_func, r2_score

logger = logging.getLogger(__name__)

_TIMING_KEYS = ("epoch", "forward_time", "backward_time", "epoch_time")
_CHECKPOINT_FORMAT = 1


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; raised before that step updates the weights."""


def _hook_list(hooks: HookBase | Iterable[HookBase] | None) -> list[HookBase]:
    if hooks is None:
        return []
    hooks = [hooks] if isinstance(hooks, HookBase) else list(hooks)
    for h in hooks:
        if not isinstance(h, HookBase):
            raise TypeError(f"hooks must be HookBase instances, got {type(h).__name__}")
    return hooks


class Trainer:
    """Train, predict and score a torch model (Qiskit ML's TorchRuntimeClient flow, locally).

    Args:
        model: any ``nn.Module`` (e.g. ``qx.nn.QuantumLayer``, ``qx.nn.DressedQuantumNet``).
        optimizer: a torch optimizer over the model's parameters; stepped with a closure,
            so LBFGS works too.
        loss_func: ``loss_func(output, target)`` returning a scalar tensor.
        epochs: number of epochs (``max_epochs``).
        hooks: hooks for every ``fit`` of this trainer (``fit`` can add more).
        log_period: log an epoch to the histories when ``epoch % log_period == 0``.
            Metrics (and validation) are computed every epoch, so monitors see each one.
        device: ``"auto"`` (CUDA if available, one GPU per local rank; else CPU) or a device.
        scheduler: a torch LR scheduler stepped once per epoch (ReduceLROnPlateau with
            ``val_loss``/``loss``); for per-step schedules pass ``LRSchedulerHook(s, "step")``.
        grad_clip: clip the gradient 2-norm to this value before each optimizer step.
        checkpoint_dir: write ``checkpoint.pt`` here after every epoch (rank 0).
        progress: show a tqdm bar on rank 0.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_func: Callable[[Any, Any], torch.Tensor],
        epochs: int,
        hooks: HookBase | Iterable[HookBase] | None = None,
        log_period: int = 1,
        device: str | torch.device = "auto",
        scheduler: LRScheduler | ReduceLROnPlateau | LRSchedulerHook | None = None,
        grad_clip: float | None = None,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
    ):
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if not isinstance(log_period, int) or log_period < 1:
            raise ValueError(f"log_period must be a positive integer, got {log_period!r}")
        launch = detect_launch()
        self.device = resolve_device(device, launch)
        self.launch = init_process_group(launch, self.device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_func = loss_func
        self.max_epochs = epochs
        self.log_period = log_period
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.progress = progress
        builtin: list[HookBase] = []
        if grad_clip is not None:
            builtin.append(GradientClipping(grad_clip))
        if scheduler is not None:
            builtin.append(
                scheduler if isinstance(scheduler, LRSchedulerHook) else LRSchedulerHook(scheduler)
            )
        self.hooks = builtin + _hook_list(hooks)
        self.train_loader: DataLoader | None = None
        self.val_loader: DataLoader | None = None
        self.start_epoch = 0
        self.epoch = 0
        self.global_step = 0
        self.step_loss = math.nan
        self.train_logger = MetricLogger()
        self.val_logger = MetricLogger()
        self.epoch_metrics: dict[str, float] = {}

    # where this process sits ------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self.launch.rank

    @property
    def world_size(self) -> int:
        return self.launch.world_size

    @property
    def is_main(self) -> bool:
        return self.launch.is_main

    def _network(self) -> nn.Module:
        """The module training steps run through: the model, or a DDP wrapper for one ``fit``
        (made per fit and then dropped, so no wrapper keeps the process group alive at exit;
        it starts every rank from rank 0's weights)."""
        if not self.launch.distributed:
            return self.model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids)

    # fit --------------------------------------------------------------------------------
    def fit(
        self,
        train_loader: DataLoader,
        val_loader: DataLoader | None = None,
        hooks: HookBase | Iterable[HookBase] | None = None,
        seed: int | None = None,
        start_epoch: int = 0,
        resume: bool = False,
    ) -> FitResult:
        """Train for epochs ``start_epoch .. epochs - 1`` (or from the last checkpoint).

        Args:
            train_loader: yields ``(data, target)``; ``shuffle=True`` is re-seeded per epoch
                from ``seed`` so the order can be replayed.
            val_loader: validated after every epoch when given.
            hooks: extra hooks for this call only.
            seed: seeds torch/numpy/random and the data order; None draws one from torch.
            start_epoch: first epoch of a warm start (ignored when resuming).
            resume: continue from ``checkpoint_dir/checkpoint.pt`` if it exists (fresh
                start otherwise, so a job script can always pass ``resume=True``).
        """
        started = time.perf_counter()
        if resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs the Trainer's checkpoint_dir")
        if not 0 <= start_epoch <= self.max_epochs:
            raise ValueError(f"start_epoch must be in [0, {self.max_epochs}], got {start_epoch}")
        hooks = self.hooks + _hook_list(hooks)
        if self.progress and self.is_main:
            hooks.append(ProgressBar())
        if self.checkpoint_dir is not None and self.is_main:
            remove_stale_temporaries(self.checkpoint_dir)

        checkpoint = load_checkpoint(self.checkpoint_dir) if resume else None
        if checkpoint is not None:
            check_resume_state(self.checkpoint_dir, checkpoint, self.max_epochs)
        self.train_logger, self.val_logger = MetricLogger(), MetricLogger()
        self.global_step = 0
        if checkpoint is None:
            data_seed = self._seed(seed)
        else:
            data_seed = self._restore(checkpoint, seed)
            start_epoch = checkpoint["next_epoch"]
        self.start_epoch = self.epoch = start_epoch
        self.train_loader = train_loader_for(train_loader, self.launch, data_seed)
        self.val_loader = None if val_loader is None else eval_loader_for(val_loader, self.launch)
        network = self._network()

        for h in hooks:
            h.trainer = self
        for h in hooks:
            h.before_train()
        if checkpoint is not None:
            self._restore_hooks(hooks, checkpoint["hooks"])
            rng.restore(checkpoint["rng"])
        while self.epoch < self.max_epochs:
            self._run_epoch(network, hooks, data_seed)
        for h in hooks:
            h.after_train()
        return FitResult(
            train_history=list(self.train_logger.metrics),
            val_history=list(self.val_logger.metrics),
            execution_time=time.perf_counter() - started,
            model_state_dict={k: v.detach().clone() for k, v in self.model.state_dict().items()},
        )

    def _seed(self, seed: int | None) -> int:
        """Seed this run; returns the data-order seed, the same on every rank."""
        if seed is None:
            seed = int(torch.randint(2**31 - 1, ()).item())
        else:
            rng.seed_all(seed)
        return broadcast_int(seed, self.device)

    def _run_epoch(self, network: nn.Module, hooks: list[HookBase], seed: int) -> None:
        epoch = self.epoch
        set_epoch(self.train_loader, epoch)
        for h in hooks:
            h.before_epoch()
        self.model.train()
        stats = EpochStats()
        started = time.perf_counter()
        for step, batch in enumerate(self.train_loader):
            for h in hooks:
                h.before_step()
            self._train_step(network, batch, step, stats, hooks)
            for h in hooks:
                h.after_step()
            self.global_step += 1
        stats.all_reduce(self.device)
        if stats.samples == 0:
            raise ValueError(f"train_loader yielded no samples in epoch {epoch}")
        train_record = stats.record(epoch, time.perf_counter() - started)
        val_record = self._validate(epoch) if self.val_loader is not None else None

        self.epoch_metrics = {k: v for k, v in train_record.items() if k not in _TIMING_KEYS}
        if val_record is not None:
            self.epoch_metrics.update(
                {f"val_{k}": v for k, v in val_record.items() if k not in _TIMING_KEYS}
            )
        if epoch % self.log_period == 0:
            self.train_logger.log(train_record)
            if val_record is not None:
                self.val_logger.log(val_record)
            if self.is_main:
                logger.info("epoch %d: %s", epoch, self.epoch_metrics)
        for h in hooks:
            h.after_epoch()
        self.epoch += 1
        if self.checkpoint_dir is not None and self.is_main:
            self._save(epoch, seed, hooks)

    def _train_step(
        self,
        network: nn.Module,
        batch: Any,
        step: int,
        stats: EpochStats,
        hooks: list[HookBase],
    ) -> None:
        data, target = unpack(batch, self._where(step))
        data, target = to_device(data, self.device), to_device(target, self.device)
        first: dict[str, torch.Tensor] = {}

        def closure() -> torch.Tensor:
            t = time.perf_counter()
            self.optimizer.zero_grad()
            output = network(data)
            loss = self.loss_func(output, target)
            stats.forward_time += time.perf_counter() - t
            self._check_loss(loss, step)
            if not first:
                first.update(output=output.detach(), loss=loss.detach())
            loss.backward()
            for h in hooks:
                h.after_backward()
            return loss

        t = time.perf_counter()
        self.optimizer.step(closure)
        stats.step_time += time.perf_counter() - t
        self.step_loss = float(first["loss"])
        stats.add(first["loss"], first["output"], target)

    def _where(self, step: int) -> str:
        return f"epoch {self.epoch}, step {step} (global step {self.global_step})"

    def _check_loss(self, loss: Any, step: int) -> None:
        """A scalar, finite on every rank, or a clear error before the weights change."""
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            got = f"shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else repr(loss)
            raise ValueError(
                f"loss_func must return a scalar tensor, got {got} at {self._where(step)}; "
                "use a reducing loss (reduction='mean' or 'sum')"
            )
        bad = torch.tensor(
            [0.0 if torch.isfinite(loss.detach()).item() else 1.0], device=self.device
        )
        if int(all_reduce_sum(bad).item()) == 0:
            return
        where = self._where(step)
        value = loss.item()
        what = f"loss is {value}" if not math.isfinite(value) else "loss is non-finite on a rank"
        saved = ""
        if self.checkpoint_dir is not None and checkpoint_path(self.checkpoint_dir).exists():
            saved = f"; the last complete checkpoint {checkpoint_path(self.checkpoint_dir)} is kept"
        raise NonFiniteLossError(
            f"{what} at {where}; training stopped before this step's update{saved}"
        )

    @torch.no_grad()
    def _validate(self, epoch: int) -> dict[str, float]:
        self.model.eval()
        stats = EpochStats()
        started = time.perf_counter()
        for step, batch in enumerate(self.val_loader):
            data, target = unpack(batch, f"val_loader, epoch {epoch}, step {step}")
            data, target = to_device(data, self.device), to_device(target, self.device)
            t = time.perf_counter()
            output = self.model(data)
            loss = self.loss_func(output, target)
            stats.forward_time += time.perf_counter() - t
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise ValueError(f"loss_func must return a scalar tensor (val_loader step {step})")
            stats.add(loss, output, target)
        stats.all_reduce(self.device)
        if stats.samples == 0:
            raise ValueError("val_loader yielded no samples")
        return stats.record(epoch, time.perf_counter() - started)

    # checkpoints ------------------------------------------------------------------------
    def _save(self, epoch: int, seed: int, hooks: list[HookBase]) -> None:
        save_checkpoint(
            self.checkpoint_dir,
            {
                "format": _CHECKPOINT_FORMAT,
                "epoch": epoch,
                "next_epoch": self.epoch,
                "global_step": self.global_step,
                "seed": seed,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "hooks": [(type(h).__name__, h.state_dict()) for h in hooks if is_stateful(h)],
                "rng": rng.capture(),
                "train_history": self.train_logger.metrics,
                "val_history": self.val_logger.metrics,
            },
        )

    def _restore(self, checkpoint: dict[str, Any], seed: int | None) -> int:
        """Load model, optimizer and histories; returns the run's data-order seed."""
        if checkpoint.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"unknown checkpoint format {checkpoint.get('format')!r}")
        if seed is not None and seed != checkpoint["seed"]:
            raise ValueError(
                f"resume with seed={seed}, but the checkpoint's run used seed="
                f"{checkpoint['seed']}; pass the same seed (or None)"
            )
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.train_logger = MetricLogger(checkpoint["train_history"])
        self.val_logger = MetricLogger(checkpoint["val_history"])
        self.global_step = checkpoint["global_step"]
        if self.is_main:
            logger.info("resuming after epoch %d from %s", checkpoint["epoch"], self.checkpoint_dir)
        return checkpoint["seed"]

    @staticmethod
    def _restore_hooks(hooks: list[HookBase], saved: list[tuple[str, dict[str, Any]]]) -> None:
        stateful = [h for h in hooks if is_stateful(h)]
        names = [type(h).__name__ for h in stateful]
        if names != [name for name, _ in saved]:
            raise ValueError(
                f"the checkpoint holds state for hooks {[n for n, _ in saved]}, but this run's "
                f"stateful hooks are {names}; resume with the same hooks"
            )
        for h, (_, state) in zip(stateful, saved, strict=True):
            h.load_state_dict(state)

    # predict / score --------------------------------------------------------------------
    @torch.no_grad()
    def _outputs(self, loader: DataLoader, with_targets: bool) -> Iterable[tuple[Any, Any]]:
        self.model.eval()
        for step, batch in enumerate(loader):
            where = f"{'score' if with_targets else 'predict'} loader, step {step}"
            if with_targets:
                data, target = unpack(batch, where)
            else:
                data, target = inputs_of(batch, where), None
            yield self.model(to_device(data, self.device)), target

    def predict(
        self, loader: DataLoader | None = None, *, data_loader: DataLoader | None = None
    ) -> PredictResult:
        """Model outputs for every batch of ``loader`` (``(data, target)`` pairs or bare
        tensors), concatenated on CPU. ``data_loader=`` is Torch Runtime's name for it."""
        loader = _one_loader(loader, data_loader, "predict")
        started = time.perf_counter()
        outputs = [out.cpu() for out, _ in self._outputs(loader, with_targets=False)]
        if not outputs:
            raise ValueError("predict: the loader yielded no batches")
        return PredictResult(torch.cat(outputs), time.perf_counter() - started)

    def score(
        self,
        loader: DataLoader | None = None,
        score_func: str | ScoreFunc = "regression",
        *,
        data_loader: DataLoader | None = None,
    ) -> ScoreResult:
        """Score the model on ``loader`` (``data_loader=``: Torch Runtime's name for it).

        ``"regression"``: R² over the whole loader (see ``scoring.r2_score``).
        ``"classification"``: accuracy, for class logits with integer labels or one output
        per ±1 target. A callable ``score_func(output, target)`` is called once per batch
        and should return that batch's mean score; the result is the sample-weighted mean
        (with ``batch_size=1``, the mean over samples, as in Qiskit ML's
        TorchRuntimeClient flow).
        """
        loader = _one_loader(loader, data_loader, "score")
        check_score_func(score_func)
        started = time.perf_counter()
        outputs, targets, total, samples = [], [], 0.0, 0
        for out, target in self._outputs(loader, with_targets=True):
            target = to_device(target, out.device)
            outputs.append(out.cpu())
            targets.append(target.cpu())
            if callable(score_func):
                n = target.shape[0] if target.ndim else 1
                total += float(score_func(out, target)) * n
                samples += n
        if not outputs:
            raise ValueError("score: the loader yielded no batches")
        prediction, target = torch.cat(outputs), torch.cat(targets)
        if callable(score_func):
            value = total / samples
        elif score_func == "regression":
            value = r2_score(prediction, target)
        else:
            counts = accuracy_counts(prediction, target)
            if counts is None:
                raise ValueError(
                    "score_func='classification' needs class logits [N, C] with integer "
                    f"labels [N], or one output per ±1 target; got output "
                    f"{tuple(prediction.shape)} and target {tuple(target.shape)} "
                    f"({target.dtype})"
                )
            value = counts[0] / counts[1]
        return ScoreResult(value, prediction, time.perf_counter() - started)


def _one_loader(loader: DataLoader | None, data_loader: DataLoader | None, what: str) -> DataLoader:
    if (loader is None) == (data_loader is None):
        raise TypeError(f"{what}() takes one loader: pass `loader` or `data_loader`")
    return loader if loader is not None else data_loader  # type: ignore[return-value]
