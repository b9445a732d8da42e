"""Hilbert Space Models (QCML): GeneralHSM, GeneralFullEnergyHSM and PauliHSM.

The model
---------
K input features x ∈ R^K and J targets. Input operators A_k (k = 1..K) and output
operators B_j (j = 1..J) are Hermitian d×d matrices. With x̃_k = x_k, or x̃_k = w_k x_k with
learnable w when ``weighted_layer=True``, the error Hamiltonian is

    H(x) = ½ Σ_k (A_k − x̃_k I)²  =  ½ S − Σ_k x̃_k A_k + ½‖x̃‖² I,    S = Σ_k A_k²,

and S is computed once per forward call (per optimisation step), not per sample. The
prediction is

    ŷ_j(x) = ⟨ψ₀(x)| B_j |ψ₀(x)⟩                    with ψ₀(x) the ground state of H(x)
                                                    (``beta=None``), or
    ŷ_j(x) = Tr(ρ B_j),  ρ = Σ_n p_n |ψ_n⟩⟨ψ_n|,     p_n ∝ exp(−β (E_n − E₀))   (``beta`` set),

with E₀ ≤ E₁ ≤ … the eigenvalues of H(x) and ψ_n its eigenvectors (the Gibbs mixture at
inverse temperature β; β → ∞ recovers the ground state).

Parametrisations
----------------
* ``GeneralHSM``: A_k = diag(input_diags[k]) + U_k + U_k†, with U_k strictly upper
  triangular holding ``input_trius[k]`` (d(d−1)/2 entries, row-major order of
  ``torch.triu_indices``), complex when ``complex=True`` and real otherwise; B_j likewise
  from ``output_diags`` / ``output_trius``.
* ``PauliHSM``: on q = ``qubits_count`` qubits (d = 2^q), A_k = Σ_s input_pauli_coeffs[k, s] P_s
  over all Pauli strings with at most ``input_operator_pauli_weight`` non-identity factors
  (Σ_{j≤w} C(q, j)·3^j strings, identity first), B_j likewise with
  ``output_operator_pauli_weight``. S is expanded in Pauli strings (products of commuting
  input strings) and H(x) is applied matrix-free; ground states come from Lanczos in the Rust
  core for d > ``dense_max_dim``, from dense solvers otherwise.
* ``GeneralFullEnergyHSM``: GeneralHSM's operators and predictions, but training minimises the
  mean ground energy of the joint Hamiltonian

      H(x, y) = ½ Σ_k (A_k − x̃_k I)² + ½ Σ_j (B_j − y_j I)²,

  i.e. the operators are fitted so that inputs and targets are jointly "explained" by one
  state, instead of fitting ŷ to y through a loss. ``energy(x, y)`` is that objective;
  ``forward(x)`` predicts from H(x) exactly as GeneralHSM does (the state that best explains
  x alone), so the two models are used in the same way after training.

Gradients
---------
No gradient goes through ``torch.linalg.eigh``. For the ground state, with
B_g = Σ_j (∂L/∂ŷ_j) B_j, χ ⊥ ψ₀ solves (H − E₀ + ε) χ = −P⊥ B_g ψ₀ (P⊥ = 1 − ψ₀ψ₀†) and
dL = 2 Re⟨χ| dH |ψ₀⟩; energies use Hellmann–Feynman, dE₀ = ⟨ψ₀| dH |ψ₀⟩. Only gaps to E₀
appear, so degenerate excited levels give finite, correct gradients (autograd through eigh
divides by every gap E_m − E_n and returns NaN there). Gibbs states use the divided
differences (p_m − p_n)/(E_m − E_n), computed as −β max(p_m, p_n) expm1(−βΔ)/(−βΔ) with
Δ = |E_m − E_n|, finite for any degeneracy.

``eigh_eps`` (ε, default 1e-8)
------------------------------
ε only affects gradients of ground-state predictions (``beta=None``): every excited gap
E_n − E₀ (n ≥ 1) in the formula above is replaced by E_n − E₀ + ε, i.e. χ solves
(H − E₀ + ε) χ = −P⊥ B_g ψ₀ instead of (H − E₀) χ = −P⊥ B_g ψ₀. Forward values (predictions,
energies, states) are unchanged. A gradient changes by a relative amount of at most
ε / (E₁ − E₀); when the ground state itself is degenerate (E₁ = E₀, where the exact gradient
does not exist) gradients stay finite, bounded by ‖B_g‖/ε, instead of infinite. ε = 0 gives
the exact formula. Energy gradients and Gibbs-state gradients do not use ε.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .. import _core
from .ground import DenseGroundState, GibbsState, PauliDense, PauliGroundState
from .pauli import SquareExpansion, pauli_strings

Backend = Literal["auto", "rust", "torch"]

#: Largest d for which a PauliHSM on CPU uses dense ground states instead of Lanczos. Measured
#: on a training step (batch 64, K = 10, weights 2): d = 64 dense 27 ms vs Lanczos 32 ms;
#: d = 128 dense 134 ms vs Lanczos 88 ms.
DENSE_MAX_DIM = 64


def hermitian(diags: torch.Tensor, trius: torch.Tensor) -> torch.Tensor:
    """Hermitian matrices [M, d, d] from diagonals [M, d] and upper triangles [M, d(d−1)/2]."""
    m, d = diags.shape
    iu = torch.triu_indices(d, d, 1, device=diags.device)
    dtype = trius.dtype if trius.is_complex() else diags.dtype
    upper = torch.zeros(m, d, d, dtype=dtype, device=diags.device)
    upper = upper.index_put((torch.arange(m, device=diags.device)[:, None], iu[0], iu[1]), trius)
    return upper + upper.mH + torch.diag_embed(diags.to(dtype))


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)


def _check_counts(k: int, j: int) -> None:
    if k < 1 or j < 1:
        raise ValueError(
            f"input_operator_count and output_operator_count must be >= 1, got {k} and {j}"
        )


class HSM(nn.Module):
    """Base class: the error Hamiltonian, dense ground/Gibbs states and the input weights.

    Subclasses provide ``operators()`` (dense A [K, d, d], B [J, d, d]); PauliHSM overrides
    the prediction path to stay matrix-free for large d.
    """

    hsm_model: str = ""

    def __init__(
        self,
        input_operator_count: int,
        output_operator_count: int,
        hilbert_space_dims: int,
        beta: float | None = None,
        eigh_eps: float = 1e-8,
        weighted_layer: bool = False,
        dtype: torch.dtype = torch.float64,
        backend: Backend = "auto",
    ):
        super().__init__()
        _check_counts(input_operator_count, output_operator_count)
        if hilbert_space_dims < 2:
            raise ValueError(f"hilbert_space_dims must be >= 2, got {hilbert_space_dims}")
        if beta is not None and not (beta > 0 and math.isfinite(beta)):
            raise ValueError(f"beta must be a positive number or None, got {beta}")
        if not eigh_eps >= 0:
            raise ValueError(f"eigh_eps must be >= 0, got {eigh_eps}")
        if backend not in ("auto", "rust", "torch"):
            raise ValueError(f"backend must be 'auto', 'rust' or 'torch', got {backend!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.input_operator_count = input_operator_count
        self.output_operator_count = output_operator_count
        self.hilbert_space_dims = hilbert_space_dims
        self.beta = beta
        self.eigh_eps = float(eigh_eps)
        self.weighted_layer = weighted_layer
        self.backend = backend
        if weighted_layer:
            self.input_weights = nn.Parameter(torch.ones(input_operator_count, dtype=dtype))

    # the error Hamiltonian ------------------------------------------------------------------
    def scaled_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """x̃ = x, or w ⊙ x with ``weighted_layer``; checks the feature count."""
        if x.ndim != 2 or x.shape[1] != self.input_operator_count:
            raise ValueError(
                f"inputs must be [batch, {self.input_operator_count}] (input_operator_count), "
                f"got shape {tuple(x.shape)}"
            )
        x = x.to(self._real_dtype())
        return x * self.input_weights if self.weighted_layer else x

    def operators(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense input operators A [K, d, d] and output operators B [J, d, d]."""
        raise NotImplementedError

    def _real_dtype(self) -> torch.dtype:
        return next(p for p in self.parameters() if not p.is_complex()).dtype

    def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        """Dense H(x) [B, d, d], identity term included (for inspection and references)."""
        xt = self.scaled_inputs(x)
        a, _ = self.operators()
        h = _shifted_hamiltonian(a, xt)
        eye = torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        return h + 0.5 * (xt * xt).sum(-1).to(h.dtype)[:, None, None] * eye

    # predictions ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions ŷ [B, J]."""
        return self.predict_with_energy(x)[0]

    def ground_energy(self, x: torch.Tensor) -> torch.Tensor:
        """E₀ of H(x) [B] (differentiable by Hellmann–Feynman)."""
        return self.predict_with_energy(x)[1]

    def predict_with_energy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ŷ [B, J], E₀ [B]) in one solve."""
        xt = self.scaled_inputs(x)
        a, b = self.operators()
        y, e0 = self._solve_dense(_shifted_hamiltonian(a, xt), b)
        return y, e0 + 0.5 * (xt * xt).sum(-1)

    def _dense_backend(self, device: torch.device) -> str:
        if self.backend != "auto":
            if self.backend == "rust" and device.type != "cpu":
                raise ValueError("backend='rust' runs on CPU; move the model to CPU")
            return self.backend
        return "rust" if device.type == "cpu" else "torch"

    def _solve_dense(self, h: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.beta is not None:
            return GibbsState.apply(h, b, float(self.beta))
        return DenseGroundState.apply(h, b, self.eigh_eps, self._dense_backend(h.device))

    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this model (saved with it)."""
        return {
            "input_operator_count": self.input_operator_count,
            "output_operator_count": self.output_operator_count,
            "beta": self.beta,
            "eigh_eps": self.eigh_eps,
            "weighted_layer": self.weighted_layer,
            "dtype": str(self._real_dtype()).removeprefix("torch."),
        }

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())


def _shifted_hamiltonian(a: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
    """½ S − Σ_k x̃_k A_k [B, d, d] (H(x) without its identity term ½‖x̃‖² I)."""
    s = (a @ a).sum(0)
    return 0.5 * s - torch.einsum("bk,kij->bij", xt.to(a.dtype), a)


class GeneralHSM(HSM):
    """HSM with arbitrary Hermitian operators (parameters ``input_diags``, ``input_trius``,
    ``output_diags``, ``output_trius``); see the module docstring for the model.

    Args:
        input_operator_count: K, the number of input features.
        output_operator_count: J, the number of targets.
        hilbert_space_dims: d.
        beta: inverse temperature of the Gibbs mixture; None uses the ground state.
        complex: complex off-diagonal entries (otherwise real symmetric operators).
        eigh_eps: gap regularisation of ground-state gradients (module docstring).
        weighted_layer: learnable per-feature input weights ``input_weights``.
        dtype: float64 (default) or float32 parameters.
        seed: seed of the parameter initialisation.
        backend: "auto" (Rust ground states on CPU, torch.linalg.eigh elsewhere), "rust"
            or "torch".
    """

    hsm_model = "general"

    def __init__(
        self,
        input_operator_count: int,
        output_operator_count: int,
        hilbert_space_dims: int,
        beta: float | None = None,
        complex: bool = True,
        eigh_eps: float = 1e-8,
        weighted_layer: bool = False,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
        backend: Backend = "auto",
    ):
        super().__init__(
            input_operator_count,
            output_operator_count,
            hilbert_space_dims,
            beta,
            eigh_eps,
            weighted_layer,
            dtype,
            backend,
        )
        self.complex = complex
        d, gen = hilbert_space_dims, _generator(seed)
        n_tri = d * (d - 1) // 2
        cdtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        scale = 1.0 / math.sqrt(d)

        def diags(m: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(m, d, generator=gen, dtype=dtype))

        def trius(m: int) -> nn.Parameter:
            if complex:
                t = torch.randn(m, n_tri, generator=gen, dtype=cdtype)  # E|t|² = 1
            else:
                t = torch.randn(m, n_tri, generator=gen, dtype=dtype)
            return nn.Parameter(scale * t)

        self.input_diags = diags(input_operator_count)
        self.input_trius = trius(input_operator_count)
        self.output_diags = diags(output_operator_count)
        self.output_trius = trius(output_operator_count)

    def operators(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            hermitian(self.input_diags, self.input_trius),
            hermitian(self.output_diags, self.output_trius),
        )

    def hyperparameters(self) -> dict[str, Any]:
        return {
            **super().hyperparameters(),
            "hilbert_space_dims": self.hilbert_space_dims,
            "complex": self.complex,
        }


class GeneralFullEnergyHSM(GeneralHSM):
    """GeneralHSM trained by minimising the ground energy of H(x, y) (module docstring).

    ``energy(x, y)`` [B] is the training objective; ``forward(x)`` predicts like GeneralHSM.
    """

    hsm_model = "general_fullenergy"

    def energy(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """E₀ of H(x, y) = ½Σ_k (A_k − x̃_k)² + ½Σ_j (B_j − y_j)²: [B]."""
        xt = self.scaled_inputs(x)
        if y.ndim != 2 or y.shape != (xt.shape[0], self.output_operator_count):
            raise ValueError(
                f"targets must be [{xt.shape[0]}, {self.output_operator_count}], "
                f"got shape {tuple(y.shape)}"
            )
        y = y.to(xt.dtype)
        a, b = self.operators()
        h = _shifted_hamiltonian(torch.cat([a, b]), torch.cat([xt, y], dim=1))
        none = b[:0]
        _, e0 = DenseGroundState.apply(h, none, self.eigh_eps, self._dense_backend(h.device))
        return e0 + 0.5 * ((xt * xt).sum(-1) + (y * y).sum(-1))


class FullEnergyObjective(nn.Module):
    """Wraps a GeneralFullEnergyHSM for a trainer: input [B, K + J] = (x, y) → E₀(x, y) [B].

    Train it with ``loss_func = lambda energy, target: energy.mean()``.
    """

    def __init__(self, model: GeneralFullEnergyHSM):
        super().__init__()
        self.model = model

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        k = self.model.input_operator_count
        return self.model.energy(xy[:, :k], xy[:, k:])


@dataclass
class _PauliOps:
    """What the Rust Lanczos path needs besides the coefficients; ``states`` receives the
    ground states of the call."""

    shared: _core.PauliStrings
    local: _core.PauliStrings
    output: _core.PauliStrings
    eps: float
    tol: float
    max_krylov: int
    max_matvecs: int
    states: np.ndarray | None = None


class WarmStarts:
    """Ground states of recently seen input rows, keyed by the rows' bytes, within a memory
    budget (least recently used first out). Lanczos started from the previous ground state of
    the same sample needs ~20-30% fewer matrix-vector products after a small optimiser step;
    any start converges to the same ground state, so stale entries cost only speed."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.states: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def lookup(self, x: np.ndarray, d: int) -> np.ndarray | None:
        init: np.ndarray | None = None
        for i, row in enumerate(x):
            psi = self.states.get(row.tobytes())
            if psi is not None and psi.shape == (d,):
                if init is None:
                    init = np.zeros((len(x), d), dtype=np.complex128)
                init[i] = psi
                self.states.move_to_end(row.tobytes())
        return init

    def store(self, x: np.ndarray, states: np.ndarray) -> None:
        if self.max_bytes <= 0:
            return
        for row, psi in zip(x, states, strict=True):
            self.states[row.tobytes()] = psi.copy()
            self.states.move_to_end(row.tobytes())
        while self.states and len(self.states) * states[0].nbytes > self.max_bytes:
            self.states.popitem(last=False)


class PauliHSM(HSM):
    """HSM whose operators are sums of bounded-weight Pauli strings (parameters
    ``input_pauli_coeffs`` [K, N_in], ``output_pauli_coeffs`` [J, N_out]).

    Args:
        qubits_count: q; the Hilbert space has d = 2^q.
        input_operator_pauli_weight / output_operator_pauli_weight: the most non-identity
            factors in a string of A_k / B_j (at most ``qubits_count``).
        dense_max_dim: on CPU, d above this uses matrix-free Lanczos; at or below, dense
            ground states (Gibbs states, ``beta`` set, and CUDA always use dense matrices).
        lanczos_tol: relative residual ‖Hψ − Eψ‖/‖H‖ of Lanczos ground states, also the
            relative residual of the backward's conjugate-gradient solves.
        max_krylov: Krylov vectors kept before Lanczos restarts.
        max_matvecs: cap on matrix-vector products per sample and solve.
        warm_start_mib: memory (MiB) for ground states of recently seen input rows, which
            start Lanczos when a row comes back (0 disables; see ``WarmStarts``).
        Other arguments as in GeneralHSM.
    """

    hsm_model = "pauli"

    def __init__(
        self,
        input_operator_count: int,
        output_operator_count: int,
        qubits_count: int,
        input_operator_pauli_weight: int,
        output_operator_pauli_weight: int,
        beta: float | None = None,
        eigh_eps: float = 1e-8,
        weighted_layer: bool = False,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
        backend: Backend = "auto",
        dense_max_dim: int = DENSE_MAX_DIM,
        lanczos_tol: float = 1e-10,
        max_krylov: int = 120,
        max_matvecs: int = 5000,
        warm_start_mib: float = 64.0,
    ):
        if qubits_count < 1:
            raise ValueError(f"qubits_count must be >= 1, got {qubits_count}")
        for name, w in (
            ("input_operator_pauli_weight", input_operator_pauli_weight),
            ("output_operator_pauli_weight", output_operator_pauli_weight),
        ):
            if not 0 <= w <= qubits_count:
                raise ValueError(
                    f"{name} ({w}) must be between 0 and qubits_count ({qubits_count})"
                )
        super().__init__(
            input_operator_count,
            output_operator_count,
            2**qubits_count,
            beta,
            eigh_eps,
            weighted_layer,
            dtype,
            backend,
        )
        self.qubits_count = qubits_count
        self.input_operator_pauli_weight = input_operator_pauli_weight
        self.output_operator_pauli_weight = output_operator_pauli_weight
        self.dense_max_dim = dense_max_dim
        self.input_strings = pauli_strings(qubits_count, input_operator_pauli_weight)
        self.output_strings = pauli_strings(qubits_count, output_operator_pauli_weight)
        self._square: SquareExpansion | None = None
        self._ops_options = (float(lanczos_tol), int(max_krylov), int(max_matvecs))
        self.warm_start_mib = float(warm_start_mib)
        self.warm_starts = WarmStarts(int(warm_start_mib * 2**20))
        gen = _generator(seed)
        n_in, n_out = len(self.input_strings), len(self.output_strings)
        # E‖A‖²_F / d = 1: eigenvalues of order one
        self.input_pauli_coeffs = nn.Parameter(
            torch.randn(input_operator_count, n_in, generator=gen, dtype=dtype) / math.sqrt(n_in)
        )
        self.output_pauli_coeffs = nn.Parameter(
            torch.randn(output_operator_count, n_out, generator=gen, dtype=dtype) / math.sqrt(n_out)
        )

    @property
    def input_labels(self) -> list[str]:
        """Labels of the input strings ("XIZ": wire 0 first), in coefficient order."""
        return self.input_strings.labels()

    @property
    def output_labels(self) -> list[str]:
        return self.output_strings.labels()

    def operators(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            PauliDense.apply(self.input_pauli_coeffs, self.input_strings),
            PauliDense.apply(self.output_pauli_coeffs, self.output_strings),
        )

    def matrix_free(self, device: torch.device) -> bool:
        """Whether calls on ``device`` use the Rust Lanczos path (else dense matrices)."""
        if device.type != "cpu" or self.beta is not None or self.backend == "torch":
            return False
        return self.hilbert_space_dims > self.dense_max_dim

    def square_expansion(self) -> SquareExpansion:
        """The Pauli expansion of Σ_k A_k² (built on first use)."""
        if self._square is None:
            self._square = SquareExpansion.of(self.input_strings)
        return self._square

    def predict_with_energy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xt = self.scaled_inputs(x)
        if not self.matrix_free(xt.device):
            return super().predict_with_energy(x)
        sq = self.square_expansion()
        a = self.input_pauli_coeffs
        sigma = 0.5 * sq.coefficients(a)
        c = -xt @ a
        tol, max_krylov, max_matvecs = self._ops_options
        ops = _PauliOps(
            sq.products,
            self.input_strings,
            self.output_strings,
            self.eigh_eps,
            tol,
            max_krylov,
            max_matvecs,
        )
        rows = x.detach().cpu().numpy()
        init = self.warm_starts.lookup(rows, self.hilbert_space_dims)
        y, e0 = PauliGroundState.apply(sigma, c, self.output_pauli_coeffs, ops, init)
        self.warm_starts.store(rows, ops.states)
        return y, e0 + 0.5 * (xt * xt).sum(-1)

    def hyperparameters(self) -> dict[str, Any]:
        tol, max_krylov, max_matvecs = self._ops_options
        return {
            **super().hyperparameters(),
            "qubits_count": self.qubits_count,
            "input_operator_pauli_weight": self.input_operator_pauli_weight,
            "output_operator_pauli_weight": self.output_operator_pauli_weight,
            "dense_max_dim": self.dense_max_dim,
            "lanczos_tol": tol,
            "max_krylov": max_krylov,
            "max_matvecs": max_matvecs,
            "warm_start_mib": self.warm_start_mib,
        }


MODELS: dict[str, type[HSM]] = {
    "general": GeneralHSM,
    "general_fullenergy": GeneralFullEnergyHSM,
    "pauli": PauliHSM,
}


def build_model(hsm_model: str, **kwargs: Any) -> HSM:
    """The model class for ``hsm_model`` built from keyword arguments."""
    try:
        cls = MODELS[hsm_model]
    except KeyError:
        raise ValueError(f"hsm_model must be one of {sorted(MODELS)}, got {hsm_model!r}") from None
    if isinstance(kwargs.get("dtype"), str):
        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    return cls(**kwargs)


__all__ = [
    "DENSE_MAX_DIM",
    "FullEnergyObjective",
    "GeneralFullEnergyHSM",
    "GeneralHSM",
    "HSM",
    "PauliHSM",
    "WarmStarts",
    "build_model",
    "hermitian",
]
