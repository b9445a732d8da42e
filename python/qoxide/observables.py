"""Observables: Pauli words and sums (X, Y, Z, I), Hermitian matrices, projectors.

Build them with operators as in PennyLane: ``Z(0) @ Z(1)``, ``0.5 * X(0) + Z(1)``,
``Hermitian(m, wires=[0, 2])``, ``Projector([1, 0], wires=[0, 1])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np

from . import _core

_PAULI_MATS = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


class Observable:
    """Base class: supports ``@`` (tensor product), ``+``, ``-`` and scalar ``*``."""

    def terms(self) -> list[tuple[float, Observable]]:
        """Flattened ``[(coeff, term)]`` where each term is not a sum."""
        return [(1.0, self)]

    @property
    def wires(self) -> list[int]:
        raise NotImplementedError

    def matrix(self, wires: Sequence[int] | None = None) -> np.ndarray:
        """Dense matrix on ``wires`` (default: the observable's own wires, sorted)."""
        raise NotImplementedError

    def to_core(self, n_qubits: int) -> _core.Observable:
        raise NotImplementedError

    def __add__(self, other: object) -> Observable:
        if isinstance(other, Observable):
            return Sum(self.terms() + other.terms())
        if isinstance(other, Real) and other == 0:
            return self
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> Observable:
        if isinstance(other, Observable):
            return self + (-1.0) * other
        return NotImplemented

    def __neg__(self) -> Observable:
        return (-1.0) * self

    def __mul__(self, c: object) -> Observable:
        if isinstance(c, Real):
            return Sum([(float(c) * k, t) for k, t in self.terms()])
        return NotImplemented

    __rmul__ = __mul__

    def __matmul__(self, other: object) -> Observable:
        if not isinstance(other, Observable):
            return NotImplemented
        if isinstance(self, Sum) or isinstance(other, Sum):
            return Sum([(a * b, s @ o) for a, s in self.terms() for b, o in other.terms()])
        if set(self.wires) & set(other.wires):
            raise ValueError(
                f"tensor product of observables on overlapping wires {self.wires} and {other.wires}"
            )
        if isinstance(self, Pauli) and isinstance(other, Pauli):
            return Pauli({**self.factors, **other.factors})
        wires = list(self.wires) + list(other.wires)
        return Hermitian(np.kron(self.matrix(), other.matrix()), wires)


class Pauli(Observable):
    """A Pauli word: ``{wire: "X" | "Y" | "Z"}`` (identity elsewhere)."""

    def __init__(self, factors: dict[int, str]):
        for w, p in factors.items():
            if p not in "IXYZ" or len(p) != 1:
                raise ValueError(f"Pauli factor must be one of I, X, Y, Z; got {p!r}")
            _check_wire(w)
        self.factors = {int(w): p for w, p in factors.items() if p != "I"}
        self._wires = [int(w) for w in factors]

    @property
    def wires(self) -> list[int]:
        return self._wires

    def matrix(self, wires: Sequence[int] | None = None) -> np.ndarray:
        wires = list(self.wires) if wires is None else list(wires)
        m = np.ones((1, 1), dtype=complex)
        for w in wires:
            m = np.kron(m, _PAULI_MATS[self.factors.get(w, "I")])
        return m

    def to_core(self, n_qubits: int) -> _core.Observable:
        return _core.Observable.pauli(n_qubits, [(1.0, list(self.factors.items()))])

    def __repr__(self) -> str:
        if not self.factors:
            return f"I({self._wires[0]})" if self._wires else "I()"
        return " @ ".join(f"{p}({w})" for w, p in self.factors.items())


def X(wire: int) -> Pauli:
    return Pauli({wire: "X"})


def Y(wire: int) -> Pauli:
    return Pauli({wire: "Y"})


def Z(wire: int) -> Pauli:
    return Pauli({wire: "Z"})


def I(wire: int) -> Pauli:  # noqa: E743 - PennyLane's name
    return Pauli({wire: "I"})


class Hermitian(Observable):
    """A Hermitian matrix on ``wires`` (``wires[0]`` is the high bit of the matrix index)."""

    def __init__(self, matrix: np.ndarray, wires: Sequence[int] | int):
        wires = [int(wires)] if isinstance(wires, (int, np.integer)) else [int(w) for w in wires]
        for w in wires:
            _check_wire(w)
        m = np.asarray(matrix, dtype=np.complex128)
        d = 2 ** len(wires)
        if m.shape != (d, d):
            raise ValueError(f"Hermitian on wires {wires} needs a {d}x{d} matrix, got {m.shape}")
        if not np.allclose(m, m.conj().T, atol=1e-6):
            raise ValueError("Hermitian matrix is not Hermitian (|M - M^H| > 1e-6)")
        self.mat = m
        self._wires = wires

    @property
    def wires(self) -> list[int]:
        return self._wires

    def matrix(self, wires: Sequence[int] | None = None) -> np.ndarray:
        if wires is None or list(wires) == self._wires:
            return self.mat
        return _embed(self.mat, self._wires, list(wires))

    def to_core(self, n_qubits: int) -> _core.Observable:
        return _core.Observable.hermitian(n_qubits, self._wires, np.ascontiguousarray(self.mat))

    def __repr__(self) -> str:
        return f"Hermitian(wires={self._wires})"


class Projector(Observable):
    """Projector ``|b><b|`` onto the computational basis state ``bits`` of ``wires``."""

    def __init__(self, bits: Sequence[int], wires: Sequence[int] | int):
        wires = [int(wires)] if isinstance(wires, (int, np.integer)) else [int(w) for w in wires]
        bits = [int(b) for b in bits]
        if len(bits) != len(wires) or any(b not in (0, 1) for b in bits):
            raise ValueError(f"Projector needs one bit (0/1) per wire: bits={bits}, wires={wires}")
        self.bits = bits
        self._wires = wires

    @property
    def wires(self) -> list[int]:
        return self._wires

    def matrix(self, wires: Sequence[int] | None = None) -> np.ndarray:
        d = 2 ** len(self._wires)
        m = np.zeros((d, d), dtype=complex)
        idx = int("".join(map(str, self.bits)), 2)
        m[idx, idx] = 1.0
        return m if wires is None else _embed(m, self._wires, list(wires))

    def to_core(self, n_qubits: int) -> _core.Observable:
        return _core.Observable.projector(n_qubits, self._wires, self.bits)

    def __repr__(self) -> str:
        return f"Projector({self.bits}, wires={self._wires})"


class Sum(Observable):
    """``sum_k c_k O_k`` (a Hamiltonian when every O_k is a Pauli word)."""

    def __init__(self, terms: list[tuple[float, Observable]]):
        flat: list[tuple[float, Observable]] = []
        for c, t in terms:
            flat.extend((c * k, s) for k, s in t.terms())
        self._terms = flat

    def terms(self) -> list[tuple[float, Observable]]:
        return list(self._terms)

    @property
    def wires(self) -> list[int]:
        seen: list[int] = []
        for _, t in self._terms:
            seen.extend(w for w in t.wires if w not in seen)
        return seen

    def matrix(self, wires: Sequence[int] | None = None) -> np.ndarray:
        wires = self.wires if wires is None else list(wires)
        return sum(c * t.matrix(wires) for c, t in self._terms)

    def to_core(self, n_qubits: int) -> _core.Observable:
        if all(isinstance(t, Pauli) for _, t in self._terms):
            return _core.Observable.pauli(
                n_qubits, [(c, list(t.factors.items())) for c, t in self._terms]
            )
        return _core.Observable.sum([(c, t.to_core(n_qubits)) for c, t in self._terms])

    def __repr__(self) -> str:
        return " + ".join(f"{c:g}*{t!r}" for c, t in self._terms)


def _check_wire(w: object) -> None:
    if not isinstance(w, (int, np.integer)) or int(w) < 0:
        raise ValueError(f"wires must be non-negative integers, got {w!r}")


def _embed(m: np.ndarray, own: list[int], wires: list[int]) -> np.ndarray:
    """Matrix ``m`` on wires ``own`` expressed on the (superset) ``wires``."""
    missing = [w for w in own if w not in wires]
    if missing:
        raise ValueError(f"wires {missing} are not in {wires}")
    rest = [w for w in wires if w not in own]
    full = np.kron(m, np.eye(2 ** len(rest)))
    order = own + rest
    k = len(wires)
    perm = [order.index(w) for w in wires]
    t = full.reshape([2] * (2 * k))
    t = t.transpose(perm + [k + p for p in perm])
    return t.reshape(2**k, 2**k)
