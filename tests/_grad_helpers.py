"""Shared helpers for test_gradients / test_errors / test_concurrency / test_api.

Kept separate from conftest.py / reference.py (owned by another suite) on purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import qoxide as qx
from qoxide import _core

try:  # the class pyo3 uses for Rust panics that cross the FFI boundary
    from pyo3_runtime import PanicException  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - the module only exists once a panic was raised
    PanicException = None


def is_panic(exc: BaseException) -> bool:
    """Is ``exc`` a pyo3 PanicException (a Rust panic that reached Python)?"""
    return type(exc).__name__ == "PanicException" or (
        PanicException is not None and isinstance(exc, PanicException)
    )


def expect_error(exc_type: type[BaseException], fn: Callable[[], object], *fragments: str) -> str:
    """Call ``fn``; assert it raises ``exc_type`` (never a Rust panic) and that the message
    contains every fragment (case-insensitive). Returns the message."""
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - PanicException derives from BaseException
        assert not is_panic(e), f"a Rust panic reached Python: {e!r}"
        assert isinstance(e, exc_type), f"expected {exc_type.__name__}, got {type(e).__name__}: {e}"
        msg = str(e)
        for frag in fragments:
            assert frag.lower() in msg.lower(), f"{frag!r} not in error message {msg!r}"
        return msg
    raise AssertionError(f"expected {exc_type.__name__}, nothing was raised")


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Temporarily run the compute pool with ``n`` threads."""
    old = qx.get_num_threads()
    qx.set_num_threads(n)
    try:
        yield
    finally:
        qx.set_num_threads(old)


def theta_of(prog: qx.Program, x: np.ndarray | None, ws: list[np.ndarray], dtype=np.float64):
    """theta[B, P] of a compiled program for a batch of inputs x[B, F] and weights."""
    wflat = np.concatenate([np.asarray(w, np.float64).reshape(-1) for w in ws]) if ws else None
    batch = 1 if x is None else x.shape[0]
    return prog.theta_numpy(x, wflat, batch, dtype)


def central_fd_jacobian(
    tape: _core.Tape,
    theta: np.ndarray,
    observables: list,
    eps: float = 1e-5,
    init_state: np.ndarray | None = None,
) -> np.ndarray:
    """Central finite differences of ``_core.expval`` w.r.t. every theta column: [B, M, P]."""
    theta = np.ascontiguousarray(theta, dtype=np.float64)
    b, p = theta.shape
    m = len(observables)
    jac = np.zeros((b, m, p))
    for j in range(p):
        tp = theta.copy()
        tm = theta.copy()
        tp[:, j] += eps
        tm[:, j] -= eps
        fp = _core.expval(tape, tp, observables, init_state)
        fm = _core.expval(tape, tm, observables, init_state)
        jac[:, :, j] = (fp - fm) / (2 * eps)
    return jac


def random_hermitian(k: int, rng: np.random.Generator) -> np.ndarray:
    d = 2**k
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    return (a + a.conj().T) / 2


def random_unitary(k: int, rng: np.random.Generator) -> np.ndarray:
    d = 2**k
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    q, r = np.linalg.qr(a)
    return q * (np.diag(r) / np.abs(np.diag(r)))


# every parametrised gate: name -> (n_params, n_wires, apply(q, params, wires, inverse))
PARAM_GATES: dict[str, tuple[int, int, Callable]] = {
    "RX": (1, 1, lambda q, p, w, inv: q.rx(p[0], w[0], inverse=inv)),
    "RY": (1, 1, lambda q, p, w, inv: q.ry(p[0], w[0], inverse=inv)),
    "RZ": (1, 1, lambda q, p, w, inv: q.rz(p[0], w[0], inverse=inv)),
    "PhaseShift": (1, 1, lambda q, p, w, inv: q.phase_shift(p[0], w[0], inverse=inv)),
    "Rot": (3, 1, lambda q, p, w, inv: q.rot(p[0], p[1], p[2], w[0], inverse=inv)),
    "U1": (1, 1, lambda q, p, w, inv: q.u1(p[0], w[0], inverse=inv)),
    "U2": (2, 1, lambda q, p, w, inv: q.u2(p[0], p[1], w[0], inverse=inv)),
    "U3": (3, 1, lambda q, p, w, inv: q.u3(p[0], p[1], p[2], w[0], inverse=inv)),
    "GlobalPhase": (1, 0, lambda q, p, w, inv: q.global_phase(p[0], inverse=inv)),
    "CRX": (1, 2, lambda q, p, w, inv: q.crx(p[0], w[0], w[1], inverse=inv)),
    "CRY": (1, 2, lambda q, p, w, inv: q.cry(p[0], w[0], w[1], inverse=inv)),
    "CRZ": (1, 2, lambda q, p, w, inv: q.crz(p[0], w[0], w[1], inverse=inv)),
    "CRot": (3, 2, lambda q, p, w, inv: q.crot(p[0], p[1], p[2], w[0], w[1], inverse=inv)),
    "ControlledPhaseShift": (
        1,
        2,
        lambda q, p, w, inv: q.controlled_phase_shift(p[0], w[0], w[1], inverse=inv),
    ),
    "IsingXX": (1, 2, lambda q, p, w, inv: q.ising_xx(p[0], w[0], w[1], inverse=inv)),
    "IsingYY": (1, 2, lambda q, p, w, inv: q.ising_yy(p[0], w[0], w[1], inverse=inv)),
    "IsingZZ": (1, 2, lambda q, p, w, inv: q.ising_zz(p[0], w[0], w[1], inverse=inv)),
    "IsingXY": (1, 2, lambda q, p, w, inv: q.ising_xy(p[0], w[0], w[1], inverse=inv)),
    "MultiRZ": (1, 3, lambda q, p, w, inv: q.multi_rz(p[0], w, inverse=inv)),
}


def layered_circuit(n_qubits: int, n_obs: int = 2):
    """A generic data-encoding + entangling-layers circuit used by the big/batch tests.

    x: [F = n_qubits], w: [L, n_qubits, 2]."""

    @qx.circuit(n_qubits=n_qubits)
    def net(q, x, w):
        for i in range(n_qubits):
            q.h(i)
            q.ry(x[i], i)
        for k in range(w.shape[0]):
            for i in range(n_qubits - 1):
                q.cnot(i, i + 1)
            for i in range(n_qubits):
                q.rx(w[k, i, 0], i)
                q.rz(w[k, i, 1] + 0.5 * x[i], i)
        return [q.expval(qx.Z(i) @ qx.X((i + 1) % n_qubits)) for i in range(n_obs)]

    return net
