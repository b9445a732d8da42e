"""``fit`` an HSM on tabular data from a Qcog-style config; save, load and predict.

    import qoxide as qx
    result = qx.hsm.fit("data.csv", config)       # DataFrame or CSV path; config or JSON
    result.test_metrics                           # {"loss", "mse", "mae", "r2", "r2[col]"...}
    result.model.predict(frame)                   # DataFrame of predictions (target columns)
    result.model.save("run/")                     # config.json + model.pt
    model = qx.hsm.load("run/")

Rows are split with the config's seed into train / validation / test (``split`` of the rows
for test, ``split`` of the rest for validation). Features are standardised with the training
rows' mean and standard deviation, and so are targets under a regression loss (MSE, L1,
SmoothL1, Huber); the scalers are stored with the model and predictions come back in the
data's units. Training runs on ``qoxide.train.Trainer`` with the config's early stopping,
gradient clipping and LR schedule. ``general_fullenergy`` minimises the mean ground energy of
H(x, y) (``loss_fn_config`` is then used only for the reported test loss).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..train import EarlyStopping, GradientClipping, HookBase, LRSchedulerHook, Trainer
from .config import HSMConfig, parse_config
from .data import Standardizer, read_table, select_columns, split_indices, tensor
from .models import HSM, FullEnergyObjective, GeneralFullEnergyHSM, build_model

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

_FORMAT = 1
_PREDICT_BATCH = 1024


class FittedHSM:
    """A trained HSM with its columns and scalers: predicts on raw tables."""

    def __init__(
        self,
        module: HSM,
        config: HSMConfig,
        input_features: list[str],
        targets: list[str],
        input_scaler: Standardizer,
        target_scaler: Standardizer,
    ):
        self.module = module
        self.config = config
        self.input_features = list(input_features)
        self.targets = list(targets)
        self.input_scaler = input_scaler
        self.target_scaler = target_scaler

    def _inputs(self, data: Any) -> np.ndarray:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            missing = [c for c in self.input_features if c not in data.columns]
            if missing:
                raise ValueError(f"predict: the data lacks input columns {missing}")
            x = data[self.input_features].to_numpy(dtype=np.float64)
        else:
            x = np.asarray(data.detach().cpu() if isinstance(data, torch.Tensor) else data)
            x = x.astype(np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.input_features):
            raise ValueError(
                f"predict: inputs must be [rows, {len(self.input_features)}], got {x.shape}"
            )
        return self.input_scaler.transform(x)

    @torch.no_grad()
    def predict_scaled(self, x: np.ndarray) -> np.ndarray:
        """Model outputs for standardised inputs, in training units."""
        self.module.eval()
        p = next(self.module.parameters())
        out = [
            self.module(tensor(x[i : i + _PREDICT_BATCH], p.dtype).to(p.device)).cpu()
            for i in range(0, len(x), _PREDICT_BATCH)
        ]
        return torch.cat(out).double().numpy()

    def predict(self, data: pd.DataFrame | np.ndarray | torch.Tensor) -> Any:
        """Predictions in the data's units: a DataFrame with the target columns (same index)
        for a DataFrame, else an array [rows, targets]."""
        import pandas as pd

        y = self.target_scaler.inverse(self.predict_scaled(self._inputs(data)))
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(y, columns=self.targets, index=data.index)
        return y

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.pt`` (weights, columns, scalers) to a directory."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(self.config.model_dump_json(indent=2) + "\n")
        torch.save(
            {
                "format": _FORMAT,
                "hsm_model": self.module.hsm_model,
                "hyperparameters": self.module.hyperparameters(),
                "state_dict": self.module.state_dict(),
                "input_features": self.input_features,
                "targets": self.targets,
                "input_scaler": self.input_scaler.state(),
                "target_scaler": self.target_scaler.state(),
            },
            out / "model.pt",
        )
        return out

    def __repr__(self) -> str:
        return (
            f"FittedHSM({type(self.module).__name__}, inputs={self.input_features}, "
            f"targets={self.targets})"
        )


def load(directory: str | Path) -> FittedHSM:
    """A model written by ``FittedHSM.save``."""
    path = Path(directory)
    saved = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    if saved.get("format") != _FORMAT:
        raise ValueError(f"{path / 'model.pt'}: unknown format {saved.get('format')!r}")
    module = build_model(saved["hsm_model"], **saved["hyperparameters"])
    module.load_state_dict(saved["state_dict"])
    config = parse_config(json.loads((path / "config.json").read_text()))
    return FittedHSM(
        module,
        config,
        saved["input_features"],
        saved["targets"],
        Standardizer.from_state(saved["input_scaler"]),
        Standardizer.from_state(saved["target_scaler"]),
    )


@dataclass
class HSMFitResult:
    """What ``fit`` returns: the model, the trainer's histories and test-set metrics."""

    model: FittedHSM
    train_history: list[dict[str, float]]
    val_history: list[dict[str, float]]
    test_metrics: dict[str, float]
    execution_time: float
    stopped_epoch: int | None = field(default=None)


def regression_metrics(y: np.ndarray, pred: np.ndarray, names: list[str]) -> dict[str, float]:
    """MSE, MAE (all targets) and R² (mean over targets, and per target)."""
    err = pred - y
    ss_res = (err**2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    r2 = 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)
    out = {"mse": float((err**2).mean()), "mae": float(np.abs(err).mean())}
    out["r2"] = float(np.mean(r2))
    if len(names) > 1:
        out.update({f"r2[{n}]": float(v) for n, v in zip(names, r2, strict=True)})
    return out


def classification_metrics(loss: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy for classification losses: argmax over one-hot (or probability) target
    columns for CrossEntropyLoss, sign of the logit against 0/1 targets for BCEWithLogitsLoss."""
    if loss == "CrossEntropyLoss" and y.shape[1] > 1:
        return {"accuracy": float((pred.argmax(1) == y.argmax(1)).mean())}
    if loss == "BCEWithLogitsLoss":
        return {"accuracy": float(((pred > 0) == (y > 0.5)).mean())}
    return {}


def _hooks(config: HSMConfig, optimizer: torch.optim.Optimizer) -> list[HookBase]:
    hooks: list[HookBase] = []
    if config.gradient_clipping_config is not None:
        g = config.gradient_clipping_config
        hooks.append(GradientClipping(g.max_norm, g.norm_type))
    if config.scheduler_config is not None:
        s = config.scheduler_config
        monitor = s.monitor if s.type == "ReduceLROnPlateau" else None
        hooks.append(LRSchedulerHook(s.build(optimizer), s.interval, monitor))
    if config.early_stopping_config is not None:
        e = config.early_stopping_config
        hooks.append(
            EarlyStopping(e.metric, e.min_delta, e.patience, e.mode, e.restore_best_weights)
        )
    return hooks


def _energy_loss(energy: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return energy.mean()


def fit(
    data: pd.DataFrame | str | Path,
    config: HSMConfig | dict[str, Any] | str | Path,
    progress: bool = True,
    checkpoint_dir: str | Path | None = None,
) -> HSMFitResult:
    """Train the HSM that ``config`` describes on ``data`` (DataFrame or CSV path).

    Returns the fitted model (``predict``/``save``), the train/validation histories of
    ``qoxide.train.Trainer`` and metrics on the held-out test rows (in the data's units).
    """
    started = time.perf_counter()
    config = parse_config(config)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' in the config, but torch finds no CUDA GPU "
            "(torch.cuda.is_available() is False); use device='cpu' or 'auto'"
        )
    frame = read_table(data)
    targets = config.target_list
    features = select_columns(frame, targets, config.input_features, config.input_operator_count)
    x_all = frame[features].to_numpy(dtype=np.float64)
    y_all = frame[targets].to_numpy(dtype=np.float64)
    if not (np.isfinite(x_all).all() and np.isfinite(y_all).all()):
        raise ValueError("the data has missing or non-finite values in the used columns")
    train, val, test = split_indices(len(frame), config.split, config.seed)
    x_scaler = Standardizer.fit(x_all[train])
    regression = config.loss_fn_config.is_regression or config.hsm_model == "general_fullenergy"
    y_scaler = Standardizer.fit(y_all[train]) if regression else Standardizer.identity(len(targets))
    x_std, y_std = x_scaler.transform(x_all), y_scaler.transform(y_all)

    module = build_model(config.hsm_model, **config.model_kwargs())
    dtype = next(module.parameters()).dtype
    optimizer = config.optimizer_config.build(module)
    loss_fn = config.loss_fn_config.build(dtype)

    def loader(rows: np.ndarray, shuffle: bool) -> DataLoader:
        x = tensor(x_std[rows], dtype)
        y = tensor(y_std[rows], dtype)
        inputs = torch.cat([x, y], dim=1) if isinstance(module, GeneralFullEnergyHSM) else x
        return DataLoader(
            TensorDataset(inputs, y),
            batch_size=config.batch_size,
            shuffle=shuffle,
            num_workers=config.num_workers,
            pin_memory=config.pin_memory,
        )

    if isinstance(module, GeneralFullEnergyHSM):
        network: torch.nn.Module = FullEnergyObjective(module)
        train_loss: Any = _energy_loss
    else:
        network, train_loss = module, loss_fn
    hooks = _hooks(config, optimizer)
    trainer = Trainer(
        network,
        optimizer,
        train_loss,
        epochs=config.epochs,
        hooks=hooks,
        # "cuda" (checked available above) as "auto", which picks cuda:<local rank>: the
        # Trainer's torch.cuda.set_device refuses a CUDA device without an index.
        device="auto" if config.device == "cuda" else config.device,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
    )
    result = trainer.fit(loader(train, True), loader(val, False), seed=config.seed)
    stopped = next((h.stopped_epoch for h in hooks if isinstance(h, EarlyStopping)), None)
    if stopped is not None and config.early_stopping_config.verbose:
        logger.warning("early stopping after epoch %d", stopped)

    fitted = FittedHSM(module, config, features, targets, x_scaler, y_scaler)
    pred_std = fitted.predict_scaled(x_std[test])
    metrics = {"loss": float(loss_fn(torch.from_numpy(pred_std), torch.from_numpy(y_std[test])))}
    if isinstance(module, GeneralFullEnergyHSM):
        with torch.no_grad():
            xy = tensor(np.concatenate([x_std[test], y_std[test]], axis=1), dtype)
            device = next(module.parameters()).device
            metrics["energy"] = float(network(xy.to(device)).mean())
    metrics.update(regression_metrics(y_all[test], y_scaler.inverse(pred_std), targets))
    metrics.update(classification_metrics(config.loss_fn_config.type, y_all[test], pred_std))
    return HSMFitResult(
        fitted,
        result.train_history,
        result.val_history,
        metrics,
        time.perf_counter() - started,
        stopped,
    )
