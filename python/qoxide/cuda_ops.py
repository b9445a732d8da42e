"""The native ops on torch CUDA tensors: CUDA kernels of ``qoxide::expval``, ``qoxide::vjp``
and ``qoxide::jacobian`` (torch's dispatcher picks them for CUDA inputs, so eager autograd,
torch.compile and torch.func reach them the same way they reach the CPU ones).

Each program is uploaded once per GPU (:class:`qoxide._core.CudaSmallProgram`); a call
allocates its outputs with torch (the caching allocator, on the current stream), passes
their ``data_ptr()``s and torch's current stream, and returns: no host copy and no
synchronisation. One launch runs the whole circuit for the batch and measures; the
backward is one launch that reruns the forward and sweeps back (the adjoint VJP), so no
state is kept between them. Registers of 1 to 12 qubits take the batched small-register
kernel (a sample's state in shared memory); 13 to 32 qubits the large-register kernels (one
statevector in GPU memory at a time, fused low-qubit segments, the adjoint sweep with φ
and λ only), sample after sample on the same stream. Observables must be Pauli sums;
anything else raises NotImplementedError naming what to do instead.
"""

from __future__ import annotations

import weakref

import torch
from torch import Tensor

from . import _core, ops
from .native import NativeProgram, lookup

# Widest register of the batched small-register kernel (each state in shared memory).
MAX_SMALL_QUBITS = 12
# Widest register the CUDA kernels run (bit masks in their op encoding are 32-bit).
MAX_CUDA_QUBITS = 32

GpuProgram = _core.CudaSmallProgram | _core.CudaLargeProgram

_RESIDENT: weakref.WeakKeyDictionary[NativeProgram, dict[int, GpuProgram]] = (
    weakref.WeakKeyDictionary()
)


def _index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def upload(tape: _core.Tape, observables: list, device: int) -> GpuProgram:
    """``tape`` with ``observables`` on GPU ``device``: the batched small-register program
    up to 12 qubits, the large-register one above."""
    if tape.n_qubits > MAX_CUDA_QUBITS:
        raise NotImplementedError(
            f"qoxide runs circuits of up to {MAX_CUDA_QUBITS} qubits on CUDA; this one has "
            f"{tape.n_qubits}. Shard it over processes (qoxide.distributed) instead."
        )
    if tape.n_qubits <= MAX_SMALL_QUBITS:
        return _core.CudaSmallProgram(tape, observables, device)
    return _core.CudaLargeProgram(tape, observables, device)


def resident(key: int, device: torch.device) -> GpuProgram:
    """Program ``key`` uploaded to ``device`` (once; freed with the program)."""
    prog = lookup(key)
    per = _RESIDENT.setdefault(prog, {})
    idx = _index(device)
    found = per.get(idx)
    if found is None:
        found = per[idx] = upload(prog.tape, prog.observables, idx)
    return found


def _check(theta: Tensor, init: Tensor | None) -> None:
    if init is not None:
        raise NotImplementedError(
            "initial states (state preparation, amplitude embedding) do not run on CUDA yet; "
            "move the inputs with .cpu()"
        )
    if theta.dim() != 2:
        raise ValueError(f"theta must be [B, P], got shape {tuple(theta.shape)}")


def _precision(dtype: torch.dtype) -> str:
    return "complex64" if dtype == torch.float32 else "complex128"


def _stream(device: torch.device) -> int:
    return int(torch.cuda.current_stream(device).cuda_stream)


def _f64(t: Tensor) -> Tensor:
    return t.detach().to(torch.float64).contiguous()


def _launch(
    key: int,
    theta: Tensor,
    init: Tensor | None,
    *,
    grad_out: Tensor | None = None,
    jacobian: bool = False,
    keep_states: bool = False,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    _check(theta, init)
    prog = resident(key, theta.device)
    return run(prog, theta, grad_out=grad_out, jacobian=jacobian, keep_states=keep_states)


def run(
    prog: GpuProgram,
    theta: Tensor,
    *,
    grad_out: Tensor | None = None,
    jacobian: bool = False,
    keep_states: bool = False,
) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """(expvals [B, M], states [B, D] or None, grad_theta [B, P] or None, jac or None),
    float64 / complex128, of ``prog`` at ``theta`` [B, P] (a CUDA tensor on the program's
    GPU; its dtype picks the precision), queued on the current stream."""
    dev = theta.device
    th = _f64(theta)
    b, m, p = th.shape[0], prog.n_outputs, prog.n_params
    if th.shape[1] != p:
        raise ValueError(f"theta has {th.shape[1]} columns, the program takes {p}")
    f64 = {"dtype": torch.float64, "device": dev}
    out = torch.empty((b, m), **f64)
    states = (
        torch.empty((b, 1 << prog.n_qubits), dtype=torch.complex128, device=dev)
        if keep_states
        else None
    )
    g = gt = jac = None
    if grad_out is not None:
        g = _f64(grad_out)
        if tuple(g.shape) != (b, m):
            raise ValueError(f"grad_out must be [{b}, {m}], got {tuple(g.shape)}")
        gt = torch.empty((b, p), **f64)
    if jacobian:
        jac = torch.empty((b, m, p), **f64)
    if b and prog.n_qubits <= MAX_SMALL_QUBITS:
        prog.launch(
            _precision(theta.dtype),
            b,
            th.data_ptr(),
            out.data_ptr(),
            _stream(dev),
            grad_out=0 if g is None else g.data_ptr(),
            grad_theta=0 if gt is None else gt.data_ptr(),
            state=0 if states is None else states.data_ptr(),
            jac=0 if jac is None else jac.data_ptr(),
        )
    elif b:
        _launch_large(prog, theta.dtype, th, out, states, g, gt, jac)  # type: ignore[arg-type]
    return out, states, gt, jac


def _launch_large(
    prog: _core.CudaLargeProgram,
    dtype: torch.dtype,
    th: Tensor,
    out: Tensor,
    states: Tensor | None,
    g: Tensor | None,
    gt: Tensor | None,
    jac: Tensor | None,
) -> None:
    """The large-register kernels, one sample after another on the current stream, the
    scratch (φ, λ, partial sums) allocated once for the batch."""
    precision = _precision(dtype)
    adjoint = g is not None or jac is not None
    prog.check_memory(precision, adjoint)  # MemoryError before anything is allocated
    dev = th.device
    phi = torch.empty(1 << prog.n_qubits, dtype=_complex(dtype), device=dev)
    lam = torch.empty_like(phi) if adjoint else None
    partial = torch.empty(max(prog.partial_len, 1), dtype=torch.float64, device=dev)
    stream = _stream(dev)

    def ptr(t: Tensor | None, row: int) -> int:
        return 0 if t is None else t[row].data_ptr()

    for row in range(th.shape[0]):
        prog.launch(
            precision,
            phi.data_ptr(),
            partial.data_ptr(),
            ptr(th, row),
            ptr(out, row),
            stream,
            lam=0 if lam is None else lam.data_ptr(),
            grad_out=ptr(g, row),
            grad=ptr(gt, row),
            jac=ptr(jac, row),
        )
        if states is not None:  # a forward-only run leaves the final state in φ
            states[row].copy_(phi)


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype == torch.float32 else torch.complex128


@ops.expval.register_kernel("cuda")
def _expval_cuda(
    theta: Tensor, init: Tensor | None, key: int, keep_states: bool
) -> tuple[Tensor, Tensor]:
    out, states, _, _ = _launch(key, theta, init, keep_states=keep_states)
    if states is None:
        states = theta.new_empty((theta.shape[0], 0), dtype=_complex(theta.dtype))
    else:
        states = states.to(_complex(theta.dtype))
    return out.to(theta.dtype), states


@ops.vjp.register_kernel("cuda")
def _vjp_cuda(
    theta: Tensor, grad_out: Tensor, init: Tensor | None, states: Tensor | None, key: int
) -> Tensor:
    # the launch reruns the forward beside the sweep: kept states are not needed
    _, _, gt, _ = _launch(key, theta, init, grad_out=grad_out)
    assert gt is not None
    return gt.to(theta.dtype)


@ops.jacobian.register_kernel("cuda")
def _jacobian_cuda(theta: Tensor, init: Tensor | None, key: int) -> Tensor:
    _, _, _, jac = _launch(key, theta, init, jacobian=True)
    assert jac is not None
    return jac.to(theta.dtype)


@ops.hvp.register_kernel("cuda")
def _hvp_cuda(theta: Tensor, grad_out: Tensor, v: Tensor, init: Tensor | None, key: int) -> Tensor:
    raise NotImplementedError(
        "second derivatives through a qoxide circuit do not run on CUDA yet (first "
        "derivatives do); compute them on the CPU"
    )
