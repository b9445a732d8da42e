"""The native calls as torch custom ops (namespace ``qoxide``), each with a fake (shape-only)
implementation for torch.compile / torch.export and a vmap rule that turns ``torch.vmap``
over a call into ONE batched native call:

- ``qoxide::expval(theta[B, P], init, key, keep_states) -> (out[B, M], states[B, D | 0])``
- ``qoxide::vjp(theta[B, P], grad_out[B, M], init, states, key) -> grad_theta[B, P]``
  (one adjoint sweep per sample for the combined observable Σ_m g_m O_m)
- ``qoxide::jacobian(theta[B, P], init, key) -> [B, M, P]``

``key`` names a registered program (:mod:`qoxide.native`); ``init`` is None, one initial
state [D] or one per sample [B, D]; ``states`` are final states kept by a forward with
``keep_states`` (then the VJP skips re-running the circuit), or an empty [B, 0].

The vjp's vmap rule over cotangents alone (what ``jacrev``, ``jacfwd`` through the jvp, and
``torch.autograd.functional.jacobian(vectorize=True)`` produce) is one native adjoint
Jacobian contracted with the batch of cotangents, not one sweep per cotangent.

Autograd formulas live in :mod:`qoxide.autograd`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from . import _core
from .native import lookup

#: Native calls made through these ops, by op name (tests count them).
CALLS: dict[str, int] = {"expval": 0, "vjp": 0, "jacobian": 0, "hvp": 0}

NO_SECOND_ORDER = (
    "second derivatives through this qoxide program are not available: {reason}. "
    "Use finite differences of the gradient for second-order quantities."
)


def _np(t: Tensor) -> np.ndarray:
    """A CPU tensor's data as numpy, without a copy when it is contiguous."""
    return t.detach().contiguous().numpy()


def _init_np(init: Tensor | None) -> np.ndarray | None:
    return None if init is None else _np(init)


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype == torch.float32 else torch.complex128


# implementations (plain tensors in, fresh tensors out) -------------------------------------


def expval_impl(
    theta: Tensor, init: Tensor | None, key: int, keep_states: bool
) -> tuple[Tensor, Tensor]:
    prog = lookup(key)
    CALLS["expval"] += 1
    th = _np(theta)
    if keep_states:
        out, states = _core.expval_and_state(prog.tape, th, prog.observables, _init_np(init))
        return torch.from_numpy(out), torch.from_numpy(states)
    out = _core.expval(prog.tape, th, prog.observables, _init_np(init))
    return torch.from_numpy(out), torch.empty((th.shape[0], 0), dtype=_complex(theta.dtype))


def vjp_impl(
    theta: Tensor, grad_out: Tensor, init: Tensor | None, states: Tensor | None, key: int
) -> Tensor:
    prog = lookup(key)
    CALLS["vjp"] += 1
    th = _np(theta)
    g = _np(grad_out).astype(th.dtype, copy=False)
    if states is not None and states.shape[-1] > 0:
        gt = _core.vjp(prog.tape, th, prog.observables, g, final_states=_np(states))
    else:
        gt = _core.vjp(prog.tape, th, prog.observables, g, _init_np(init))
    return torch.from_numpy(gt)


def jacobian_impl(theta: Tensor, init: Tensor | None, key: int) -> Tensor:
    prog = lookup(key)
    CALLS["jacobian"] += 1
    return torch.from_numpy(_core.jacobian(prog.tape, _np(theta), prog.observables, _init_np(init)))


def hvp_impl(
    theta: Tensor, grad_out: Tensor, v: Tensor, init: Tensor | None, key: int
) -> Tensor:
    plan = lookup(key).shift_plan()
    if isinstance(plan, str):
        raise NotImplementedError(NO_SECOND_ORDER.format(reason=plan))
    CALLS["hvp"] += 1
    th = _np(theta)
    out = plan.hvp(th, _np(grad_out).astype(th.dtype), _np(v).astype(th.dtype), _init_np(init))
    return torch.from_numpy(out)


# the ops ------------------------------------------------------------------------------------


@torch.library.custom_op("qoxide::expval", mutates_args=())
def expval(
    theta: Tensor, init: Tensor | None, key: int, keep_states: bool
) -> tuple[Tensor, Tensor]:
    """Expectation values [B, M] and (when ``keep_states``) the final states [B, D]."""
    return expval_impl(theta, init, key, keep_states)


@torch.library.custom_op("qoxide::vjp", mutates_args=())
def vjp(
    theta: Tensor, grad_out: Tensor, init: Tensor | None, states: Tensor | None, key: int
) -> Tensor:
    """Σ_m grad_out[b, m] ∂⟨O_m⟩/∂theta[b, :]: [B, P]."""
    return vjp_impl(theta, grad_out, init, states, key)


@torch.library.custom_op("qoxide::jacobian", mutates_args=())
def jacobian(theta: Tensor, init: Tensor | None, key: int) -> Tensor:
    """∂⟨O_m⟩/∂theta: [B, M, P]."""
    return jacobian_impl(theta, init, key)


@torch.library.custom_op("qoxide::hvp", mutates_args=())
def hvp(theta: Tensor, grad_out: Tensor, v: Tensor, init: Tensor | None, key: int) -> Tensor:
    """(Σ_m grad_out[b, m] ∇²⟨O_m⟩(theta[b])) v[b]: [B, P], by parameter shift of the VJP
    (:mod:`qoxide.second_order`), all shifts in one native call."""
    return hvp_impl(theta, grad_out, v, init, key)


@hvp.register_fake
def _hvp_fake(theta, grad_out, v, init, key):  # noqa: ANN001, ANN202
    return theta.new_empty(theta.shape)


@expval.register_fake
def _expval_fake(theta, init, key, keep_states):  # noqa: ANN001, ANN202
    prog = lookup(key)
    b = theta.shape[0]
    width = 1 << prog.n_qubits if keep_states else 0
    return theta.new_empty((b, prog.n_outputs)), theta.new_empty(
        (b, width), dtype=_complex(theta.dtype)
    )


@vjp.register_fake
def _vjp_fake(theta, grad_out, init, states, key):  # noqa: ANN001, ANN202
    return theta.new_empty(theta.shape)


@jacobian.register_fake
def _jacobian_fake(theta, init, key):  # noqa: ANN001, ANN202
    prog = lookup(key)
    return theta.new_empty((theta.shape[0], prog.n_outputs, theta.shape[1]))


# vmap rules: fold the vmapped axis N into the batch axis B, one native call -----------------


def _fold(t: Tensor | None, dim: int | None, n: int, b: int) -> Tensor | None:
    """A per-row argument [B, ...] (vmapped: [N, B, ...] at ``dim``) as [N * B, ...]."""
    if t is None:
        return None
    if dim is None:
        return t.unsqueeze(0).expand(n, *t.shape).reshape(n * b, *t.shape[1:])
    t = t.movedim(dim, 0)
    return t.reshape(n * b, *t.shape[2:])


def _fold_init(init: Tensor | None, dim: int | None, n: int, b: int) -> Tensor | None:
    """Initial states for N * B rows: one shared [D] stays shared."""
    if init is None or (dim is None and init.dim() == 1):
        return init
    if dim is not None:
        init = init.movedim(dim, 0)  # [N, D] or [N, B, D]
        if init.dim() == 2:
            init = init.unsqueeze(1)
        return init.expand(n, b, init.shape[-1]).reshape(n * b, init.shape[-1])
    return _fold(init, None, n, b)


@expval.register_vmap
def _expval_vmap(info, in_dims, theta, init, key, keep_states):  # noqa: ANN001, ANN202
    n = info.batch_size
    t_dim, i_dim = in_dims[0], in_dims[1]
    b = theta.shape[1] if t_dim is not None else theta.shape[0]
    out, states = expval(
        _fold(theta, t_dim, n, b), _fold_init(init, i_dim, n, b), key, keep_states
    )
    return (out.reshape(n, b, -1), states.reshape(n, b, -1)), (0, 0)


@vjp.register_vmap
def _vjp_vmap(info, in_dims, theta, grad_out, init, states, key):  # noqa: ANN001, ANN202
    n = info.batch_size
    t_dim, g_dim, i_dim, s_dim = in_dims[:4]
    if t_dim is None and i_dim is None and s_dim is None:
        # only the cotangents are batched: one Jacobian serves all N of them
        jac = jacobian(theta, init, key)  # [B, M, P]
        g = grad_out.movedim(g_dim, 0).to(jac.dtype)  # [N, B, M]
        return torch.einsum("nbm,bmp->nbp", g, jac), 0
    b = theta.shape[1] if t_dim is not None else theta.shape[0]
    gt = vjp(
        _fold(theta, t_dim, n, b),
        _fold(grad_out, g_dim, n, b),
        _fold_init(init, i_dim, n, b),
        _fold(states, s_dim, n, b),
        key,
    )
    return gt.reshape(n, b, -1), 0


@jacobian.register_vmap
def _jacobian_vmap(info, in_dims, theta, init, key):  # noqa: ANN001, ANN202
    n = info.batch_size
    t_dim, i_dim = in_dims[:2]
    b = theta.shape[1] if t_dim is not None else theta.shape[0]
    jac = jacobian(_fold(theta, t_dim, n, b), _fold_init(init, i_dim, n, b), key)
    return jac.reshape(n, b, *jac.shape[1:]), 0


@hvp.register_vmap
def _hvp_vmap(info, in_dims, theta, grad_out, v, init, key):  # noqa: ANN001, ANN202
    n = info.batch_size
    t_dim, g_dim, v_dim, i_dim = in_dims[:4]
    b = theta.shape[1] if t_dim is not None else theta.shape[0]
    out = hvp(
        _fold(theta, t_dim, n, b),
        _fold(grad_out, g_dim, n, b),
        _fold(v, v_dim, n, b),
        _fold_init(init, i_dim, n, b),
        key,
    )
    return out.reshape(n, b, -1), 0
