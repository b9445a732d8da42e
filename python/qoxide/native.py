"""Compiled programs by integer key: torch custom ops take tensors and numbers, not Python
objects, so a traced graph (torch.compile, torch.export) names a program by its key.

A program is recorded once; :func:`register` gives it a key for as long as it is alive
(the registry holds it weakly: a dropped circuit's tape is freed).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from . import _core


class NativeProgram:
    """A native tape with the observables whose expectation values a call returns."""

    __slots__ = (
        "tape", "observables", "n_qubits", "n_params", "n_outputs", "key", "make_plan", "_plan",
        "__weakref__",
    )  # fmt: skip

    def __init__(self, tape: _core.Tape, observables: Sequence[_core.Observable], key: int):
        self.tape = tape
        self.observables = list(observables)
        self.n_qubits = tape.n_qubits
        self.n_params = tape.n_params
        self.n_outputs = len(self.observables)
        self.key = key
        # builds the second-order shift plan (qoxide.second_order) on first use
        self.make_plan: Callable[[], Any] | None = None
        self._plan: Any = None

    def shift_plan(self) -> Any:
        """The :class:`~qoxide.second_order.ShiftPlan`, or a string saying why there is none."""
        if self._plan is None:
            if self.make_plan is None:
                self._plan = "the program was not recorded by @qx.circuit"
            else:
                self._plan = self.make_plan()
        return self._plan

    def __repr__(self) -> str:
        return (
            f"<NativeProgram key={self.key}: {self.n_qubits} qubits, {self.n_params} params, "
            f"{self.n_outputs} outputs>"
        )


_REGISTRY: weakref.WeakValueDictionary[int, NativeProgram] = weakref.WeakValueDictionary()
_KEYS = itertools.count(1)


def register(tape: _core.Tape, observables: Sequence[_core.Observable]) -> NativeProgram:
    """A new key for ``tape`` with ``observables``; keep the returned object alive."""
    prog = NativeProgram(tape, observables, next(_KEYS))
    _REGISTRY[prog.key] = prog
    return prog


def lookup(key: int) -> NativeProgram:
    """The program registered under ``key``."""
    prog = _REGISTRY.get(key)
    if prog is None:
        raise KeyError(
            f"no qoxide program has key {key}: it was freed with its circuit (a traced or "
            "exported graph refers to programs of this process only; keep the model alive)"
        )
    return prog
