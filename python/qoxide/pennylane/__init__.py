"""PennyLane device ``qoxide.qubit`` (entry point ``pennylane.plugins``):
``qml.device("qoxide.qubit", wires=4)``."""

from .device import QoxideQubit

__all__ = ["QoxideQubit"]
