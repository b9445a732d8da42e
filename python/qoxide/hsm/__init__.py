"""Hilbert Space Models (QCML): GeneralHSM, PauliHSM, GeneralFullEnergyHSM, Qcog-style
configs, and training on tabular data (``fit`` / ``load``).

The model's formulas, the gradients and ``eigh_eps`` are documented in
:mod:`qoxide.hsm.models`. Configs (pydantic) and ``fit`` load on first use, so importing the
models does not import pydantic or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .models import (
    HSM,
    FullEnergyObjective,
    GeneralFullEnergyHSM,
    GeneralHSM,
    PauliHSM,
    WarmStarts,
    build_model,
    hermitian,
)
from .pauli import pauli_string_count, pauli_strings

if TYPE_CHECKING:
    from .config import (
        EarlyStoppingConfig,
        GeneralHSModelHyperparameters,
        GradientClippingConfig,
        LossFunctionConfig,
        ModelHyperparameters,
        OptimizerConfig,
        PauliHSModelHyperparameters,
        PerGroupOptimizerParams,
        SchedulerConfig,
        parse_config,
    )
    from .training import FittedHSM, HSMFitResult, fit, load

_LAZY = {
    **dict.fromkeys(
        (
            "EarlyStoppingConfig",
            "GeneralHSModelHyperparameters",
            "GradientClippingConfig",
            "LossFunctionConfig",
            "ModelHyperparameters",
            "OptimizerConfig",
            "PauliHSModelHyperparameters",
            "PerGroupOptimizerParams",
            "SchedulerConfig",
            "parse_config",
        ),
        ".config",
    ),
    **dict.fromkeys(("FittedHSM", "HSMFitResult", "fit", "load"), ".training"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "HSM",
    "EarlyStoppingConfig",
    "FittedHSM",
    "FullEnergyObjective",
    "GeneralFullEnergyHSM",
    "GeneralHSM",
    "GeneralHSModelHyperparameters",
    "GradientClippingConfig",
    "HSMFitResult",
    "LossFunctionConfig",
    "ModelHyperparameters",
    "OptimizerConfig",
    "PauliHSM",
    "PauliHSModelHyperparameters",
    "PerGroupOptimizerParams",
    "SchedulerConfig",
    "WarmStarts",
    "build_model",
    "fit",
    "hermitian",
    "load",
    "parse_config",
    "pauli_string_count",
    "pauli_strings",
]
