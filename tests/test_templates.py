"""Circuit templates equal PennyLane's templates on default.qubit (same wires, same state)."""

from __future__ import annotations

import numpy as np
import pytest
import qoxide as qx
import torch
from qoxide.nn import (
    AmplitudeEmbedding,
    AngleEmbedding,
    BasicEntanglerLayers,
    StronglyEntanglingLayers,
    entangling_layer,
    h_layer,
    ry_layer,
)

qml = pytest.importorskip("pennylane")

RNG = np.random.default_rng(7)


def pl_state(n: int, body) -> np.ndarray:  # noqa: ANN001
    @qml.qnode(qml.device("default.qubit", wires=n))
    def f():
        body()
        return qml.state()

    return np.asarray(f())


def qx_state(n: int, body, x: np.ndarray, w: np.ndarray) -> np.ndarray:  # noqa: ANN001
    @qx.circuit(n_qubits=n)
    def f(q, x, w):
        body(q, x, w)
        return q.state()

    return f(x, w)


@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
@pytest.mark.parametrize("n_features", [3, 4])
def test_angle_embedding(rotation, n_features):
    x = RNG.uniform(-np.pi, np.pi, n_features)
    ours = qx_state(
        4,
        lambda q, x, w: (h_layer(q), AngleEmbedding(q, x, rotation=rotation)),
        x,
        np.zeros(1),
    )

    def body():
        for i in range(4):
            qml.Hadamard(i)
        qml.AngleEmbedding(x, wires=range(4), rotation=rotation)

    np.testing.assert_allclose(ours, pl_state(4, body), atol=1e-12)


@pytest.mark.parametrize("n_wires", [1, 2, 3, 4])
@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
def test_basic_entangler_layers(n_wires, rotation):
    w = RNG.uniform(0, 2 * np.pi, BasicEntanglerLayers.shape(n_layers=3, n_wires=n_wires))
    x = RNG.uniform(0, np.pi, n_wires)

    def ours(q, x, w):
        AngleEmbedding(q, x, rotation="Y")
        BasicEntanglerLayers(q, w, rotation=rotation)

    def body():
        qml.AngleEmbedding(x, wires=range(n_wires), rotation="Y")
        qml.BasicEntanglerLayers(w, wires=range(n_wires), rotation=getattr(qml, "R" + rotation))

    np.testing.assert_allclose(qx_state(n_wires, ours, x, w), pl_state(n_wires, body), atol=1e-12)


@pytest.mark.parametrize(
    ("n_wires", "n_layers", "ranges"),
    [(1, 2, None), (2, 2, None), (4, 3, None), (5, 4, None), (4, 3, [1, 3, 2])],
)
def test_strongly_entangling_layers(n_wires, n_layers, ranges):
    w = RNG.uniform(0, 2 * np.pi, StronglyEntanglingLayers.shape(n_layers, n_wires))
    assert w.shape == qml.StronglyEntanglingLayers.shape(n_layers=n_layers, n_wires=n_wires)
    x = RNG.uniform(0, np.pi, n_wires)

    def ours(q, x, w):
        AngleEmbedding(q, x)
        StronglyEntanglingLayers(q, w, ranges=ranges)

    def body():
        qml.AngleEmbedding(x, wires=range(n_wires))
        qml.StronglyEntanglingLayers(w, wires=range(n_wires), ranges=ranges)

    np.testing.assert_allclose(qx_state(n_wires, ours, x, w), pl_state(n_wires, body), atol=1e-12)


def test_templates_on_a_subset_of_wires():
    w = RNG.uniform(0, 2 * np.pi, (2, 3, 3))
    x = RNG.uniform(0, np.pi, 2)
    wires = [3, 0, 2]

    def ours(q, x, w):
        AngleEmbedding(q, x, wires=[1, 3])
        StronglyEntanglingLayers(q, w, wires=wires)

    def body():
        qml.AngleEmbedding(x, wires=[1, 3])
        qml.StronglyEntanglingLayers(w, wires=wires)

    np.testing.assert_allclose(qx_state(4, ours, x, w), pl_state(4, body), atol=1e-12)


@pytest.mark.parametrize(
    ("n_features", "wires", "pad_with", "normalize"),
    [(8, None, None, True), (5, None, 0.3, True), (4, [2, 0], None, True), (3, [1, 2], 0.0, True)],
)
def test_amplitude_embedding_of_inputs_per_sample(n_features, wires, pad_with, normalize):
    xs = RNG.uniform(-1, 1, (4, n_features))
    w = RNG.uniform(0, 2 * np.pi, (1, 3, 3))

    def ours(q, x, w):
        AmplitudeEmbedding(q, x, wires=wires, pad_with=pad_with, normalize=normalize)
        StronglyEntanglingLayers(q, w)

    got = qx_state(3, ours, xs, w)
    assert got.shape == (4, 8)
    for row, state in zip(xs, got, strict=True):

        def body(row=row):
            qml.AmplitudeEmbedding(
                row, wires=wires or range(3), pad_with=pad_with, normalize=normalize
            )
            qml.StronglyEntanglingLayers(w, wires=range(3))

        np.testing.assert_allclose(state, pl_state(3, body), atol=1e-12)


def test_amplitude_embedding_of_constants_and_normalisation_errors():
    v = np.array([1.0, 1.0, 0.0, 1.0]) / np.sqrt(3)

    @qx.circuit(n_qubits=2, inputs=None)
    def fixed(q):
        AmplitudeEmbedding(q, v)
        return q.state()

    np.testing.assert_allclose(fixed(), v, atol=1e-12)

    @qx.circuit(n_qubits=2)
    def unnormalised(q, x):
        AmplitudeEmbedding(q, x)
        return q.state()

    with pytest.raises(ValueError, match="norm 1"):
        unnormalised(np.ones((2, 4)))
    with pytest.raises(ValueError, match="pad_with"):
        unnormalised(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at most 4"):
        unnormalised(np.ones((2, 5)))


def test_amplitude_embedding_expvals_and_weight_gradients():
    @qx.circuit(n_qubits=2)
    def f(q, x, w):
        AmplitudeEmbedding(q, x, normalize=True)
        BasicEntanglerLayers(q, w)
        return [q.expval(qx.Z(0)), q.expval(qx.X(1))]

    x = torch.tensor(RNG.uniform(-1, 1, (3, 4)))
    w = torch.tensor(RNG.uniform(0, 2 * np.pi, (2, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: f(x, w), (w,))

    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def ref(row, w):
        qml.AmplitudeEmbedding(row, wires=range(2), normalize=True)
        qml.BasicEntanglerLayers(w, wires=range(2))
        return qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliX(1))

    want = np.array([ref(row, w.detach().numpy()) for row in x.numpy()])
    np.testing.assert_allclose(f(x, w).detach().numpy(), want, atol=1e-12)
    with pytest.raises(NotImplementedError, match="amplitude-embedded"):
        f(x.clone().requires_grad_(), w)


def test_seed_layers_match_the_dressed_circuit():
    x = RNG.uniform(0, np.pi, 5)
    w = RNG.uniform(0, 2 * np.pi, (3, 5))

    def ours(q, x, w):
        h_layer(q)
        ry_layer(q, x)
        for k in range(3):
            entangling_layer(q)
            ry_layer(q, w[k])

    def body():
        for i in range(5):
            qml.Hadamard(i)
            qml.RY(x[i], wires=i)
        for k in range(3):
            for i in range(0, 4, 2):
                qml.CNOT(wires=[i, i + 1])
            for i in range(1, 4, 2):
                qml.CNOT(wires=[i, i + 1])
            for i in range(5):
                qml.RY(w[k, i], wires=i)

    np.testing.assert_allclose(qx_state(5, ours, x, w), pl_state(5, body), atol=1e-12)


def test_template_input_errors():
    def run(body, n=3):  # noqa: ANN001
        @qx.circuit(n_qubits=n, inputs=None)
        def f(q):
            body(q)
            return q.state()

        return f()

    with pytest.raises(ValueError, match="rotation"):
        run(lambda q: AngleEmbedding(q, [0.1], rotation="W"))
    with pytest.raises(ValueError, match="4 features for 3 wires|needs 4 wires"):
        run(lambda q: AngleEmbedding(q, [0.1] * 4))
    with pytest.raises(ValueError, match="ranges"):
        run(lambda q: StronglyEntanglingLayers(q, np.zeros((1, 3, 3)), ranges=[3]))
    with pytest.raises(ValueError, match="shape"):
        run(lambda q: StronglyEntanglingLayers(q, np.zeros((1, 3, 2))))
    with pytest.raises(ValueError, match="out of range"):
        run(lambda q: BasicEntanglerLayers(q, np.zeros((1, 2)), wires=[1, 5]))
    with pytest.raises(ValueError, match="must come first"):
        run(lambda q: (q.h(0), AmplitudeEmbedding(q, [1.0, 0.0], wires=[0])))
