"""Pauli strings for Pauli HSMs: enumeration, labels, and the expansion of Σ_k A_k².

Strings are ``qoxide._core.PauliStrings``: x/z bit masks with wire 0 the most significant
bit (PennyLane's order), grouped by x mask so sums apply matrix-free. All strings with at
most w non-identity factors on q qubits number Σ_{j≤w} C(q, j)·3^j, identity first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _core

PauliStrings = _core.PauliStrings


def pauli_strings(qubits: int, max_weight: int) -> _core.PauliStrings:
    """All Pauli strings on ``qubits`` with at most ``max_weight`` non-identity factors."""
    if max_weight > qubits:
        raise ValueError(f"Pauli weight {max_weight} must be <= qubits_count {qubits}")
    return _core.PauliStrings.enumerate(qubits, max_weight)


def pauli_string_count(qubits: int, max_weight: int) -> int:
    """Σ_{j ≤ max_weight} C(qubits, j) 3^j."""
    return int(_core.pauli_string_count(qubits, max_weight))


@dataclass(frozen=True)
class SquareExpansion:
    """A² = Σ_p coef[p] a[s[p]] a[t[p]] P_{products[u[p]]} for A = Σ_s a_s P_s (real a).

    Only commuting pairs appear (anticommuting ones cancel); ``products[0]`` is I.
    """

    products: _core.PauliStrings
    s: torch.Tensor
    t: torch.Tensor
    u: torch.Tensor
    coef: torch.Tensor

    @classmethod
    def of(cls, strings: _core.PauliStrings) -> SquareExpansion:
        products, s, t, u, coef = strings.square_products()
        return cls(
            products,
            torch.from_numpy(s),
            torch.from_numpy(t),
            torch.from_numpy(u),
            torch.from_numpy(coef),
        )

    def coefficients(self, a: torch.Tensor) -> torch.Tensor:
        """Coefficients over ``products`` of Σ_k A_k² for rows a [K, N] (differentiable)."""
        coef = self.coef.to(a.device, a.dtype)
        pair = (a[:, self.s.to(a.device)] * a[:, self.t.to(a.device)]).sum(0) * coef
        out = a.new_zeros(len(self.products))
        return out.index_add(0, self.u.to(a.device), pair)
