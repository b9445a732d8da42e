"""Run a ``@qx.circuit`` with its statevector sharded over the ranks of a torch.distributed
process group (gloo on CPU).

2^k ranks; rank r holds the 2^(n-k) amplitudes whose top k physical index bits equal r.
The schedule (Rust, ``_core.ShardPlan``, built once per compiled program) splits the tape
into local segments separated by swaps of index bits; each swap is an
``all_to_all_single`` among 2^m partner ranks moving (1 − 2^−m) of the local state, in
rounds that cap the extra buffer (send copy + receive buffer) at ``buffer_fraction`` of
the shard. All scalar results of a call (expvals, probs) are summed in ONE ``all_reduce``;
the state is gathered (logical order) only when the circuit returns ``q.state()``.

The adjoint VJP / Jacobian replays the schedule backwards with φ and the λ's stacked in
the same buffer, so each swap moves them in the same collective; gradient partials are
accumulated locally and reduced once.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.autograd.function import once_differentiable

from .. import _core
from ..circuit import QuantumFunction, _shape_results, _unbatch_expvals
from ..measurements import Expval, Probs, State
from ..program import Program
from ..train.distributed import detect_launch, init_process_group

DEFAULT_BUFFER_FRACTION = 0.25


def _cdtype(theta: np.ndarray) -> type:
    return np.complex64 if theta.dtype == np.float32 else np.complex128


class Comm:
    """The collectives the sharded runs use, counted (calls and bytes this rank sends)."""

    def __init__(self, group: Any = None):
        self.group = group
        self.active = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank(group) if self.active else 0
        self.size = dist.get_world_size(group) if self.active else 1
        self.calls: Counter[str] = Counter()
        self.bytes_sent = 0

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_sent = 0

    def all_to_all(self, out: torch.Tensor, inp: torch.Tensor, splits: list[int]) -> None:
        self.calls["all_to_all"] += 1
        row = inp[0].numel() * inp.element_size() if inp.shape[0] else 0
        self.bytes_sent += row * (sum(splits) - splits[self.rank])
        dist.all_to_all_single(out, inp, splits, splits, group=self.group)

    def all_reduce(self, t: torch.Tensor) -> None:
        if self.size == 1:
            return
        self.calls["all_reduce"] += 1
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)

    def all_gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        if self.size == 1:
            return [t]
        self.calls["all_gather"] += 1
        out = [torch.empty_like(t) for _ in range(self.size)]
        dist.all_gather(out, t, group=self.group)
        return out


class ShardRunner:
    """Sharded execution of native tapes over the process group: the swaps, the forward
    and adjoint sweeps, the reduced measurements. :meth:`run`, :meth:`jacobian` and
    :meth:`vjp` take what ``_core.expval`` / ``_core.jacobian`` / ``_core.vjp`` take (the
    PennyLane device's ``mpi=True`` runs on them); :class:`ShardedCircuit` adds the
    ``@qx.circuit`` call.
    """

    def __init__(
        self,
        group: Any = None,
        buffer_fraction: float = DEFAULT_BUFFER_FRACTION,
        naive: bool = False,
    ):
        if not buffer_fraction > 0:
            raise ValueError(f"buffer_fraction must be > 0, got {buffer_fraction}")
        if group is None and not (dist.is_available() and dist.is_initialized()):
            init_process_group(detect_launch(), torch.device("cpu"))
        self.comm = Comm(group)
        self.buffer_fraction = float(buffer_fraction)
        self.naive = naive
        w = self.comm.size
        self.k = w.bit_length() - 1
        if 1 << self.k != w:
            raise ValueError(f"sharding needs a power-of-two number of ranks, got {w}")

    @property
    def rank(self) -> int:
        return self.comm.rank

    # swaps -------------------------------------------------------------------------
    def _exchange(self, plan: Any, step: int, global_bits: list[int], buf: np.ndarray) -> None:
        m = len(global_bits)
        dests, _ = plan.route(step, self.rank)
        if any(a >= b for a, b in zip(dests, dests[1:], strict=False)):
            raise RuntimeError("qoxide internal error: swap partners are not ascending")
        chunk = 1 << (plan.local_qubits - m)
        rounds = plan.rounds(m, self.buffer_fraction)
        s = chunk // rounds
        t = torch.from_numpy(buf).view(-1, 1 << m, chunk)
        splits = [0] * self.comm.size
        for d in dests:
            splits[d] = 1
        for r in range(rounds):
            sl = slice(r * s, (r + 1) * s)
            send = t[:, :, sl].permute(1, 0, 2).contiguous()
            recv = torch.empty_like(send)
            self.comm.all_to_all(recv, send, splits)
            # partners ascend with their pattern of the exchanged bits: recv[j] is chunk j
            t[:, :, sl] = recv.permute(1, 0, 2)

    def _swap(self, plan: Any, step: int, spec: tuple, buf: np.ndarray, undo: bool) -> None:
        plan.transpose(step, True, undo, buf)
        self._exchange(plan, step, list(spec[1]), buf)
        plan.transpose(step, False, undo, buf)

    # low level: theta in, numpy out -------------------------------------------------
    def forward_shards(self, plan: Any, theta: np.ndarray) -> np.ndarray:
        """This rank's final shards [B, 2^L] for theta [B, P] (float32 runs complex64)."""
        b = theta.shape[0]
        shards = np.zeros((b, 1 << plan.local_qubits), _cdtype(theta))
        if self.rank == 0:
            shards[:, 0] = 1
        th = np.ascontiguousarray(theta, dtype=np.float64)
        for i, spec in enumerate(plan.steps()):
            if spec[0] == "segment":
                plan.forward_segment(i, self.rank, th, shards)
            else:
                self._swap(plan, i, spec, shards, undo=False)
        return shards

    def reduce_measurements(
        self, plan: Any, shards: np.ndarray, probs_wires: list[list[int]]
    ) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """(expvals [B, M] of the plan's observables or None without any, probs [B, 2^k]
        on each wire list) from the final shards, in ONE all_reduce."""
        b = shards.shape[0]
        parts: list[np.ndarray] = []
        n_obs = plan.n_observables
        if n_obs:
            parts.append(plan.expval_partial(self.rank, shards))
        parts += [plan.probs_partial(self.rank, shards, wires) for wires in probs_wires]
        if not parts:
            return None, []
        flat = torch.from_numpy(np.concatenate([p.reshape(b, -1) for p in parts], axis=1))
        self.comm.all_reduce(flat)
        ev = flat[:, :n_obs].numpy() if n_obs else None
        probs, off = [], n_obs
        for wires in probs_wires:
            w = 1 << len(wires)
            probs.append(flat[:, off : off + w].numpy().copy())
            off += w
        return ev, probs

    def gather_state(self, plan: Any, shards: np.ndarray) -> np.ndarray:
        """The full states [B, 2^n] in logical order (wire 0 the high bit), on every rank."""
        parts = self.comm.all_gather(torch.from_numpy(np.ascontiguousarray(shards)))
        full = torch.stack(parts, dim=1).numpy().reshape(shards.shape[0], -1)
        n = plan.n_qubits
        t = full.reshape((shards.shape[0],) + (2,) * n)
        fmap = plan.final_map  # wire w sits on physical bit fmap[w] = axis 1 + n-1-fmap[w]
        return np.ascontiguousarray(
            t.transpose((0,) + tuple(1 + n - 1 - fmap[w] for w in range(n)))
        ).reshape(shards.shape[0], -1)

    def adjoint(
        self, plan: Any, theta: np.ndarray, g: np.ndarray, shards: np.ndarray | None = None
    ) -> np.ndarray:
        """Σ over the cotangent sets: g [B, J, M] → grad theta [B, J, P] (one backward
        sweep; φ and the J λ's move in the same collectives; one all_reduce)."""
        if shards is None:
            shards = self.forward_shards(plan, theta)
        b, j, m = g.shape
        buf = np.empty((b, 1 + j, shards.shape[1]), shards.dtype)
        buf[:, 0] = shards
        plan.start_adjoint(self.rank, buf, np.ascontiguousarray(g.reshape(b * j, m), np.float64))
        grads = np.zeros((b, j, plan.n_params))
        th = np.ascontiguousarray(theta, dtype=np.float64)
        steps = plan.steps()
        for i in reversed(range(len(steps))):
            if steps[i][0] == "segment":
                plan.backward_segment(i, self.rank, th, buf, grads)
            else:
                self._swap(plan, i, steps[i], buf, undo=True)
        gt = torch.from_numpy(grads)
        self.comm.all_reduce(gt)
        return gt.numpy().astype(theta.dtype)

    # the _core-like API: native tape, theta [B, P], observables -------------------------
    def _plan_of(self, tape: Any, observables: list, init: np.ndarray | None) -> Any:
        if init is not None:
            raise NotImplementedError(
                "sharded execution starts from |0..0>: initial states are not implemented"
            )
        return _core.ShardPlan(tape, self.k, list(observables), self.naive)

    def run(self, tape: Any, theta: np.ndarray, init: np.ndarray | None, requests: list) -> list:
        """``runner.run`` sharded: one result per request (expval [B], probs [B, 2^k],
        state [B, 2^n] gathered); var and samples raise NotImplementedError."""
        for r in requests:
            if r.kind not in ("expval", "probs", "state"):
                raise NotImplementedError(
                    f"sharded execution measures expval, probs and state; got {r.kind}"
                )
        plan = self._plan_of(tape, [r.obs for r in requests if r.kind == "expval"], init)
        shards = self.forward_shards(plan, theta)
        ev, probs = self.reduce_measurements(
            plan, shards, [list(r.wires) for r in requests if r.kind == "probs"]
        )
        state = (
            self.gather_state(plan, shards) if any(r.kind == "state" for r in requests) else None
        )
        out, j = [], 0
        for r in requests:
            if r.kind == "expval":
                out.append(ev[:, j].astype(theta.dtype))
                j += 1
            else:
                out.append(probs.pop(0) if r.kind == "probs" else state)
        return out

    def jacobian(
        self, tape: Any, theta: np.ndarray, observables: list, init: np.ndarray | None = None
    ) -> np.ndarray:
        """``_core.jacobian`` sharded: ∂⟨O_m⟩/∂theta [B, M, P]."""
        plan = self._plan_of(tape, observables, init)
        b, m = theta.shape[0], len(observables)
        return self.adjoint(plan, theta, np.broadcast_to(np.eye(m), (b, m, m)).copy())

    def vjp(
        self,
        tape: Any,
        theta: np.ndarray,
        observables: list,
        grad_out: np.ndarray,
        init: np.ndarray | None = None,
    ) -> np.ndarray:
        """``_core.vjp`` sharded: ∂(Σ g·⟨O⟩)/∂theta [B, P]."""
        plan = self._plan_of(tape, observables, init)
        return self.adjoint(plan, theta, np.asarray(grad_out, np.float64)[:, None, :])[:, 0]


class ShardedCircuit(ShardRunner):
    """A ``@qx.circuit`` run sharded over the process group (see the module docstring).

    ``sharded(net)(x, w)`` returns what ``net(x, w)`` returns, on every rank: expvals
    (differentiable: the backward is the sharded adjoint VJP), probs, the gathered state.
    Supported: Pauli-word / Pauli-sum expvals, probs, state, circuits starting from
    |0..0>. Var, samples, Hermitian / Projector observables, initial states and amplitude
    embedding raise NotImplementedError.
    """

    def __init__(
        self,
        qfunc: QuantumFunction,
        group: Any = None,
        buffer_fraction: float = DEFAULT_BUFFER_FRACTION,
        naive: bool = False,
    ):
        if not isinstance(qfunc, QuantumFunction):
            raise TypeError(f"sharded() takes a @qx.circuit function, got {type(qfunc).__name__}")
        super().__init__(group, buffer_fraction, naive)
        self.qfunc = qfunc
        self._plans: dict[int, Any] = {}

    # plans -------------------------------------------------------------------------
    def plan(self, prog: Program) -> Any:
        """The ``_core.ShardPlan`` of a compiled program (built once, cached)."""
        p = self._plans.get(id(prog))
        if p is None:
            for m in prog.measurements:
                if not isinstance(m, (Expval, Probs, State)):
                    raise NotImplementedError(
                        f"sharded execution supports expval, probs and state; got {m!r}"
                    )
            if prog.init_state is not None or prog.embedding is not None:
                raise NotImplementedError(
                    "sharded execution starts from |0..0>: initial states "
                    "(state_prep, basis_state, amplitude embedding) are not implemented"
                )
            p = _core.ShardPlan(prog.tape, self.k, prog.observables, self.naive)
            self._plans[id(prog)] = (prog, p)  # keep prog alive: the id stays unique
            return p
        return p[1]

    def plan_for(self, *args: Any) -> Any:
        """The plan of the program these arguments select (shapes only)."""
        x, ws = self.qfunc._split(args)
        in_shape = None
        if x is not None:
            in_shape = self.qfunc._batching(tuple(np.shape(x)))[1]
        return self.plan(self.qfunc.program(in_shape, [tuple(np.shape(w)) for w in ws]))

    def measure(self, prog: Program, plan: Any, shards: np.ndarray) -> list[np.ndarray]:
        """Every measurement of the program from the final shards: ONE all_reduce for all
        expvals and probs, one all_gather when the state is asked for."""
        probs_wires = [
            list(range(prog.n_qubits)) if m.wires is None else list(m.wires)
            for m in prog.measurements
            if isinstance(m, Probs)
        ]
        ev, probs = self.reduce_measurements(plan, shards, probs_wires)
        out: list[np.ndarray] = []
        j, state = 0, None
        for m in prog.measurements:
            if isinstance(m, Expval):
                out.append(ev[:, j])
                j += 1
            elif isinstance(m, Probs):
                out.append(probs.pop(0))
            else:
                state = self.gather_state(plan, shards) if state is None else state
                out.append(state)
        return out

    def vjp_theta(self, prog: Program, theta: np.ndarray, g: np.ndarray, shards=None) -> np.ndarray:  # noqa: ANN001
        """∂(Σ g·⟨O⟩)/∂theta: [B, P]."""
        return self.adjoint(self.plan(prog), theta, g[:, None, :], shards)[:, 0]

    def jacobian_theta(self, prog: Program, theta: np.ndarray) -> np.ndarray:
        """∂⟨O_m⟩/∂theta: [B, M, P]."""
        b, m = theta.shape[0], len(prog.observables)
        g = np.broadcast_to(np.eye(m), (b, m, m)).copy()
        return self.adjoint(self.plan(prog), theta, g)

    # the circuit's own call signature -----------------------------------------------
    def __call__(self, *args: Any) -> Any:
        qf = self.qfunc
        if len(args) != len(qf.arg_names):
            raise TypeError(f"{qf.__name__} takes {len(qf.arg_names)} argument(s), got {len(args)}")
        x, ws = qf._split(args)
        if not any(isinstance(a, torch.Tensor) for a in args):
            xa = None if x is None else np.asarray(x, dtype=np.float64)
            lead, in_shape = ((), None) if xa is None else qf._batching(xa.shape)
            xb = None if xa is None else xa.reshape(-1, math.prod(in_shape))
            wa = [np.asarray(w, dtype=np.float64) for w in ws]
            floats = [np.asarray(a).dtype for a in args]
            dtype = np.float32 if floats and all(d == np.float32 for d in floats) else np.float64
            prog = qf.program(in_shape, [w.shape for w in wa])
            wflat = np.concatenate([w.reshape(-1) for w in wa]) if wa else np.zeros(0)
            theta = prog.theta_numpy(xb, wflat, math.prod(lead), dtype)
            plan = self.plan(prog)
            outs = self.measure(prog, plan, self.forward_shards(plan, theta))
            if prog.all_expval:
                return _unbatch_expvals(prog, np.stack(outs, axis=1), lead)
            return _shape_results(prog, outs, lead)
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if tensors[0].device.type != "cpu":
            raise NotImplementedError("sharded execution runs on CPU tensors (gloo) in this build")
        floats = [t.dtype for t in tensors if t.is_floating_point()]
        dtype = floats[0] if floats else torch.get_default_dtype()
        lead, in_shape, xb = (), None, None
        if x is not None:
            xt = torch.as_tensor(x).to(dtype)
            lead, in_shape = qf._batching(tuple(xt.shape))
            xb = xt.reshape(-1, math.prod(in_shape))
        wt = [torch.as_tensor(w).to(dtype) for w in ws]
        prog = qf.program(in_shape, [tuple(w.shape) for w in wt])
        wflat = torch.cat([w.reshape(-1) for w in wt]) if wt else None
        theta = prog.theta_map.torch(xb, wflat, math.prod(lead))
        out = ShardedFunction.apply(theta.contiguous(), self, prog)
        results = list(out)
        if prog.all_expval:
            return _unbatch_expvals(prog, torch.stack(results, dim=1), lead)
        return _shape_results(prog, results, lead)


class ShardedFunction(torch.autograd.Function):
    """``apply(theta[B, P], runner, prog) -> one tensor per measurement``; the backward of
    the expvals is the sharded adjoint VJP (probs and state are not differentiable)."""

    @staticmethod
    def forward(ctx, theta, runner, prog):  # noqa: ANN001
        th = theta.detach().contiguous().numpy()
        plan = runner.plan(prog)
        shards = runner.forward_shards(plan, th)
        outs = runner.measure(prog, plan, shards)
        ctx.runner, ctx.prog, ctx.theta = runner, prog, th
        ctx.shards = shards if theta.requires_grad else None
        ctx.kinds = [type(m).__name__ for m in prog.measurements]
        res = []
        for m, o in zip(prog.measurements, outs, strict=True):
            t = torch.from_numpy(np.ascontiguousarray(o))
            if isinstance(m, Expval):
                t = t.to(theta.dtype)
            res.append(t)
        ctx.mark_non_differentiable(
            *[r for m, r in zip(prog.measurements, res, strict=True) if not isinstance(m, Expval)]
        )
        return tuple(res)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):  # noqa: ANN001
        prog = ctx.prog
        ev = [g for m, g in zip(prog.measurements, grads, strict=True) if isinstance(m, Expval)]
        for m, g in zip(prog.measurements, grads, strict=True):
            if not isinstance(m, Expval) and g is not None and bool(torch.any(g != 0)):
                raise NotImplementedError(
                    f"gradients of {type(m).__name__.lower()} measurements are not implemented"
                )
        b = ctx.theta.shape[0]
        g = np.stack(
            [np.zeros(b) if x is None else x.detach().numpy().astype(np.float64) for x in ev],
            axis=1,
        )
        gt = ctx.runner.vjp_theta(prog, ctx.theta, g, ctx.shards)
        return torch.from_numpy(gt), None, None


def sharded(
    qfunc: QuantumFunction,
    group: Any = None,
    buffer_fraction: float = DEFAULT_BUFFER_FRACTION,
    naive: bool = False,
) -> ShardedCircuit:
    """``sharded(net)`` runs the ``@qx.circuit`` ``net`` with its state sharded over the
    process group (created from torchrun / mpirun variables when none exists)."""
    return ShardedCircuit(qfunc, group, buffer_fraction, naive)
