"""qoxide: fast batched statevector simulation with adjoint gradients for QML in PyTorch."""

from . import _core, cuda, hsm, nn, train
from . import cuda_ops as _cuda_ops  # noqa: F401  (registers the ops' CUDA kernels)
from ._core import (
    GATES,
    OutOfMemoryError,
    ShapeError,
    WireError,
    batch_lanes_enabled,
    fusion_enabled,
    get_num_threads,
    set_batch_lanes,
    set_fusion,
    set_num_threads,
)
from .circuit import QuantumFunction, circuit
from .observables import Hermitian, I, Observable, Pauli, Projector, Sum, X, Y, Z
from .pennylane_convert import UnsupportedPennyLaneError, from_pennylane
from .program import Program
from .recorder import Recorder

__version__ = _core.__version__

__all__ = [
    "GATES",
    "OutOfMemoryError",
    "ShapeError",
    "WireError",
    "Hermitian",
    "I",
    "Observable",
    "Pauli",
    "Program",
    "Projector",
    "QuantumFunction",
    "Recorder",
    "Sum",
    "UnsupportedPennyLaneError",
    "X",
    "Y",
    "Z",
    "circuit",
    "from_pennylane",
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
