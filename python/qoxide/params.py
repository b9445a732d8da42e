"""Symbolic gate parameters recorded while a circuit function runs.

Inputs and weights are seen by the circuit function as numpy object arrays of
`Expr`: affine combinations ``const + sum_j coeff_j * var_j`` of the flattened
variables. Anything affine works (``2.0 * x[i] + 0.1``, ``w[k, i] - x[i]``); a
non-affine use (``x[0] * x[1]``, ``np.sin(x[0])``) raises a TypeError that says
to compute the feature in torch before calling the circuit.
"""

from __future__ import annotations

import operator
from numbers import Real

import numpy as np

_NONLINEAR = (
    "qoxide circuits record gate angles as affine expressions of the inputs and weights; "
    "{what} is not affine. Compute the feature in torch/numpy before calling the circuit "
    "and pass it as an input."
)


def _scalar_op(op):  # noqa: ANN001, ANN202
    """`op` on plain Python scalars (numpy scalars would re-enter numpy's dispatch)."""

    def f(*args):  # noqa: ANN002, ANN202
        return op(*(a.item() if isinstance(a, np.generic) else a for a in args))

    return f


class Expr:
    """``const + sum(coeff * var)`` over variable indices."""

    __slots__ = ("const", "terms")

    def __init__(self, const: float = 0.0, terms: dict[int, float] | None = None):
        self.const = float(const)
        self.terms = terms or {}

    @classmethod
    def var(cls, index: int) -> Expr:
        return cls(0.0, {index: 1.0})

    # arithmetic -----------------------------------------------------------------
    def __add__(self, other: object) -> Expr:
        if isinstance(other, Expr):
            terms = dict(self.terms)
            for k, c in other.terms.items():
                terms[k] = terms.get(k, 0.0) + c
            return Expr(self.const + other.const, terms)
        if isinstance(other, Real):
            return Expr(self.const + float(other), dict(self.terms))
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Expr:
        return Expr(-self.const, {k: -c for k, c in self.terms.items()})

    def __pos__(self) -> Expr:
        return self

    def __sub__(self, other: object) -> Expr:
        if isinstance(other, (Expr, Real)):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: object) -> Expr:
        if isinstance(other, Real):
            return (-self) + other
        return NotImplemented

    def __mul__(self, other: object) -> Expr:
        if isinstance(other, Expr):
            if not other.terms:
                return self * other.const
            if not self.terms:
                return other * self.const
            raise TypeError(_NONLINEAR.format(what="a product of two parameters"))
        if isinstance(other, Real):
            f = float(other)
            return Expr(self.const * f, {k: c * f for k, c in self.terms.items()})
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Expr:
        if isinstance(other, Real):
            return self * (1.0 / float(other))
        raise TypeError(_NONLINEAR.format(what="division by a parameter"))

    def __rtruediv__(self, other: object) -> Expr:
        raise TypeError(_NONLINEAR.format(what="division by a parameter"))

    def __pow__(self, other: object) -> Expr:
        raise TypeError(_NONLINEAR.format(what="a power of a parameter"))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # noqa: ANN001
        # numpy routes `np.float64(2) * x[0]` and `object_array - x[0]` here: run the
        # affine ones element by element with Expr's own operators.
        op = _AFFINE_UFUNCS.get(ufunc)
        if op is None or method != "__call__" or kwargs:
            raise TypeError(_NONLINEAR.format(what=f"numpy.{ufunc.__name__}"))
        args = [np.array(a, dtype=object) if isinstance(a, Expr) else a for a in inputs]
        out = np.frompyfunc(_scalar_op(op), ufunc.nin, 1)(*args)
        return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out

    def __float__(self) -> float:
        if self.terms:
            raise TypeError(
                "a symbolic circuit parameter has no value while the circuit is recorded; "
                "use it as a gate angle instead of converting it to float"
            )
        return self.const

    def __getitem__(self, key: object) -> Expr:
        raise TypeError(
            f"a symbolic circuit parameter is a single number and cannot be indexed with "
            f"[{_format_key(key)}]; index the input/weight array it came from instead"
        )

    def __bool__(self) -> bool:
        raise TypeError(
            "a symbolic circuit parameter has no truth value: circuits are recorded once, "
            "so control flow cannot depend on input or weight values"
        )

    @property
    def is_constant(self) -> bool:
        return not any(self.terms.values())

    def key(self) -> tuple:
        return (self.const, tuple(sorted((k, c) for k, c in self.terms.items() if c != 0.0)))

    def __repr__(self) -> str:
        parts = [f"{c:g}*v{k}" for k, c in sorted(self.terms.items())]
        if self.const or not parts:
            parts.append(f"{self.const:g}")
        return " + ".join(parts)


_AFFINE_UFUNCS = {
    np.add: operator.add,
    np.subtract: operator.sub,
    np.multiply: operator.mul,
    np.true_divide: operator.truediv,
    np.negative: operator.neg,
    np.positive: operator.pos,
}


class _NamedScalar(Expr):
    """A 0-d input or weight: indexing it says which argument it is and what to pass."""

    __slots__ = ("_name", "_circuit")

    def __init__(self, index: int, name: str, circuit: str):
        super().__init__(0.0, {index: 1.0})
        self._name, self._circuit = name, circuit

    def __getitem__(self, key: object) -> Expr:
        raise TypeError(
            f"circuit {self._circuit!r} uses {self._name}[{_format_key(key)}], but "
            f"{self._name!r} is 0-d (one number): pass one sample's features as shape [F] "
            "(a batch as [B, F]), or use the argument itself as the angle"
        )


class Symbols(np.ndarray):
    """The object array a circuit function sees for an input or weight. Out-of-range
    indexing names the argument, its shape and, for the input, how many features to pass
    (numpy's own IndexError says neither)."""

    _name: str | None = None
    _circuit: str = ""
    _input: bool = False
    _full_shape: tuple[int, ...] = ()

    def __array_finalize__(self, obj: object) -> None:
        self._name = getattr(obj, "_name", None)
        self._circuit = getattr(obj, "_circuit", "")
        self._input = getattr(obj, "_input", False)
        self._full_shape = getattr(obj, "_full_shape", ())

    def __getitem__(self, key: object) -> object:
        try:
            return super().__getitem__(key)
        except IndexError as err:
            if self._name is None:
                raise
            raise IndexError(self._index_message(key, err)) from None

    def _index_message(self, key: object, err: IndexError) -> str:
        used = f"{self._name}[{_format_key(key)}]"
        whole = self.shape == self._full_shape
        where = f"circuit {self._circuit!r} uses {used}"
        if self._input and whole and self.ndim == 1:
            n = self.shape[0]
            need = key + 1 if isinstance(key, (int, np.integer)) and key >= 0 else None
            return (
                f"{where}, but the input has {n} features (its last axis); pass "
                f"{f'at least {need}' if need else 'enough'} features per sample"
            )
        role = "input" if self._input else "weight"
        part = "" if whole else f" (indexed here: a part of shape {self.shape})"
        return f"{where}, but {role} {self._name!r} has shape {self._full_shape}{part}: {err}"


def _format_key(key: object) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    return ", ".join(
        ":" if p == slice(None) else "..." if p is Ellipsis else repr(p) for p in parts
    )


def symbols(
    shape: tuple[int, ...],
    offset: int,
    name: str | None = None,
    circuit: str = "",
    input: bool = False,
) -> np.ndarray | Expr:
    """An object array of variables ``offset ... offset + prod(shape) - 1``.

    ``name`` and ``circuit`` name the argument in indexing errors; ``input`` marks the last
    axis as the features of one sample."""
    size = int(np.prod(shape, dtype=np.int64))
    if shape == ():
        return Expr.var(offset) if name is None else _NamedScalar(offset, name, circuit)
    flat = np.empty(size, dtype=object)
    for i in range(size):
        flat[i] = Expr.var(offset + i)
    out = flat.reshape(shape).view(Symbols)
    out._name, out._circuit, out._input, out._full_shape = name, circuit, input, tuple(shape)
    return out


def as_param(value: object) -> Expr | float:
    """Normalise a gate parameter to a float constant or a non-constant Expr."""
    if isinstance(value, Expr):
        return value.const if value.is_constant else value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
        if isinstance(value, Expr):
            return as_param(value)
    if isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    got = (
        f"an array of shape {value.shape}"
        if isinstance(value, np.ndarray)
        else type(value).__name__
    )
    raise TypeError(
        f"a gate parameter must be a number or one element of a symbolic input/weight, got {got}"
    )
