"""`qx.from_pennylane`: a PennyLane QNode or TorchLayer as a native qoxide layer.

How a circuit is converted (once per input shape, batched or not, and weight shapes):

1. The QNode's quantum function is recorded in PennyLane's queue with float64 torch
   tensors at a random probe point (the input batched as ``[K, F]`` with ``K != F`` when
   the call is batched, ``[F]`` otherwise), then decomposed by PennyLane until every
   operation is a gate the core runs natively. A torch function mode tracks which tensors
   derive from the inputs and weights ("taint"), including through non-differentiable ops.
2. Each gate parameter is classified: a constant; an affine function of one sample's
   inputs and the weights (coefficients from torch autograd, then checked at a second
   random probe point with another batch size: ``theta = c + a·x + b·w`` must hold there
   too, per sample); or anything else (non-affine like IQPEmbedding's ``x_i x_j``, derived
   through non-differentiable ops, or a trainable tensor the function closes over).
   Affine parameters go into qoxide's affine angle map (one native call, one autograd
   node). The others are "replayed": every call records the quantum function again with
   the real inputs and weights (PennyLane's own arithmetic, in torch, so autograd chains
   through it) and feeds those values to the native call as extra input columns. A
   circuit that reads input values into Python (``.item()``, ``bool``, ``.numpy()``)
   replays every parameter, and every replay checks that the circuit's structure (gates,
   wires) is still the compiled one.
3. Measurements map to qoxide's: expval/var of anything ``qoxide.qubit`` measures
   natively (Pauli words, sums, Hamiltonians, Hermitian, Projector), probs of wires, state.
4. Calls: once an argument signature (types, shapes and dtypes, not the batch size) has
   run a circuit without replayed parameters, later calls with it go straight to the
   native call; the QNode's tuple or list of expvals is one unbind of its ``[..., M]``
   output, TorchLayer's ``[M, B, 1]`` two views of it.

Anything else raises ``UnsupportedPennyLaneError`` naming the operation and pointing at
``qml.device("qoxide.qubit", ...)``, which runs every PennyLane circuit. PennyLane is
imported lazily: ``import qoxide`` does not import it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .circuit import QuantumFunction
from .measurements import Expval, Probs, State, Var
from .params import Expr

#: Tolerance of the affinity check at the second probe point (float64 recording).
AFFINE_TOL = 1e-9

_DEVICE_HINT = (
    'run the QNode on qml.device("qoxide.qubit", wires=...) instead (the device path '
    "runs every PennyLane circuit)"
)


class UnsupportedPennyLaneError(ValueError):
    """A QNode uses something ``from_pennylane`` cannot convert exactly."""


def _unsupported(what: str) -> UnsupportedPennyLaneError:
    return UnsupportedPennyLaneError(f"from_pennylane: {what}; {_DEVICE_HINT}")


# taint tracking ----------------------------------------------------------------------------


#: Tensor functions that hand a tensor's values to Python (control flow can follow them).
_READS_VALUES = frozenset(
    "item tolist numpy __bool__ __int__ __float__ __index__ __complex__ __array__ equal "
    "allclose".split()
)


def _taint_mode(leaves: Sequence[torch.Tensor]):  # noqa: ANN202
    """A TorchFunctionMode marking every tensor computed from ``leaves`` (by storage, so
    views and in-place writes count) and noting when such a value is read into Python.
    (A function mode, not a dispatch mode: entering a dispatch mode imports torch._dynamo,
    seconds of import time.)"""
    from torch.overrides import TorchFunctionMode
    from torch.utils._pytree import tree_flatten

    class Taint(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.keep: list[torch.Tensor] = list(leaves)  # storages stay alive: no ptr reuse
            self.ptrs = {_ptr(t) for t in leaves}
            self.escaped: str | None = None

        def tainted(self, t: object) -> bool:
            return isinstance(t, torch.Tensor) and _ptr(t) in self.ptrs

        def mark(self, t: torch.Tensor) -> None:
            if _ptr(t):
                self.keep.append(t)
                self.ptrs.add(_ptr(t))

        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if any(self.tainted(a) for a in tree_flatten((args, kwargs))[0]):
                name = getattr(func, "__name__", str(func))
                if name in _READS_VALUES and self.escaped is None:
                    self.escaped = name
                for o in tree_flatten(out)[0]:
                    if isinstance(o, torch.Tensor):
                        self.mark(o)
                in_place = name == "__setitem__" or (name.endswith("_") and name[:2] != "__")
                if (
                    (in_place or name.startswith("__i"))
                    and args
                    and isinstance(args[0], torch.Tensor)
                ):
                    self.mark(args[0])
            return out

    return Taint()


def _ptr(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr() if t.numel() else 0
    except (RuntimeError, NotImplementedError):
        return 0


# conversion --------------------------------------------------------------------------------


@dataclass
class _Param:
    """Where one gate parameter's value comes from."""

    kind: str  # "const" | "affine" | "replay"
    value: float = 0.0  # const: the value; affine: the constant term
    a: np.ndarray | None = None  # affine: coefficients on one sample's inputs [F]
    b: np.ndarray | None = None  # affine: coefficients on the flat weights [W]
    column: int = -1  # replay: extra input column


@dataclass
class _Compiled:
    """One input/weight shape signature, converted."""

    qf: QuantumFunction
    n_features: int
    replay: list[tuple[int, int, int]] = field(default_factory=list)  # (op, datum, column)
    replay_state: bool = False  # the initial state is replayed (columns after the params)
    structure: tuple = ()
    single: bool = False
    container: type = list
    matrices: list[tuple[int, np.ndarray]] = field(default_factory=list)  # checked per call

    @property
    def plain(self) -> bool:
        """Runs as the native circuit alone: nothing is recorded again per call."""
        return not (self.replay or self.replay_state or self.matrices)


class _Converter:
    """Records and converts a QNode's quantum function; shared by the QNode and TorchLayer
    wrappers. ``input_name`` is the batched argument; the other array arguments are
    weights (shared by the batch)."""

    def __init__(self, qnode: Any, input_name: str):

        self.qnode = qnode
        self.func = qnode.func
        self.input_name = input_name
        interface = str(getattr(qnode, "interface", "auto"))
        if interface not in ("auto", "torch", "pytorch"):
            raise ValueError(
                f"from_pennylane converts torch QNodes (interface 'torch' or 'auto'), got "
                f"interface {interface!r}: the converted circuit takes and returns torch tensors"
            )
        shots = getattr(qnode, "shots", None)
        if shots:
            raise _unsupported(f"finite shots ({shots}) are not converted, only analytic results")
        pipeline = getattr(qnode, "compile_pipeline", None)
        if pipeline is None:  # PennyLane < 0.45
            pipeline = qnode.transform_program
        if len(pipeline):
            raise _unsupported(f"the QNode carries transforms {pipeline}")
        wires = qnode.device.wires
        if wires is None:
            raise _unsupported("the QNode's device has no wires; give it wires=...")
        self.wire_order = list(wires)
        self.wire_index = {w: i for i, w in enumerate(self.wire_order)}
        self.cache: dict[tuple, _Compiled] = {}
        # The wrappers' per-call fast path: a key of the argument types, shapes and dtypes
        # (the input's batch size left out) -> the plain circuit and its dtype.
        self.plans: dict[tuple, tuple[_Compiled, torch.dtype]] = {}

    def __deepcopy__(self, memo: dict) -> _Converter:
        # immutable apart from its compile caches (like QuantumFunction): copies share it
        return self

    # recording --------------------------------------------------------------------------
    def record(self, x: torch.Tensor, weights: dict[str, Any], static: dict[str, Any]):  # noqa: ANN201
        """(decomposed QuantumScript, the function's return value) at these arguments."""
        import pennylane as qml
        from pennylane.devices.preprocess import decompose

        kwargs = dict(static)
        kwargs[self.input_name] = x
        kwargs.update(weights)
        # The decomposition asks which parameters are trainable: make that the same in
        # every recording (probe or replay, grad mode on or off, leaves trainable or not).
        with torch.enable_grad():
            for k in (self.input_name, *weights):
                v = kwargs[k]
                if isinstance(v, torch.Tensor) and v.is_floating_point() and not v.requires_grad:
                    kwargs[k] = v.detach().requires_grad_()
            with qml.queuing.AnnotatedQueue() as q:
                out = self.func(**kwargs)
            tape = qml.tape.QuantumScript.from_queue(q)
            (tape,), _ = self._decompose(tape, decompose)
        return tape, out

    @staticmethod
    def _decompose(tape, decompose):  # noqa: ANN001, ANN205
        try:
            return decompose(tape, stopping_condition=_stops, name="qoxide (from_pennylane)")
        except Exception as err:  # PennyLane names the operation it cannot decompose
            raise _unsupported(f"cannot decompose the circuit into native gates ({err})") from err

    def probe(
        self,
        batched: bool,
        n_features: int,
        w_shapes: dict[str, tuple],
        static: dict,
        seed: int,
        n_rows: int,
        unit: bool | None = None,
    ):
        """Record at a random point with taint tracking: (tape, out, leaves, taint mode,
        unit). The inputs are N(0, 1), or scaled to norm 1 per sample when the function
        refuses those (AmplitudeEmbedding without normalize); ``unit`` forces the choice."""
        first: Exception | None = None
        for scaled in (False, True) if unit is None else (unit,):
            gen = torch.Generator().manual_seed(seed)
            rows = (n_rows,) if batched else ()
            x = torch.randn((*rows, n_features), generator=gen, dtype=torch.float64)
            if scaled:
                x = x / x.norm(dim=-1, keepdim=True)
            ws = {
                n: torch.randn(s, generator=gen, dtype=torch.float64) for n, s in w_shapes.items()
            }
            leaves = [t.requires_grad_() for t in (x, *ws.values())]
            mode = _taint_mode(leaves)
            try:
                with torch.enable_grad(), mode:
                    tape, out = self.record(x, ws, static)
                return tape, out, leaves, mode, scaled
            except UnsupportedPennyLaneError:
                raise
            except Exception as err:  # noqa: BLE001 - reported below, with the first error
                first = first or err
        raise _unsupported(
            f"recording the quantum function with random torch tensors (input {self.input_name!r} "
            f"of shape {(*rows, n_features)}, weights {w_shapes}) failed "
            f"({type(first).__name__}: {first})"
        ) from first

    # compile ----------------------------------------------------------------------------
    def compile(
        self, batched: bool, n_features: int, w_shapes: dict[str, tuple], static: dict
    ) -> _Compiled:
        key = (batched, n_features, tuple(w_shapes.items()), _static_key(static))
        hit = self.cache.get(key)
        if hit is None:
            hit = self.cache[key] = self._compile(batched, n_features, w_shapes, static)
        return hit

    def _compile(
        self, batched: bool, n_features: int, w_shapes: dict[str, tuple], static: dict
    ) -> _Compiled:
        # Batched probes have a number of rows unlike the feature count (inputs[i] then picks
        # a sample, not a feature, and is caught), and unlike each other (a parameter or
        # gate that depends on the batch size is caught too).
        k1, k2 = (2 if n_features != 2 else 3), (4 if n_features != 4 else 5)
        probe = self.probe
        tape1, out, leaves1, mode1, unit = probe(batched, n_features, w_shapes, static, 1, k1)
        tape2, _, leaves2, mode2, _ = probe(batched, n_features, w_shapes, static, 2, k2, unit)
        s1, s2 = _structure(tape1, self.wire_index), _structure(tape2, self.wire_index)
        if s1 != s2:
            raise _unsupported(
                "the circuit's gates or wires depend on the input or weight values or on the "
                "batch size (it is recorded once per shape, as @qx.circuit does)"
            )
        single, container = _return_kind(out)
        rows = leaves1[0].shape[0] if batched else None
        everything = mode1.escaped or mode2.escaped  # values read into Python: replay all
        ops = tape1.operations
        state_prep = None
        from pennylane.operation import StatePrepBase

        if ops and isinstance(ops[0], StatePrepBase):
            state_prep, ops = ops[0], ops[1:]

        n_w = sum(math.prod(s) for s in w_shapes.values())
        classified: list[list[_Param]] = []
        replay: list[tuple[int, int, int]] = []
        matrices: list[tuple[int, np.ndarray]] = []
        offset = 1 if state_prep is not None else 0
        op2 = tape2.operations[offset:]
        for i, (op, other) in enumerate(zip(ops, op2, strict=True)):
            if _native(op)[0] == "QubitUnitary" or (_native(op)[0] is None and op.data):
                m1, m2 = _native(op)[2], _native(other)[2]
                if any(mode1.tainted(d) for d in op.data) or not np.array_equal(m1, m2):
                    raise _unsupported(
                        f"{op.name}'s matrix depends on the inputs or weights; qoxide's native "
                        "tape holds one constant matrix per gate"
                    )
                if everything:  # values were read into Python: check the matrix every call
                    matrices.append((i + offset, m1))
                classified.append([])
                continue
            row: list[_Param] = []
            for j, (d1, d2) in enumerate(zip(op.data, other.data, strict=True)):
                p = self._classify(op, d1, d2, mode1, leaves1, leaves2, rows, n_w, bool(everything))
                if p.kind == "replay":
                    p.column = n_features + len(replay)
                    replay.append((i + offset, j, p.column))
                row.append(p)
            classified.append(row)

        replay_state = False
        n_cols = n_features + len(replay)
        init_vec = None
        if state_prep is not None:
            if any(mode1.tainted(d) for d in state_prep.data) or everything:
                replay_state = True
                n_cols += 2 ** len(self.wire_order)
            else:
                init_vec = self._state_vector(state_prep)
                if init_vec.ndim != 1:
                    raise _unsupported(f"{state_prep.name} prepares a batch of constant states")

        measurements = [self._measurement(mp, mode1) for mp in tape1.measurements]
        qf = self._circuit(
            ops,
            classified,
            measurements,
            single,
            n_cols,
            w_shapes,
            init_vec,
            replay_state,
            n_features + len(replay),
        )
        return _Compiled(qf, n_features, replay, replay_state, s1, single, container, matrices)

    def _classify(
        self,
        op,
        d1,
        d2,
        mode,
        leaves1,
        leaves2,
        rows,
        n_w,
        everything,  # noqa: ANN001
    ) -> _Param:
        name = op.name
        if isinstance(d1, torch.Tensor) and d1.is_complex():
            raise _unsupported(f"{name} has a complex parameter")
        if isinstance(d1, torch.Tensor) and d1.requires_grad and not mode.tainted(d1):
            return _Param("replay")  # a trainable tensor from outside the arguments: re-read
        if not mode.tainted(d1):
            v1, v2 = np.asarray(_value(d1)), np.asarray(_value(d2))
            if v1.shape != v2.shape or not np.allclose(v1, v2, rtol=0, atol=0):
                # a constant that changed with the inputs: it escaped the tracking (numpy)
                return _Param("replay")
            if everything:
                return _Param("replay")
            if v1.ndim and not np.all(v1 == v1.reshape(-1)[0]):
                raise _unsupported(f"{name} has a batch of different constant parameters")
            return _Param("const", float(v1.reshape(-1)[0]) if v1.ndim else float(v1))
        if everything or not (isinstance(d1, torch.Tensor) and d1.requires_grad):
            return _Param("replay")
        shape = tuple(d1.shape)
        if shape not in ((), (rows,) if rows is not None else ()):
            raise _unsupported(
                f"{name}'s parameter has shape {shape}, not one value per sample "
                f"(batch of {rows}); index batched inputs as inputs[..., i]"
            )
        x1, *w1 = leaves1
        with torch.enable_grad():
            grads = torch.autograd.grad(d1.sum(), leaves1, retain_graph=True, allow_unused=True)
        gx = torch.zeros_like(x1) if grads[0] is None else grads[0].detach()
        gw = [
            torch.zeros_like(w) if g is None else g.detach()
            for g, w in zip(grads[1:], w1, strict=True)
        ]
        bflat = torch.cat([g.reshape(-1) for g in gw]).numpy() if gw else np.zeros(0)
        if rows is None:  # one sample: theta = c + a·x + b·w
            a = gx.numpy().copy()
            b = bflat
        else:
            g = gx.numpy()
            if shape == ():
                if np.any(g != 0):
                    return _Param("replay")  # one angle from the whole batch
                a = np.zeros(g.shape[1])
                b = bflat
            else:
                a = g[0].copy()
                if not np.allclose(g, a, rtol=0, atol=1e-12):
                    return _Param("replay")  # not the same map in every sample
                b = bflat / rows
        const = _affine_const(d1, leaves1, a, b)
        if const is None:
            return _Param("replay")
        pred = _affine_eval(const, a, b, leaves2)
        actual = np.asarray(_value(d2), dtype=np.float64)
        if actual.ndim > pred.ndim:
            return _Param("replay")
        actual = np.broadcast_to(actual, pred.shape)
        scale = 1.0 + float(np.max(np.abs(actual), initial=0.0))
        if not np.allclose(pred, actual, rtol=0, atol=AFFINE_TOL * scale):
            return _Param("replay")
        return _Param("affine", const, a, b)

    def _state_vector(self, op) -> np.ndarray:  # noqa: ANN001
        v = np.asarray(_value_c(op.state_vector(wire_order=self.wire_order)), dtype=np.complex128)
        batched = v.ndim > len(self.wire_order)
        return v.reshape((len(v), -1) if batched else (-1,))

    def _measurement(self, mp, mode):  # noqa: ANN001, ANN202
        import pennylane as qml

        from .pennylane.observables import to_native

        M = qml.measurements
        kind = type(mp).__name__
        if mp.mv is not None:
            raise _unsupported(f"{kind} of a mid-circuit measurement is not converted")
        if isinstance(mp, (M.ExpectationMP, M.VarianceMP)):
            if mp.obs is None or any(mode.tainted(d) for d in mp.obs.data):
                raise _unsupported(
                    f"{kind}: observable coefficients that depend on inputs or weights"
                )
            obs = to_native(mp.obs, self.wire_index)
            if obs is None:
                raise _unsupported(f"{kind} of {mp.obs} has no native form")
            return Expval(obs) if isinstance(mp, M.ExpectationMP) else Var(obs)
        if type(mp) is M.ProbabilityMP and mp.obs is None:
            ws = mp.wires if len(mp.wires) else self.wire_order
            return Probs(tuple(self.wire_index[w] for w in ws))
        if type(mp) is M.StateMP and not len(mp.wires):
            return State()
        raise _unsupported(f"the measurement {mp} ({kind}) is not converted")

    def _circuit(
        self,
        ops,
        classified,
        measurements,
        single,
        n_cols,
        w_shapes,
        init_vec,
        replay_state,
        state_col,
    ) -> QuantumFunction:  # noqa: ANN001
        """A @qx.circuit emitting the converted ops with affine Expr parameters."""
        n_qubits = len(self.wire_order)
        wi = self.wire_index
        w_names = [f"w{k}" for k in range(len(w_shapes))]

        def emit(p: _Param, w_offset: int) -> float | Expr:
            if p.kind == "const":
                return p.value
            if p.kind == "replay":
                return Expr.var(p.column)
            terms = {j: float(c) for j, c in enumerate(p.a) if c != 0.0}
            terms.update({w_offset + j: float(c) for j, c in enumerate(p.b) if c != 0.0})
            return Expr(p.value, terms)

        def fn(q, *args):  # noqa: ANN001, ANN002, ANN202
            w_offset = n_cols
            if init_vec is not None:
                q.state_prep(init_vec)
            if replay_state:
                q.amplitude_embedding(args[0][state_col:], wires=range(n_qubits))
            for op, row in zip(ops, classified, strict=True):
                name, inverse, matrix, values = _native(op)
                if name == "Identity":
                    continue
                wires = () if name == "GlobalPhase" else tuple(wi[w] for w in op.wires)
                params = [emit(p, w_offset) for p in row]
                q.op(name, wires, params, inverse=inverse, matrix=matrix, control_values=values)
            return measurements[0] if single else list(measurements)

        fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                for n in ("q", "x", *w_names)
            ]
        )
        fn.__name__ = getattr(self.func, "__name__", "qnode")
        return QuantumFunction(fn, n_qubits)

    # execution --------------------------------------------------------------------------
    def run(self, x: Any, weights: dict[str, Any], static: dict, dtype: torch.dtype) -> Any:
        """:meth:`run_eager`; under torch.compile behind ``torch.compiler.disable`` (a graph
        break: dynamo must not trace the recording and conversion)."""
        if torch.compiler.is_compiling():
            return _disabled_run()(self, x, weights, static, dtype)
        return self.run_eager(x, weights, static, dtype)

    def run_eager(self, x: Any, weights: dict[str, Any], static: dict, dtype: torch.dtype) -> Any:
        """The converted circuit at (x [..., F] or [F], weights) in qoxide's result layout
        (a [..., M] tensor for lists of expval/var, a tuple otherwise) and its _Compiled."""
        xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
        if xt.ndim == 0:
            raise ValueError(
                f"from_pennylane: the input {self.input_name!r} must have at least one axis "
                "(features last), got a scalar"
            )
        w_shapes = {n: _shape(w) for n, w in weights.items()}
        comp = self.compile(xt.ndim >= 2, xt.shape[-1], w_shapes, static)
        if comp.plain:  # the circuit restores any leading batch axes itself
            return comp.qf(xt, *weights.values(), dtype=dtype), comp
        lead = tuple(xt.shape[:-1])
        xb = xt.reshape(-1, xt.shape[-1]) if xt.ndim > 2 else xt
        z = self._replay(comp, xb, weights, static, dtype)
        out = comp.qf(torch.cat([xb.to(dtype), z], dim=-1), *weights.values(), dtype=dtype)
        return (_reshape_lead(out, lead) if len(lead) > 1 else out), comp

    def _replay(
        self, comp: _Compiled, xb: torch.Tensor, weights: dict, static: dict, dtype: torch.dtype
    ) -> torch.Tensor:
        """The replayed parameters (and initial state), [B, E] or [E], recorded now."""
        ws = {n: torch.as_tensor(w).to(dtype) for n, w in weights.items()}
        tape, _ = self.record(xb.to(dtype), ws, static)
        if _structure(tape, self.wire_index) != comp.structure:
            raise _unsupported(
                "the circuit's gates or wires changed with the input values since it was recorded"
            )
        ops = tape.operations
        for i, m in comp.matrices:
            if not np.array_equal(_native(ops[i])[2], m):
                raise _unsupported(
                    f"{ops[i].name}'s matrix changed with the input values since it was recorded"
                )
        lead = (xb.shape[0],) if xb.ndim == 2 else ()
        cols = []
        for i, j, _ in comp.replay:
            d = torch.as_tensor(ops[i].data[j]).to(dtype)
            if d.shape not in ((), lead):
                raise _unsupported(
                    f"{ops[i].name}'s parameter has shape {tuple(d.shape)}, not one value per "
                    f"sample {lead}"
                )
            cols.append(d.expand(lead))
        z = torch.stack(cols, dim=-1) if cols else torch.zeros((*lead, 0), dtype=dtype)
        if comp.replay_state:
            st = torch.as_tensor(ops[0].state_vector(wire_order=self.wire_order))
            st = st.reshape(*lead, -1)
            if st.is_complex():
                if torch.any(st.imag != 0):
                    raise _unsupported("a complex initial state prepared from the inputs")
                st = st.real
            z = torch.cat([z, st.to(dtype)], dim=-1)
        # The recording made untrainable arguments trainable (stable decompositions); their
        # gradients go nowhere. Trainable tensors from outside the arguments still get theirs.
        trainable = [xb, *(w for w in weights.values() if isinstance(w, torch.Tensor))]
        if not torch.is_grad_enabled() or (
            comp.replay_state and not any(t.requires_grad for t in trainable)
        ):
            z = z.detach()  # an embedded state cannot be differentiated: keep it out of autograd
        return z


_DISABLED_RUN: Any = None


def _disabled_run() -> Any:
    global _DISABLED_RUN
    if _DISABLED_RUN is None:
        _DISABLED_RUN = torch.compiler.disable(_Converter.run_eager)
    return _DISABLED_RUN


def _shape(w: Any) -> tuple[int, ...]:
    return tuple(w.shape) if isinstance(w, (torch.Tensor, np.ndarray)) else np.shape(w)


def _static_key(static: dict[str, Any]) -> tuple:
    """Static arguments as a cache key (their repr when unhashable)."""
    key = []
    for k, v in sorted(static.items()):
        try:
            hash(v)
            key.append((k, v))
        except TypeError:
            key.append((k, repr(v)))
    return tuple(key)


def _dtype_of(xb: torch.Tensor, weights: Sequence[Any], dtype: Any) -> torch.dtype:
    if dtype is not None:
        return dtype
    return xb.dtype if xb.is_floating_point() else torch.get_default_dtype()


def _reshape_lead(out: Any, lead: tuple[int, ...]) -> Any:
    if isinstance(out, tuple):
        return tuple(_reshape_lead(o, lead) for o in out)
    return out.reshape(*lead, *out.shape[1:])


def _flat_weights(leaves: Sequence[torch.Tensor]) -> np.ndarray:
    ws = [t.detach().numpy().reshape(-1) for t in leaves[1:]]
    return np.concatenate(ws) if ws else np.zeros(0)


def _affine_const(d1: torch.Tensor, leaves: Sequence[torch.Tensor], a, b) -> float | None:  # noqa: ANN001
    """The constant term c of d1 = c + a·x + b·w, the same in every sample (else None)."""
    c = np.asarray(d1.detach().numpy() - leaves[0].detach().numpy() @ a - _flat_weights(leaves) @ b)
    c = c.reshape(-1)
    if not np.allclose(c, c[0], rtol=0, atol=AFFINE_TOL * (1 + abs(c[0]))):
        return None
    return float(c[0])


def _affine_eval(
    c: float, a: np.ndarray, b: np.ndarray, leaves: Sequence[torch.Tensor]
) -> np.ndarray:
    return np.asarray(c + leaves[0].detach().numpy() @ a + _flat_weights(leaves) @ b)


def _value(d: Any) -> Any:
    if isinstance(d, torch.Tensor):
        return d.detach().numpy()
    return np.asarray(d)


def _value_c(d: Any) -> Any:
    if isinstance(d, torch.Tensor):
        return d.detach().resolve_conj().numpy()
    return d


def _native(op) -> tuple[str | None, bool, np.ndarray | None, tuple[bool, ...]]:  # noqa: ANN001
    """(native name, inverse, constant matrix, control values) of a decomposed op."""
    import pennylane as qml

    from .pennylane.preprocessing import is_matrix_op, native_gate

    gate = native_gate(op)
    if gate is None or gate[0] == "QubitUnitary":
        if gate is None and not is_matrix_op(op):
            return None, False, None, ()
        m = qml.matrix(op, wire_order=op.wires)
        m = np.asarray(_value_c(m), dtype=np.complex128)
        return "QubitUnitary", False, m, ()
    name, inverse = gate
    values: tuple[bool, ...] = ()
    if name == "MultiControlledX":
        base = op
        while isinstance(base, qml.ops.op_math.Adjoint):
            base = base.base
        values = tuple(bool(v) for v in base.hyperparameters["control_values"])
    return name, inverse, None, values


def _stops(op) -> bool:  # noqa: ANN001
    """Decomposition stops at native gates and small constant matrix operations."""
    import pennylane as qml

    from .pennylane.preprocessing import is_matrix_op, native_gate

    gate = native_gate(op)
    if gate is not None:
        return gate[0] != "QubitUnitary" or not any(qml.math.requires_grad(d) for d in op.data)
    return is_matrix_op(op) and not any(qml.math.requires_grad(d) for d in op.data)


def _structure(tape, wire_index: dict) -> tuple:  # noqa: ANN001
    """The gates and wires of a tape: what must not depend on parameter values."""
    try:
        ops = tuple((op.name, tuple(wire_index[w] for w in op.wires)) for op in tape.operations)
        ms = tuple(
            (type(m).__name__, tuple(wire_index[w] for w in m.wires)) for m in tape.measurements
        )
    except KeyError as err:
        raise _unsupported(
            f"the circuit uses wire {err.args[0]!r}, which is not a device wire "
            f"({list(wire_index)})"
        ) from None
    return ops, ms


def _return_kind(out: Any) -> tuple[bool, type]:
    """(one measurement?, container type of a list of them)."""
    import pennylane as qml

    if isinstance(out, qml.measurements.MeasurementProcess):
        return True, tuple
    if (
        isinstance(out, (list, tuple))
        and out
        and all(isinstance(m, qml.measurements.MeasurementProcess) for m in out)
    ):
        return False, type(out)
    raise _unsupported(f"the quantum function must return measurements, got {out!r}")


# user-facing wrappers ----------------------------------------------------------------------


def _is_weight(v: Any) -> bool:
    """Arguments recorded as symbolic weights; anything else is passed through as static."""
    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "fiu"
    return isinstance(v, float)


def _float_dtype(values: Sequence[Any]) -> torch.dtype:
    """torch's promotion over the float tensors among ``values`` (float64 for numpy)."""
    dtype = None
    for v in values:
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            dtype = v.dtype if dtype is None else torch.promote_types(dtype, v.dtype)
    if dtype is None:
        return torch.float64
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"from_pennylane runs float32 or float64 tensors, got {dtype}")
    return dtype


def _qnode_result(out: Any, comp: _Compiled) -> Any:
    """qoxide's result layout → the QNode's: one tensor, or a list/tuple per measurement
    (the circuit's ``as_tuple`` result as is, or a [..., M] tensor split by one unbind)."""
    if comp.single:
        return out
    items = out.unbind(-1) if isinstance(out, torch.Tensor) else out
    return items if type(items) is comp.container else comp.container(items)


def _arg_key(args: tuple, i: int) -> tuple | None:
    """The plan key of positional arguments with the input at ``i``: the input's type, rank,
    features and dtype (not its batch size) and each other argument's type, shape and
    dtype; None when one is not an array (a static argument) or the input is a scalar."""
    try:
        x = args[i]
        rest = [(type(a), a.shape, a.dtype) for j, a in enumerate(args) if j != i]
        return (type(x), x.ndim, x.shape[-1], x.dtype, *rest)
    except (AttributeError, IndexError):
        return None


class PennyLaneQNode:
    """A QNode converted by :func:`from_pennylane`: call it like the QNode (torch tensors
    in, torch tensors out, same return structure). ``inputs`` may carry leading batch axes
    (PennyLane's broadcasting); the other array arguments are weights shared by the batch.
    Non-array arguments (ints, strings, ...) are static: each value records its own circuit.
    """

    def __init__(self, qnode: Any, inputs: str | None = None):
        params = list(inspect.signature(qnode.func).parameters)
        if inputs is None:
            inputs = "inputs" if "inputs" in params else (params[0] if params else None)
        if inputs not in params:
            raise ValueError(
                f"from_pennylane: inputs={inputs!r} is not an argument of "
                f"{qnode.func.__name__}{tuple(params)}"
            )
        self.qnode = qnode
        self.input_name = inputs
        self.signature = inspect.signature(qnode.func)
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        plain = all(p.kind in kinds for p in self.signature.parameters.values())
        self._names = params
        # positional calls skip bind(): only when every parameter is a plain positional one
        self._n_positional = len(params) if plain else -1
        self._input_pos = params.index(inputs)
        self.converter = _Converter(qnode, inputs)
        self.__name__ = getattr(qnode.func, "__name__", "qnode")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        n = self._n_positional
        if kwargs and len(args) + len(kwargs) == n:  # keywords naming the remaining arguments
            try:
                args, kwargs = (*args, *(kwargs[k] for k in self._names[len(args) :])), {}
            except KeyError:
                pass
        positional = not kwargs and len(args) == n
        i = self._input_pos
        key = _arg_key(args, i) if positional and not torch.compiler.is_compiling() else None
        plan = self.converter.plans.get(key)
        if plan is not None:  # the same argument types and shapes as an earlier call
            comp, dtype = plan
            out = comp.qf(args[i], *args[:i], *args[i + 1 :], dtype=dtype, as_tuple=True)
            return _qnode_result(out, comp)
        if positional:  # without bind()
            values = dict(zip(self._names, args, strict=True))
        else:
            bound = self.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
        x = values.pop(self.input_name)
        weights = {n: v for n, v in values.items() if _is_weight(v)}
        static = {n: v for n, v in values.items() if n not in weights}
        dtype = _float_dtype([x, *weights.values()])
        out, comp = self.converter.run(x, weights, static, dtype)
        if key is not None and comp.plain and not static and isinstance(x, torch.Tensor):
            self.converter.plans[key] = (comp, dtype)
        return _qnode_result(out, comp)

    def __repr__(self) -> str:
        n = len(self.converter.wire_order)
        return f"<qoxide circuit from QNode {self.__name__} on {n} qubits>"


def _torchlayer_class() -> type:
    from .nn.layer import QuantumLayer

    class PennyLaneLayer(QuantumLayer):
        """A ``qml.qnn.TorchLayer`` converted by :func:`from_pennylane`: the same weight
        names, shapes and current values (state_dicts load both ways), the same output
        shapes and dtype rules (weights run in the input's dtype, outputs have it)."""

        def __init__(self, layer: Any):
            nn.Module.__init__(self)
            self.converter = _Converter(layer.qnode, layer.input_arg)
            self.weight_names = list(layer.qnode_weights)
            self.circuit = None
            for n in self.weight_names:
                p = getattr(layer, n)
                self.register_parameter(n, nn.Parameter(p.detach().clone()))

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(inputs)
            batch_dims = tuple(x.shape[:-1])
            if x.ndim > 2:
                x = x.reshape(-1, x.shape[-1])
            dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
            params = self._parameters  # nn.Module.__getattr__ per weight costs a few µs
            ws = [params[n] for n in self.weight_names]
            plans = self.converter.plans
            key = None
            if not torch.compiler.is_compiling():  # weights run in the input's dtype
                key = (x.ndim, x.shape[-1:], x.dtype, *[w.shape for w in ws])
            plan = plans.get(key)
            if plan is not None:
                comp = plan[0]
                out = comp.qf(x, *ws, dtype=dtype)
            else:
                out, comp = self.converter.run(
                    x, dict(zip(self.weight_names, ws, strict=True)), {}, dtype
                )
                if key is not None and comp.plain:
                    plans[key] = (comp, dtype)
            return _torchlayer_result(out, comp, x, batch_dims, dtype)

        def extra_repr(self) -> str:
            shapes = ", ".join(f"{n}={tuple(getattr(self, n).shape)}" for n in self.weight_names)
            name = self.converter.func.__name__
            return f"from TorchLayer {name}, n_qubits={len(self.converter.wire_order)}, {shapes}"

    return PennyLaneLayer


def _torchlayer_result(
    out: Any, comp: _Compiled, x: torch.Tensor, batch_dims: tuple, dtype: torch.dtype
) -> torch.Tensor:
    """qoxide's result layout for a TorchLayer input x ([B, F] or [F], flattened from
    ``batch_dims``) → TorchLayer's output, in ``dtype``."""
    if comp.single:
        res = out.type(dtype)
    elif isinstance(out, torch.Tensor) and (comp.container is list or out.shape[-1] == 1):
        res = out if out.dtype == dtype else out.type(dtype)  # TorchLayer's hstack
    elif isinstance(out, torch.Tensor):
        # a tuple of M > 1 expvals: TorchLayer stacks per-measurement [B, 1] columns
        res = out.t().unsqueeze(-1)  # [M, B, 1] or [M, 1]: two views, no copy
        res = res if res.dtype == dtype else res.type(dtype)
        return res.reshape(res.shape[0], *batch_dims, 1) if len(batch_dims) > 1 else res
    else:
        res = _torchlayer_combine(_qnode_result(out, comp), x, dtype)
    if isinstance(res, tuple):
        if batch_dims:
            res = [r.reshape(*batch_dims, *r.shape[1:]) for r in res]
        return torch.stack(list(res), dim=0)
    if len(batch_dims) > 1:
        res = res.reshape(*batch_dims, *res.shape[1:])
    return res


def _torchlayer_combine(res: Any, x: torch.Tensor, dtype: torch.dtype) -> Any:
    """TorchLayer's rule for a QNode returning several measurements: hstack them per sample
    (a list), or a tuple of per-measurement [B, k] tensors (a tuple of tensors)."""

    def combine(parts: Sequence[torch.Tensor]) -> torch.Tensor:
        if x.ndim > 1:
            parts = [torch.reshape(r, (x.shape[0], -1)) for r in parts]
        return torch.hstack(list(parts)).type(dtype)

    if isinstance(res, tuple) and len(res) > 1:
        return tuple(combine([r]) for r in res)
    return combine(res)


_LAYER_CLASS: type | None = None


def from_pennylane(obj: Any, *, inputs: str | None = None) -> Any:
    """A PennyLane ``QNode`` or ``qml.qnn.TorchLayer`` as a native qoxide circuit/layer.

    - ``TorchLayer`` → an ``nn.Module`` (a ``qx.nn.QuantumLayer``) with the TorchLayer's
      parameters (names, shapes, current values), its output shapes and dtype rules.
    - ``QNode`` → a callable with the QNode's signature and return structure; ``inputs``
      names the batched argument (default: ``"inputs"`` if present, else the first).

    The quantum function is recorded once per input shape and argument shapes (see the
    module docstring for how parameters are traced); each call is one native batched call
    forward and one adjoint sweep backward. Unsupported operations or measurements raise
    :class:`UnsupportedPennyLaneError` naming them (use the ``qoxide.qubit`` device then).
    """
    global _LAYER_CLASS
    try:
        import pennylane as qml
    except ImportError as err:  # pragma: no cover - only without PennyLane
        raise ImportError("qoxide.from_pennylane needs PennyLane (pip install pennylane)") from err
    if isinstance(obj, qml.qnn.TorchLayer):
        if inputs is not None and inputs != obj.input_arg:
            raise ValueError(
                f"from_pennylane: a TorchLayer's input argument is {obj.input_arg!r}, "
                f"got inputs={inputs!r}"
            )
        if _LAYER_CLASS is None:
            _LAYER_CLASS = _torchlayer_class()
        return _LAYER_CLASS(obj)
    if isinstance(obj, qml.QNode):
        return PennyLaneQNode(obj, inputs)
    raise TypeError(
        f"from_pennylane takes a qml.QNode or a qml.qnn.TorchLayer, got {type(obj).__name__}"
    )
