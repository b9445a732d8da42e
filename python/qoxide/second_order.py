"""Exact Hessian-vector products by parameter shift of the adjoint VJP.

For a loss f(θ) = Σ_m g_m ⟨O_m⟩(θ), the VJP r(θ) = ∇f(θ) is itself a combination of
expectation values, so each gate occurrence o's shift rule differentiates it exactly:
``∂_o r(θ) = Σ_k c_k [r(θ + s_k e_o) − r(θ − s_k e_o)]`` (two terms for generators with
two eigenvalues ±r — RX, RY, RZ, PhaseShift, Rot, U1-3, Ising XX/YY/ZZ, MultiRZ,
ControlledPhaseShift; four terms for eigenvalues {0, ±1/2} — CRX, CRY, CRZ, CRot,
IsingXY). A theta column used by several gates is split into one column per occurrence
(an expanded tape), so every shift moves one gate. Then

    (H v)[b, :] = Σ_o v[b, col(o)] Σ_k c_k [r(θ_e + s_k e_o) − r(θ_e − s_k e_o)]

for all occurrences and shifts at once: ONE native VJP call on B × (rows of all shifts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import _core

_C1 = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
_C2 = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
TWO_TERM = ((math.pi / 2, 0.5),)
FOUR_TERM = ((math.pi / 2, _C1), (3 * math.pi / 2, -_C2))
RULES = {
    **dict.fromkeys(
        [
            "RX", "RY", "RZ", "PhaseShift", "U1", "U2", "U3", "Rot", "IsingXX", "IsingYY",
            "IsingZZ", "MultiRZ", "GlobalPhase", "ControlledPhaseShift", "CPhase",
        ],
        TWO_TERM,
    ),
    **dict.fromkeys(["CRX", "CRY", "CRZ", "CRot", "IsingXY"], FOUR_TERM),
}  # fmt: skip


class ShiftPlan:
    """The shifted rows of one program: ``tape`` has one column per gate-parameter
    occurrence, ``occ_col[o]`` is occurrence o's column in the original theta, and shift row
    s moves occurrence ``row_occ[s]`` by ``row_shift[s]`` with weight ``row_coef[s]``."""

    def __init__(
        self,
        tape: _core.Tape,
        observables: Sequence[_core.Observable],
        occ_col: np.ndarray,
        rules: Sequence[tuple[tuple[float, float], ...]],
        n_params: int,
    ):
        self.tape, self.observables, self.n_params = tape, list(observables), n_params
        self.occ_col = occ_col
        occ, shift, coef = [], [], []
        for o, rule in enumerate(rules):
            for s, c in rule:
                occ += [o, o]
                shift += [s, -s]
                coef += [c, -c]
        self.row_occ = np.array(occ, dtype=np.int64)
        self.row_shift = np.array(shift)
        self.row_coef = np.array(coef)
        # [O, P] one-hot: occurrence gradients summed into their theta columns
        self.to_col = np.zeros((len(occ_col), n_params))
        self.to_col[np.arange(len(occ_col)), occ_col] = 1.0

    def hvp(
        self, theta: np.ndarray, g: np.ndarray, v: np.ndarray, init: np.ndarray | None
    ) -> np.ndarray:
        """(Σ_m g[b, m] ∇²⟨O_m⟩(theta[b])) v[b]: [B, P], in theta's dtype."""
        b, n_occ, n_rows = theta.shape[0], len(self.occ_col), len(self.row_occ)
        rows = np.repeat(theta[:, self.occ_col][:, None, :], n_rows, axis=1)  # [B, S, O]
        rows[:, np.arange(n_rows), self.row_occ] += self.row_shift
        flat = np.ascontiguousarray(rows.reshape(b * n_rows, n_occ), dtype=theta.dtype)
        gs = np.ascontiguousarray(np.repeat(g, n_rows, axis=0), dtype=theta.dtype)
        if init is not None and init.ndim == 2:
            init = np.ascontiguousarray(np.repeat(init, n_rows, axis=0))
        r = _core.vjp(self.tape, flat, self.observables, gs, init).reshape(b, n_rows, n_occ)
        r_col = r @ self.to_col  # [B, S, P]
        weight = self.row_coef * v[:, self.occ_col[self.row_occ]]  # [B, S]
        return np.einsum("bs,bsp->bp", weight, r_col).astype(theta.dtype, copy=False)


def plan(
    n_qubits: int,
    ops: Sequence[tuple[object, list[int | float]]],
    observables: Sequence[_core.Observable],
    n_params: int,
) -> ShiftPlan | str:
    """The shift plan of recorded ``(op, params)`` pairs (int params are theta columns), or
    the reason there is none."""
    occ_col: list[int] = []
    rules = []
    expanded: list[tuple[object, list[int | float]]] = []
    for op, params in ops:
        new_params: list[int | float] = []
        for p in params:
            if isinstance(p, int):
                rule = RULES.get(op.name)  # type: ignore[attr-defined]
                if rule is None:
                    return f"no shift rule for a parameter of {op.name}"  # type: ignore[attr-defined]
                new_params.append(len(occ_col))
                occ_col.append(p)
                rules.append(rule)
            else:
                new_params.append(p)
        expanded.append((op, new_params))
    tape = _core.Tape(n_qubits, len(occ_col))
    for op, params in expanded:
        tape.add(
            op.name,  # type: ignore[attr-defined]
            list(op.wires),  # type: ignore[attr-defined]
            params,
            op.inverse,  # type: ignore[attr-defined]
            None if op.matrix is None else np.ascontiguousarray(op.matrix),  # type: ignore[attr-defined]
            list(op.control_values),  # type: ignore[attr-defined]
        )
    return ShiftPlan(tape, observables, np.array(occ_col, dtype=np.int64), rules, n_params)
