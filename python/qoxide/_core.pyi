"""Type stubs for the native module (rust/python). theta's dtype picks the precision:
float64 runs complex128, float32 runs complex64; real outputs come back in theta's dtype."""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

MAX_QUBITS: int
GATES: list[str]
__version__: str

class Tape:
    def __init__(self, n_qubits: int, n_params: int) -> None: ...
    def add(
        self,
        name: str,
        wires: Sequence[int],
        params: Sequence[int | float] = ...,
        inverse: bool = ...,
        matrix: npt.NDArray[np.complex128] | None = ...,
        control_values: Sequence[bool] = ...,
    ) -> None:
        """Append a gate; an int parameter is a theta column, a float a constant."""
    @property
    def n_qubits(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def n_ops(self) -> int: ...

class Observable:
    @staticmethod
    def pauli(
        n_qubits: int, terms: Sequence[tuple[float, Sequence[tuple[int, str]]]]
    ) -> Observable: ...
    @staticmethod
    def hermitian(
        n_qubits: int, wires: Sequence[int], matrix: npt.NDArray[np.complex128]
    ) -> Observable: ...
    @staticmethod
    def projector(n_qubits: int, wires: Sequence[int], bits: Sequence[int]) -> Observable: ...
    @staticmethod
    def sum(terms: Sequence[tuple[float, Observable]]) -> Observable: ...
    @property
    def n_qubits(self) -> int: ...

_Theta = npt.NDArray[np.float64] | npt.NDArray[np.float32]
_Init = npt.NDArray[np.complex128] | npt.NDArray[np.complex64] | None

def expval(
    tape: Tape, theta: _Theta, observables: Sequence[Observable], init_state: _Init = ...
) -> np.ndarray:
    """[B, M] expectation values."""

def var(
    tape: Tape, theta: _Theta, observables: Sequence[Observable], init_state: _Init = ...
) -> np.ndarray:
    """[B, M] variances."""

def state(tape: Tape, theta: _Theta, init_state: _Init = ...) -> np.ndarray:
    """[B, 2^n] final states."""

def probs(tape: Tape, theta: _Theta, wires: Sequence[int], init_state: _Init = ...) -> np.ndarray:
    """[B, 2^k] marginal probabilities of ``wires`` (wires[0] the high bit)."""

def sample(
    tape: Tape, theta: _Theta, wires: Sequence[int], shots: int, seed: int, init_state: _Init = ...
) -> npt.NDArray[np.uint8]:
    """[B, shots, k] measured bits."""

def jacobian(
    tape: Tape, theta: _Theta, observables: Sequence[Observable], init_state: _Init = ...
) -> np.ndarray:
    """[B, M, P] adjoint Jacobian."""

def vjp(
    tape: Tape,
    theta: _Theta,
    observables: Sequence[Observable],
    grad_out: _Theta,
    init_state: _Init = ...,
) -> np.ndarray:
    """[B, P] = sum_m grad_out[b, m] d<O_m>/dtheta, one backward sweep per sample."""

def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
