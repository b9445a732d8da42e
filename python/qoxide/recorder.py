"""The `q` object a circuit function receives: it records gates and measurements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import _core
from .amplitude import check_feature_count, embed
from .measurements import Counts, Expval, Probs, Sample, State, Var
from .observables import Observable
from .params import Expr, as_param

Param = float | Expr


@dataclass
class RecordedOp:
    name: str
    wires: tuple[int, ...]
    params: tuple[Param, ...] = ()
    inverse: bool = False
    matrix: np.ndarray | None = None
    control_values: tuple[bool, ...] = field(default_factory=tuple)


def _wires(w: int | Sequence[int]) -> tuple[int, ...]:
    ws = (w,) if isinstance(w, (int, np.integer)) else tuple(w)
    for x in ws:
        if not isinstance(x, (int, np.integer)) or isinstance(x, bool) or x < 0:
            raise ValueError(f"wires must be non-negative integers, got {x!r} in {w!r}")
    return tuple(int(x) for x in ws)


class Recorder:
    """Records a circuit. Gate methods follow PennyLane's names and matrices; parameters
    come first, wires last (``q.rx(theta, 0)``, ``q.crx(theta, 0, 1)``). Every gate takes
    ``inverse=True`` to apply its adjoint."""

    def __init__(self, n_qubits: int):
        if not isinstance(n_qubits, (int, np.integer)) or not 1 <= n_qubits <= _core.MAX_QUBITS:
            raise ValueError(
                f"n_qubits must be an integer in 1..{_core.MAX_QUBITS}, got {n_qubits!r}"
            )
        self.n_qubits = int(n_qubits)
        self.ops: list[RecordedOp] = []
        self.init_state: np.ndarray | None = None
        # amplitude embedding of circuit inputs: (variable indices, wires, pad_with, normalize)
        self.input_embedding: tuple[tuple[int, ...], tuple[int, ...], complex | None, bool] | None
        self.input_embedding = None

    # generic ----------------------------------------------------------------------
    def op(
        self,
        name: str,
        wires: int | Sequence[int],
        params: Sequence[object] = (),
        *,
        inverse: bool = False,
        matrix: np.ndarray | None = None,
        control_values: Sequence[bool] = (),
    ) -> None:
        """Append any supported gate by PennyLane name (see ``qoxide.GATES``)."""
        if name not in _core.GATES and name != "CPhase":
            raise ValueError(f"unknown gate {name!r}; supported: {', '.join(_core.GATES)}")
        self.ops.append(
            RecordedOp(
                name,
                _wires(wires),
                tuple(as_param(p) for p in params),
                bool(inverse),
                None if matrix is None else np.asarray(matrix, dtype=np.complex128),
                tuple(bool(v) for v in control_values),
            )
        )

    # state preparation ------------------------------------------------------------
    def state_prep(self, state: Sequence[complex] | np.ndarray) -> None:
        """Start from ``state`` (normalised, 2^n amplitudes) instead of |0...0>."""
        if self.ops or self.input_embedding is not None:
            raise ValueError("state_prep must come before any gate")
        v = np.asarray(state, dtype=np.complex128).reshape(-1)
        if v.size != 2**self.n_qubits:
            raise ValueError(f"state_prep needs 2^{self.n_qubits} amplitudes, got {v.size}")
        norm = np.linalg.norm(v)
        if not np.isclose(norm, 1.0, atol=1e-6):
            raise ValueError(f"state_prep vector must be normalised, got norm {norm:.6g}")
        self.init_state = v

    def amplitude_embedding(
        self,
        features: Sequence[object] | np.ndarray,
        wires: int | Sequence[int] | None = None,
        *,
        pad_with: complex | None = None,
        normalize: bool = False,
    ) -> None:
        """Start from ``features`` as the amplitudes of ``wires`` (default: all), PennyLane's
        AmplitudeEmbedding. Features are numbers, or circuit inputs (one state per sample;
        not differentiable with respect to those inputs)."""
        if self.ops or self.init_state is not None or self.input_embedding is not None:
            raise ValueError("amplitude_embedding must come first, before any gate")
        ws = tuple(range(self.n_qubits)) if wires is None else _wires(wires)
        self.check_wires(ws, "amplitude_embedding")
        flat = list(np.asarray(features, dtype=object).reshape(-1))
        if not any(isinstance(f, Expr) for f in flat):
            self.init_state = embed(
                np.asarray(flat, dtype=np.complex128), ws, self.n_qubits, pad_with, normalize
            )[0]
            return
        cols = []
        for f in flat:
            if not (
                isinstance(f, Expr)
                and f.const == 0.0
                and len(f.terms) == 1
                and next(iter(f.terms.values())) == 1.0
            ):
                raise TypeError(
                    "amplitude_embedding takes the circuit's input features as they are "
                    f"(x[i], not an expression of them); got {f!r}"
                )
            cols.append(next(iter(f.terms)))
        check_feature_count(len(cols), len(ws), pad_with)
        self.input_embedding = (tuple(cols), ws, pad_with, bool(normalize))

    def check_wires(self, wires: Sequence[int], what: str) -> None:
        """Raise ValueError naming ``what`` for repeated wires or wires outside the register."""
        if len(set(wires)) != len(wires):
            raise ValueError(f"{what}: repeated wires {list(wires)}")
        if any(not 0 <= w < self.n_qubits for w in wires):
            raise ValueError(f"{what}: wires {list(wires)} out of range for {self.n_qubits} qubits")

    def basis_state(self, bits: Sequence[int]) -> None:
        """Start from the computational basis state ``bits`` (one bit per wire)."""
        bits = [int(b) for b in bits]
        if len(bits) != self.n_qubits or any(b not in (0, 1) for b in bits):
            raise ValueError(f"basis_state needs {self.n_qubits} bits of 0/1, got {bits}")
        v = np.zeros(2**self.n_qubits, dtype=np.complex128)
        v[int("".join(map(str, bits)), 2)] = 1.0
        self.state_prep(v)

    # one-qubit gates --------------------------------------------------------------
    def identity(self, wire: int, *, inverse: bool = False) -> None:
        self.op("Identity", wire, inverse=inverse)

    def h(self, wire: int, *, inverse: bool = False) -> None:
        self.op("Hadamard", wire, inverse=inverse)

    def x(self, wire: int, *, inverse: bool = False) -> None:
        self.op("PauliX", wire, inverse=inverse)

    def y(self, wire: int, *, inverse: bool = False) -> None:
        self.op("PauliY", wire, inverse=inverse)

    def z(self, wire: int, *, inverse: bool = False) -> None:
        self.op("PauliZ", wire, inverse=inverse)

    def s(self, wire: int, *, inverse: bool = False) -> None:
        self.op("S", wire, inverse=inverse)

    def t(self, wire: int, *, inverse: bool = False) -> None:
        self.op("T", wire, inverse=inverse)

    def sx(self, wire: int, *, inverse: bool = False) -> None:
        self.op("SX", wire, inverse=inverse)

    def rx(self, theta: Param, wire: int, *, inverse: bool = False) -> None:
        self.op("RX", wire, (theta,), inverse=inverse)

    def ry(self, theta: Param, wire: int, *, inverse: bool = False) -> None:
        self.op("RY", wire, (theta,), inverse=inverse)

    def rz(self, theta: Param, wire: int, *, inverse: bool = False) -> None:
        self.op("RZ", wire, (theta,), inverse=inverse)

    def phase_shift(self, phi: Param, wire: int, *, inverse: bool = False) -> None:
        self.op("PhaseShift", wire, (phi,), inverse=inverse)

    def rot(
        self, phi: Param, theta: Param, omega: Param, wire: int, *, inverse: bool = False
    ) -> None:
        self.op("Rot", wire, (phi, theta, omega), inverse=inverse)

    def u1(self, phi: Param, wire: int, *, inverse: bool = False) -> None:
        self.op("U1", wire, (phi,), inverse=inverse)

    def u2(self, phi: Param, delta: Param, wire: int, *, inverse: bool = False) -> None:
        self.op("U2", wire, (phi, delta), inverse=inverse)

    def u3(
        self, theta: Param, phi: Param, delta: Param, wire: int, *, inverse: bool = False
    ) -> None:
        self.op("U3", wire, (theta, phi, delta), inverse=inverse)

    def global_phase(self, phi: Param, *, inverse: bool = False) -> None:
        self.op("GlobalPhase", (), (phi,), inverse=inverse)

    # two-qubit gates --------------------------------------------------------------
    def cnot(self, control: int, target: int, *, inverse: bool = False) -> None:
        self.op("CNOT", (control, target), inverse=inverse)

    def cy(self, control: int, target: int, *, inverse: bool = False) -> None:
        self.op("CY", (control, target), inverse=inverse)

    def cz(self, control: int, target: int, *, inverse: bool = False) -> None:
        self.op("CZ", (control, target), inverse=inverse)

    def swap(self, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("SWAP", (a, b), inverse=inverse)

    def iswap(self, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("ISWAP", (a, b), inverse=inverse)

    def crx(self, theta: Param, control: int, target: int, *, inverse: bool = False) -> None:
        self.op("CRX", (control, target), (theta,), inverse=inverse)

    def cry(self, theta: Param, control: int, target: int, *, inverse: bool = False) -> None:
        self.op("CRY", (control, target), (theta,), inverse=inverse)

    def crz(self, theta: Param, control: int, target: int, *, inverse: bool = False) -> None:
        self.op("CRZ", (control, target), (theta,), inverse=inverse)

    def crot(
        self,
        phi: Param,
        theta: Param,
        omega: Param,
        control: int,
        target: int,
        *,
        inverse: bool = False,
    ) -> None:
        self.op("CRot", (control, target), (phi, theta, omega), inverse=inverse)

    def controlled_phase_shift(
        self, phi: Param, control: int, target: int, *, inverse: bool = False
    ) -> None:
        self.op("ControlledPhaseShift", (control, target), (phi,), inverse=inverse)

    def ising_xx(self, phi: Param, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("IsingXX", (a, b), (phi,), inverse=inverse)

    def ising_yy(self, phi: Param, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("IsingYY", (a, b), (phi,), inverse=inverse)

    def ising_zz(self, phi: Param, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("IsingZZ", (a, b), (phi,), inverse=inverse)

    def ising_xy(self, phi: Param, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("IsingXY", (a, b), (phi,), inverse=inverse)

    # multi-qubit gates ------------------------------------------------------------
    def multi_rz(self, theta: Param, wires: Sequence[int], *, inverse: bool = False) -> None:
        self.op("MultiRZ", wires, (theta,), inverse=inverse)

    def toffoli(self, c0: int, c1: int, target: int, *, inverse: bool = False) -> None:
        self.op("Toffoli", (c0, c1, target), inverse=inverse)

    def cswap(self, control: int, a: int, b: int, *, inverse: bool = False) -> None:
        self.op("CSWAP", (control, a, b), inverse=inverse)

    def multi_controlled_x(
        self,
        controls: Sequence[int],
        target: int,
        control_values: Sequence[bool] | None = None,
        *,
        inverse: bool = False,
    ) -> None:
        self.op(
            "MultiControlledX",
            (*_wires(controls), int(target)),
            inverse=inverse,
            control_values=() if control_values is None else control_values,
        )

    def qubit_unitary(
        self, matrix: np.ndarray, wires: int | Sequence[int], *, inverse: bool = False
    ) -> None:
        self.op("QubitUnitary", wires, inverse=inverse, matrix=matrix)

    # measurements -----------------------------------------------------------------
    def expval(self, obs: Observable) -> Expval:
        """⟨obs⟩ — differentiable (adjoint method)."""
        return Expval(_obs(obs))

    def var(self, obs: Observable) -> Var:
        return Var(_obs(obs))

    def probs(self, wires: int | Sequence[int] | None = None) -> Probs:
        """Marginal probabilities of ``wires`` (all wires by default); wires[0] is the high bit."""
        return Probs(None if wires is None else _wires(wires))

    def state(self) -> State:
        return State()

    def sample(
        self, wires: int | Sequence[int] | None = None, shots: int = 1000, seed: int | None = None
    ) -> Sample:
        """``shots`` measured bit strings of ``wires`` (all wires by default)."""
        return Sample(None if wires is None else _wires(wires), _shots(shots), seed)

    def counts(
        self, wires: int | Sequence[int] | None = None, shots: int = 1000, seed: int | None = None
    ) -> Counts:
        """``{bitstring: count}`` over ``shots`` measurements of ``wires``."""
        return Counts(None if wires is None else _wires(wires), _shots(shots), seed)


def _obs(obs: object) -> Observable:
    if not isinstance(obs, Observable):
        raise TypeError(f"expected an observable such as qoxide.Z(0), got {type(obs).__name__}")
    return obs


def _shots(shots: object) -> int:
    if not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"shots must be a positive integer, got {shots!r}")
    return int(shots)
