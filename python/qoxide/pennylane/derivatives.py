"""Adjoint derivatives of a :class:`~.translate.Stack` of expectation-value tapes.

The native Jacobian is ``[rows, M, P]`` over theta columns; the native VJP is ``[rows, P]``
from ONE backward sweep per row with the combined observable ``sum_m g_m O_m``. Both are
mapped back to each tape's trainable parameters: a broadcast parameter (one value per row)
gets its own row's derivative, a shared parameter the sum over the tape's rows.
Parameters of observables are not differentiated (PennyLane warns about them): zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pennylane.measurements import ExpectationMP
from pennylane.typing import TensorLike

from .. import _core
from .observables import to_native_for_adjoint
from .translate import Job, Stack


def jacobians(st: Stack, jacobian: Callable | None = None) -> list[TensorLike]:
    """Per tape: tuple over measurements (if several) of tuple over trainable parameters
    (if several) of arrays, shape [B] for a broadcast tape. ``jacobian``: a sharded
    runner's (default ``_core.jacobian``)."""
    jacobian = _core.jacobian if jacobian is None else jacobian
    jac = jacobian(st.tape, st.theta, _observables(st), st.init)  # [R, M, P]
    out = []
    for job, sl in zip(st.jobs, st.slices, strict=True):
        rows = jac[sl]
        batched = job.circuit.batched
        cols = _trainable_columns(job)
        per_mp = []
        for m in range(rows.shape[1]):
            per_param = [
                (np.zeros(rows.shape[0]) if batched else np.array(0.0))
                if col is None
                else (rows[:, m, col] if batched else rows[0, m, col, ...])
                for col in cols
            ]
            per_mp.append(per_param[0] if len(per_param) == 1 else tuple(per_param))
        out.append(per_mp[0] if len(per_mp) == 1 else tuple(per_mp))
    return out


def vjps(
    st: Stack, cotangents: list, per_row: bool = False, vjp_fn: Callable | None = None
) -> list[tuple]:
    """Per tape: tuple over trainable parameters, each shaped like the parameter.
    ``vjp_fn``: a sharded runner's (default ``_core.vjp``).

    ``per_row``: a broadcast tape's shared parameters get their per-row gradients [B] (not
    the sum), so all entries share one shape. PennyLane's torch boundary needs that (it
    stacks the entries), and torch sums a [B] gradient of a scalar input itself.
    """
    observables = _observables(st)  # first: a probs measurement is the error, not its cotangent
    grad_out = np.concatenate(
        [_grad_rows(job, dy) for job, dy in zip(st.jobs, cotangents, strict=True)]
    ).astype(st.theta.dtype, copy=False)
    vjp_fn = _core.vjp if vjp_fn is None else vjp_fn
    vjp = vjp_fn(st.tape, st.theta, observables, grad_out, st.init)  # [R, P]
    out = []
    for job, sl in zip(st.jobs, st.slices, strict=True):
        rows = vjp[sl]
        grads = []
        rowwise = per_row and job.circuit.batched
        for t, col in zip(job.tape.trainable_params, _trainable_columns(job), strict=True):
            value = job.tape.par_info[t]["op"].data[job.tape.par_info[t]["p_idx"]]
            if col is None:  # an observable's parameter: not differentiated
                grads.append(
                    np.zeros((len(rows),) if rowwise and not np.ndim(value) else np.shape(value))
                )
            elif np.ndim(value) or rowwise:
                grads.append(rows[:, col])
            else:
                grads.append(rows[:, col].sum())
        out.append(tuple(grads))
    return out


def _observables(st: Stack) -> list[_core.Observable]:
    job = st.jobs[0]
    obs = []
    for mp in job.tape.measurements:
        expval = isinstance(mp, ExpectationMP) and mp.obs is not None
        native = to_native_for_adjoint(mp.obs, job.wire_index) if expval else None
        if native is None:
            raise ValueError(f"adjoint differentiation of {mp} is not supported by qoxide.qubit")
        obs.append(native.to_core(st.n_qubits))
    return obs


def _trainable_columns(job: Job) -> list[int | None]:
    """Theta column of each trainable parameter; None for an observable's parameter."""
    n_ops = len(job.tape.operations)
    cols: list[int | None] = []
    for t in job.tape.trainable_params:
        info = job.tape.par_info[t]
        if info["op_idx"] >= n_ops:
            cols.append(None)
            continue
        col = job.circuit.columns.get((info["op_idx"], info["p_idx"]))
        if col is None:
            raise ValueError(
                f"qoxide.qubit cannot differentiate {info['op'].name} natively; "
                "its parameter is not a gate angle (adjoint preprocessing should have "
                "decomposed it)"
            )
        cols.append(col)
    return cols


def _grad_rows(job: Job, dy: object) -> np.ndarray:
    """Cotangents of one tape as [rows, M]: one per measurement, each shaped like its
    result (a scalar, or [B] for a broadcast tape). A single measurement's cotangent may
    also come wrapped in a length-1 sequence (``np.array([x])``, as lightning and
    default.qubit accept). Complex cotangents of real results are refused unless their
    imaginary part is zero: dropping it silently would return a wrong VJP."""
    mps = job.tape.measurements
    n_mps = len(mps)
    rows = job.circuit.rows
    want = (rows,) if job.circuit.batched else ()
    if n_mps == 1:
        a = np.asarray(dy)
        parts = [a[0] if a.shape == (1, *want) else a]
    else:
        parts = list(dy) if isinstance(dy, (list, tuple)) or np.ndim(dy) else [dy]
        if len(parts) != n_mps:
            raise ValueError(
                f"compute_vjp: the tape has {n_mps} measurements ({', '.join(map(str, mps))}) "
                f"but got {len(parts)} cotangent(s); pass one cotangent per measurement"
            )
    g = np.zeros((rows, n_mps))
    for m, part in enumerate(parts):
        a = np.asarray(part)
        if a.shape != want:
            raise ValueError(
                f"compute_vjp: the cotangent of {mps[m]} has shape {a.shape}; expected "
                f"{want} (one value per {'broadcast row' if want else 'result'}; several "
                "VJPs of one tape at once are not supported)"
            )
        if np.iscomplexobj(a):
            if np.any(a.imag != 0):
                raise ValueError(
                    f"compute_vjp: the cotangent of {mps[m]} is complex with a non-zero "
                    "imaginary part; an expectation value is real, so its cotangent must be "
                    "real"
                )
            a = a.real
        try:
            g[:, m] = a.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"compute_vjp: the cotangent of {mps[m]} is not numeric: {part!r}"
            ) from err
    return g
