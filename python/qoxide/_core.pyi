"""Type stubs for the native module (rust/python). theta's dtype picks the precision:
float64 runs complex128, float32 runs complex64; real outputs come back in theta's dtype."""

from collections.abc import Sequence
from typing import Literal, final

import numpy as np
import numpy.typing as npt

MAX_QUBITS: int
GATES: list[str]
__version__: str

class WireError(ValueError):
    """A wire out of range for the register, or repeated."""

class ShapeError(ValueError):
    """An array of the wrong shape or size (theta, states, cotangents, matrices)."""

class OutOfMemoryError(MemoryError):
    """The request would not fit in available memory; raised before allocating."""

_Engine = Literal["auto", "per_sample", "lanes", "tiled"] | None

@final
class Tape:
    """Built op by op with ``add``; frozen (compiled once) by its first run."""

    def __new__(cls, n_qubits: int, n_params: int) -> Tape: ...
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
    @property
    def frozen(self) -> bool: ...

@final
class Observable:
    @staticmethod
    def pauli(
        n_qubits: int, terms: Sequence[tuple[float, Sequence[tuple[int, str]]]]
    ) -> Observable: ...
    @staticmethod
    def hermitian(
        n_qubits: int,
        wires: Sequence[int],
        matrix: npt.NDArray[np.complex128] | npt.NDArray[np.float64],
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
    tape: Tape,
    theta: _Theta,
    observables: Sequence[Observable],
    init_state: _Init = ...,
    final_states: np.ndarray | None = ...,
    engine: _Engine = ...,
) -> np.ndarray:
    """[B, M] expectation values (from ``final_states`` [B, 2^n] of an earlier ``state`` call
    when given: the forward pass is skipped)."""

def expval_and_state(
    tape: Tape,
    theta: _Theta,
    observables: Sequence[Observable],
    init_state: _Init = ...,
    engine: _Engine = ...,
) -> tuple[np.ndarray, np.ndarray]:
    """([B, M] expectation values, [B, 2^n] final states) in one call."""

def var(
    tape: Tape,
    theta: _Theta,
    observables: Sequence[Observable],
    init_state: _Init = ...,
    engine: _Engine = ...,
) -> np.ndarray:
    """[B, M] variances."""

def state(tape: Tape, theta: _Theta, init_state: _Init = ..., engine: _Engine = ...) -> np.ndarray:
    """[B, 2^n] final states."""

def probs(
    tape: Tape, theta: _Theta, wires: Sequence[int], init_state: _Init = ..., engine: _Engine = ...
) -> np.ndarray:
    """[B, 2^k] marginal probabilities of ``wires`` (wires[0] the high bit)."""

def sample(
    tape: Tape,
    theta: _Theta,
    wires: Sequence[int],
    shots: int,
    seed: int,
    init_state: _Init = ...,
    engine: _Engine = ...,
) -> npt.NDArray[np.uint8]:
    """[B, shots, k] measured bits."""

def jacobian(
    tape: Tape,
    theta: _Theta,
    observables: Sequence[Observable],
    init_state: _Init = ...,
    engine: _Engine = ...,
) -> np.ndarray:
    """[B, M, P] adjoint Jacobian."""

def vjp(
    tape: Tape,
    theta: _Theta,
    observables: Sequence[Observable],
    grad_out: _Theta,
    init_state: _Init = ...,
    final_states: np.ndarray | None = ...,
    engine: _Engine = ...,
) -> np.ndarray:
    """[B, P] = sum_m grad_out[b, m] d<O_m>/dtheta, one backward sweep per sample (from
    ``final_states`` when given: the forward pass is skipped)."""

@final
class Saved:
    """What ``Circuit.forward(save=True)`` keeps for its backward: theta and (with
    ``keep_states``) the final states, in native memory."""

@final
class Circuit:
    """A tape with the observables of its expvals and its affine theta map
    (``theta = x a_in + w a_w + const``, or ``theta[:, j] = [x, w][:, gather[j]]``): eager calls
    in one native call each way. Freezes the tape."""

    def __new__(
        cls,
        tape: Tape,
        observables: Sequence[Observable],
        a_in: npt.NDArray[np.float64],
        a_w: npt.NDArray[np.float64],
        const: npt.NDArray[np.float64],
        gather: npt.NDArray[np.int64] | None = ...,
    ) -> Circuit: ...
    def forward(
        self,
        x: _Theta | None,
        w: _Theta | None,
        batch: int,
        save: bool = ...,
        keep_states: bool = ...,
        init_state: _Init = ...,
    ) -> tuple[np.ndarray, Saved | None]:
        """([B, M] expvals at inputs x [B, F] and flat weights w [W], what the backward
        needs when ``save``)."""
    def backward(
        self,
        saved: Saved,
        grad_out: _Theta,
        need_x: bool = ...,
        need_w: bool = ...,
        init_state: _Init = ...,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(dL/dx [B, F], dL/dw [W]) from dL/d(expvals) [B, M]: one adjoint sweep, pulled
        back through the theta map."""
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_weights(self) -> int: ...
    @property
    def n_params(self) -> int: ...

def get_num_threads() -> int: ...
def planned_engine(tape: Tape, batch: int, single: bool = ...) -> str:
    """The engine the planner picks for ``batch`` samples ("per_sample", "lanes", "tiled")."""

def set_num_threads(n: int) -> None: ...

# --- Hilbert Space Models (qoxide.hsm) ---------------------------------------------------

@final
class PauliStrings:
    """Distinct Pauli strings on ``n_qubits`` as x/z masks (wire 0 the high bit), grouped by
    x mask for matrix-free sums with real coefficients."""

    def __new__(cls, n_qubits: int, x: Sequence[int], z: Sequence[int]) -> PauliStrings: ...
    @staticmethod
    def enumerate(n_qubits: int, max_weight: int) -> PauliStrings:
        """All strings with at most ``max_weight`` non-identity factors, by weight."""
    @property
    def n_qubits(self) -> int: ...
    @property
    def n_groups(self) -> int: ...
    @property
    def x(self) -> list[int]: ...
    @property
    def z(self) -> list[int]: ...
    def __len__(self) -> int: ...
    def labels(self) -> list[str]:
        """Labels such as "XIZ", wire 0 first."""
    def square_products(
        self,
    ) -> tuple[
        PauliStrings,
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
    ]:
        """(products, s, t, u, coef): A² = Σ_p coef[p] a[s[p]] a[t[p]] P_{products[u[p]]}."""
    def dense(self, coeffs: npt.NDArray[np.float64]) -> npt.NDArray[np.complex128]:
        """[M, N] real coefficients → [M, d, d] matrices."""
    def project(self, mats: npt.NDArray[np.complex128]) -> npt.NDArray[np.float64]:
        """Adjoint of ``dense``: [M, d, d] → [M, N] (Re Σ conj(G) ∘ P_s)."""
    def apply(
        self, coeffs: npt.NDArray[np.float64], states: npt.NDArray[np.complex128]
    ) -> npt.NDArray[np.complex128]:
        """Σ_s coeffs[b, s] P_s |states[b]⟩, matrix-free: [B, d]."""
    def overlaps(
        self,
        u: npt.NDArray[np.complex128],
        v: npt.NDArray[np.complex128],
        sum_batch: bool = ...,
    ) -> npt.NDArray[np.complex128]:
        """⟨u_b|P_s|v_b⟩: [B, N], or summed over the batch: [N]."""

@final
class DenseGroundStates:
    """Factorised ground states of dense Hermitian matrices (``hsm_dense_ground``)."""

    def solve(self, rhs: npt.NDArray[np.complex128], eps: float) -> npt.NDArray[np.complex128]:
        """χ_b ⊥ ψ₀ with (H_b − E₀ + eps) χ_b = P⊥ rhs_b: [B, d]."""
    def __len__(self) -> int: ...

def hsm_dense_ground(
    h: npt.NDArray[np.complex128],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.complex128], DenseGroundStates]:
    """Ground states of Hermitian h [B, d, d]: (E₀ [B], ψ₀ [B, d], factors)."""

def hsm_pauli_ground(
    shared: PauliStrings,
    local: PauliStrings,
    output: PauliStrings,
    sigma: npt.NDArray[np.float64],
    c: npt.NDArray[np.float64],
    init: npt.NDArray[np.complex128] | None = ...,
    tol: float = ...,
    max_krylov: int = ...,
    max_matvecs: int = ...,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.complex128],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
]:
    """Lanczos ground states of H_b = Σ_u sigma_u P_u + Σ_s c[b, s] P_s:
    (E₀ [B], ψ₀ [B, d], ⟨P_v⟩ [B, len(output)], matvecs [B], residuals [B])."""

def hsm_pauli_backward(
    shared: PauliStrings,
    local: PauliStrings,
    output: PauliStrings,
    sigma: npt.NDArray[np.float64],
    c: npt.NDArray[np.float64],
    psi: npt.NDArray[np.complex128],
    e0: npt.NDArray[np.float64],
    gamma: npt.NDArray[np.float64],
    g_e: npt.NDArray[np.float64],
    eps: float,
    tol: float = ...,
    max_matvecs: int = ...,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
]:
    """(∂L/∂sigma [len(shared)], ∂L/∂c [B, len(local)], CG matvecs [B], CG residuals [B])
    for gamma = ∂L/∂⟨P_v⟩ [B, len(output)] and g_e = ∂L/∂E₀ [B]."""

def pauli_string_count(n_qubits: int, max_weight: int) -> int:
    """Σ_{j ≤ max_weight} C(n_qubits, j) 3^j."""

def set_fusion(enabled: bool, tile_qubits: int = 0, block_bits: int | None = None) -> None:
    """Turn gate fusion on or off; ``tile_qubits`` > 0 forces the tile size (0: automatic);
    ``block_bits`` (0-6) is the size of the register blocks that run runs of gates on few
    qubits in one pass inside a tile (0: every gate its own pass; None: the default, 6;
    a register that fits one tile uses at most 4)."""

def fusion_enabled() -> bool: ...
def set_batch_lanes(enabled: bool) -> None:
    """Turn the batch-lane engine on or off: on registers of up to 10 qubits with a batch of
    4 or more, all samples' forward and adjoint passes run together, 16 samples per block."""

def batch_lanes_enabled() -> bool: ...

@final
class ShardPlan:
    """The sharded schedule of a tape on 2^k ranks and one rank's local work
    (``qoxide.distributed``; no communication happens in here)."""

    def __new__(
        cls, tape: Tape, k: int, observables: list[Observable] = ..., naive: bool = False
    ) -> ShardPlan: ...
    n_qubits: int
    k: int
    n_ranks: int
    local_qubits: int
    n_params: int
    n_observables: int
    n_swaps: int
    n_local_transpositions: int
    amps_sent_per_rank: int
    initial_map: list[int]
    final_map: list[int]
    def steps(self) -> list[tuple]: ...
    def rounds(self, m: int, fraction: float) -> int: ...
    def n_collectives(self, fraction: float) -> int: ...
    def route(self, step: int, rank: int) -> tuple[list[int], int]: ...
    def forward_segment(
        self, step: int, rank: int, theta: np.ndarray, shards: np.ndarray
    ) -> None: ...
    def backward_segment(
        self, step: int, rank: int, theta: np.ndarray, buf: np.ndarray, grads: np.ndarray
    ) -> None: ...
    def transpose(self, step: int, before_exchange: bool, undo: bool, buf: np.ndarray) -> None: ...
    def expval_partial(self, rank: int, shards: np.ndarray) -> np.ndarray: ...
    def probs_partial(self, rank: int, shards: np.ndarray, wires: list[int]) -> np.ndarray: ...
    def start_adjoint(self, rank: int, buf: np.ndarray, g: np.ndarray) -> None: ...

def layered_schedule(n_qubits: int, layers: int, k: int, naive: bool = False) -> dict:
    """Schedule counts of the layered RX/RY/RZ + CNOT-ring circuit on 2^k ranks."""
# CUDA backend (qoxide-cuda): availability and NVRTC diagnostics; never needs a GPU to import.
def cuda_is_available() -> bool: ...
def cuda_reason() -> str | None: ...
def cuda_nvrtc_path() -> str | None: ...
def cuda_nvrtc_version() -> tuple[int, int]: ...
def cuda_compile_check(arch: str) -> list[tuple[str, int, int, int, int]]:
    """Compile every kernel for ``arch``: (kernel, registers, spill stores, spill loads,
    stack bytes) per kernel (empty for a PTX architecture such as compute_75)."""
@final
class CudaSmallProgram:
    """A small-register program (1 to 12 qubits, Pauli-sum observables) resident on a GPU,
    launched on a caller's stream into caller-allocated buffers (``qoxide.cuda_ops`` passes
    torch tensors' ``data_ptr()``s)."""

    def __new__(
        cls, tape: Tape, observables: Sequence[Observable], device: int
    ) -> CudaSmallProgram: ...
    @property
    def n_qubits(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def device(self) -> int: ...
    def launch(
        self,
        precision: str,
        batch: int,
        theta: int,
        out: int,
        stream: int,
        grad_out: int = 0,
        grad_theta: int = 0,
        state: int = 0,
        jac: int = 0,
    ) -> None:
        """One asynchronous launch on ``stream`` over ``batch`` samples: theta [B, P]
        float64 in, expvals [B, M] float64 out; with ``grad_out`` [B, M] the VJP into
        ``grad_theta`` [B, P]; with ``jac`` the Jacobian [B, M, P]; with ``state`` the final
        states [B, 2^n] complex128 (device pointers; 0 for an absent buffer)."""

@final
class CudaLargeProgram:
    """One large statevector (13 to 32 qubits, Pauli-sum observables) on a GPU: program
    uploaded once, launched on a caller's stream into caller-allocated buffers."""

    def __new__(
        cls, tape: Tape, observables: Sequence[Observable], device: int
    ) -> CudaLargeProgram: ...
    @property
    def n_qubits(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def device(self) -> int: ...
    @property
    def partial_len(self) -> int:
        """float64 values of the ``partial`` scratch a launch needs."""
    def check_memory(self, precision: str, adjoint: bool) -> None:
        """MemoryError when a run does not fit the GPU's free memory (before allocating)."""
    def launch(
        self,
        precision: str,
        phi: int,
        partial: int,
        theta: int,
        out: int,
        stream: int,
        lam: int = 0,
        grad_out: int = 0,
        grad: int = 0,
        jac: int = 0,
    ) -> None:
        """The launches of one statevector on ``stream`` (device pointers; 0 when absent):
        phi [2^n] complex (the final state after a forward-only run), partial scratch,
        theta [P], out [M]; with ``grad_out`` [M] the VJP into ``grad`` [P], with ``jac`` the
        Jacobian [M, P]; both need ``lam`` [2^n] scratch."""

def cuda_run_small(
    tape: Tape,
    theta: npt.NDArray[np.float64],
    observables: Sequence[Sequence[tuple[float, Sequence[tuple[int, str]]]]],
    grad_out: npt.NDArray[np.float64] | None = None,
    precision: str = "complex128",
    want_state: bool = False,
    jacobian: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The batched small-register kernel on GPU 0 from host arrays (synchronous):
    (expval [B, M], final states [B, 2^n] or None, grad_theta [B, P] for ``grad_out`` or
    the adjoint Jacobian [B, M, P] for ``jacobian=True``, or None).
    RuntimeError with the reason where the CUDA backend is not available."""
