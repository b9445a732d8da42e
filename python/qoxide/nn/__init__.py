"""torch.nn building blocks over qoxide circuits: layers and circuit templates."""

from .dressed import DressedQuantumNet, dressed_circuit
from .layer import QuantumLayer
from .templates import (
    AmplitudeEmbedding,
    AngleEmbedding,
    BasicEntanglerLayers,
    StronglyEntanglingLayers,
    entangling_layer,
    h_layer,
    ry_layer,
)

__all__ = [
    "AmplitudeEmbedding",
    "AngleEmbedding",
    "BasicEntanglerLayers",
    "DressedQuantumNet",
    "QuantumLayer",
    "StronglyEntanglingLayers",
    "dressed_circuit",
    "entangling_layer",
    "h_layer",
    "ry_layer",
]
