"""torch.autograd.Function over the native engine: forward = batched expvals,
backward = the adjoint VJP (one backward sweep per sample, whatever the number of
observables)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _core


def _np(t: torch.Tensor) -> np.ndarray:
    """A CPU tensor's data as numpy, without a copy when it is contiguous."""
    return t.detach().contiguous().numpy()


class ExpvalFunction(torch.autograd.Function):
    """``ExpvalFunction.apply(theta[B, P], tape, observables, init_state) -> [B, M]``."""

    @staticmethod
    def forward(ctx, theta, tape, observables, init_state):  # noqa: ANN001
        ctx.tape = tape
        ctx.observables = observables
        ctx.init_state = init_state
        ctx.save_for_backward(theta)
        out = _core.expval(tape, _np(theta), observables, init_state)
        return torch.from_numpy(out).to(theta.device)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # noqa: ANN001
        (theta,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        g = _np(grad_out).astype(_np(theta).dtype, copy=False)
        grad = _core.vjp(ctx.tape, _np(theta), ctx.observables, g, ctx.init_state)
        return torch.from_numpy(grad).to(theta.device), None, None, None


# Keep forward states for the backward up to this many amplitudes (64 MiB at complex128).
KEEP_STATES_MAX_AMPS = 1 << 22


class CircuitFunction(torch.autograd.Function):
    """``CircuitFunction.apply(program, batch, x[B, F] | None, *weights) -> [B, M]``.

    The whole circuit as ONE autograd node from inputs and weights to expvals: theta is
    built in numpy from the program's affine map, and the backward maps the adjoint VJP
    on theta back through that map (grad_x = g A_inᵀ, grad_w = (Σ_b g) A_wᵀ). Keeping
    torch's graph to one node keeps per-call overhead independent of the circuit size.
    """

    @staticmethod
    def forward(ctx, prog, batch, x, *weights):  # noqa: ANN001
        ref = x if x is not None else weights[0] if weights else None
        dtype = np.float32 if ref is not None and ref.dtype == torch.float32 else np.float64
        xn = None if x is None else _np(x)
        wn = np.concatenate([_np(w).reshape(-1) for w in weights]) if weights else np.zeros(0)
        theta = prog.theta_numpy(xn, wn, batch, dtype)
        init = prog.init_for(theta, xn)
        ctx.prog, ctx.theta, ctx.init = prog, theta, init
        ctx.shapes = [w.shape for w in weights]
        ctx.states = None
        if any(ctx.needs_input_grad[2:]) and batch << prog.n_qubits <= KEEP_STATES_MAX_AMPS:
            # keep the final states: the backward sweep then skips re-running the forward
            out, ctx.states = _core.expval_and_state(prog.tape, theta, prog.observables, init)
        else:
            out = _core.expval(prog.tape, theta, prog.observables, init)
        return torch.from_numpy(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):  # noqa: ANN001
        prog, theta = ctx.prog, ctx.theta
        need_x, need_w = ctx.needs_input_grad[2], any(ctx.needs_input_grad[3:])
        grads: list[torch.Tensor | None] = [None] * (3 + len(ctx.shapes))
        if not (need_x or need_w) or prog.n_params == 0:
            return tuple(grads)
        g = _np(grad_out).astype(theta.dtype, copy=False)
        if ctx.states is not None:
            gt = _core.vjp(prog.tape, theta, prog.observables, g, final_states=ctx.states)
        else:
            gt = _core.vjp(prog.tape, theta, prog.observables, g, ctx.init)  # [B, P]
        gx, gw = prog.theta_vjp(gt, need_x, need_w)
        if gx is not None:
            grads[2] = torch.from_numpy(gx)
        if gw is not None:
            offset = 0
            for k, shape in enumerate(ctx.shapes):
                size = math.prod(shape)
                grads[3 + k] = torch.from_numpy(gw[offset : offset + size].reshape(shape))
                offset += size
        return tuple(grads)


class NoGradFunction(torch.autograd.Function):
    """Carries a non-differentiable measurement (var, probs, state) in a graph: its
    backward raises instead of silently returning zeros."""

    @staticmethod
    def forward(ctx, theta, value, what):  # noqa: ANN001
        ctx.what = what
        return value

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001
        raise NotImplementedError(
            f"gradients of {ctx.what} measurements are not implemented; "
            "differentiate expval measurements (adjoint method)"
        )
