"""The PennyLane device ``qoxide.qubit`` against ``default.qubit`` as the oracle.

Random circuits mix native gates, adjoints, gates PennyLane must decompose, gates run as
dense matrices, and broadcast parameters; every measurement type is compared (analytic
exactly, sampled within statistical bounds). Adjoint derivatives are compared with
default.qubit's backprop, and broadcast batches must reach the core as ONE call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

qml = pytest.importorskip("pennylane")
torch = pytest.importorskip("torch")

import qoxide as qx  # noqa: E402
from pennylane import numpy as pnp  # noqa: E402
from pennylane.devices import ExecutionConfig  # noqa: E402
from pennylane.exceptions import DeviceError, QuantumFunctionError  # noqa: E402
from qoxide.pennylane import QoxideQubit  # noqa: E402

N = 4
# (name, wires, parameters); names are PennyLane's. The second block is not native: it is
# decomposed by PennyLane or run as a dense matrix.
GATES = [
    ("Hadamard", 1, 0), ("PauliX", 1, 0), ("PauliY", 1, 0), ("PauliZ", 1, 0), ("S", 1, 0),
    ("T", 1, 0), ("SX", 1, 0), ("RX", 1, 1), ("RY", 1, 1), ("RZ", 1, 1), ("PhaseShift", 1, 1),
    ("Rot", 1, 3), ("U1", 1, 1), ("U2", 1, 2), ("U3", 1, 3), ("CNOT", 2, 0), ("CY", 2, 0),
    ("CZ", 2, 0), ("SWAP", 2, 0), ("ISWAP", 2, 0), ("CRX", 2, 1), ("CRY", 2, 1), ("CRZ", 2, 1),
    ("CRot", 2, 3), ("ControlledPhaseShift", 2, 1), ("IsingXX", 2, 1), ("IsingYY", 2, 1),
    ("IsingZZ", 2, 1), ("IsingXY", 2, 1), ("MultiRZ", 3, 1), ("Toffoli", 3, 0), ("CSWAP", 3, 0),
    ("MultiControlledX", 3, 0), ("QubitUnitary", 2, 0), ("GlobalPhase", 0, 1),
    ("CH", 2, 0), ("ECR", 2, 0), ("SISWAP", 2, 0), ("PSWAP", 2, 1), ("SingleExcitation", 2, 1),
    ("DoubleExcitation", 4, 1), ("PauliRot", 3, 1), ("C(RY)", 2, 1), ("DiagonalQubitUnitary", 2, 0),
]  # fmt: skip
PAULI = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}

Plan = list[tuple[str, list[int], int, object, bool]]


def random_unitary(rng: np.random.Generator, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def random_hermitian(rng: np.random.Generator, dim: int) -> np.ndarray:
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    return a + a.conj().T


def random_plan(rng: np.random.Generator, n_ops: int, gates: list = GATES) -> tuple[Plan, int]:
    """A random circuit on N wires as (name, wires, n_params, extra, adjoint) items, and
    its number of parameters."""
    plan: Plan = []
    n_params = 0
    for _ in range(n_ops):
        name, k, p = gates[rng.integers(len(gates))]
        wires = [int(w) for w in rng.permutation(N)[:k]]
        extra: object = None
        if name == "MultiControlledX":
            extra = [int(b) for b in rng.integers(0, 2, k - 1)]
        elif name == "QubitUnitary":
            extra = random_unitary(rng, 4)
        elif name == "DiagonalQubitUnitary":
            extra = np.exp(1j * rng.uniform(-np.pi, np.pi, 4))
        elif name == "PauliRot":
            extra = "".join(rng.choice(list("XYZ"), k))
        plan.append((name, wires, p, extra, bool(rng.random() < 0.2)))
        n_params += p
    return plan, n_params


def queue(plan: Plan, params: object) -> None:
    """Queue the plan's operations; parameter k is ``params[..., k]`` (so a [B, P] array
    broadcasts every gate)."""
    k = 0
    for name, wires, p, extra, adjoint in plan:
        args = [params[..., k + i] for i in range(p)]
        k += p
        with qml.QueuingManager.stop_recording():
            if name == "MultiControlledX":
                op = qml.MultiControlledX(wires=wires, control_values=extra)
            elif name in ("QubitUnitary", "DiagonalQubitUnitary"):
                op = getattr(qml, name)(extra, wires=wires)
            elif name == "PauliRot":
                op = qml.PauliRot(args[0], extra, wires=wires)
            elif name == "C(RY)":
                op = qml.ctrl(qml.RY(args[0], wires=wires[1]), control=wires[0])
            else:
                op = getattr(qml, name)(*args, wires=wires)
            if adjoint:
                op = qml.adjoint(op)
        qml.apply(op)


def analytic_measurements(rng: np.random.Generator) -> list:
    """One of each measurement and observable kind, on random wires."""
    w = [int(x) for x in rng.permutation(N)]
    word = PAULI["X"](w[0]) @ PAULI["Y"](w[1]) @ PAULI["Z"](w[2])
    hamiltonian = qml.Hamiltonian(
        rng.normal(size=3), [PAULI["Z"](w[0]) @ PAULI["Z"](w[1]), PAULI["X"](w[2]), qml.Y(w[3])]
    )
    herm = qml.Hermitian(random_hermitian(rng, 4), wires=[w[2], w[0]])
    mixed = 0.7 * (qml.Hermitian(random_hermitian(rng, 2), w[1]) @ qml.X(w[3])) - qml.Z(w[0])
    vec = random_unitary(rng, 4)[:, 0]
    return [
        qml.expval(word),
        qml.expval(hamiltonian),
        qml.expval(herm),
        qml.expval(mixed),
        qml.expval(qml.Projector([1, 0], wires=[w[1], w[3]])),
        qml.expval(qml.Projector(vec, wires=[w[0], w[2]])),
        qml.expval(qml.Hadamard(w[2])),
        qml.expval(qml.Identity(w[1])),
        qml.var(word),
        qml.var(hamiltonian),
        qml.var(herm),
        qml.probs(wires=[w[2], w[0]]),
        qml.probs(),
        qml.probs(op=qml.X(w[1])),
        qml.state(),
        qml.density_matrix(wires=[w[3], w[1]]),
    ]


def run(device: object, plan: Plan, params: object, measurements: list, **kw) -> object:  # noqa: ANN003
    @qml.qnode(device, **kw)
    def circuit(params):  # noqa: ANN001, ANN202
        queue(plan, params)
        return [qml.apply(m) for m in measurements]

    return circuit(params)


def assert_results_close(got: object, want: object, atol: float) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=atol, rtol=0)


# --- analytic execution ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("batch", [None, 3])
def test_random_circuits_match_default_qubit(seed: int, batch: int | None) -> None:
    rng = np.random.default_rng(seed)
    plan, p = random_plan(rng, 25)
    params = rng.uniform(-np.pi, np.pi, (p,) if batch is None else (batch, p))
    if batch is not None and not any(k for _, _, k, _, _ in plan):
        pytest.skip("no parameter to broadcast")
    meas = analytic_measurements(rng)
    got = run(qml.device("qoxide.qubit", wires=N), plan, params, meas)
    want = run(qml.device("default.qubit", wires=N), plan, params, meas)
    assert_results_close(got, want, atol=1e-9)


def test_complex64_matches_to_single_precision() -> None:
    rng = np.random.default_rng(11)
    plan, p = random_plan(rng, 20)
    params = rng.uniform(-np.pi, np.pi, p)
    meas = [m for m in analytic_measurements(rng) if not isinstance(m, qml.measurements.StateMP)]
    got = run(qml.device("qoxide.qubit", wires=N, c_dtype=np.complex64), plan, params, meas)
    want = run(qml.device("default.qubit", wires=N), plan, params, meas)
    assert_results_close(got, want, atol=2e-5)
    state = run(
        qml.device("qoxide.qubit", wires=N, c_dtype=np.complex64), plan, params, [qml.state()]
    )
    assert state[0].dtype == np.complex64


def test_wire_labels_and_dynamic_wires() -> None:
    def circuit(x):  # noqa: ANN001, ANN202
        qml.Hadamard("a")
        qml.CRX(x, wires=["a", 7])
        qml.StatePrep(np.array([0.6, 0.8j]), wires=["z"])
        return qml.expval(qml.Z(7) @ qml.Y("z")), qml.probs(wires=[7, "a"]), qml.state()

    for wires in (["z", 7, "a"], None):
        got = qml.QNode(circuit, qml.device("qoxide.qubit", wires=wires))(0.4)
        want = qml.QNode(circuit, qml.device("default.qubit", wires=wires))(0.4)
        assert_results_close(got, want, atol=1e-12)


def test_initial_state_preparation_broadcast() -> None:
    states = random_unitary(np.random.default_rng(3), 8)[:, :5].T  # 5 states of 3 qubits

    def circuit(s, x):  # noqa: ANN001, ANN202
        qml.StatePrep(s, wires=[0, 1, 2])
        qml.RY(x, wires=1)
        qml.BasisState(np.array([1, 0]), wires=[0, 2])  # mid-circuit: decomposed
        return qml.expval(qml.X(1) @ qml.Z(0)), qml.probs(wires=[2, 1])

    x = np.linspace(0, 2, 5)
    got = qml.QNode(circuit, qml.device("qoxide.qubit", wires=3))(states, x)
    want = qml.QNode(circuit, qml.device("default.qubit", wires=3))(states, x)
    assert_results_close(got, want, atol=1e-12)


def test_edge_circuits() -> None:
    """A broadcast matrix (split into one tape per row), identities on several wires, and a
    circuit on no wires at all."""
    us = np.stack([random_unitary(np.random.default_rng(i), 4) for i in range(3)])

    def broadcast_matrix():  # noqa: ANN202
        qml.QubitUnitary(us, wires=[0, 1])
        qml.RY(np.array([0.1, 0.2, 0.3]), 1)
        qml.adjoint(qml.Identity([0, 1]))
        return qml.probs(), qml.expval(qml.X(1))

    def no_wires():  # noqa: ANN202
        qml.GlobalPhase(0.3)
        return qml.state()

    for fn, wires in ((broadcast_matrix, 2), (no_wires, None)):
        got = qml.QNode(fn, qml.device("qoxide.qubit", wires=wires))()
        want = qml.QNode(fn, qml.device("default.qubit", wires=wires))()
        assert_results_close(
            got if isinstance(got, tuple) else [got],
            want if isinstance(want, tuple) else [want],
            1e-12,
        )


def test_sparse_hamiltonian_expval_and_var() -> None:
    """Measured from the native state (default.qubit has no sparse variance: numpy is the
    reference)."""
    h = qml.Hamiltonian([0.3, -1.2], [qml.X(0) @ qml.Y(2), qml.Z(1)]).sparse_matrix(
        wire_order=[0, 1, 2]
    )

    def circuit(x, measure):  # noqa: ANN001, ANN202
        qml.RX(x, 0)
        qml.Hadamard(2)
        qml.CRY(0.3, [0, 1])
        if not measure:
            return qml.state()
        o = qml.SparseHamiltonian(h, wires=[0, 1, 2])
        return qml.expval(o), qml.var(o)

    for x in (0.2, np.array([0.2, 1.1])):
        got = qml.QNode(circuit, qml.device("qoxide.qubit", wires=3))(x, True)
        psi = np.atleast_2d(qml.QNode(circuit, qml.device("default.qubit", wires=3))(x, False))
        mean = np.einsum("bi,bi->b", psi.conj(), (h @ psi.T).T).real
        var = np.linalg.norm((h @ psi.T).T, axis=1) ** 2 - mean**2
        assert_results_close(got, [mean.reshape(np.shape(x)), var.reshape(np.shape(x))], 1e-12)


def test_mid_circuit_measurements_are_deferred() -> None:
    def circuit(x):  # noqa: ANN001, ANN202
        qml.RX(x, 0)
        qml.CNOT([0, 1])
        m = qml.measure(1)
        qml.cond(m, qml.RY)(0.7, wires=0)
        return qml.expval(qml.Z(0)), qml.probs(op=m), qml.expval(m)

    got = qml.QNode(circuit, qml.device("qoxide.qubit", wires=3))(0.9)
    want = qml.QNode(circuit, qml.device("default.qubit", wires=3), mcm_method="deferred")(0.9)
    assert_results_close(got, want, atol=1e-12)
    with pytest.raises(DeviceError, match="deferred"):
        qml.QNode(circuit, qml.device("qoxide.qubit", wires=3), mcm_method="tree-traversal")(0.9)


# --- sampling -------------------------------------------------------------------------------


def test_sampled_measurements_agree_with_analytic() -> None:
    """Every sampled statistic within 5 standard errors of default.qubit's exact value."""
    rng = np.random.default_rng(5)
    plan, p = random_plan(rng, 20)
    params = rng.uniform(-np.pi, np.pi, p)
    shots = 20_000
    w = [int(x) for x in rng.permutation(N)]
    hamiltonian = 0.5 * qml.X(w[0]) @ qml.Z(w[1]) - 1.5 * qml.Y(w[2]) + 0.2 * qml.Z(w[3])
    herm = qml.Hermitian(random_hermitian(rng, 2), wires=w[3])
    observables = [qml.X(w[0]) @ qml.Y(w[1]), hamiltonian, herm, qml.Projector([1], w[2])]
    dev = qml.device("qoxide.qubit", wires=N, seed=1234)
    exact = qml.device("default.qubit", wires=N)
    ms = [qml.expval(o) for o in observables] + [qml.var(o) for o in observables]
    got = run(dev, plan, params, ms + [qml.probs(wires=[w[1], w[0]])], shots=shots)
    want = run(exact, plan, params, ms + [qml.probs(wires=[w[1], w[0]])])
    variances = run(exact, plan, params, [qml.var(o) for o in observables])
    for g, m, v in zip(got[: len(observables)], want, variances, strict=False):
        assert abs(g - m) < 5 * np.sqrt(v / shots) + 1e-12
    for g, m in zip(got[len(observables) : -1], want[len(observables) : -1], strict=True):
        assert abs(g - m) < 0.05 * max(abs(m), 1.0)
    probs = want[-1]
    assert np.all(np.abs(got[-1] - probs) < 5 * np.sqrt(probs * (1 - probs) / shots) + 1e-12)


def test_samples_counts_and_shot_vectors() -> None:
    dev = qml.device("qoxide.qubit", wires=3, seed=7)

    @qml.qnode(dev)
    def circuit(x):  # noqa: ANN001, ANN202
        qml.RX(x, 0)
        qml.CNOT([0, 1])
        qml.Hadamard(2)
        return (
            qml.sample(wires=[1, 0]),
            qml.sample(qml.X(2)),
            qml.counts(wires=[0, 1]),
            qml.counts(qml.Z(0) @ qml.Z(1)),
            qml.expval(qml.Z(0)),
        )

    bits, xs, counts, parity, ez = qml.set_shots(circuit, shots=4000)(1.1)
    assert bits.shape == (4000, 2) and np.all(bits[:, 0] == bits[:, 1])  # Bell-like pair
    assert set(np.unique(xs)) == {1.0}  # |+> is the +1 eigenstate of X
    assert sum(counts.values()) == 4000 and set(counts) <= {"00", "11"}
    assert parity == {1.0: 4000}
    p1 = np.sin(1.1 / 2) ** 2
    assert abs(counts.get("11", 0) / 4000 - p1) < 5 * np.sqrt(p1 * (1 - p1) / 4000)
    assert abs(ez - (1 - 2 * p1)) < 0.1

    batched = qml.set_shots(circuit, shots=[100, (50, 2)])(np.array([0.3, 2.0]))
    assert len(batched) == 3
    for n_shots, result in zip((100, 50, 50), batched, strict=True):
        assert result[0].shape == (2, n_shots, 2)
        assert len(result[2]) == 2 and sum(result[2][1].values()) == n_shots
        assert result[4].shape == (2,)


def test_sampling_is_reproducible_for_a_seed() -> None:
    def samples(seed: object) -> np.ndarray:
        dev = qml.device("qoxide.qubit", wires=2, seed=seed)
        circuit = qml.set_shots(qml.QNode(lambda: (qml.Hadamard(0), qml.sample())[1], dev), 200)
        return np.stack([circuit(), circuit()])

    a, b, c = samples(42), samples(42), samples(43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1])  # successive executions draw fresh seeds
    assert not np.array_equal(a, c)


# --- derivatives ----------------------------------------------------------------------------

DIFF_MEASUREMENTS = [
    lambda w: qml.expval(qml.X(w[0]) @ qml.Z(w[1])),
    lambda w: qml.expval(0.4 * qml.Y(w[2]) - 1.3 * qml.Z(w[0]) @ qml.Z(w[3])),
    lambda w: qml.expval(qml.Hermitian(np.array([[1.0, 0.5j], [-0.5j, -2.0]]), w[1])),
    lambda w: qml.expval(qml.Projector([0, 1], [w[3], w[2]])),
    lambda w: qml.expval(qml.Hadamard(w[0]) @ qml.Y(w[2])),
]


@pytest.mark.parametrize("seed", range(5))
def test_adjoint_jacobian_matches_backprop(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    plan, p = random_plan(rng, 18)
    params = pnp.array(rng.uniform(-np.pi, np.pi, p), requires_grad=True)
    w = [int(x) for x in rng.permutation(N)]
    meas = [f(w) for f in DIFF_MEASUREMENTS]

    def jac(device: object, diff_method: str) -> np.ndarray:
        f = lambda x: pnp.stack(run(device, plan, x, meas, diff_method=diff_method))  # noqa: E731
        return qml.jacobian(f)(params)

    got = jac(qml.device("qoxide.qubit", wires=N), "adjoint")
    want = jac(qml.device("default.qubit", wires=N), "backprop")
    np.testing.assert_allclose(got, want, atol=1e-9)


def broadcast_circuit(x: object, w: object) -> list:
    """Inputs x [B, 4] broadcast, weights w [6] shared by all rows."""
    for i in range(N):
        qml.Hadamard(i)
        qml.RY(x[..., i], wires=i)
    qml.CRot(w[0], w[1], w[2], wires=[0, 3])
    qml.IsingXY(w[3], wires=[1, 2])
    qml.PauliRot(w[4], "XYZ", wires=[2, 0, 1])  # decomposed, still differentiated
    qml.ctrl(qml.RX(w[5], wires=1), control=3)
    return [qml.expval(qml.Z(i)) for i in range(N - 1)] + [qml.expval(qml.X(0) @ qml.Y(3))]


def torch_loss_and_grads(device: object, diff_method: str, x: object, w: object) -> tuple:
    """Outputs and gradients of sum(c * outputs) w.r.t. x (trainable inputs) and w."""
    x = x.clone().requires_grad_()
    w = w.clone().requires_grad_()
    circuit = qml.QNode(broadcast_circuit, device, interface="torch", diff_method=diff_method)
    out = torch.stack(circuit(x, w), -1)
    weights = torch.arange(1.0, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    return out.detach(), x.grad, w.grad


@pytest.mark.parametrize("diff_method", ["adjoint", "device"])
def test_torch_broadcast_gradients_match_backprop(diff_method: str) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(7, N, generator=gen, dtype=torch.float64) * np.pi
    w = torch.rand(6, generator=gen, dtype=torch.float64) * np.pi
    got = torch_loss_and_grads(qml.device("qoxide.qubit", wires=N), diff_method, x, w)
    want = torch_loss_and_grads(qml.device("default.qubit", wires=N), "backprop", x, w)
    for g, m in zip(got, want, strict=True):
        torch.testing.assert_close(g, m, atol=1e-10, rtol=0)


def test_autograd_broadcast_gradients_match_backprop() -> None:
    rng = np.random.default_rng(2)
    x = pnp.array(rng.uniform(0, np.pi, (5, N)), requires_grad=True)
    w = pnp.array(rng.uniform(0, np.pi, 6), requires_grad=True)
    c = np.arange(1.0, 5 * N + 1).reshape(N, 5)

    def grads(device: object, diff_method: str) -> tuple:
        circuit = qml.QNode(broadcast_circuit, device, diff_method=diff_method)
        return qml.grad(lambda x, w: pnp.sum(pnp.stack(circuit(x, w)) * c))(x, w)

    got = grads(qml.device("qoxide.qubit", wires=N), "adjoint")
    want = grads(qml.device("default.qubit", wires=N), "backprop")
    for g, m in zip(got, want, strict=True):
        assert np.shape(g) == np.shape(m)
        np.testing.assert_allclose(g, m, atol=1e-10)


def counting(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, int]:
    """Count calls to the given ``qoxide._core`` functions (still running them)."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(qx._core, name)

        def wrapper(*args: object, _real: Callable = real, _name: str = name, **kw: object):  # noqa: ANN202
            calls[_name] += 1
            return _real(*args, **kw)

        monkeypatch.setattr(qx._core, name, wrapper)
    return calls


def test_broadcast_batch_of_64_is_one_native_call(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = qml.device("qoxide.qubit", wires=N)

    @qml.qnode(dev, interface="torch", diff_method="adjoint")
    def circuit(inputs, weights):  # noqa: ANN001, ANN202
        for i in range(N):
            qml.Hadamard(i)
            qml.RY(inputs[..., i], wires=i)
        for k in range(6):
            qml.CNOT([0, 1])
            qml.CNOT([2, 3])
            qml.CNOT([1, 2])
            for i in range(N):
                qml.RY(weights[k, i], wires=i)
        return [qml.expval(qml.Z(i)) for i in range(N)]

    layer = qml.qnn.TorchLayer(circuit, {"weights": (6, N)})
    x = torch.rand(64, N, requires_grad=True)
    calls = counting(monkeypatch, "expval", "vjp", "jacobian", "state")
    y = layer(x)
    y.sum().backward()
    assert y.shape == (64, N)
    assert calls == {"expval": 1, "vjp": 1, "jacobian": 0, "state": 0}
    assert x.grad.shape == (64, N) and layer.weights.grad.shape == (6, N)


def test_tapes_of_one_execute_share_a_native_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parameter-shift's shifted tapes differ only in angles: one stacked native call."""
    dev = qml.device("qoxide.qubit", wires=2)

    @qml.qnode(dev, diff_method="parameter-shift")
    def circuit(x):  # noqa: ANN001, ANN202
        qml.RX(x[0], 0)
        qml.CRY(x[1], [0, 1])
        qml.Rot(x[2], x[3], x[4], 1)
        return qml.expval(qml.Z(1)), qml.expval(qml.X(0) @ qml.Y(1))

    x = pnp.array([0.1, 0.7, -0.4, 1.2, 0.3], requires_grad=True)
    calls = counting(monkeypatch, "expval")
    with dev.tracker:
        got = qml.jacobian(lambda x: pnp.stack(circuit(x)))(x)
    assert dev.tracker.totals["executions"] >= 1 + 2 * len(x)
    assert calls == {"expval": 2}  # the forward pass, then all shifted tapes at once
    reference = qml.QNode(circuit.func, qml.device("default.qubit"), diff_method="backprop")
    want = qml.jacobian(lambda x: pnp.stack(reference(x)))(x)
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_compute_derivatives_layout() -> None:
    """Jacobian of a broadcast tape: per measurement, per trainable parameter, [B] arrays
    equal to the rows of the unbroadcast Jacobians; a shared parameter's too."""
    dev = QoxideQubit(wires=2)
    xs = np.array([0.2, 0.9, -1.3])

    def tape(x: object) -> qml.tape.QuantumScript:
        t = qml.tape.QuantumScript(
            [qml.RX(x, 0), qml.IsingZZ(0.5, [0, 1]), qml.RY(0.8, 1)],
            [qml.expval(qml.Z(0) @ qml.X(1)), qml.expval(qml.Y(1))],
        )
        t.trainable_params = [0, 2]
        return t

    config = ExecutionConfig(gradient_method="adjoint")
    (jac,) = dev.compute_derivatives([tape(xs)], config)
    rows = [dev.compute_derivatives([tape(x)], config)[0] for x in xs]
    ref = qml.devices.DefaultQubit().compute_derivatives([tape(xs[1])], config)[0]
    for m in range(2):
        for t in range(2):
            assert jac[m][t].shape == (3,)
            np.testing.assert_allclose(jac[m][t], [r[m][t] for r in rows], atol=1e-12)
            np.testing.assert_allclose(rows[1][m][t], ref[m][t], atol=1e-12)


def test_complex64_adjoint_gradients() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(5, N, generator=gen, dtype=torch.float64)
    w = torch.rand(6, generator=gen, dtype=torch.float64)
    single = torch_loss_and_grads(
        qml.device("qoxide.qubit", wires=N, c_dtype=np.complex64), "adjoint", x, w
    )
    double = torch_loss_and_grads(qml.device("qoxide.qubit", wires=N), "adjoint", x, w)
    for s, d in zip(single, double, strict=True):
        torch.testing.assert_close(s.double(), d, atol=1e-4, rtol=0)


# --- configuration and errors ---------------------------------------------------------------


def test_derivative_support_is_declared_per_circuit() -> None:
    dev = qml.device("qoxide.qubit", wires=2)
    adjoint = ExecutionConfig(gradient_method="adjoint")
    expval = qml.tape.QuantumScript([qml.RX(0.1, 0)], [qml.expval(qml.Z(0))])
    assert dev.supports_derivatives(adjoint, expval)
    assert dev.supports_derivatives(ExecutionConfig(gradient_method="device"), expval)
    assert not dev.supports_derivatives(ExecutionConfig(gradient_method="backprop"), expval)
    assert not dev.supports_derivatives(adjoint, expval.copy(shots=100))
    assert not dev.supports_derivatives(adjoint, expval.copy(measurements=[qml.probs(0)]))
    config = dev.setup_execution_config(ExecutionConfig(gradient_method="best"), expval)
    assert config.gradient_method == "adjoint" and config.use_device_jacobian_product


def test_errors() -> None:
    with pytest.raises(ValueError, match="c_dtype"):
        qml.device("qoxide.qubit", wires=1, c_dtype=np.float64)
    dev = qml.device("qoxide.qubit", wires=1)
    with pytest.raises(DeviceError, match="device option"):
        dev.setup_execution_config(ExecutionConfig(device_options={"max_workers": 2}))

    @qml.qnode(dev, diff_method="adjoint")
    def probs(x):  # noqa: ANN001, ANN202
        qml.RX(x, 0)
        return qml.probs(wires=0)

    with pytest.raises(QuantumFunctionError, match="adjoint"):
        qml.jacobian(probs)(pnp.array(0.3, requires_grad=True))

    @qml.qnode(dev)
    def sample():  # noqa: ANN202
        return qml.sample(wires=0)

    with pytest.raises(DeviceError, match="analytic"):
        sample()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PennyLane deprecates shots on devices
        assert qml.device("qoxide.qubit", wires=1, shots=5).shots.total_shots == 5
