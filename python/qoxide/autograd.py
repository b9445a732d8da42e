"""The autograd formula of the native call, written once: forward = batched expvals
(:func:`qoxide.ops.expval`), backward = the adjoint VJP (one sweep per sample, whatever the
number of observables), jvp = the adjoint Jacobian contracted with the tangent.

It is registered twice, from the same functions: on the custom op (``register_autograd``:
what torch.compile and torch.export trace) and as :class:`CircuitFunction` (an
autograd.Function with ``setup_context``, a ``jvp`` and a generated vmap rule: what
torch.func uses). Two registrations because each side lacks what the other needs in torch
2.x: an op's generated autograd has no ``setup_context`` or forward-mode formula
(``torch.func.jacrev`` raises, ``jacfwd`` silently returns zeros), and Dynamo refuses an
autograd.Function with a custom ``jvp`` under ``fullgraph=True``.

Plain eager calls (no transform, no tracing) take :class:`EagerCircuitFunction`: one node
from inputs and weights, one native call each way, for per-call overhead.

Second derivatives (Hessians, ``grad`` of ``grad``, forward-over-reverse) are exact: the
backward's VJP is itself differentiable, by parameter shift of the VJP
(:mod:`qoxide.second_order`); third derivatives raise NotImplementedError, never zeros.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import ops

# Keep forward states for the backward up to this many amplitudes (64 MiB at complex128).
KEEP_STATES_MAX_AMPS = 1 << 22

THIRD_ORDER = (
    "third and higher derivatives through a qoxide circuit are not implemented (second "
    "derivatives are exact: Hessian-vector products by parameter shift of the adjoint VJP)"
)
COMPILED_SECOND_ORDER = (
    "second derivatives through a qoxide circuit under torch.compile are not implemented; "
    "run the double backward eagerly (exact there)"
)


def _plain(t: Tensor) -> bool:
    """No transform, mode or tracer sees ``t`` and it lives on the CPU: the native code can
    be called directly, skipping the dispatcher (about 10 µs per call). CUDA tensors go
    through the dispatcher to the ops' CUDA kernels (:mod:`qoxide.cuda_ops`)."""
    return (
        type(t) in _PLAIN_TYPES
        and t.is_cpu
        and not torch._C._are_functorch_transforms_active()
        and torch._C._len_torch_dispatch_stack() == 0
        and not _legacy_batched(t)  # functional.jacobian(vectorize=True)'s batched grads
    )


_PLAIN_TYPES = (torch.Tensor, torch.nn.Parameter)
_legacy_batched = getattr(torch._C._functorch, "is_legacy_batchedtensor", lambda t: False)


def _compiling() -> bool:
    return torch.compiler.is_compiling()


# the one formula ---------------------------------------------------------------------------


def setup_context(ctx: Any, inputs: tuple, output: tuple[Tensor, Tensor]) -> None:
    theta, init, key, _ = inputs
    states = output[1]
    ctx.key = key
    ctx.mark_non_differentiable(states)
    ctx.save_for_backward(theta, init, states)
    ctx.save_for_forward(theta, init)


def backward(ctx: Any, grad_out: Tensor, _grad_states: Tensor | None) -> tuple:
    theta, init, states = ctx.saved_tensors
    if not ctx.needs_input_grad[0] or grad_out is None:
        return None, None, None, None
    return _vjp(theta, grad_out, init, states, ctx.key), None, None, None


def jvp(ctx: Any, theta_t: Tensor, *_: Any) -> tuple[Tensor, None]:
    theta, init = ctx.saved_tensors
    jac = ops.jacobian(theta, init, ctx.key)  # [B, M, P]: one native call for any tangent batch
    return torch.einsum("bmp,bp->bm", jac, theta_t.to(jac.dtype)), None


ops.expval.register_autograd(backward, setup_context=setup_context)


class CircuitFunction(torch.autograd.Function):
    """``CircuitFunction.apply(theta[B, P], init, key, keep_states) -> (out[B, M], states)``:
    the native call under eager autograd and torch.func."""

    generate_vmap_rule = True

    @staticmethod
    def forward(theta: Tensor, init: Tensor | None, key: int, keep_states: bool) -> Any:
        if _plain(theta):
            return ops.expval_impl(theta, init, key, keep_states)
        return ops.expval(theta, init, key, keep_states)

    setup_context = staticmethod(setup_context)
    backward = staticmethod(backward)
    jvp = staticmethod(jvp)


# the VJP and its derivatives (second order: Hessian-vector products by parameter shift) ----


def _third_order_backward(ctx: Any, *grads: Any) -> tuple:
    raise NotImplementedError(THIRD_ORDER)


def _no_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
    pass


def _compiled_second_order(ctx: Any, *grads: Any) -> tuple:
    raise NotImplementedError(COMPILED_SECOND_ORDER)


ops.vjp.register_autograd(_compiled_second_order, setup_context=_no_context)
ops.hvp.register_autograd(_third_order_backward, setup_context=_no_context)


def _jacobian_backward(ctx: Any, *grads: Any) -> tuple:
    raise NotImplementedError(
        "derivatives of qoxide's adjoint Jacobian are not implemented (it appears in third "
        "derivatives, and in second derivatives taken forward-over-forward; use reverse "
        "mode, e.g. torch.func.hessian or torch.autograd.functional.hessian)"
    )


ops.jacobian.register_autograd(_jacobian_backward, setup_context=_no_context)


def _hvp(theta: Tensor, grad_out: Tensor, v: Tensor, init: Tensor | None, key: int) -> Tensor:
    if _plain(theta) and _plain(v) and not _legacy_batched(v):
        return ops.hvp_impl(theta, grad_out, v, init, key)
    if _legacy_batched(v) or _legacy_batched(grad_out):
        raise NotImplementedError(
            "vectorized second derivatives through torch.autograd.functional (legacy vmap) "
            "are not supported; use vectorize=False or torch.func.hessian"
        )
    return ops.hvp(theta, grad_out, v, init, key)


class VJPFunction(torch.autograd.Function):
    """``qoxide::vjp`` for eager autograd and torch.func, differentiable once more:
    backward and jvp are exact Hessian-vector products (plus the Jacobian-vector product
    for the cotangent), from shifted VJPs in one native call."""

    generate_vmap_rule = True

    @staticmethod
    def forward(theta, grad_out, init, states, key):  # noqa: ANN001, ANN205
        if _plain(theta) and _plain(grad_out):
            return ops.vjp_impl(theta, grad_out, init, states, key)
        return ops.vjp(theta, grad_out, init, states, key)

    @staticmethod
    def setup_context(ctx, inputs, output):  # noqa: ANN001, ANN205
        theta, grad_out, init, _, key = inputs
        ctx.key = key
        ctx.save_for_backward(theta, grad_out, init)
        ctx.save_for_forward(theta, grad_out, init)

    @staticmethod
    def backward(ctx, v):  # noqa: ANN001, ANN205
        theta, grad_out, init = ctx.saved_tensors
        g_theta = g_out = None
        if ctx.needs_input_grad[0]:
            g_theta = _hvp(theta, grad_out, v, init, ctx.key)
        if ctx.needs_input_grad[1]:  # d(Jᵀg)/dg · v = J v
            jac = ops.jacobian(theta, init, ctx.key)
            g_out = (jac * v.to(jac.dtype).unsqueeze(1)).sum(-1)
        return g_theta, g_out, None, None, None

    @staticmethod
    def jvp(ctx, theta_t, grad_t, *_):  # noqa: ANN001, ANN205
        theta, grad_out, init = ctx.saved_tensors
        out = None
        if theta_t is not None:
            out = _hvp(theta, grad_out, theta_t, init, ctx.key)
        if grad_t is not None:
            more = ops.vjp(theta, grad_t, init, None, ctx.key)
            out = more if out is None else out + more
        return out


def _vjp(theta: Tensor, grad_out: Tensor, init: Tensor | None, states: Tensor, key: int) -> Tensor:
    if _compiling():
        return ops.vjp(theta, grad_out, init, states, key)
    if _legacy_batched(grad_out) and _plain(theta):
        # functional.jacobian(vectorize=True) batches cotangents with the legacy vmap, which
        # never reaches the op's vmap rule: contract them with one Jacobian here instead
        jac = ops.jacobian(theta, init, key)
        return (grad_out.to(jac.dtype).unsqueeze(-1) * jac).sum(1)
    if not torch.is_grad_enabled() and _plain(theta) and _plain(grad_out):
        return ops.vjp_impl(theta, grad_out, init, states, key)  # a plain first-order backward
    return VJPFunction.apply(theta, grad_out, init, states, key)


def eager_key(args: tuple[Any, ...]) -> tuple | None:
    """The cache key of a plain eager call, ``((dtype, shape), ...)`` of its arguments, or
    None when the call must take the general route: an argument that is not a plain CPU
    tensor (:func:`_plain`), or tracing or a torch.func transform under way. One pass over
    the arguments: the global checks once, not once per argument."""
    if (
        _compiling()
        or torch._C._are_functorch_transforms_active()
        or torch._C._len_torch_dispatch_stack()
    ):
        return None
    key = []
    for a in args:
        if type(a) not in _PLAIN_TYPES or not a.is_cpu or _legacy_batched(a):
            return None
        key.append((a.dtype, a.shape))
    return tuple(key)


class EagerCall:
    """A plain eager call of a circuit (no transform, mode or tracer; CPU tensors; all
    measurements expvals), prepared once per argument signature: ONE native call of the
    program's :class:`qoxide._core.Circuit` each way, every reshape and split in numpy so
    the graph gets no view nodes. ``qoxide.circuit`` keeps one per (dtype, shape) of the
    arguments, so a repeated call does no argument checks, program lookup or layout work:
    which arrays need a reshape, and where each weight's gradient lies in the flat one, are
    worked out here once.

    ``shapes`` are the shapes of the circuit's arguments in their order: the input (at
    ``in_index``, or none) [*lead, F] and the weights (any shapes)."""

    __slots__ = (
        "prog", "native", "n_params", "single", "init", "init_np", "lead", "batch", "keep",
        "in_index", "x_shape", "x_flat", "w_index", "w_flat", "out_shape", "g_flat", "w_grads",
        "plain_grads",
    )  # fmt: skip

    def __init__(
        self,
        prog: Any,
        init: Tensor | None,
        lead: tuple[int, ...],
        in_index: int | None,
        shapes: tuple[tuple[int, ...], ...],
    ):
        self.prog, self.init = prog, init
        self.native = prog.circuit  # the _core.Circuit, one attribute away on every call
        self.n_params, self.single = prog.n_params, prog.single
        self.init_np = _np(init)
        self.lead, self.batch, self.in_index = lead, math.prod(lead), in_index
        self.keep = self.batch << prog.n_qubits <= KEEP_STATES_MAX_AMPS
        # the native call takes x as [B, F] and the weights as one flat [W]
        self.x_shape = None if in_index is None else shapes[in_index]
        self.x_flat = self.x_shape is not None and len(self.x_shape) != 2
        self.w_index = tuple(j for j in range(len(shapes)) if j != in_index)
        self.w_flat = len(self.w_index) == 1 and len(shapes[self.w_index[0]]) != 1
        # it returns [B, M]; the caller gets lead (one measurement) or [*lead, M]
        m = len(prog.measurements)
        self.out_shape = lead if self.single else None if len(lead) == 1 else (*lead, m)
        self.g_flat = self.single or len(lead) != 1
        # each weight's gradient: (start, stop, shape) in the flat one, None: all of it
        self.w_grads: dict[int, Any] = {}
        at = 0
        for j in self.w_index:
            size = math.prod(shapes[j])
            whole = len(self.w_index) == 1 and len(shapes[j]) == 1
            self.w_grads[j] = None if whole else (at, at + size, shapes[j])
            at += size
        # the usual layout, input [B, F] then one flat weight: gradients pass through as is
        self.plain_grads = (
            in_index == 0 and not self.x_flat and self.w_index == (1,) and self.w_grads[1] is None
        )

    def __call__(self, args: tuple[Tensor, ...], as_tuple: bool) -> Tensor | tuple[Tensor, ...]:
        """The expvals in the caller's shape (``lead`` batch axes, then M unless the circuit
        returned one measurement; M tensors of shape ``lead`` when ``as_tuple``),
        differentiable through :class:`EagerCircuitFunction` when an argument requires
        grad."""
        if torch.is_grad_enabled():
            for a in args:
                if a.requires_grad:
                    return EagerCircuitFunction.apply(self, as_tuple, *args)
        xn, wn = self.flat(args)
        out, _ = self.native.forward(xn, wn, self.batch, init_state=self.init_np)
        return self.tensors(out, as_tuple)

    def flat(self, args: tuple[Tensor, ...]) -> tuple[Any, Any]:
        """(x [B, F], flat weights [W]) as numpy arrays (None when absent)."""
        i, ws = self.in_index, self.w_index
        xn = None if i is None else args[i].numpy(force=True)
        if self.x_flat:
            xn = xn.reshape(self.batch, -1)
        if len(ws) == 1:
            wn = args[ws[0]].numpy(force=True)
            return xn, wn.reshape(-1) if self.w_flat else wn
        if not ws:
            return xn, None
        return xn, np.concatenate([args[j].numpy(force=True).reshape(-1) for j in ws])

    def tensors(self, out: Any, as_tuple: bool) -> Tensor | tuple[Tensor, ...]:
        """Native expvals [B, M] as one tensor in the caller's shape, or one per measurement
        (column views)."""
        if self.out_shape is not None:
            out = out.reshape(self.out_shape)
        if as_tuple and not self.single:
            return tuple(torch.from_numpy(out[..., k]) for k in range(out.shape[-1]))
        return torch.from_numpy(out)

    def grads(self, gx: Any, gw: Any, need: tuple[bool, ...]) -> list:
        """∂L/∂x [B, F] and ∂L/∂w [W] from the native backward as one gradient per argument
        (None where not needed), each in its argument's shape."""
        if self.plain_grads:
            return [
                torch.from_numpy(gx) if need[0] else None,
                torch.from_numpy(gw) if need[1] else None,
            ]
        out: list[Tensor | None] = []
        for j, n in enumerate(need):
            if not n:
                out.append(None)
            elif j == self.in_index:
                out.append(torch.from_numpy(gx.reshape(self.x_shape) if self.x_flat else gx))
            else:
                part = self.w_grads[j]
                if part is None:
                    out.append(torch.from_numpy(gw))
                else:
                    start, stop, shape = part
                    out.append(torch.from_numpy(gw[start:stop].reshape(shape)))
        return out


def _np(t: Tensor | None) -> Any:
    return None if t is None else t.detach().numpy()


class EagerCircuitFunction(torch.autograd.Function):
    """ONE autograd node from inputs and weights to the expvals (:class:`EagerCall`),
    one native call each way: forward maps x and w to theta, runs the circuit and keeps
    theta and the final states natively; backward runs the adjoint VJP from them and pulls
    it back through the theta map to ∂L/∂x and ∂L/∂w. An old-style Function (forward
    takes ``ctx``): for one with ``setup_context``, ``Function.apply`` binds the forward's
    signature on every call (about 20 µs).

    With ``create_graph=True`` its backward takes the differentiable route instead: the
    torch theta map and :class:`VJPFunction` (exact second derivatives)."""

    @staticmethod
    def forward(ctx, call, as_tuple, *args):  # noqa: ANN001, ANN205
        xn, wn = call.flat(args)
        out, ctx.saved = call.native.forward(xn, wn, call.batch, True, call.keep, call.init_np)
        # the arguments as attributes, not save_for_backward (about 3.5 µs a call at batch
        # 1): only the create_graph route reads them, and it checks their versions itself
        ctx.args, ctx.versions = args, [a._version for a in args]
        ctx.call = call
        return call.tensors(out, as_tuple)

    @staticmethod
    def backward(ctx, *gs):  # noqa: ANN001, ANN205
        call = ctx.call
        need = ctx.needs_input_grad[2:]
        if not call.n_params or not any(need):
            return (None, None, *(None for _ in need))
        g = gs[0] if len(gs) == 1 else torch.stack(gs, -1)  # as_tuple: one per measurement
        if torch.is_grad_enabled() or not _plain(g):
            g = g.reshape(call.batch, -1)
            return (None, None, *_torch_route(call, _unchanged(ctx), g, need))
        if call.plain_grads:
            need_x, need_w = need
        else:
            i = call.in_index
            need_x = i is not None and need[i]
            need_w = any(need[j] for j in call.w_index)
        gn = g.numpy()  # a broadcast cotangent (from sum()) is copied natively in the call
        if call.g_flat:
            gn = gn.reshape(call.batch, -1)
        gx, gw = call.native.backward(ctx.saved, gn, need_x, need_w, call.init_np)
        return (None, None, *call.grads(gx, gw, need))


def _unchanged(ctx: Any) -> tuple[Tensor, ...]:
    """The forward's arguments, refused as torch refuses a saved tensor when one of them
    was changed in place since: the theta map rebuilt from it would be another point's."""
    for a, v in zip(ctx.args, ctx.versions, strict=True):
        if a._version != v:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: [{a.type()} {list(a.shape)}] is at version "
                f"{a._version}; expected version {v} instead (an argument of a qoxide "
                "circuit, changed in place after its forward)"
            )
    return ctx.args


def _torch_route(
    call: EagerCall, args: tuple[Tensor, ...], g: Tensor, need: tuple[bool, ...]
) -> list[Tensor | None]:
    """The backward of :class:`EagerCircuitFunction` through torch (create_graph, or
    batched cotangents): the torch theta map, then :func:`_vjp` (differentiable)."""
    prog, batch, i = call.prog, call.batch, call.in_index
    ws = args if i is None else (*args[:i], *args[i + 1 :])
    with torch.enable_grad():
        xb = None if i is None else args[i].reshape(batch, -1)
        w = (
            None
            if not ws
            else ws[0].reshape(-1)
            if len(ws) == 1
            else torch.cat([w.reshape(-1) for w in ws])
        )
        theta = prog.theta_map.torch(xb, w, batch)
    gt = _vjp(theta, g, call.init, None, prog.native.key)
    inputs = [t for t, n in zip(args, need, strict=True) if n]
    grads = iter(
        torch.autograd.grad(
            theta, inputs, gt, create_graph=torch.is_grad_enabled(), allow_unused=True
        )
    )
    return [next(grads) if n else None for n in need]


# entry point -----------------------------------------------------------------------------


def expval(theta: Tensor, init: Tensor | None, key: int, n_qubits: int) -> Tensor:
    """Differentiable expectation values [B, M] of the program ``key`` at ``theta`` [B, P].

    Final states are kept for the backward (it then skips re-running the circuit) when a
    gradient will be asked for and they are small."""
    keep = (
        theta.is_cpu  # the CUDA backward reruns the forward in its own launch
        and theta.requires_grad
        and torch.is_grad_enabled()
        and theta.shape[0] << n_qubits <= KEEP_STATES_MAX_AMPS
    )
    if _compiling():
        return ops.expval(theta, init, key, keep)[0]
    return CircuitFunction.apply(theta, init, key, keep)[0]


class NoGradFunction(torch.autograd.Function):
    """Carries a non-differentiable measurement (var, probs, state) in a graph: its
    backward raises instead of silently returning zeros."""

    @staticmethod
    def forward(theta: Tensor, value: Tensor, what: str) -> Tensor:
        return value

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        ctx.what = inputs[2]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple:
        raise NotImplementedError(
            f"gradients of {ctx.what} measurements are not implemented; "
            "differentiate expval measurements (adjoint method)"
        )
