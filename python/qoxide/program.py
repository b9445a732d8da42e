"""A recorded circuit compiled once to the native tape, plus the affine map from the
flattened inputs/weights to the per-sample angle matrix theta[B, P]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core
from .amplitude import InputEmbedding
from .measurements import Expval, Measurement, Var
from .params import Expr
from .recorder import Recorder


@dataclass
class Program:
    """Low-level handle: the native tape, its observables and the theta map.

    ``theta = x_flat @ a_in + (w_flat @ a_w + const)`` where ``x_flat`` is the batch of
    flattened inputs ``[B, F]`` and ``w_flat`` all weights flattened and concatenated.
    When every column is one variable with coefficient 1, ``gather`` holds its index
    into ``[x_flat, w_flat]`` and theta is a plain column selection.
    """

    tape: _core.Tape
    n_qubits: int
    n_inputs: int
    n_weights: int
    a_in: np.ndarray  # [F, P]
    a_w: np.ndarray  # [W, P]
    const: np.ndarray  # [P]
    gather: np.ndarray | None  # [P] int64
    measurements: list[Measurement]
    observables: list[_core.Observable]  # one per Expval/Var measurement, in order
    init_state: np.ndarray | None
    single: bool = False  # the circuit returned one measurement, not a list
    embedding: InputEmbedding | None = None  # initial states built from the inputs

    def init_for(self, theta: np.ndarray, x: np.ndarray | None = None) -> np.ndarray | None:
        """The initial state(s) (if any) in the precision that theta's dtype selects;
        ``x`` [B, F] are the flattened inputs, needed when the circuit embeds them."""
        cdtype = np.complex64 if theta.dtype == np.float32 else np.complex128
        if self.embedding is not None:
            if x is None:
                raise ValueError("this circuit amplitude-embeds its inputs; pass them")
            return self.embedding.states(x, cdtype)
        if self.init_state is None:
            return None
        return self.init_state.astype(cdtype)

    @property
    def all_expval(self) -> bool:
        return all(isinstance(m, Expval) for m in self.measurements)

    @property
    def n_params(self) -> int:
        return int(self.const.shape[0])

    def theta_numpy(
        self, x: np.ndarray | None, w: np.ndarray | None, batch: int, dtype
    ) -> np.ndarray:
        """theta[B, P] from inputs x[B, F] and flat weights w[W]."""
        if self.gather is not None:
            parts = []
            if self.n_inputs:
                parts.append(x)
            if self.n_weights:
                parts.append(np.broadcast_to(w, (batch, self.n_weights)))
            v = np.concatenate(parts, axis=1) if parts else np.zeros((batch, 0))
            return np.ascontiguousarray(v[:, self.gather], dtype=dtype)
        shift = self.const + w @ self.a_w if self.n_weights else self.const  # [P]
        if self.n_inputs:
            return np.asarray(x @ self.a_in + shift, dtype=dtype, order="C")
        return np.ascontiguousarray(np.broadcast_to(shift, (batch, self.n_params)), dtype=dtype)

    def theta_vjp(
        self, g_theta: np.ndarray, need_x: bool, need_w: bool
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Pull ∂L/∂theta [B, P] back through the theta map: (∂L/∂x_flat [B, F],
        ∂L/∂w_flat [W]) in g_theta's dtype, None where not needed or empty."""
        dtype = g_theta.dtype
        need_x, need_w = need_x and self.n_inputs > 0, need_w and self.n_weights > 0
        if self.gather is not None:
            # a column selection without repeats (equal expressions share a column): scatter
            g = np.zeros((g_theta.shape[0], self.n_inputs + self.n_weights), dtype)
            g[:, self.gather] = g_theta
            gx = g[:, : self.n_inputs] if need_x else None
            gw = g[:, self.n_inputs :].sum(axis=0) if need_w else None
            return gx, gw
        gx = (g_theta @ self.a_in.T).astype(dtype, copy=False) if need_x else None
        gw = (g_theta.sum(axis=0) @ self.a_w.T).astype(dtype, copy=False) if need_w else None
        return gx, gw


def compile_program(
    rec: Recorder,
    measurements: list[Measurement],
    n_inputs: int,
    n_weights: int,
    single: bool = False,
) -> Program:
    slots: dict[tuple, int] = {}
    exprs: list[Expr] = []
    ops = []
    for op in rec.ops:
        params: list[int | float] = []
        for p in op.params:
            if isinstance(p, Expr):
                key = p.key()
                if key not in slots:
                    slots[key] = len(exprs)
                    exprs.append(p)
                params.append(slots[key])
            else:
                params.append(float(p))
        ops.append((op, params))

    n_params = len(exprs)
    tape = _core.Tape(rec.n_qubits, n_params)
    for op, params in ops:
        tape.add(
            op.name,
            list(op.wires),
            params,
            op.inverse,
            None if op.matrix is None else np.ascontiguousarray(op.matrix),
            list(op.control_values),
        )

    a = np.zeros((n_inputs + n_weights, n_params))
    const = np.zeros(n_params)
    for j, e in enumerate(exprs):
        const[j] = e.const
        for var, c in e.terms.items():
            a[var, j] += c
    pure = all(
        e.const == 0.0 and len(e.terms) == 1 and next(iter(e.terms.values())) == 1.0 for e in exprs
    )
    gather = np.array([next(iter(e.terms)) for e in exprs], dtype=np.int64) if pure else None

    observables = [
        m.obs.to_core(rec.n_qubits) for m in measurements if isinstance(m, (Expval, Var))
    ]
    embedding = None
    if rec.input_embedding is not None:
        cols, wires, pad_with, normalize = rec.input_embedding
        if max(cols) >= n_inputs:
            raise TypeError("amplitude_embedding features must be circuit inputs, not weights")
        embedding = InputEmbedding(cols, wires, rec.n_qubits, pad_with, normalize)
    return Program(
        tape=tape,
        n_qubits=rec.n_qubits,
        n_inputs=n_inputs,
        n_weights=n_weights,
        a_in=a[:n_inputs],
        a_w=a[n_inputs:],
        const=const,
        gather=gather,
        measurements=measurements,
        observables=observables,
        init_state=rec.init_state,
        single=single,
        embedding=embedding,
    )


class TorchThetaMap:
    """The theta map as torch tensors for one (dtype, device), built once and cached."""

    def __init__(self, prog: Program, dtype, device):  # noqa: ANN001
        import torch

        kw = {"dtype": dtype, "device": device}
        self.gather = None if prog.gather is None else torch.as_tensor(prog.gather, device=device)
        self.a_in = torch.as_tensor(prog.a_in, **kw)
        self.a_w = torch.as_tensor(prog.a_w, **kw)
        self.const = torch.as_tensor(prog.const, **kw)
        self.prog = prog

    def __call__(self, x, w, batch: int):  # noqa: ANN001
        import torch

        p = self.prog
        if self.gather is not None:
            parts = []
            if p.n_inputs:
                parts.append(x)
            if p.n_weights:
                parts.append(w.expand(batch, p.n_weights))
            if not parts:
                return self.const.expand(batch, 0)
            return torch.cat(parts, dim=1).index_select(1, self.gather)
        theta = self.const.expand(batch, p.n_params)
        if p.n_inputs:
            theta = theta + x @ self.a_in
        if p.n_weights:
            theta = theta + w @ self.a_w
        return theta
