"""PennyLane observables as qoxide observables, so the core measures them natively.

Anything with a Pauli representation (Pauli words, Hamiltonians, sums and products of
Paulis) becomes a Pauli sum, which the core applies matrix-free; Hermitian matrices and
basis-state projectors map one to one; other sums, scalar multiples and tensor products
recurse; anything else with a small dense matrix (``Hadamard``, state-vector projectors) is
measured as a Hermitian matrix. What cannot be converted (``SparseHamiltonian``, non-Hermitian
products) gives ``None`` and is measured from the native state instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import reduce
from operator import matmul

import numpy as np
import pennylane as qml
from pennylane.operation import Operator
from pennylane.ops.qubit.observables import BasisStateProjector

from .. import observables as qxo

#: Largest observable measured through its dense matrix (a 2^k x 2^k Hermitian).
MAX_DENSE_WIRES = 10


def is_native(obs: Operator) -> bool:
    """Whether :func:`to_native` can convert ``obs`` (checked without building matrices)."""
    if isinstance(obs, qml.SparseHamiltonian) or obs.batch_size is not None:
        return False
    if obs.pauli_rep is not None:
        return not any(_complex(c) for c in obs.pauli_rep.values())
    if isinstance(obs, (qml.Hermitian, qml.Projector)):
        return True
    if isinstance(obs, qml.ops.SProd):
        return not _complex(obs.scalar) and is_native(obs.base)
    if isinstance(obs, (qml.ops.Sum, qml.ops.Prod)):
        return all(is_native(o) for o in obs.operands)
    # Only operators known to be Hermitian: ``qml.expval(qml.RZ(1.0, 0))`` is refused, as on
    # default.qubit and lightning, not measured as the real part of <RZ>.
    return obs.has_matrix and obs.is_verified_hermitian and len(obs.wires) <= MAX_DENSE_WIRES


def is_native_for_adjoint(obs: Operator) -> bool:
    """Observables the adjoint method differentiates: the native ones and small
    ``SparseHamiltonian``s (as a dense Hermitian matrix)."""
    return is_native(obs) or _small_sparse(obs)


def to_native_for_adjoint(obs: Operator, wire_index: Mapping) -> qxo.Observable | None:
    """:func:`to_native`, and a small ``SparseHamiltonian`` as its dense Hermitian matrix
    (the adjoint sweep needs the observable applied natively; forward passes keep the
    sparse product)."""
    if _small_sparse(obs):
        matrix = obs.sparse_matrix(wire_order=obs.wires).toarray().astype(np.complex128)
        if not np.allclose(matrix, matrix.conj().T, atol=1e-10):
            return None
        return qxo.Hermitian(matrix, [wire_index[w] for w in obs.wires])
    return to_native(obs, wire_index)


def _small_sparse(obs: Operator) -> bool:
    return (
        isinstance(obs, qml.SparseHamiltonian)
        and obs.batch_size is None
        and len(obs.wires) <= MAX_DENSE_WIRES
    )


def to_native(obs: Operator, wire_index: Mapping) -> qxo.Observable | None:
    """``obs`` on register indices ``wire_index[label]``, or None when it has no native form."""
    if not is_native(obs):
        return None
    return _convert(obs, wire_index)


def _convert(obs: Operator, wire_index: Mapping) -> qxo.Observable | None:
    rep = obs.pauli_rep
    if rep is not None:
        return qxo.Sum(
            [
                (float(np.real(c)), qxo.Pauli({wire_index[w]: p for w, p in word.items()}))
                for word, c in rep.items()
            ]
        )
    wires = [wire_index[w] for w in obs.wires]
    if isinstance(obs, BasisStateProjector):
        return qxo.Projector([int(b) for b in obs.data[0]], wires)
    if isinstance(obs, qml.ops.SProd):
        base = _convert(obs.base, wire_index)
        return None if base is None else qxo.Sum([(float(obs.scalar), base)])
    if isinstance(obs, qml.ops.Sum):
        terms = [_convert(o, wire_index) for o in obs.operands]
        return None if None in terms else qxo.Sum([(1.0, t) for t in terms])
    if isinstance(obs, qml.ops.Prod) and not _overlapping(obs.operands):
        factors = [_convert(o, wire_index) for o in obs.operands]
        return None if None in factors else reduce(matmul, factors)
    matrix = np.asarray(qml.matrix(obs, wire_order=obs.wires), dtype=np.complex128)
    if not np.allclose(matrix, matrix.conj().T, atol=1e-10):
        return None
    return qxo.Hermitian(matrix, wires)


def _complex(c: object) -> bool:
    """A coefficient with an imaginary part (any interface: numpy, torch, autograd)."""
    if isinstance(c, (float, int, np.floating, np.integer)):  # the common case, fast
        return False
    return bool(qml.math.iscomplex(c))


def _overlapping(ops: tuple[Operator, ...]) -> bool:
    seen: set = set()
    for o in ops:
        if seen & set(o.wires):
            return True
        seen |= set(o.wires)
    return False
