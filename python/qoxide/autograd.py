"""torch.autograd.Function over the native engine: forward = batched expvals,
backward = the adjoint VJP (one backward sweep per sample, whatever the number of
observables)."""

from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _core


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu").contiguous().numpy()


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
