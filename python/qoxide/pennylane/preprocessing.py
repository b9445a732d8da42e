"""What ``qoxide.qubit`` runs natively, and the transforms that bring any circuit there.

The native gate set comes from the core (``qoxide.GATES``) so it cannot drift from the
Rust side. Operations outside it are decomposed by PennyLane, except small ones with a known
matrix (``CH``, ``ECR``, controlled rotations, ...), which run as one dense native kernel.
Parameter broadcasting is NOT expanded: a broadcast tape runs as one batched native call
(only a broadcast *matrix* parameter, which the native tape cannot hold, is expanded).
"""

from __future__ import annotations

from collections.abc import Sequence

import pennylane as qml
from pennylane.devices.capabilities import (
    DeviceCapabilities,
    ExecutionCondition,
    OperatorProperties,
)
from pennylane.devices.preprocess import decompose, null_postprocessing
from pennylane.measurements import (
    ExpectationMP,
    MeasurementProcess,
    SampleMeasurement,
    StateMeasurement,
)
from pennylane.operation import Operation, Operator, StatePrepBase
from pennylane.ops.op_math import Adjoint
from pennylane.tape import QuantumScript
from pennylane.transforms import broadcast_expand, diagonalize_measurements, split_non_commuting

from .. import _core
from .observables import is_native

#: Gates the core applies natively (PennyLane names and conventions).
NATIVE_GATES: frozenset[str] = frozenset(_core.GATES)
#: Native gates whose angles the adjoint method differentiates.
DIFFERENTIABLE_GATES: frozenset[str] = NATIVE_GATES - {"QubitUnitary"}
#: Largest non-native operation run through its dense matrix instead of being decomposed.
MAX_MATRIX_OP_WIRES = 3
#: Largest QubitUnitary the core accepts (dense 2^k x 2^k kernel).
MAX_UNITARY_WIRES = 12

_ANALYTIC = [ExecutionCondition.ANALYTIC_MODE_ONLY]
_SHOTS = [ExecutionCondition.FINITE_SHOTS_ONLY]

CAPABILITIES = DeviceCapabilities(
    operations={
        name: OperatorProperties(invertible=True, differentiable=name in DIFFERENTIABLE_GATES)
        for name in sorted(NATIVE_GATES)
    },
    observables={
        name: OperatorProperties(differentiable=True)
        for name in (
            "Identity",
            "PauliX",
            "PauliY",
            "PauliZ",
            "Hadamard",
            "Hermitian",
            "Projector",
            "Sum",
            "SProd",
            "Prod",
            "LinearCombination",
        )
    }
    | {"SparseHamiltonian": OperatorProperties(conditions=_ANALYTIC)},
    measurement_processes={
        "ExpectationMP": [],
        "VarianceMP": [],
        "ProbabilityMP": [],
        "StateMP": _ANALYTIC,
        "DensityMatrixMP": _ANALYTIC,
        "SampleMP": _SHOTS,
        "CountsMP": _SHOTS,
    },
    overlapping_observables=True,
    non_commuting_observables=True,
    initial_state_prep=True,
    supported_mcm_methods=[],
)


#: Decomposition targets (with adjoints), for PennyLane's graph-based decomposition.
GATE_SET: frozenset[str] = frozenset(CAPABILITIES.gate_set())
DIFFERENTIABLE_GATE_SET: frozenset[str] = frozenset(CAPABILITIES.gate_set(differentiable=True))


def native_gate(op: Operator) -> tuple[str, bool] | None:
    """``(native name, inverse)`` for a native gate or an adjoint of one, else None."""
    inverse = False
    while isinstance(op, Adjoint):
        op, inverse = op.base, not inverse
    if op.name not in NATIVE_GATES:
        return None
    if op.name == "QubitUnitary" and len(op.wires) > MAX_UNITARY_WIRES:
        return None
    return op.name, inverse


def is_matrix_op(op: Operator) -> bool:
    """A non-native operation that runs as a dense native kernel built from its matrix:
    small ones (fewer, denser kernels than their decomposition) and those PennyLane cannot
    decompose."""
    return (
        isinstance(op, Operation)
        and not isinstance(op, qml.operation.StatePrepBase)
        and op.has_matrix
        and 0 < len(op.wires) <= MAX_UNITARY_WIRES
        # Larger operations and broadcast ones (the tape holds one matrix, not one per
        # sample) are decomposed into native gates where PennyLane knows how.
        and (
            not op.has_decomposition
            or (len(op.wires) <= MAX_MATRIX_OP_WIRES and op.batch_size is None)
        )
    )


def supports_operation(op: Operator) -> bool:
    """Stopping condition of the decomposition for execution."""
    return native_gate(op) is not None or is_matrix_op(op)


def supports_adjoint_operation(op: Operator) -> bool:
    """Stopping condition for adjoint differentiation: a trainable operation must be a
    native gate with analytic derivatives; constant ones may be anything executable.

    A constant state preparation stays (the execution decomposition already removed any
    that is not first, so it is the initial state); a trainable one is decomposed into
    gates (the adjoint decomposition runs with ``skip_initial_state_prep=False``, as on
    default.qubit), whose angles PennyLane differentiates back to the state's entries."""
    if not any(qml.math.requires_grad(d) for d in op.data):
        return isinstance(op, StatePrepBase) or supports_operation(op)
    gate = native_gate(op)
    return gate is not None and gate[0] in DIFFERENTIABLE_GATES


def adjoint_decomposition(op: Operator) -> Sequence[Operator]:
    """Decomposition used on the adjoint path: PennyLane's, plus rules for the excitation
    gates PennyLane gives none (``DoubleExcitationPlus/Minus``), also when controlled or
    adjoint, so that their angles become native gate angles."""
    rule = _excitation_rule(op)
    return op.decomposition() if rule is None else rule


def _excitation_rule(op: Operator) -> list[Operator] | None:
    if isinstance(op, Adjoint):
        inner = _excitation_rule(op.base)
        return None if inner is None else [qml.adjoint(o) for o in reversed(inner)]
    if isinstance(op, qml.ops.Controlled):
        inner = _excitation_rule(op.base)
        if inner is None:
            return None
        return [
            qml.ctrl(
                o, op.control_wires, control_values=op.control_values, work_wires=op.work_wires
            )
            for o in inner
        ]
    if isinstance(op, qml.DoubleExcitationPlus):
        return _double_excitation_phase(op.data[0], op.wires, sign=-1)
    if isinstance(op, qml.DoubleExcitationMinus):
        return _double_excitation_phase(op.data[0], op.wires, sign=1)
    return None


def _double_excitation_phase(phi: object, wires: Sequence, sign: int) -> list[Operator]:
    """``DoubleExcitation(phi)`` times the phase ``exp(-sign i phi/2)`` outside the span of
    |0011>, |1100> (Plus: sign -1, Minus: +1). That phase is a global phase times
    ``exp(sign i phi/2 P)`` with P the projector onto the span,
    P = (1 + Z0Z1)(1 + Z2Z3)(1 - Z0Z2) / 8: seven commuting Z strings (MultiRZ) and a
    global phase, all with angles linear in phi."""
    a, b, c, d = wires
    strings = [(1, [a, b]), (1, [c, d]), (1, [a, b, c, d])]
    strings += [(-1, [a, c]), (-1, [b, c]), (-1, [a, d]), (-1, [b, d])]
    ops: list[Operator] = [
        qml.DoubleExcitation(phi, wires=wires),
        qml.GlobalPhase(sign * 7 * phi / 16, wires=wires),
    ]
    ops += [qml.MultiRZ(-sign * s * phi / 8, wires=w) for s, w in strings]
    return ops


def accepts_analytic(mp: MeasurementProcess) -> bool:
    return isinstance(mp, StateMeasurement)


def accepts_sampled(mp: MeasurementProcess) -> bool:
    return isinstance(mp, SampleMeasurement)


def observable_analytic(obs: Operator) -> bool:
    """Measured natively, from the rotated native state, or (sparse) from the native state.
    An operator without diagonalizing gates must be known to be Hermitian (``RZ`` is not
    an observable: default.qubit and lightning refuse it too)."""
    return (
        is_native(obs)
        or obs.has_diagonalizing_gates
        or (obs.has_sparse_matrix and obs.is_verified_hermitian)
    )


def observable_sampled(obs: Operator) -> bool:
    if isinstance(obs, qml.ops.CompositeOp):
        return all(observable_sampled(o) for o in obs.operands)
    if isinstance(obs, qml.ops.SymbolicOp):
        return observable_sampled(obs.base)
    return obs.has_diagonalizing_gates


def accepts_adjoint(mp: MeasurementProcess) -> bool:
    return isinstance(mp, ExpectationMP) and mp.obs is not None


@qml.transform
def split_for_sampling(tape: QuantumScript):
    """With shots: group qubit-wise commuting measurements and rotate Pauli observables to Z
    (rotations decomposed to native gates), so that each group is one native sampling call.
    Analytic tapes pass unchanged."""
    if not tape.shots or any(
        not isinstance(mp, ExpectationMP) and _is_sum(mp.obs) for mp in tape.measurements
    ):
        # PennyLane splits sums only inside expectation values; a variance (or samples) of
        # a sum is measured on its own, rotated by the sum's diagonalizing gates.
        return (tape,), null_postprocessing
    groups, recombine = split_non_commuting(tape)
    tapes, fns = [], []
    for group in groups:
        (diagonal,), fn = diagonalize_measurements(group)
        (native,), _ = decompose(diagonal, stopping_condition=supports_operation)
        tapes.append(native)
        fns.append(fn)

    def postprocess(results):  # noqa: ANN001, ANN202 - PennyLane result pytrees
        return recombine([fn((r,)) for fn, r in zip(fns, results, strict=True)])

    return tapes, postprocess


@qml.transform
def expand_matrix_broadcast(tape: QuantumScript):
    """Split a broadcast tape only when a broadcast parameter sits in a matrix (the native
    tape holds matrices, not per-sample matrices); everything else stays one batched call."""
    if tape.batch_size is None or not any(
        op.batch_size is not None and _runs_as_matrix(op) for op in tape.operations
    ):
        return (tape,), null_postprocessing
    return broadcast_expand(tape)


def _is_sum(obs: Operator | None) -> bool:
    """A sum of several terms (also as a product or scalar multiple of sums)."""
    if obs is None:
        return False
    return isinstance(obs, qml.ops.Sum) or (obs.pauli_rep is not None and len(obs.pauli_rep) > 1)


def _runs_as_matrix(op: Operator) -> bool:
    gate = native_gate(op)
    return (gate is None and is_matrix_op(op)) or (gate is not None and gate[0] == "QubitUnitary")
