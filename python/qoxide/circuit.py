"""`qoxide.circuit`: record a circuit function once, run it batched.

    @qx.circuit(n_qubits=4)
    def net(q, x, w):
        for i in range(4):
            q.h(i); q.ry(x[i], i)
        ...
        return [q.expval(qx.Z(i)) for i in range(4)]

    net(x, w)   # x: [B, 4] (batched) or [4]; w: any shape. torch in -> torch out (autograd),
                # numpy in -> numpy out. float32 runs complex64, float64 runs complex128.

The first argument after ``q`` is the input: its last axis holds the features of one
sample and any leading axes are batch axes. Other arguments are weights, shared by all
samples. A call compiles the circuit for the argument shapes once (cached) and then runs
the whole batch in one native call.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from . import _core, autograd, cuda, runner
from .measurements import Counts, Expval, Measurement, Probs, Sample, State, Var
from .params import symbols
from .program import Program, compile_program
from .recorder import Recorder

_MEASUREMENTS = (Expval, Var, Probs, State, Sample, Counts)


class QuantumFunction:
    """A circuit function bound to a register size; call it like the function minus ``q``."""

    def __init__(self, fn: Callable[..., Any], n_qubits: int, inputs: str | None = "auto"):
        Recorder(n_qubits)  # validates n_qubits
        _mark_record_once()
        self.fn = fn
        self.n_qubits = int(n_qubits)
        names = list(inspect.signature(fn).parameters)
        if not names:
            raise TypeError("a circuit function takes the recorder `q` as its first argument")
        self.arg_names = names[1:]
        if inputs == "auto":
            self.input_index = 0 if self.arg_names else None
        elif inputs is None:
            self.input_index = None
        else:
            if inputs not in self.arg_names:
                raise ValueError(f"inputs={inputs!r} is not an argument of {fn.__name__}")
            self.input_index = self.arg_names.index(inputs)
        self._programs: dict[tuple, Program] = {}
        # eager torch calls by argument signature (autograd.eager_key): the prepared call and its
        # dtype, so a repeated call skips argument checks, program lookup and layout work
        self._eager: dict[tuple, tuple[autograd.EagerCall, torch.dtype]] = {}
        self.__name__ = getattr(fn, "__name__", "circuit")
        self.__doc__ = fn.__doc__

    # compilation -------------------------------------------------------------------
    def program(
        self, in_shape: tuple[int, ...] | None, weight_shapes: Sequence[tuple[int, ...]]
    ) -> Program:
        """The compiled program for one sample's input shape and the weight shapes."""
        key = (in_shape, tuple(tuple(s) for s in weight_shapes))
        _record_once(self, key)  # before any read of the cache, for torch.compile's sake
        return self._programs[key]

    def _record(
        self, in_shape: tuple[int, ...] | None, weight_shapes: list[tuple[int, ...]]
    ) -> Program:
        rec = Recorder(self.n_qubits)
        sym_args: list[Any] = []
        offset = 0
        n_inputs = math.prod(in_shape) if in_shape is not None else 0
        ws = iter(weight_shapes)
        # inputs occupy variables [0, F); weights follow in argument order
        w_offset = n_inputs
        for i in range(len(self.arg_names)):
            named = {"name": self.arg_names[i], "circuit": self.__name__}  # for index errors
            if i == self.input_index:
                sym_args.append(symbols(in_shape, offset, **named, input=True))  # type: ignore[arg-type]
            else:
                shape = next(ws)
                sym_args.append(symbols(shape, w_offset, **named))
                w_offset += int(np.prod(shape, dtype=np.int64))
        out = self.fn(rec, *sym_args)
        single = isinstance(out, _MEASUREMENTS)
        ms = [out] if single else list(out) if isinstance(out, (list, tuple)) else None
        if not ms or not all(isinstance(m, _MEASUREMENTS) for m in ms):
            raise TypeError(
                f"{self.__name__} must return a measurement (q.expval, q.var, q.probs, q.state, "
                f"q.sample, q.counts) or a list of them, got {out!r}"
            )
        return compile_program(rec, ms, n_inputs, w_offset - n_inputs, single)

    # execution ---------------------------------------------------------------------
    def __call__(self, *args: Any, dtype: Any = None, as_tuple: bool = False) -> Any:
        """Run the circuit. ``dtype``: float32/float64 (default: the arguments'). With
        ``as_tuple=True`` a list of expvals/vars comes back as a tuple of one [...] tensor
        per measurement (PennyLane's convention) instead of one [..., M] tensor, without a
        split node in the autograd graph."""
        key = autograd.eager_key(args)
        if key is not None:
            hit = self._eager.get(key)
            # a cached signature's tensors all have its dtype, so dtype=that is the same call
            if hit is not None and (dtype is None or dtype == hit[1]):
                return hit[0](args, as_tuple)
        return self._call(args, dtype, as_tuple)

    def _call(self, args: tuple[Any, ...], dtype: Any, as_tuple: bool = False) -> Any:
        if len(args) != len(self.arg_names):
            raise TypeError(
                f"{self.__name__} takes {len(self.arg_names)} argument(s) "
                f"({', '.join(self.arg_names)}), got {len(args)}"
            )
        if any(isinstance(a, torch.Tensor) for a in args):
            return self._call_torch(args, dtype, as_tuple)
        return self._call_numpy(args, dtype, as_tuple)

    def _split(self, args: Sequence[Any]) -> tuple[Any, list[Any]]:
        x = args[self.input_index] if self.input_index is not None else None
        ws = [a for i, a in enumerate(args) if i != self.input_index]
        return x, ws

    @staticmethod
    def _batching(x_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(leading batch shape, per-sample shape) of an input."""
        if len(x_shape) >= 2:
            return tuple(x_shape[:-1]), (x_shape[-1],)
        return (), tuple(x_shape)

    def _call_numpy(self, args: Sequence[Any], dtype: Any, as_tuple: bool) -> Any:
        x, ws = self._split(args)
        arrays = [np.asarray(a) for a in ([x] if x is not None else []) + ws]
        if any(a.dtype.kind == "c" for a in arrays):
            raise TypeError("circuit inputs and weights must be real; got a complex array")
        if dtype is None:
            floats = [a.dtype for a in arrays if a.dtype.kind == "f"]
            dtype = np.float32 if floats and all(d == np.float32 for d in floats) else np.float64
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        lead, in_shape, xb = (), None, None
        if x is not None:
            xa = np.asarray(x, dtype=np.float64)
            lead, in_shape = self._batching(xa.shape)
            xb = xa.reshape(-1, math.prod(in_shape))
        batch = math.prod(lead)
        wa = [np.asarray(w, dtype=np.float64) for w in ws]
        prog = self.program(in_shape, [w.shape for w in wa])
        wflat = np.concatenate([w.reshape(-1) for w in wa]) if wa else np.zeros(0)
        theta = prog.theta_map.numpy(xb, wflat, batch, dtype)
        init = prog.init_for(theta, xb)
        if prog.all_expval:  # the common case, kept lean: one native call, no reshuffling
            out = _core.expval(prog.tape, theta, prog.observables, init)
            return _per_measurement(prog, _unbatch_expvals(prog, out, lead), as_tuple)
        return _shape_results(prog, _run(prog, theta, init), lead, as_tuple)

    def _call_torch(self, args: Sequence[Any], dtype: Any, as_tuple: bool) -> Any:
        x, ws = self._split(args)
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        device = _device_of(tensors)
        for t in tensors:
            if t.is_complex():
                raise TypeError("circuit inputs and weights must be real; got a complex tensor")
        if dtype is None:
            floats = [t.dtype for t in tensors if t.is_floating_point()]
            dtype = floats[0] if floats else torch.get_default_dtype()
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        lead, in_shape, xb = (), None, None
        if x is not None:
            xb = _as(x, dtype, device)
            lead, in_shape = self._batching(xb.shape)
        wt = [_as(w, dtype, device) for w in ws]
        prog = self.program(in_shape, [tuple(w.shape) for w in wt])
        if device.type == "cuda":
            _check_cuda(self.__name__, prog)
        if prog.embedding is not None and xb.requires_grad and torch.is_grad_enabled():
            raise NotImplementedError(
                f"{self.__name__} amplitude-embeds its inputs, and gradients with respect "
                "to amplitude-embedded inputs are not implemented; pass x.detach()"
            )
        batch = math.prod(lead)
        init = _init_torch(prog, xb, batch, dtype)
        if prog.all_expval and device.type == "cpu" and _plain_args(xb, wt):
            # one autograd node, one native call
            if xb is not None:
                wt.insert(self.input_index, xb)
            targs = tuple(wt)
            call = autograd.EagerCall(
                prog, init, lead, self.input_index, tuple(tuple(a.shape) for a in targs)
            )
            sig = autograd.eager_key(args)
            if prog.embedding is None and sig is not None and all(d == dtype for d, _ in sig):
                self._eager[sig] = (call, dtype)
            return call(targs, as_tuple)
        if xb is not None and xb.dim() != 2:  # a view only when needed: one more graph node
            xb = xb.reshape(batch, math.prod(in_shape))
        wflat = None
        if len(wt) == 1:
            wflat = wt[0] if wt[0].dim() == 1 else wt[0].reshape(-1)
        elif wt:
            wflat = torch.cat([w.reshape(-1) for w in wt])
        theta = prog.theta_map.torch(xb, wflat, batch)  # torch autograd chains x and w
        if prog.all_expval:  # one native call forward, one adjoint sweep back
            out = autograd.expval(theta, init, prog.native.key, prog.n_qubits)
            return _per_measurement(prog, _unbatch_expvals(prog, out, lead), as_tuple)
        return _shape_results(prog, _run_torch(prog, theta, init), lead, as_tuple)

    def __deepcopy__(self, memo: dict) -> QuantumFunction:
        # immutable apart from its compile caches: copies of a model may share it
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_programs"] = {}  # native tapes are rebuilt on use
        state["_eager"] = {}
        return state

    def __repr__(self) -> str:
        return f"<qoxide circuit {self.__name__} on {self.n_qubits} qubits>"

    def sharded(self, group: Any = None, buffer_fraction: float | None = None) -> Any:
        """This circuit with its statevector sharded over the ranks of a torch.distributed
        process group (created from torchrun / mpirun variables when none exists): the same
        call, results and gradients, for registers larger than one process's memory. See
        :func:`qoxide.distributed.sharded`."""
        from .distributed import DEFAULT_BUFFER_FRACTION, sharded

        fraction = DEFAULT_BUFFER_FRACTION if buffer_fraction is None else buffer_fraction
        return sharded(self, group, fraction)


def _plain_args(x: torch.Tensor | None, ws: list[torch.Tensor]) -> bool:
    """Eager call on real tensors: no torch.compile/export tracing, no torch.func transform."""
    return (
        not torch.compiler.is_compiling()
        and (x is None or autograd._plain(x))
        and all(autograd._plain(w) for w in ws)
    )


def _as(a: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``a`` as a tensor of ``dtype`` on ``device`` (itself when it already is one)."""
    if isinstance(a, torch.Tensor) and a.dtype == dtype and a.device == device:
        return a
    return torch.as_tensor(a, device=device).to(dtype)


def _check_cuda(name: str, prog: Program) -> None:
    """What the CUDA kernels do not run yet, as NotImplementedError before any work."""
    if not prog.all_expval:
        raise NotImplementedError(
            f"{name} measures more than expectation values; on CUDA tensors qoxide returns "
            "expectation values only (probs, var, samples and states run on the CPU: move "
            "the inputs with .cpu())"
        )
    if prog.embedding is not None or prog.init_state is not None:
        raise NotImplementedError(
            f"{name} prepares an initial state (state preparation or amplitude embedding), "
            "which does not run on CUDA yet; move the inputs with .cpu()"
        )


def _device_of(tensors: list[torch.Tensor]) -> torch.device:
    """The one device of a call's tensors: CPU, or a CUDA device qoxide can run on."""
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(
            "circuit inputs and weights must be on one device, got "
            + ", ".join(sorted(str(d) for d in devices))
        )
    device = devices.pop() if devices else torch.device("cpu")
    if device.type == "cuda":
        if not cuda.is_available():
            raise cuda.device_error(device)
    elif device.type != "cpu":
        raise cuda.device_error(device)
    return device


def _record_once(qf: QuantumFunction, key: tuple) -> bool:
    """Record and compile on a cache miss. torch.compile runs this eagerly while tracing (the
    recording is plain Python over symbolic numpy arrays, nothing a graph could hold) and
    then reads the filled cache: it is marked `assume_constant_result` by
    :func:`_mark_record_once`."""
    if key not in qf._programs:
        qf._programs[key] = qf._record(key[0], list(key[1]))
    return True


_record_once_marked = False


def _mark_record_once() -> None:
    """Mark :func:`_record_once` for torch.compile when the first circuit is defined, not at
    import: the decorator imports torch._dynamo, about a third of ``import qoxide``'s time,
    which HSM models, the PennyLane devices and the CLI never need."""
    global _record_once, _record_once_marked
    if not _record_once_marked:
        _record_once = torch.compiler.assume_constant_result(_record_once)
        _record_once_marked = True


def circuit(
    n_qubits: int, inputs: str | None = "auto"
) -> Callable[[Callable[..., Any]], QuantumFunction]:
    """Decorator turning ``fn(q, *args)`` into a batched, differentiable quantum function.

    ``inputs`` names the batched argument ("auto": the first after ``q``; None: no inputs,
    every argument is a weight).
    """

    def wrap(fn: Callable[..., Any]) -> QuantumFunction:
        return QuantumFunction(fn, n_qubits, inputs)

    return wrap


# running measurements ------------------------------------------------------------------


def _seed(seed: int | None) -> int:
    if seed is None:
        return int(np.random.default_rng().integers(2**63))
    return int(seed) % 2**64


def _wires(prog: Program, wires: tuple[int, ...] | None) -> list[int]:
    return list(range(prog.n_qubits)) if wires is None else list(wires)


def _init_torch(
    prog: Program, x: torch.Tensor | None, batch: int, dtype: torch.dtype
) -> torch.Tensor | None:
    """The initial state(s) as a tensor of the precision ``dtype`` selects (cached unless
    they embed the inputs ``x`` [*lead, F])."""
    if prog.embedding is None:
        return prog.init_torch.get(dtype)
    cdtype = np.complex64 if dtype == torch.float32 else np.complex128
    xn = x.detach().numpy().reshape(batch, -1)
    return torch.from_numpy(prog.embedding.states(xn, cdtype))


def _requests(prog: Program) -> list[runner.Request]:
    """The program's measurements as runner requests (sampling seeds drawn now)."""
    obs = iter(prog.observables)
    reqs = []
    for m in prog.measurements:
        if isinstance(m, Expval):
            reqs.append(runner.expval(next(obs)))
        elif isinstance(m, Var):
            reqs.append(runner.var(next(obs)))
        elif isinstance(m, Probs):
            reqs.append(runner.probs(_wires(prog, m.wires)))
        elif isinstance(m, State):
            reqs.append(runner.state())
        else:  # Sample, Counts
            reqs.append(runner.sample(_wires(prog, m.wires), m.shots, _seed(m.seed)))
    return reqs


def _run(prog: Program, theta: np.ndarray, init: np.ndarray | None) -> list[Any]:
    """Every measurement on numpy theta: one batched result per measurement."""
    outs = runner.run(prog.tape, theta, init, _requests(prog))
    return [_counted(m, r) for m, r in zip(prog.measurements, outs, strict=True)]


def _run_torch(prog: Program, theta: torch.Tensor, init: torch.Tensor | None) -> list[Any]:
    """Every measurement on torch theta: expvals through the differentiable native call,
    the rest through the runner, carried by a node whose backward raises."""
    reqs = _requests(prog)
    rest = [k for k, r in enumerate(reqs) if r.kind != "expval"]
    theta_n = theta.detach().contiguous().numpy()
    init_n = None if init is None else init.numpy()
    outs: list[Any] = [None] * len(reqs)
    values = runner.run(prog.tape, theta_n, init_n, [reqs[k] for k in rest])
    for k, value in zip(rest, values, strict=True):
        outs[k] = value
    if len(rest) < len(reqs):
        cols = autograd.expval(theta, init, prog.native.key, prog.n_qubits)
        for j, k in enumerate(k for k, r in enumerate(reqs) if r.kind == "expval"):
            outs[k] = cols[:, j]
    grad = theta.requires_grad and torch.is_grad_enabled()
    results: list[Any] = []
    for m, r, value in zip(prog.measurements, reqs, outs, strict=True):
        if r.kind == "expval" or isinstance(m, Counts):
            results.append(_counted(m, value))
            continue
        t = torch.from_numpy(value)
        ng = grad and t.is_floating_point()
        results.append(autograd.NoGradFunction.apply(theta, t, r.kind) if ng else t)
    return results


def _counted(m: Measurement, value: Any) -> Any:
    """Counts measurements become one dict per sample; others pass through."""
    return [_counts(row) for row in value] if isinstance(m, Counts) else value


def _unbatch_expvals(prog: Program, out: Any, lead: tuple[int, ...]) -> Any:
    """[B, M] expvals to the caller's shape: batch axes restored, M dropped for one measurement."""
    if prog.single:
        out = out[:, 0]
    if not lead:
        return out[0]
    return out if len(lead) == 1 else out.reshape(*lead, *out.shape[1:])


def _counts(samples: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(samples, axis=0, return_counts=True)
    return {"".join(map(str, k)): int(c) for k, c in zip(keys, counts, strict=True)}


def _per_measurement(prog: Program, out: Any, as_tuple: bool) -> Any:
    """[..., M] expvals as a tuple of M [...] results when ``as_tuple`` (and M is there)."""
    if not as_tuple or prog.single:
        return out
    if isinstance(out, torch.Tensor):
        return out.unbind(-1)
    return tuple(out[..., k] for k in range(out.shape[-1]))


def _shape_results(
    prog: Program, results: list[Any], lead: tuple[int, ...], as_tuple: bool = False
) -> Any:
    """Stack expval/var lists to [..., M] (unless ``as_tuple``); restore the caller's batch
    axes."""

    def unbatch(r: Any) -> Any:
        if isinstance(r, list):  # counts: one dict per sample
            return (
                r[0]
                if not lead
                else (r if len(lead) == 1 else np.array(r, dtype=object).reshape(lead))
            )
        if not lead:
            return r[0]
        return r.reshape(*lead, *r.shape[1:])

    ms = prog.measurements
    if prog.single:
        return unbatch(results[0])
    if all(isinstance(m, (Expval, Var)) for m in ms) and not as_tuple:
        if isinstance(results[0], torch.Tensor):
            stacked = torch.stack(results, dim=1)
        else:
            stacked = np.stack(results, axis=1)
        return unbatch(stacked)
    return tuple(unbatch(r) for r in results)


__all__ = ["QuantumFunction", "circuit", "Measurement"]
