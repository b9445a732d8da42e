"""torch.nn building blocks over qoxide circuits."""

from .layer import QuantumLayer

__all__ = ["QuantumLayer"]
