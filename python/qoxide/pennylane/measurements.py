"""Measurements of a :class:`~.translate.Stack`: native calls over all its rows, then one
PennyLane result per tape.

Analytic: expectation values, variances (of observables with a native form) and
probabilities come straight from the core, one call per kind for the whole stack. Any other
state measurement (``qml.state``, density matrices, entropies, observables without a native
form, custom ``StateMeasurement``s) is PennyLane's own ``process_state`` on the native final
state, rotated by the measurement's diagonalizing gates when it has them.

With shots: bits are sampled natively (one call per group of measurements sharing a basis)
and turned into results by PennyLane's ``process_samples``, shot-vector bin by bin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pennylane.measurements import (
    ExpectationMP,
    MeasurementProcess,
    ProbabilityMP,
    VarianceMP,
)
from pennylane.operation import Operator
from pennylane.typing import Result
from pennylane.wires import Wires

from .. import runner
from .observables import to_native
from .translate import Job, Stack, stack_with

#: Draws the seed of one native sampling call.
SeedFn = Callable[[], int]
#: Evaluates native requests on a stack's tape (``runner.run``'s signature).
RunFn = Callable[..., list]


_NATIVE_MOMENTS = {ExpectationMP: runner.expval, VarianceMP: runner.var}


def measure_analytic(st: Stack, run: RunFn | None = None) -> list[Result]:
    """Results of every tape in ``st`` without shots; ``run`` evaluates native requests (a
    sharded runner's; default ``runner.run``)."""
    run = runner.run if run is None else run
    job0 = st.jobs[0]
    mps = job0.tape.measurements
    per_mp: list[Callable[[Job, slice], object] | None] = [None] * len(mps)

    # expval, var (observables with a native form) and probs: the shared runner, one native
    # call per kind for the whole stack
    requests: list[tuple[int, runner.Request]] = []
    for k, mp in enumerate(mps):
        if type(mp) in _NATIVE_MOMENTS and mp.obs is not None and mp.mv is None:
            obs = to_native(mp.obs, job0.wire_index)
            if obs is not None:
                requests.append((k, _NATIVE_MOMENTS[type(mp)](obs.to_core(st.n_qubits))))
        elif type(mp) is ProbabilityMP and mp.obs is None and mp.mv is None:
            requests.append((k, runner.probs(_register_wires(mp.wires, job0))))
    values = run(st.tape, st.theta, st.init, [r for _, r in requests])
    for (k, _), value in zip(requests, values, strict=True):
        per_mp[k] = _rows(value)

    plain = None  # the native final state, computed at most once
    for k, mp in enumerate(mps):
        if per_mp[k] is not None:
            continue
        sparse = _sparse(mp)
        gates = [] if sparse else mp.diagonalizing_gates()
        if gates:
            per_mp[k] = _from_state(mp, _state(stack_with(st, gates), run))
            continue
        plain = _state(st, run) if plain is None else plain
        per_mp[k] = (_sparse_moment if sparse else _from_state)(mp, plain)
    return [
        _assemble([f(job, sl) for f in per_mp]) for job, sl in zip(st.jobs, st.slices, strict=True)
    ]


def measure_sampled(st: Stack, seed: SeedFn) -> list[Result]:
    """Results of every tape in ``st`` with shots (all tapes of a stack share their shots)."""
    job0 = st.jobs[0]
    mps = job0.tape.measurements
    shots = job0.tape.shots
    # Measurements already in the computational basis share one sampling call; any other
    # is sampled in its own basis.
    rotations = [mp.diagonalizing_gates() for mp in mps]
    computational = [k for k, gates in enumerate(rotations) if not gates]
    groups: list[tuple[list[int], list[Operator]]] = [(computational, [])] if computational else []
    groups += [([k], gates) for k, gates in enumerate(rotations) if gates]

    # samples[k]: (wire labels, [rows, shots, k] bits) for measurement k
    samples: dict[int, tuple[Wires, np.ndarray]] = {}
    for members, gates in groups:
        labels = _sampled_wires([mps[k] for k in members], job0)
        target = stack_with(st, gates) if gates else st
        request = runner.sample([job0.wire_index[w] for w in labels], shots.total_shots, seed())
        (bits,) = runner.run(target.tape, target.theta, target.init, [request])
        bits = bits.astype(np.int64)
        for k in members:
            samples[k] = (labels, bits)

    results = []
    for job, sl in zip(st.jobs, st.slices, strict=True):
        per_bin = []
        for lo, hi in shots.bins():
            values = []
            for k, mp in enumerate(mps):
                labels, bits = samples[k]
                rows = bits[sl] if job.circuit.batched else bits[sl.start]
                values.append(mp.process_samples(rows[..., lo:hi, :], wire_order=labels))
            per_bin.append(_assemble(values))
        results.append(tuple(per_bin) if shots.has_partitioned_shots else per_bin[0])
    return results


def _rows(values: np.ndarray) -> Callable[[Job, slice], np.ndarray]:
    """Per-tape view of a [rows, ...] native result: [B, ...] if broadcast, else [...]."""

    def take(job: Job, sl: slice) -> np.ndarray:
        return values[sl] if job.circuit.batched else values[sl.start, ...]

    return take


def _from_state(mp: MeasurementProcess, states: np.ndarray) -> Callable[[Job, slice], object]:
    def take(job: Job, sl: slice) -> object:
        s = states[sl] if job.circuit.batched else states[sl.start]
        return mp.process_state(s, wire_order=job.wire_order)

    return take


def _sparse(mp: MeasurementProcess) -> bool:
    return (
        isinstance(mp, (ExpectationMP, VarianceMP))
        and mp.obs is not None
        and (mp.obs.has_sparse_matrix and not mp.obs.has_diagonalizing_gates)
    )


def _sparse_moment(mp: MeasurementProcess, states: np.ndarray) -> Callable[[Job, slice], object]:
    """<H> or Var(H) of an observable known only as a sparse matrix (SparseHamiltonian)."""

    def take(job: Job, sl: slice) -> np.ndarray:
        psi = states[sl].astype(np.complex128)
        h = mp.obs.sparse_matrix(wire_order=job.wire_order)
        h_psi = (h @ psi.T).T
        mean = np.real(np.einsum("bi,bi->b", psi.conj(), h_psi))
        out = mean if isinstance(mp, ExpectationMP) else np.sum(np.abs(h_psi) ** 2, 1) - mean**2
        return out if job.circuit.batched else out[0, ...]

    return take


def _state(st: Stack, run: RunFn) -> np.ndarray:
    (states,) = run(st.tape, st.theta, st.init, [runner.state()])
    # A circuit on no wires runs on one idle qubit (the core needs one): drop its |1> half.
    return states if st.jobs[0].wire_order else states[:, :1]


def _register_wires(wires: Wires, job: Job) -> list[int]:
    """Register indices of ``wires`` (all wires, in register order, when empty)."""
    if not wires:
        return list(range(len(job.wire_order)))
    return [job.wire_index[w] for w in wires]


def _sampled_wires(mps: Sequence[MeasurementProcess], job: Job) -> Wires:
    if any(not mp.wires for mp in mps):
        return job.wire_order
    return Wires.all_wires([mp.wires for mp in mps])


def _assemble(values: list) -> Result:
    return values[0] if len(values) == 1 else tuple(values)
