"""A recorded circuit compiled once to the native tape, plus the affine map from the
flattened inputs/weights to the per-sample angle matrix theta[B, P]."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from . import _core, second_order
from .amplitude import InputEmbedding
from .measurements import Expval, Measurement, Var
from .native import NativeProgram, register
from .params import Expr
from .recorder import Recorder


def _constant(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A real CPU tensor even while a fake/tracing mode is active (a program first compiled
    under torch.export is cached and reused by later eager calls)."""
    from torch.utils._python_dispatch import _disable_current_modes

    with _disable_current_modes():
        return torch.tensor(a, dtype=dtype)


class ThetaMap:
    """The affine map from a batch of flattened inputs and the flat weights to the gate angles:
    ``theta[B, P] = x[B, F] @ a_in + (w[W] @ a_w + const)``.

    When every column is one variable with coefficient 1, ``gather`` holds its index into
    ``[x, w]`` and theta is a plain column selection (no arithmetic). One object serves numpy
    (numpy calls) and torch (torch's own autograd differentiates it, so it composes with
    torch.func and torch.compile); eager torch calls run the same map natively
    (``_core.Circuit``, forward and pull-back).
    """

    def __init__(
        self,
        a_in: np.ndarray,
        a_w: np.ndarray,
        const: np.ndarray,
        gather: np.ndarray | None,
    ):
        self.a_in, self.a_w, self.const, self.gather = a_in, a_w, const, gather
        self.n_inputs, self.n_weights = a_in.shape[0], a_w.shape[0]
        self.n_params = int(const.shape[0])
        # theta is [x, w] itself: no selection needed (e.g. RY(x_i) then RY(w_k) in order)
        self.identity = gather is not None and np.array_equal(
            gather, np.arange(self.n_inputs + self.n_weights)
        )
        # torch copies for both real dtypes, made now: torch.compile then traces lookups only
        self._torch = {dt: self._tensors(dt) for dt in (torch.float32, torch.float64)}
        self._devices: dict[tuple[torch.dtype, torch.device], tuple] = {}

    def _tensors(self, dtype: torch.dtype) -> tuple[torch.Tensor | None, ...]:
        gather = None if self.gather is None else _constant(self.gather, torch.int64)
        return (
            gather,
            _constant(self.a_in, dtype),
            _constant(self.a_w, dtype),
            _constant(self.const, dtype),
        )

    def _on(self, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor | None, ...]:
        """The torch constants on a non-CPU device (copied once per device and dtype)."""
        key = (dtype, device)
        found = self._devices.get(key)
        if found is None:
            found = self._devices[key] = tuple(
                None if t is None else t.to(device) for t in self._torch[dtype]
            )
        return found

    # numpy ---------------------------------------------------------------------------
    def numpy(self, x: np.ndarray | None, w: np.ndarray | None, batch: int, dtype) -> np.ndarray:
        """theta[B, P] (C-contiguous, ``dtype``) from inputs x[B, F] and flat weights w[W]."""
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

    # torch ---------------------------------------------------------------------------
    def torch(self, x: torch.Tensor | None, w: torch.Tensor | None, batch: int) -> torch.Tensor:
        """theta[B, P] from x[B, F] and flat weights w[W] (CPU tensors of one real dtype),
        differentiable by torch autograd. When theta is exactly ``x`` it is ``x`` itself."""
        ref = x if x is not None else w
        dtype = ref.dtype if ref is not None else torch.float64
        if ref is not None and not ref.is_cpu:
            gather, a_in, a_w, const = self._on(dtype, ref.device)
        else:
            gather, a_in, a_w, const = self._torch[dtype]
        if gather is not None:
            parts = []
            if self.n_inputs:
                parts.append(x)
            if self.n_weights:
                parts.append(w.expand(batch, self.n_weights))
            if not parts:
                return const.expand(batch, 0)
            v = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            return v if self.identity else v.index_select(1, gather)
        theta = const.expand(batch, self.n_params)
        if self.n_inputs:
            theta = theta + x @ a_in
        if self.n_weights:
            theta = theta + w @ a_w
        return theta


@dataclass
class Program:
    """Low-level handle: the native tape, its observables and the theta map.

    ``native`` is the tape with the observables of the expval measurements, registered
    under an integer key: the torch custom ops (:mod:`qoxide.ops`) take that key, since
    ops take tensors and numbers, not Python objects.
    """

    tape: _core.Tape
    n_qubits: int
    theta_map: ThetaMap
    measurements: list[Measurement]
    observables: list[_core.Observable]  # one per Expval/Var measurement, in order
    init_state: np.ndarray | None
    single: bool = False  # the circuit returned one measurement, not a list
    embedding: InputEmbedding | None = None  # initial states built from the inputs
    native: NativeProgram | None = None  # the expval measurements, for the torch ops
    init_torch: dict[torch.dtype, torch.Tensor] = field(default_factory=dict)
    all_expval: bool = False  # every measurement is an expval (set from measurements)
    # tape + expval observables + theta map natively: eager calls in one native call each
    # way (set when every measurement is an expval)
    circuit: _core.Circuit | None = None

    def __post_init__(self) -> None:
        self.all_expval = all(isinstance(m, Expval) for m in self.measurements)
        expval_obs = [
            o for m, o in zip(self.var_or_expval, self.observables, strict=True)
            if isinstance(m, Expval)
        ]
        self.native = register(self.tape, expval_obs)
        if self.all_expval:
            tm = self.theta_map
            self.circuit = _core.Circuit(
                self.tape, expval_obs, tm.a_in, tm.a_w, tm.const, tm.gather
            )
        if self.init_state is not None:
            self.init_torch = {
                torch.float64: _constant(self.init_state, torch.complex128),
                torch.float32: _constant(self.init_state, torch.complex64),
            }

    @property
    def var_or_expval(self) -> list[Measurement]:
        return [m for m in self.measurements if isinstance(m, (Expval, Var))]

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


    # the theta map's pieces, as before the map was its own object
    n_inputs = property(lambda self: self.theta_map.n_inputs)
    n_weights = property(lambda self: self.theta_map.n_weights)
    n_params = property(lambda self: self.theta_map.n_params)
    a_in = property(lambda self: self.theta_map.a_in)
    a_w = property(lambda self: self.theta_map.a_w)
    const = property(lambda self: self.theta_map.const)
    gather = property(lambda self: self.theta_map.gather)

    def theta_numpy(
        self, x: np.ndarray | None, w: np.ndarray | None, batch: int, dtype
    ) -> np.ndarray:
        """theta[B, P] from inputs x[B, F] and flat weights w[W] (:meth:`ThetaMap.numpy`)."""
        return self.theta_map.numpy(x, w, batch, dtype)


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
    prog = Program(
        tape=tape,
        n_qubits=rec.n_qubits,
        theta_map=ThetaMap(a[:n_inputs], a[n_inputs:], const, gather),
        measurements=measurements,
        observables=observables,
        init_state=rec.init_state,
        single=single,
        embedding=embedding,
    )
    expval_obs = prog.native.observables  # type: ignore[union-attr]
    prog.native.make_plan = lambda: second_order.plan(  # type: ignore[union-attr]
        rec.n_qubits, ops, expval_obs, n_params
    )
    return prog
