"""Tabular data for HSMs: columns, seeded train/val/test splits, and standardisation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    import pandas as pd


def read_table(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    """A DataFrame as given, or read from a CSV path."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, str | Path):
        try:
            frame = pd.read_csv(data)
        except pd.errors.EmptyDataError:
            raise ValueError(f"data file {data} is empty: it needs a header and rows") from None
        if frame.empty:
            raise ValueError(
                f"data file {data} has no data rows (columns {list(frame.columns)}); "
                "training needs rows of feature and target values"
            )
        return frame
    raise TypeError(f"data must be a pandas DataFrame or a CSV path, got {type(data).__name__}")


def select_columns(
    frame: pd.DataFrame,
    targets: list[str],
    input_features: list[str] | None,
    input_operator_count: int,
) -> list[str]:
    """The input columns (all non-target columns when ``input_features`` is None), checked
    against the frame and the operator count."""
    missing = [c for c in targets + (input_features or []) if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data (columns: {list(frame.columns)})")
    features = input_features or [c for c in frame.columns if c not in targets]
    if len(features) != input_operator_count:
        raise ValueError(
            f"input_operator_count ({input_operator_count}) must match the number of input "
            f"features ({len(features)}: {features})"
        )
    import pandas as pd

    # pandas' own predicate: np.issubdtype raises on extension dtypes such as "string".
    bad = [c for c in features + targets if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if bad:
        kinds = ", ".join(f"{c!r}: {frame[c].dtype}" for c in bad)
        raise ValueError(
            f"columns {bad} are not numeric ({kinds}); encode them as numbers first or "
            "leave them out with input_features"
        )
    return features


def split_indices(n: int, split: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) row indices: ``split`` of the rows for test, ``split`` of the rest
    for validation, shuffled with ``seed``."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(split * n))
    n_val = int(round(split * (n - n_test)))
    if n - n_test - n_val < 1 or n_test < 1 or n_val < 1:
        raise ValueError(
            f"{n} rows are too few for split={split}: train, validation and test sets each "
            "need at least one row"
        )
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


@dataclass
class Standardizer:
    """x ↦ (x − mean) / scale per column (scale 1 for constant columns)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        return cls(mean, np.where(scale > 0, scale, 1.0))

    @classmethod
    def identity(cls, width: int) -> Standardizer:
        return cls(np.zeros(width), np.ones(width))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.mean

    def state(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(state["mean"], float), np.asarray(state["scale"], float))


def tensor(x: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype)
