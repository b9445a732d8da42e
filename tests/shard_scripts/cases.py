"""Random circuits for the sharded tests: every gate kind, Pauli observables with X/Y/Z on
the wires that start global, probs and the state. Shared by the worker and the test."""

from __future__ import annotations

import numpy as np
import qoxide as qx

ONE_Q = ["Identity", "Hadamard", "PauliX", "PauliY", "PauliZ", "S", "T", "SX"]
ONE_Q_P = {"RX": 1, "RY": 1, "RZ": 1, "PhaseShift": 1, "Rot": 3, "U1": 1, "U2": 2, "U3": 3}
TWO_Q = ["CNOT", "CY", "CZ", "SWAP", "ISWAP"]
TWO_Q_P = {
    "CRX": 1,
    "CRY": 1,
    "CRZ": 1,
    "CRot": 3,
    "ControlledPhaseShift": 1,
    "IsingXX": 1,
    "IsingYY": 1,
    "IsingZZ": 1,
    "IsingXY": 1,
}


def random_unitary(k: int, rng: np.random.Generator) -> np.ndarray:
    d = 1 << k
    z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def make_case(seed: int, n: int, n_ops: int = 40):
    """(circuit, x [B, 3], w [P]) for a seed; the same on every process."""
    rng = np.random.default_rng(seed)
    n_w = 24
    ops = []
    names = (
        ONE_Q
        + list(ONE_Q_P)
        + TWO_Q
        + list(TWO_Q_P)
        + ["MultiRZ", "Toffoli", "CSWAP", "MultiControlledX", "QubitUnitary", "GlobalPhase"]
    )
    kinds = names + [names[i] for i in rng.integers(len(names), size=max(0, n_ops - len(names)))]
    rng.shuffle(kinds)
    for name in kinds:
        if name in ONE_Q or name in ONE_Q_P:
            nw = 1
        elif name in TWO_Q or name in TWO_Q_P:
            nw = 2
        elif name in ("Toffoli", "CSWAP"):
            nw = 3
        elif name == "GlobalPhase":
            nw = 0
        else:
            nw = int(rng.integers(2, 4)) if name != "QubitUnitary" else int(rng.integers(1, 3))
        wires = [int(v) for v in rng.choice(n, size=nw, replace=False)]
        n_p = (
            ONE_Q_P.get(name)
            or TWO_Q_P.get(name)
            or (1 if name in ("MultiRZ", "GlobalPhase") else 0)
        )
        params = [
            (int(rng.integers(3)), int(rng.integers(n_w)), float(rng.uniform(-1, 1)))
            for _ in range(n_p)
        ]
        extra = {}
        if name == "QubitUnitary":
            extra["matrix"] = random_unitary(nw, rng)
        if name == "MultiControlledX" and rng.random() < 0.5:
            extra["control_values"] = [bool(b) for b in rng.integers(2, size=nw - 1)]
        ops.append((name, wires, params, bool(rng.random() < 0.3), extra))
    # observables: wires 0 and 1 start global on 2+ ranks under the naive map; the
    # scheduler may move them, so use X/Y/Z on several wires
    obs_spec = [
        [(1.0, [(0, "Z")])],
        [(1.0, [(0, "X"), (1, "Y")])],
        [(0.5, [(n - 1, "Y"), (0, "Z")]), (-0.8, [(1, "X")]), (0.3, [(2, "Z"), (3, "Z")])],
        [(1.0, [(int(w), "XYZ"[int(rng.integers(3))]) for w in rng.choice(3, 2, replace=False)])],
    ]
    probs_wires = [int(v) for v in rng.choice(n, size=3, replace=False)]

    def obs(spec):
        total = None
        for c, word in spec:
            t = None
            for w, p in word:
                f = {"X": qx.X, "Y": qx.Y, "Z": qx.Z}[p](w)
                t = f if t is None else t @ f
            t = c * t
            total = t if total is None else total + t
        return total

    @qx.circuit(n_qubits=n)
    def net(q, x, w):
        for i in range(n):
            q.ry(x[i % 3], i)
        for name, wires, params, inv, extra in ops:
            vals = [
                x[a % 3] * 0.7 + c if kind == 0 else w[a] if kind == 1 else w[a] - 0.2 * x[a % 3]
                for kind, a, c in params
            ]
            if name == "GlobalPhase":
                q.op(name, [], vals, inverse=inv)
            else:
                q.op(name, wires, vals, inverse=inv, **extra)
        return [q.expval(obs(s)) for s in obs_spec] + [q.probs(probs_wires), q.state()]

    @qx.circuit(n_qubits=n)
    def net_ev(q, x, w):
        for i in range(n):
            q.ry(x[i % 3], i)
        for name, wires, params, inv, extra in ops:
            vals = [
                x[a % 3] * 0.7 + c if kind == 0 else w[a] if kind == 1 else w[a] - 0.2 * x[a % 3]
                for kind, a, c in params
            ]
            if name == "GlobalPhase":
                q.op(name, [], vals, inverse=inv)
            else:
                q.op(name, wires, vals, inverse=inv, **extra)
        return [q.expval(obs(s)) for s in obs_spec]

    x = rng.uniform(-np.pi, np.pi, size=(2, 3))
    w = rng.uniform(-np.pi, np.pi, size=n_w)
    g = rng.normal(size=(2, len(obs_spec)))
    return net, net_ev, x, w, g


def pennylane_case(n: int):
    """(expval circuit, probs circuit, x [n], w [2, n, 3], cotangent [3]) for the
    ``qoxide.qubit(mpi=True)`` test: X/Y/Z on the wires that start global, a Pauli sum."""
    import pennylane as qml

    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, n)
    w = rng.uniform(-np.pi, np.pi, (2, n, 3))
    g = rng.uniform(-1, 1, 3)

    def gates(x, w):  # noqa: ANN001, ANN202
        for i in range(n):
            qml.RY(x[i], wires=i)
        for layer in range(2):
            for i in range(n):
                qml.Rot(*w[layer, i], wires=i)
            for i in range(n):
                qml.CNOT(wires=[i, (i + 1) % n])
        qml.IsingZZ(w[0, 0, 0], wires=[0, n - 1])

    def expvals(x, w):  # noqa: ANN001, ANN202
        gates(x, w)
        h = qml.Hamiltonian([0.3, -0.7], [qml.PauliZ(1) @ qml.PauliZ(n - 1), qml.PauliX(n - 2)])
        return (
            qml.expval(qml.PauliZ(0)),
            qml.expval(qml.PauliX(0) @ qml.PauliY(n - 1)),
            qml.expval(h),
        )

    def probs(x, w):  # noqa: ANN001, ANN202
        gates(x, w)
        return qml.probs(wires=[0, n - 1])

    return expvals, probs, x, w, g
