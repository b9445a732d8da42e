"""PennyLane devices ``qoxide.qubit`` and ``qoxide.gpu`` (entry points
``pennylane.plugins``): ``qml.device("qoxide.qubit", wires=4)``."""

from .device import QoxideQubit
from .gpu import QoxideGPU

__all__ = ["QoxideGPU", "QoxideQubit"]
