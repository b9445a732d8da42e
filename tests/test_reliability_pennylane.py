"""Issue 16, PennyLane device items: non-Hermitian observables, ``compute_vjp`` cotangent
validation, trainable state preparation and the excitation gates / SparseHamiltonian under
adjoint differentiation. default.qubit is the oracle for every returned number."""

from __future__ import annotations

import numpy as np
import pytest

qml = pytest.importorskip("pennylane")
torch = pytest.importorskip("torch")

from pennylane import numpy as pnp  # noqa: E402
from pennylane.devices import ExecutionConfig  # noqa: E402
from pennylane.exceptions import DeviceError  # noqa: E402
from scipy import sparse  # noqa: E402


# 7. a non-Hermitian operator is not an observable ---------------------------------------
@pytest.mark.parametrize("measure", [qml.expval, qml.var])
@pytest.mark.parametrize("diff_method", [None, "adjoint"])
def test_non_hermitian_observable_is_refused(measure, diff_method) -> None:  # noqa: ANN001
    dev = qml.device("qoxide.qubit", wires=2)

    @qml.qnode(dev, diff_method=diff_method)
    def circuit():  # noqa: ANN202
        qml.Hadamard(0)
        return measure(qml.RZ(1.0, 0))

    with pytest.raises(DeviceError, match="RZ"):
        circuit()


@pytest.mark.parametrize("obs", [qml.S(0), qml.RZ(0.3, 0) + qml.X(1), 2.0 * qml.RX(0.2, 1)])
def test_other_non_hermitian_observables_are_refused(obs) -> None:  # noqa: ANN001
    dev = qml.device("qoxide.qubit", wires=2)

    @qml.qnode(dev)
    def circuit():  # noqa: ANN202
        qml.Hadamard(0)
        return qml.expval(obs)

    with pytest.raises(DeviceError):
        circuit()


def test_hermitian_observables_without_pauli_form_still_work() -> None:
    dev, ref = qml.device("qoxide.qubit", wires=2), qml.device("default.qubit", wires=2)
    obs = [qml.Hadamard(1), qml.Projector(np.array([0.6, 0.8]), 0), qml.CNOT([0, 1])]
    for o in obs:

        def circuit(o=o):  # noqa: ANN001, ANN202
            qml.RY(0.4, 0)
            qml.RX(1.1, 1)
            qml.CNOT([0, 1])
            return qml.expval(o), qml.var(o)

        np.testing.assert_allclose(qml.QNode(circuit, dev)(), qml.QNode(circuit, ref)(), atol=1e-12)


# 8 and 14. compute_vjp cotangents ---------------------------------------------------------
def _tape(mps: list) -> qml.tape.QuantumScript:
    ops = [qml.RX(0.3, 0), qml.RY(0.5, 1), qml.CNOT([0, 1])]
    return qml.tape.QuantumScript(ops, mps, trainable_params=[0, 1])


def _vjp(name: str, tape: qml.tape.QuantumScript, cotangent: object) -> tuple:
    dev = qml.device(name, wires=2)
    config = dev.setup_execution_config(ExecutionConfig(gradient_method="adjoint"))
    return dev.compute_vjp((tape,), (cotangent,), config)[0]


TWO = [qml.expval(qml.Z(0)), qml.expval(qml.Y(1))]


@pytest.mark.parametrize("cotangent", [(1.0,), (1.0, 2.0, 3.0), np.array([1.0]), 1.0])
def test_vjp_refuses_a_wrong_cotangent_count(cotangent: object) -> None:
    with pytest.raises(ValueError, match=r"2 measurements.*cotangent"):
        _vjp("qoxide.qubit", _tape(TWO), cotangent)


def test_vjp_of_two_measurements_matches_default_qubit() -> None:
    for cot in [(1.0, 2.0), np.array([1.0, 2.0]), [np.array(1.0), np.array(2.0)]]:
        got = _vjp("qoxide.qubit", _tape(TWO), cot)
        np.testing.assert_allclose(got, _vjp("default.qubit", _tape(TWO), (1.0, 2.0)), atol=1e-12)


@pytest.mark.parametrize("cotangent", [1.0 + 0.5j, np.array([1.0 + 0.5j])])
def test_vjp_refuses_complex_cotangents(cotangent: object) -> None:
    with pytest.raises(ValueError, match="imaginary"):
        _vjp("qoxide.qubit", _tape([qml.expval(qml.Z(0))]), cotangent)


def test_vjp_accepts_complex_dtype_with_zero_imaginary_part() -> None:
    tape = _tape([qml.expval(qml.Z(0))])
    got = _vjp("qoxide.qubit", tape, np.complex128(0.7))
    np.testing.assert_allclose(got, _vjp("default.qubit", tape, 0.7), atol=1e-12)


def test_vjp_with_probs_is_a_clear_error() -> None:
    tape = _tape([qml.expval(qml.Z(0)), qml.probs(wires=[0, 1])])
    for cot in [(1.0, np.ones(4)), (1.0, np.ones(3)), (1.0,), (1.0, 1.0, 1.0)]:
        with pytest.raises(ValueError, match="probs"):
            _vjp("qoxide.qubit", tape, cot)


def test_vjp_single_measurement_cotangent_as_length_one_array() -> None:
    tape = _tape([qml.expval(qml.Z(0) @ qml.X(1))])
    want = _vjp("default.qubit", tape, 0.8)
    for cot in [np.array([0.8]), [0.8], (0.8,)]:
        got = _vjp("qoxide.qubit", tape, cot)
        np.testing.assert_allclose(np.ravel(got), np.ravel(want), atol=1e-12)


def test_vjp_broadcast_cotangent_shape_is_checked() -> None:
    tape = qml.tape.QuantumScript(
        [qml.RX(np.array([0.1, 0.2, 0.3]), 0)], [qml.expval(qml.Z(0))], trainable_params=[0]
    )
    got = _vjp("qoxide.qubit", tape, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(got[0], -np.sin([0.1, 0.2, 0.3]) * [1, 2, 3], atol=1e-12)
    with pytest.raises(ValueError, match=r"shape \(2,\); expected \(3,\)"):
        _vjp("qoxide.qubit", tape, np.array([1.0, 2.0]))


# 12. trainable state preparation under adjoint ----------------------------------------------
def _torch_layer_grads(name: str, diff_method: str, embed: str) -> tuple:
    dev = qml.device(name, wires=2)

    @qml.qnode(dev, diff_method=diff_method)
    def circuit(inputs, w):  # noqa: ANN001, ANN202
        if embed == "amplitude":
            qml.AmplitudeEmbedding(inputs, wires=[0, 1], normalize=True)
        else:
            qml.StatePrep(inputs / torch.linalg.norm(inputs, dim=-1, keepdim=True), wires=[0, 1])
        qml.RY(w[0], 0)
        qml.CNOT([0, 1])
        qml.RX(w[1], 1)
        return [qml.expval(qml.Z(0)), qml.expval(qml.X(1) @ qml.Y(0))]

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4, dtype=torch.float64), qml.qnn.TorchLayer(circuit, {"w": 2})
    )
    model[1].w.data = model[1].w.data.double()
    x = torch.randn(5, 3, dtype=torch.float64)
    y = model(x)
    (y * torch.arange(1, 11, dtype=torch.float64).reshape(5, 2)).sum().backward()
    return y.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("diff_method", ["adjoint", "best"])
@pytest.mark.parametrize("embed", ["amplitude", "stateprep"])
def test_trainable_state_prep_in_torch_layer(diff_method: str, embed: str) -> None:
    y_ref, g_ref = _torch_layer_grads("default.qubit", "adjoint", embed)
    y, g = _torch_layer_grads("qoxide.qubit", diff_method, embed)
    torch.testing.assert_close(y, y_ref, atol=1e-10, rtol=0)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_trainable_state_prep_autograd_jacobian() -> None:
    def circuit(v, w):  # noqa: ANN001, ANN202
        qml.StatePrep(v / pnp.linalg.norm(v), wires=[0, 1])
        qml.CRX(w, wires=[0, 1])
        return qml.expval(qml.Z(1) + 0.3 * qml.X(0))

    w = pnp.array(0.4, requires_grad=True)
    got = qml.jacobian(
        qml.QNode(circuit, qml.device("qoxide.qubit", wires=2), diff_method="adjoint")
    )
    want = qml.jacobian(
        qml.QNode(circuit, qml.device("default.qubit", wires=2), diff_method="adjoint")
    )
    v_real = pnp.array([0.3, -0.5, 0.2, 0.7], requires_grad=True)
    for a, b in zip(got(v_real, w), want(v_real, w), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_constant_state_prep_stays_an_initial_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state prep that is not trainable is not decomposed: it reaches the core as the
    initial state."""
    from qoxide import _core

    seen = []
    real = _core.vjp
    monkeypatch.setattr(_core, "vjp", lambda *a: seen.append(a[-1]) or real(*a))
    dev = qml.device("qoxide.qubit", wires=2)

    @qml.qnode(dev, diff_method="adjoint", interface="torch")
    def circuit(w):  # noqa: ANN001, ANN202
        qml.StatePrep(np.array([0.6, 0.0, 0.0, 0.8]), wires=[0, 1])
        qml.RY(w, 0)
        return qml.expval(qml.Z(0))

    w = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    circuit(w).backward()
    assert seen and seen[0] is not None
    # <Z0> = cos(w) (0.36 - 0.64) + ... : compare with default.qubit
    w_ref = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    qml.QNode(circuit.func, qml.device("default.qubit", wires=2), diff_method="backprop")(
        w_ref
    ).backward()
    torch.testing.assert_close(w.grad, w_ref.grad)


# 13. excitation gates and SparseHamiltonian under adjoint --------------------------------------
EXCITATIONS = {
    "DoubleExcitationPlus": lambda x: qml.DoubleExcitationPlus(x, wires=[0, 1, 2, 3]),
    "DoubleExcitationMinus": lambda x: qml.DoubleExcitationMinus(x, wires=[3, 1, 0, 2]),
    "DoubleExcitation": lambda x: qml.DoubleExcitation(x, wires=[0, 2, 1, 3]),
    "C(DoubleExcitationPlus)": lambda x: qml.ctrl(
        qml.DoubleExcitationPlus(x, wires=[0, 1, 2, 3]), control=4
    ),
    "C(DoubleExcitationMinus)": lambda x: qml.ctrl(
        qml.DoubleExcitationMinus(x, wires=[1, 2, 3, 4]), control=0, control_values=[0]
    ),
    "C(DoubleExcitation)": lambda x: qml.ctrl(qml.DoubleExcitation(x, wires=[0, 1, 2, 3]), 4),
    "Adjoint(DoubleExcitationPlus)": lambda x: qml.adjoint(
        qml.DoubleExcitationPlus(x, wires=[0, 1, 2, 3])
    ),
    "SingleExcitationPlus": lambda x: qml.SingleExcitationPlus(x, wires=[1, 3]),
    "C(SingleExcitationMinus)": lambda x: qml.ctrl(
        qml.SingleExcitationMinus(x, wires=[1, 3]), control=[0, 2]
    ),
}


@pytest.mark.parametrize("name", sorted(EXCITATIONS))
def test_excitation_gradients_match_default_qubit(name: str) -> None:
    def circuit(x):  # noqa: ANN001, ANN202
        for w in range(5):
            qml.RY(1.1 + 0.4 * w, w)
            qml.RX(0.2 * w - 0.1, w)
        EXCITATIONS[name](x)
        EXCITATIONS[name](2 * x - 0.4)
        for w in range(5):
            qml.CNOT([w, (w + 1) % 5])
            qml.RX(0.5, w)
        return qml.expval(qml.Z(0) @ qml.X(1) + 0.5 * qml.Y(2)), qml.expval(qml.Z(3) @ qml.Y(4))

    x = pnp.array(0.7, requires_grad=True)
    got, want = (
        qml.jacobian(lambda x, q=q: pnp.hstack(q(x)))(x)
        for q in (
            qml.QNode(circuit, qml.device(name, wires=5), diff_method="adjoint")
            for name in ("qoxide.qubit", "default.qubit")
        )
    )
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert np.abs(want).max() > 1e-2  # the test would not see a zero gradient otherwise


def test_excitation_broadcast_torch_gradients_match_default_qubit() -> None:
    def circuit(x):  # noqa: ANN001, ANN202
        for w in range(4):
            qml.RY(0.3 * (w + 1), w)
        qml.DoubleExcitationPlus(x, wires=[0, 1, 2, 3])
        qml.DoubleExcitationMinus(x**2, wires=[0, 2, 1, 3])
        return qml.expval(qml.X(0) @ qml.Y(1) @ qml.Y(2) @ qml.Y(3))

    grads = []
    for name, method in [("qoxide.qubit", "adjoint"), ("default.qubit", "backprop")]:
        x = torch.tensor([0.1, 0.7, -1.3], dtype=torch.float64, requires_grad=True)
        qml.QNode(circuit, qml.device(name, wires=4), diff_method=method, interface="torch")(
            x
        ).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_sparse_hamiltonian_adjoint_gradient_matches_default_qubit() -> None:
    h = qml.Z(0) @ qml.X(1) + 0.5 * qml.Y(2) - 0.25 * qml.X(0) @ qml.X(3)
    mat = sparse.csr_matrix(qml.matrix(h, wire_order=range(4)))

    def circuit(x):  # noqa: ANN001, ANN202
        for w in range(4):
            qml.RY(x * (w + 1), w)
            qml.RX(0.3 * w, w)
        qml.CNOT([0, 2])
        return qml.expval(qml.SparseHamiltonian(mat, wires=range(4)))

    x = pnp.array(0.7, requires_grad=True)
    got = qml.grad(qml.QNode(circuit, qml.device("qoxide.qubit", wires=4), diff_method="adjoint"))(
        x
    )
    want = qml.grad(
        qml.QNode(circuit, qml.device("default.qubit", wires=4), diff_method="adjoint")
    )(x)
    np.testing.assert_allclose(got, want, atol=1e-10)
