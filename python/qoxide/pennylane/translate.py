"""PennyLane operations → native tape, with every gate angle in a column of theta.

Angles are never baked into the tape: each operation parameter gets its own theta column,
so tapes that differ only in parameter values (a parameter-shift batch, the tapes of one
``execute`` call) share one native tape and run as ONE batched call with stacked rows.
:attr:`NativeCircuit.key` is that structure; equal keys mean stackable circuits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pennylane as qml
from pennylane.devices.preprocess import decompose
from pennylane.operation import Operator, StatePrepBase
from pennylane.tape import QuantumScript
from pennylane.wires import Wires

from .. import _core
from .preprocessing import is_matrix_op, native_gate, supports_operation

_Op = tuple[str, tuple[int, ...], tuple[int, ...], bool, "np.ndarray | None", tuple[bool, ...]]


@dataclass
class NativeCircuit:
    """One tape's operations in native form.

    ``columns[(i, j)]`` is the theta column of parameter ``j`` of operation ``i``;
    ``theta`` holds ``rows`` rows (the broadcast size, or 1); ``batched`` says whether the
    tape is broadcast (read from the parameters: ``QuantumScript.batch_size`` re-validates
    every operation, which costs more than the whole native call for small circuits).
    """

    n_qubits: int
    ops: list[_Op]
    key: tuple
    theta: np.ndarray
    init_state: np.ndarray | None
    batched: bool
    columns: dict[tuple[int, int], int]

    @property
    def rows(self) -> int:
        return self.theta.shape[0]

    def native_tape(self) -> _core.Tape:
        tape = _core.Tape(self.n_qubits, self.theta.shape[1])
        for name, wires, params, inverse, matrix, control_values in self.ops:
            tape.add(name, wires, params, inverse, matrix, control_values)
        return tape


def translate(
    operations: Sequence[Operator], wire_index: Mapping, real_dtype: type
) -> NativeCircuit:
    """Translate ``operations`` (already decomposed to what the device supports)."""
    n_qubits = max(len(wire_index), 1)
    ops: list[_Op] = []
    key: list = [n_qubits]
    values: list = []
    columns: dict[tuple[int, int], int] = {}
    init_state = None
    for i, op in enumerate(operations):
        if i == 0 and isinstance(op, StatePrepBase):
            init_state = _initial_state(op, wire_index, real_dtype)
            key.append("init")
            continue
        name, wires, inverse, matrix, control_values = _native_op(op, wire_index)
        if name == "Identity":  # on any number of wires, adjoint or not: nothing to do
            continue
        params: tuple[int, ...] = ()
        if matrix is None:
            params = tuple(range(len(values), len(values) + len(op.data)))
            for j, d in enumerate(op.data):
                columns[(i, j)] = len(values)
                values.append(d)
        ops.append((name, wires, params, inverse, matrix, control_values))
        key.append(
            (name, wires, inverse, control_values, None if matrix is None else matrix.tobytes())
        )
    sizes = {len(v) for v in values if np.ndim(v)}
    if init_state is not None and init_state.ndim == 2:
        sizes.add(len(init_state))
    if len(sizes) > 1:
        raise ValueError(f"broadcast parameters of different sizes {sorted(sizes)}")
    batch = sizes.pop() if sizes else None
    theta = np.empty((batch or 1, len(values)), dtype=real_dtype)
    for c, v in enumerate(values):
        theta[:, c] = v
    return NativeCircuit(n_qubits, ops, tuple(key), theta, init_state, batch is not None, columns)


def _native_op(
    op: Operator, wire_index: Mapping
) -> tuple[str, tuple[int, ...], bool, np.ndarray | None, tuple[bool, ...]]:
    """``(name, wires, inverse, matrix, control_values)`` for ``Tape.add``."""
    wires = tuple(wire_index[w] for w in op.wires)
    gate = native_gate(op)
    if gate is None or gate[0] == "QubitUnitary":
        if gate is None and not is_matrix_op(op):
            raise qml.exceptions.DeviceError(f"{op.name} is not supported by qoxide.qubit")
        matrix = np.asarray(qml.matrix(op, wire_order=op.wires), dtype=np.complex128)
        if matrix.ndim != 2:
            raise ValueError(f"{op.name}: a broadcast matrix cannot run as one native gate")
        return "QubitUnitary", wires, False, np.ascontiguousarray(matrix), ()
    name, inverse = gate
    if name == "GlobalPhase":
        return name, (), inverse, None, ()
    if name == "MultiControlledX":
        base = op
        while isinstance(base, qml.ops.op_math.Adjoint):
            base = base.base
        values = tuple(bool(v) for v in base.hyperparameters["control_values"])
        return name, wires, inverse, None, values
    return name, wires, inverse, None, ()


def _initial_state(op: StatePrepBase, wire_index: Mapping, real_dtype: type) -> np.ndarray:
    """The full-register state that ``op`` prepares: [2^n] or, broadcast, [B, 2^n]."""
    order = sorted(wire_index, key=wire_index.__getitem__)
    state = np.asarray(op.state_vector(wire_order=order))
    complex_dtype = np.complex64 if real_dtype == np.float32 else np.complex128
    batched = state.ndim > len(order)
    return np.ascontiguousarray(
        state.reshape((len(state), -1) if batched else (-1,)), dtype=complex_dtype
    )


@dataclass
class Job:
    """A tape to run, its native form and its register (``wire_order[i]`` is qubit i)."""

    tape: QuantumScript
    circuit: NativeCircuit
    wire_order: Wires
    wire_index: Mapping

    def stack_key(self) -> tuple:
        """Jobs with equal keys run as one native call (same tape, measurements, shots)."""
        return (
            self.circuit.key,
            tuple(self.wire_order),
            tuple(mp.hash for mp in self.tape.measurements),
            self.tape.shots,
        )


@dataclass
class Stack:
    """Jobs sharing one native tape; their theta rows (and initial states) stacked.
    ``slices[i]`` are the rows of ``jobs[i]``."""

    jobs: list[Job]
    tape: _core.Tape
    theta: np.ndarray
    init: np.ndarray | None
    slices: list[slice]

    @property
    def n_qubits(self) -> int:
        return self.jobs[0].circuit.n_qubits


def stack(jobs: Sequence[Job]) -> Stack:
    """Stack jobs of equal :meth:`Job.stack_key`."""
    circuits = [j.circuit for j in jobs]
    c0 = circuits[0]
    slices, start = [], 0
    for c in circuits:
        slices.append(slice(start, start + c.rows))
        start += c.rows
    if len(circuits) == 1:
        theta, init = c0.theta, c0.init_state
    else:
        theta = np.concatenate([c.theta for c in circuits])
        init = None
        if c0.init_state is not None:
            dim = c0.init_state.shape[-1]
            init = np.concatenate([np.broadcast_to(c.init_state, (c.rows, dim)) for c in circuits])
    return Stack(list(jobs), c0.native_tape(), theta, init, slices)


def stack_with(st: Stack, extra: Sequence[Operator]) -> Stack:
    """``st`` with operations appended to every job (e.g. a measurement's diagonalizing
    gates), decomposed to what the device runs."""
    (expanded,), _ = decompose(
        QuantumScript(list(extra)), stopping_condition=supports_operation, name="qoxide.qubit"
    )
    jobs = []
    for job in st.jobs:
        circuit = translate(
            job.tape.operations + expanded.operations,
            job.wire_index,
            job.circuit.theta.dtype.type,
        )
        jobs.append(Job(job.tape, circuit, job.wire_order, job.wire_index))
    return stack(jobs)
