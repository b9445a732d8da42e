"""Qcog-style HSM configurations (pydantic), with the names and fields of Qcog's guide.

Validation happens at construction: operator counts against explicit ``input_features`` and
``targets``, targets overlapping inputs, unknown torch optimizer / loss / scheduler names,
Pauli weights above ``qubits_count``. ``qx.hsm.fit`` checks the counts against the data.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_REGRESSION_LOSSES = ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss")
#: Metrics the Trainer records per epoch that a scheduler / early stopping may monitor
#: (``fit`` always validates, so the ``val_`` ones exist; accuracy needs a classification).
MONITORS = ("val_loss", "loss", "train_loss", "val_accuracy", "accuracy")


def _check_monitor(value: object, where: str) -> None:
    """Refuse a monitor name at construction: a typo would otherwise surface only after
    the first epoch, as a KeyError from the hook."""
    if value not in MONITORS:
        raise ValueError(
            f"{where} {value!r} is not a metric the HSM trainer records; use one of "
            f"{list(MONITORS)}"
        )


def _torch_class(module: Any, name: str, base: type, what: str) -> type:
    cls = getattr(module, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, base) and cls is not base):
        known = sorted(
            n
            for n, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, base) and c is not base and n[0] != "_"
        )
        raise ValueError(f"unknown {what} {name!r}; choose one of {known}")
    return cls


def _tupled(params: dict[str, Any]) -> dict[str, Any]:
    """JSON lists → tuples (torch optimizers want ``betas=(0.9, 0.999)``)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PerGroupOptimizerParams(_Config):
    """Optimizer settings for parameters whose name contains any of ``param_name_contains``
    (e.g. ``input_diags``, ``input_trius``, ``output_pauli_coeffs``)."""

    param_name_contains: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class OptimizerConfig(_Config):
    """Any ``torch.optim`` class by name, its keyword arguments, and parameter groups.

    A parameter joins the first group whose ``param_name_contains`` matches its name; the
    rest form the default group with ``default_params``.
    """

    type: str = "Adam"
    default_params: dict[str, Any] = Field(default_factory=lambda: {"lr": 1e-3})
    group_params: list[PerGroupOptimizerParams] = Field(default_factory=list)

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        _torch_class(torch.optim, v, torch.optim.Optimizer, "optimizer")
        return v

    def build(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        cls = _torch_class(torch.optim, self.type, torch.optim.Optimizer, "optimizer")
        groups: list[dict[str, Any]] = [
            {"params": [], **_tupled(g.params)} for g in self.group_params
        ]
        rest: list[torch.nn.Parameter] = []
        for name, p in model.named_parameters():
            for spec, group in zip(self.group_params, groups, strict=True):
                if any(s in name for s in spec.param_name_contains):
                    group["params"].append(p)
                    break
            else:
                rest.append(p)
        for spec, group in zip(self.group_params, groups, strict=True):
            if not group["params"]:
                names = [n for n, _ in model.named_parameters()]
                raise ValueError(
                    f"optimizer group {spec.param_name_contains} matches no parameter of the "
                    f"model (parameters: {names})"
                )
        param_groups = [g for g in groups if g["params"]]
        if rest:
            param_groups.insert(0, {"params": rest})
        return cls(param_groups, **_tupled(self.default_params))


class LossFunctionConfig(_Config):
    """Any ``torch.nn`` loss by class name with its keyword arguments (lists become tensors,
    e.g. ``weight`` of CrossEntropyLoss)."""

    type: str = "MSELoss"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        _torch_class(torch.nn, v, torch.nn.modules.loss._Loss, "loss function")
        return v

    @property
    def is_regression(self) -> bool:
        """Whether targets are real values to standardise (MSE, L1, SmoothL1, Huber)."""
        return self.type in _REGRESSION_LOSSES

    def build(self, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
        cls = _torch_class(torch.nn, self.type, torch.nn.modules.loss._Loss, "loss function")
        params = {
            k: torch.tensor(v, dtype=dtype) if isinstance(v, list) else v
            for k, v in self.params.items()
        }
        return cls(**params)


class SchedulerConfig(_Config):
    """A ``torch.optim.lr_scheduler`` class by name (StepLR, CosineAnnealingLR,
    ReduceLROnPlateau, ...), stepped per ``interval``. ReduceLROnPlateau reads the metric
    named by ``params["monitor"]`` ("val_loss" or "loss"/"train_loss") every epoch."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    interval: Literal["epoch", "step"] = "epoch"

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        _scheduler_class(v)
        return v

    @model_validator(mode="after")
    def _plateau(self) -> SchedulerConfig:
        plateau = self.type == "ReduceLROnPlateau"
        if plateau and self.interval != "epoch":
            raise ValueError("ReduceLROnPlateau needs an epoch metric: use interval='epoch'")
        if "monitor" in self.params and not plateau:
            raise ValueError("params['monitor'] applies only to ReduceLROnPlateau")
        if "monitor" in self.params:
            _check_monitor(self.params["monitor"], "scheduler_config.params['monitor']")
        return self

    @property
    def monitor(self) -> str | None:
        m = self.params.get("monitor")
        return "loss" if m == "train_loss" else m

    def build(self, optimizer: torch.optim.Optimizer) -> Any:
        params = {k: v for k, v in self.params.items() if k != "monitor"}
        return _scheduler_class(self.type)(optimizer, **_tupled(params))


def _scheduler_class(name: str) -> type:
    from torch.optim import lr_scheduler

    cls = getattr(lr_scheduler, name, None)
    ok = inspect.isclass(cls) and (
        issubclass(cls, lr_scheduler.LRScheduler) or cls is lr_scheduler.ReduceLROnPlateau
    )
    if not ok or cls is lr_scheduler.LRScheduler:
        raise ValueError(
            f"unknown scheduler {name!r}; use a torch.optim.lr_scheduler class such as "
            "'StepLR', 'CosineAnnealingLR' or 'ReduceLROnPlateau'"
        )
    return cls


class EarlyStoppingConfig(_Config):
    """Stop when ``monitor`` ("val_loss", "loss", ...) stops improving."""

    monitor: str = "val_loss"
    min_delta: float = Field(default=0.0, ge=0)
    patience: int = Field(default=10, ge=1)
    mode: Literal["min", "max"] = "min"
    verbose: bool = False
    restore_best_weights: bool = True

    @field_validator("monitor")
    @classmethod
    def _known_monitor(cls, v: str) -> str:
        _check_monitor(v, "early_stopping_config.monitor")
        return v

    @property
    def metric(self) -> str:
        return "loss" if self.monitor == "train_loss" else self.monitor


class GradientClippingConfig(_Config):
    """Clip the gradient norm (``torch.nn.utils.clip_grad_norm_``) before each step."""

    max_norm: float = Field(gt=0)
    norm_type: float = Field(default=2.0, gt=0)


class ModelHyperparameters(_Config):
    """Settings shared by every HSM: training, data and optimisation (Qcog's base config).

    ``split`` is the fraction held out for testing; the same fraction of the remainder is
    held out for validation. ``input_features=None`` uses every column except the targets.
    """

    hsm_model: Literal["general", "pauli", "general_fullenergy"]
    weighted_layer: bool = False
    epochs: int = Field(default=100, ge=1)
    batch_size: int = Field(default=32, ge=1)
    split: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42
    targets: str | list[str]
    input_features: list[str] | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_workers: int = Field(default=0, ge=0)
    pin_memory: bool = False
    optimizer_config: OptimizerConfig
    loss_fn_config: LossFunctionConfig
    scheduler_config: SchedulerConfig | None = None
    early_stopping_config: EarlyStoppingConfig | None = None
    gradient_clipping_config: GradientClippingConfig | None = None

    @property
    def target_list(self) -> list[str]:
        return [self.targets] if isinstance(self.targets, str) else list(self.targets)

    @model_validator(mode="after")
    def _columns(self) -> ModelHyperparameters:
        targets = self.target_list
        if not targets:
            raise ValueError("targets must name at least one column")
        if len(set(targets)) != len(targets):
            raise ValueError(f"targets repeat a column: {targets}")
        if self.input_features is not None:
            if not self.input_features:
                raise ValueError("input_features must name at least one column (or be None)")
            overlap = sorted(set(targets) & set(self.input_features))
            if overlap:
                raise ValueError(
                    f"targets and input_features cannot overlap; both contain {overlap}"
                )
        monitors = []
        if self.scheduler_config is not None and self.scheduler_config.monitor is not None:
            monitors.append(("scheduler_config.params['monitor']", self.scheduler_config.monitor))
        if self.early_stopping_config is not None:
            monitors.append(("early_stopping_config.monitor", self.early_stopping_config.monitor))
        for where, m in monitors:
            if "accuracy" in m and self.loss_fn_config.is_regression:
                raise ValueError(
                    f"{where} {m!r}: accuracy is recorded only for a classification loss, "
                    f"but loss_fn_config.type is {self.loss_fn_config.type!r}; monitor "
                    "'val_loss' or 'loss'"
                )
        return self


class _OperatorCounts(ModelHyperparameters):
    input_operator_count: int = Field(ge=1)
    output_operator_count: int = Field(ge=1)
    beta: float | None = Field(default=None, gt=0)
    eigh_eps: float = Field(default=1e-8, ge=0)

    @model_validator(mode="after")
    def _counts(self) -> _OperatorCounts:
        if self.output_operator_count != len(self.target_list):
            raise ValueError(
                f"output_operator_count ({self.output_operator_count}) must match the number "
                f"of targets ({len(self.target_list)}: {self.target_list})"
            )
        if self.input_features is not None and self.input_operator_count != len(
            self.input_features
        ):
            raise ValueError(
                f"input_operator_count ({self.input_operator_count}) must match the number of "
                f"input features ({len(self.input_features)})"
            )
        if self.hsm_model == "general_fullenergy" and self.beta is not None:
            raise ValueError("general_fullenergy trains on ground energies: leave beta=None")
        return self


class GeneralHSModelHyperparameters(_OperatorCounts):
    """General HSM (``hsm_model`` "general" or "general_fullenergy")."""

    hsm_model: Literal["general", "general_fullenergy"] = "general"
    hilbert_space_dims: int = Field(default=16, ge=2)
    complex: bool = True

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "input_operator_count": self.input_operator_count,
            "output_operator_count": self.output_operator_count,
            "hilbert_space_dims": self.hilbert_space_dims,
            "beta": self.beta,
            "complex": self.complex,
            "eigh_eps": self.eigh_eps,
            "weighted_layer": self.weighted_layer,
            "seed": self.seed,
        }


class PauliHSModelHyperparameters(_OperatorCounts):
    """Pauli HSM: operators are sums of Pauli strings of bounded weight on qubits_count."""

    hsm_model: Literal["pauli"] = "pauli"
    qubits_count: int = Field(ge=1, le=24)
    input_operator_pauli_weight: int = Field(ge=0)
    output_operator_pauli_weight: int = Field(ge=0)

    @model_validator(mode="after")
    def _weights(self) -> PauliHSModelHyperparameters:
        for name in ("input_operator_pauli_weight", "output_operator_pauli_weight"):
            w = getattr(self, name)
            if w > self.qubits_count:
                raise ValueError(
                    f"{name} ({w}) must be less than or equal to qubits_count ({self.qubits_count})"
                )
        return self

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "input_operator_count": self.input_operator_count,
            "output_operator_count": self.output_operator_count,
            "qubits_count": self.qubits_count,
            "input_operator_pauli_weight": self.input_operator_pauli_weight,
            "output_operator_pauli_weight": self.output_operator_pauli_weight,
            "beta": self.beta,
            "eigh_eps": self.eigh_eps,
            "weighted_layer": self.weighted_layer,
            "seed": self.seed,
        }


HSMConfig = GeneralHSModelHyperparameters | PauliHSModelHyperparameters


def parse_config(source: HSMConfig | dict[str, Any] | str | Path) -> HSMConfig:
    """A config from an instance, a dict, a JSON string or a JSON file path; ``hsm_model``
    picks the class."""
    if isinstance(source, GeneralHSModelHyperparameters | PauliHSModelHyperparameters):
        return source
    if isinstance(source, ModelHyperparameters):
        raise TypeError(
            "ModelHyperparameters has no architecture: use GeneralHSModelHyperparameters or "
            "PauliHSModelHyperparameters"
        )
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ):
        path = Path(source)
        text = path.read_text()
        try:
            source = json.loads(text)
        except json.JSONDecodeError as err:
            looks_csv = path.suffix.lower() in (".csv", ".tsv") or "," in text.partition("\n")[0]
            hint = (
                " (it looks like CSV data: the data is the first argument, --config takes "
                "the JSON config)"
                if looks_csv
                else ""
            )
            raise ValueError(
                f"config file {path} is not JSON ({err.msg} at line {err.lineno} column "
                f"{err.colno}){hint}"
            ) from None
    elif isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as err:
            raise ValueError(f"config string is not JSON ({err})") from None
    if not isinstance(source, dict):
        raise TypeError(f"a config must be a dict or JSON object, got {type(source).__name__}")
    model = source.get("hsm_model")
    if model == "pauli":
        return PauliHSModelHyperparameters.model_validate(source)
    if model in ("general", "general_fullenergy"):
        return GeneralHSModelHyperparameters.model_validate(source)
    raise ValueError(f"hsm_model must be 'general', 'pauli' or 'general_fullenergy', got {model!r}")
