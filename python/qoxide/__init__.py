"""qoxide: fast batched statevector simulation with adjoint gradients for QML in PyTorch."""

from . import _core, cuda, hsm, nn, train
from ._core import (
    GATES,
    batch_lanes_enabled,
    fusion_enabled,
    get_num_threads,
    set_batch_lanes,
    set_fusion,
    set_num_threads,
)
from .circuit import QuantumFunction, circuit
from .observables import Hermitian, I, Observable, Pauli, Projector, Sum, X, Y, Z
from .program import Program
from .recorder import Recorder

__version__ = _core.__version__

__all__ = [
    "GATES",
    "Hermitian",
    "I",
    "Observable",
    "Pauli",
    "Program",
    "Projector",
    "QuantumFunction",
    "Recorder",
    "Sum",
    "X",
    "Y",
    "Z",
    "circuit",
    "cuda",
    "hsm",
    "nn",
    "train",
    "batch_lanes_enabled",
    "fusion_enabled",
    "get_num_threads",
    "set_batch_lanes",
    "set_fusion",
    "set_num_threads",
]
