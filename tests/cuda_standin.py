"""A stand-in for ``_core.CudaSmallProgram`` for tests without a GPU: the same launch
contract (device pointers in and out), computed by the CPU engine and written into the
pointers it is given, here host memory of CPU tensors. It checks the Python glue around
the kernels (buffers, shapes, dtypes, arguments), not the kernels."""

from __future__ import annotations

import ctypes

import numpy as np
from qoxide import _core


def _array(ptr: int, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = (ctypes.c_char * max(n, 1)).from_address(ptr)
    return np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape))).reshape(shape)


class EngineBackedProgram:
    """Stands in for _core.CudaSmallProgram: same launch contract, computed on the CPU."""

    def __init__(self, tape: _core.Tape, observables: list, device: int = 0) -> None:
        self.tape, self.observables = tape, list(observables)
        self.n_qubits, self.n_params = tape.n_qubits, tape.n_params
        self.n_outputs = len(self.observables)
        self.launches: list[dict] = []

    def launch(  # type: ignore[no-untyped-def]
        self, precision, batch, theta, out, stream, grad_out=0, grad_theta=0, state=0, jac=0
    ):
        self.launches.append({"precision": precision, "batch": batch, "stream": stream})
        b, p, m = batch, self.n_params, self.n_outputs
        tape, obs = self.tape, self.observables
        th = _array(theta, (b, p), np.float64).copy() if p else np.zeros((b, 0))
        _array(out, (b, m), np.float64)[:] = _core.expval(tape, th, obs)
        if state:
            _array(state, (b, 1 << self.n_qubits), np.complex128)[:] = _core.state(tape, th)
        if grad_out:
            g = _array(grad_out, (b, m), np.float64).copy()
            _array(grad_theta, (b, p), np.float64)[:] = _core.vjp(tape, th, obs, g)
        if jac:
            _array(jac, (b, m, p), np.float64)[:] = _core.jacobian(tape, th, obs)


class EngineBackedLargeProgram:
    """Stands in for _core.CudaLargeProgram: one statevector per launch, same pointers."""

    partial_len = 16

    def __init__(self, tape: _core.Tape, observables: list, device: int = 0) -> None:
        self.tape, self.observables = tape, list(observables)
        self.n_qubits, self.n_params = tape.n_qubits, tape.n_params
        self.n_outputs = len(self.observables)
        self.launches: list[dict] = []
        self.memory_checks: list[tuple[str, bool]] = []

    def check_memory(self, precision: str, adjoint: bool) -> None:
        self.memory_checks.append((precision, adjoint))

    def launch(  # type: ignore[no-untyped-def]
        self, precision, phi, partial, theta, out, stream, lam=0, grad_out=0, grad=0, jac=0
    ):
        self.launches.append({"precision": precision, "stream": stream, "lam": lam != 0})
        assert partial != 0 and phi != 0
        p, m, d = self.n_params, self.n_outputs, 1 << self.n_qubits
        tape, obs = self.tape, self.observables
        th = _array(theta, (1, p), np.float64).copy() if p else np.zeros((1, 0))
        _array(out, (m,), np.float64)[:] = _core.expval(tape, th, obs)[0]
        if grad_out:
            g = _array(grad_out, (1, m), np.float64).copy()
            _array(grad, (p,), np.float64)[:] = _core.vjp(tape, th, obs, g)[0]
        if jac:
            _array(jac, (m, p), np.float64)[:] = _core.jacobian(tape, th, obs)[0]
        if not (grad_out or jac):
            cdt = np.complex64 if precision == "complex64" else np.complex128
            _array(phi, (d,), cdt)[:] = _core.state(tape, th)[0]
