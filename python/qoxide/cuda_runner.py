"""Native requests on a GPU from host arrays: the runner behind ``qoxide.gpu``.

:class:`CudaRunner` has the interface of :func:`qoxide.runner.run`, ``_core.jacobian`` and
``_core.vjp`` (as the sharded runner does), so the PennyLane device swaps it in. What the
CUDA kernels run — expectation values of Pauli sums on 1 to 32 qubits from ``|0…0⟩``,
their Jacobian and VJP — runs on the GPU (:func:`qoxide.cuda_ops.run`); anything else
(probs, var, samples, states, Hermitian or projector observables, initial states) runs on
qoxide's CPU engine, and the runner counts both in :attr:`CudaRunner.calls`.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

import numpy as np
import torch

from . import _core, cuda_ops, runner
from .cuda_ops import MAX_CUDA_QUBITS, GpuProgram

# programs kept uploaded, most recently used last
_CACHE_SIZE = 64


class CudaRunner:
    """Runs native tapes on GPU ``device`` (an index or a ``torch.device``)."""

    def __init__(self, device: int | str | torch.device = 0) -> None:
        d = torch.device("cuda", device) if isinstance(device, int) else torch.device(device)
        if d.type != "cuda":
            raise ValueError(f"CudaRunner runs on a CUDA device, got {d}")
        self.device = torch.device("cuda", d.index if d.index is not None else 0)
        self.calls: Counter[str] = Counter()  # "gpu" / "cpu" launches, for tests and users
        self._programs: OrderedDict[tuple, tuple[Any, GpuProgram]] = OrderedDict()

    # the runner interface -------------------------------------------------------------
    def run(
        self, tape: _core.Tape, theta: np.ndarray, init: np.ndarray | None, requests: list
    ) -> list[np.ndarray]:
        obs = [r.obs for r in requests]
        prog = None
        if requests and all(r.kind == "expval" for r in requests):
            prog = self._program(tape, obs, init)
        if prog is None:
            self.calls["cpu"] += 1
            return runner.run(tape, theta, init, requests)
        out, _, _ = self._launch(prog, theta)
        return [out[:, m] for m in range(out.shape[1])]

    def jacobian(
        self, tape: _core.Tape, theta: np.ndarray, observables: list, init: np.ndarray | None = None
    ) -> np.ndarray:
        prog = self._program(tape, observables, init)
        if prog is None:
            self.calls["cpu"] += 1
            return _core.jacobian(tape, theta, observables, init)
        return self._launch(prog, theta, jacobian=True)[2]

    def vjp(
        self,
        tape: _core.Tape,
        theta: np.ndarray,
        observables: list,
        grad_out: np.ndarray,
        init: np.ndarray | None = None,
    ) -> np.ndarray:
        prog = self._program(tape, observables, init)
        if prog is None:
            self.calls["cpu"] += 1
            return _core.vjp(tape, theta, observables, grad_out, init)
        return self._launch(prog, theta, grad_out=grad_out)[1]

    # helpers ----------------------------------------------------------------------------
    def _program(
        self, tape: _core.Tape, observables: list, init: np.ndarray | None
    ) -> GpuProgram | None:
        """The uploaded program, or None when the kernels do not run this case."""
        if init is not None or tape.n_qubits > MAX_CUDA_QUBITS or not observables:
            return None
        key = (id(tape), *map(id, observables))
        hit = self._programs.get(key)
        if hit is not None:
            self._programs.move_to_end(key)
            return hit[1]
        try:
            prog = cuda_ops.upload(tape, observables, self.device.index or 0)
        except NotImplementedError:  # a Hermitian or projector observable
            return None
        # the tape and observables stay referenced: their ids cannot be reused meanwhile
        self._programs[key] = ((tape, list(observables)), prog)
        if len(self._programs) > _CACHE_SIZE:
            self._programs.popitem(last=False)
        return prog

    def _launch(
        self,
        prog: GpuProgram,
        theta: np.ndarray,
        grad_out: np.ndarray | None = None,
        jacobian: bool = False,
    ) -> tuple[np.ndarray, Any, Any]:
        self.calls["gpu"] += 1
        dtype = theta.dtype  # float32: complex64 kernels; float64: complex128
        th = torch.as_tensor(np.ascontiguousarray(theta)).to(self.device)
        g = None if grad_out is None else torch.as_tensor(grad_out).to(self.device)
        out, _, gt, jac = cuda_ops.run(prog, th, grad_out=g, jacobian=jacobian)

        def host(t: torch.Tensor | None) -> np.ndarray | None:
            return None if t is None else t.cpu().numpy().astype(dtype, copy=False)

        return host(out), host(gt), host(jac)  # type: ignore[return-value]
