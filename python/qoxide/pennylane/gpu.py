"""``qoxide.gpu``: the PennyLane device of ``qoxide.qubit`` with its native calls on an
NVIDIA GPU.

    dev = qml.device("qoxide.gpu", wires=4)            # GPU 0, complex128
    dev = qml.device("qoxide.gpu", wires=4, device=1, c_dtype=np.complex64)

Same capabilities, options and results as ``qoxide.qubit``. Expectation values of Pauli
sums on up to 32 qubits, and their adjoint derivatives, run on the GPU (one batched launch
per stack of circuits up to 12 qubits); other measurements, shots, Hermitian or projector
observables and initial states run on qoxide's CPU engine. ``dev.backend_calls`` counts
both.
Creating it where no GPU is usable raises a DeviceError with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pennylane.devices.modifiers import simulator_tracking, single_tape_support
from pennylane.exceptions import DeviceError

from .. import cuda
from .device import QoxideQubit


@simulator_tracking
@single_tape_support
class QoxideGPU(QoxideQubit):
    """PennyLane device running qoxide's CUDA kernels (see the module doc).

    Args:
        wires, shots, seed, c_dtype: as for ``qoxide.qubit``.
        device: the CUDA device index.
    """

    def __init__(
        self,
        wires: int | Sequence | None = None,
        shots: int | Sequence | None = None,
        seed: object = "global",
        c_dtype: type = np.complex128,
        device: int = 0,
    ) -> None:
        why = cuda.reason()
        if why is not None:
            raise DeviceError(
                f"qoxide.gpu needs a usable NVIDIA GPU: {why}. Use qoxide.qubit on the CPU."
            )
        super().__init__(wires=wires, shots=shots, seed=seed, c_dtype=c_dtype)
        from ..cuda_runner import CudaRunner

        self._runner = CudaRunner(device)

    @property
    def name(self) -> str:
        return "qoxide.gpu"

    @property
    def backend_calls(self) -> Counter[str]:
        """Native calls so far: ``"gpu"`` (CUDA launches) and ``"cpu"`` (CPU engine)."""
        calls: Counter[str] = self._runner.calls
        return calls
