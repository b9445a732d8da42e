"""Measurement specifications returned by circuit functions."""

from __future__ import annotations

from dataclasses import dataclass

from .observables import Observable


@dataclass(frozen=True)
class Expval:
    obs: Observable


@dataclass(frozen=True)
class Var:
    obs: Observable


@dataclass(frozen=True)
class Probs:
    wires: tuple[int, ...] | None


@dataclass(frozen=True)
class State:
    pass


@dataclass(frozen=True)
class Sample:
    wires: tuple[int, ...] | None
    shots: int
    seed: int | None


@dataclass(frozen=True)
class Counts:
    wires: tuple[int, ...] | None
    shots: int
    seed: int | None


Measurement = Expval | Var | Probs | State | Sample | Counts
