"""Scores: accuracy for classification, R² for regression, or the caller's function.

Accuracy is recognised from the shapes alone so that the history gains an ``accuracy``
entry without configuration, in two common conventions:

* class logits ``[N, C, ...]`` with integer labels ``[N, ...]`` (CrossEntropyLoss): argmax
  over dim 1;
* one output per target with targets in {-1, +1} (Qiskit ML's TwoLayerQNN with ⟨ZZ⟩): the
  sign of the output.

Anything else (e.g. regression, or 0/1 labels with a single output, where the threshold is
ambiguous) yields no accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

ScoreFunc = Callable[[torch.Tensor, torch.Tensor], Any]


def accuracy_counts(output: torch.Tensor, target: torch.Tensor) -> tuple[int, int] | None:
    """(correct, total) for a classification batch, or None if the batch is not one."""
    if not (isinstance(output, torch.Tensor) and isinstance(target, torch.Tensor)):
        return None
    output, target = output.detach(), target.detach()
    if (
        not target.is_floating_point()
        and not target.is_complex()
        and target.dtype != torch.bool
        and output.ndim == target.ndim + 1
        and output.shape[0] == target.shape[0]
        and output.shape[2:] == target.shape[1:]
        and output.shape[1] >= 2
    ):
        return int((output.argmax(dim=1) == target).sum()), target.numel()
    if (
        target.numel() > 0
        and output.numel() == target.numel()
        and not target.is_complex()
        and bool((target.abs() == 1).all())
    ):
        predicted = torch.sign(output).reshape(target.shape).to(target.dtype)
        return int((predicted == target).sum()), target.numel()
    return None


def r2_score(output: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination, R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², per output column and
    averaged over columns (scikit-learn's ``r2_score`` with ``multioutput="uniform_average"``).

    1 is a perfect fit, 0 is as good as predicting the mean of the targets, and it is
    negative for worse fits. A constant target column scores 1 if predicted exactly and 0
    otherwise (scikit-learn's ``force_finite``).
    """
    n = target.shape[0]
    if n == 0 or output.numel() != target.numel():
        raise ValueError(
            f"R² needs one prediction per target; got output {tuple(output.shape)} and "
            f"target {tuple(target.shape)}"
        )
    y = target.detach().reshape(n, -1).to(torch.float64)
    y_hat = output.detach().reshape(n, -1).to(torch.float64)
    ss_res = ((y - y_hat) ** 2).sum(dim=0)
    ss_tot = ((y - y.mean(dim=0)) ** 2).sum(dim=0)
    perfect = torch.where(ss_res == 0, 1.0, 0.0).to(torch.float64)
    r2 = torch.where(ss_tot == 0, perfect, 1.0 - ss_res / torch.where(ss_tot == 0, 1.0, ss_tot))
    return float(r2.mean())


def check_score_func(score_func: str | ScoreFunc) -> None:
    if not callable(score_func) and score_func not in ("regression", "classification"):
        raise ValueError(
            f"score_func must be 'regression', 'classification' or a callable "
            f"(output, target) -> float; got {score_func!r}"
        )
