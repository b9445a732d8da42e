"""The PennyLane script of the hybrid make_moons classifier (PennyLane TorchLayer) with ONE
changed line:

    self.qlayer = qx.from_pennylane(qml.qnn.TorchLayer(self.qcircuit, weight_shape))

    python examples/moons_from_pennylane.py [default.qubit backprop]

Everything else is the forum post's script, except what PennyLane itself needs today to
run a TorchLayer on a batch: the QNode sees the whole batch [5, 2], so the encoding loops
over ``inputs.shape[-1]`` features and indexes ``inputs[..., x]`` (the post's
``len(inputs)`` / ``inputs[x]`` fail on default.qubit too), and the imports used
below. ``benches/from_pennylane.py`` times this script against the same script without the
changed line (default.qubit, backprop).
"""

# ruff: noqa: B905, UP032, I001 - the original script's own code, kept as written

import sys
from time import perf_counter

import numpy as np
import pennylane as qml
import torch
import torch.nn as nn
from sklearn.datasets import make_moons

import qoxide as qx


class Model(nn.Module):
    def __init__(self, dev, diff_method="backprop"):
        super().__init__()

        self.cnet_in = self.cnet()
        self.qcircuit = qml.qnode(dev, interface="torch", diff_method=diff_method)(self.qnode)

        weight_shape = {"weights": (2,)}
        self.qlayer = qx.from_pennylane(qml.qnn.TorchLayer(self.qcircuit, weight_shape))
        self.cnet_out = self.cnet()

    def cnet(self):
        layers = [nn.Linear(2, 10), nn.ReLU(True), nn.Linear(10, 2), nn.Tanh()]
        return nn.Sequential(*layers)

    def qnode(self, inputs, weights):
        # Data encoding:
        for x in range(inputs.shape[-1]):
            qml.Hadamard(x)
            qml.RZ(2.0 * inputs[..., x], wires=x)
        # Trainable part:
        qml.CNOT(wires=[0, 1])
        qml.RY(weights[0], wires=0)
        qml.RY(weights[1], wires=1)
        return [qml.expval(qml.PauliZ(wires=0)), qml.expval(qml.PauliZ(wires=1))]

    def forward(self, x):
        x1 = self.cnet_in(x)
        x2 = self.qlayer(x1)
        x_output = self.cnet_out(x2)
        return x_output


def train(X, y_hot, dev_name, diff_method):
    dev = qml.device(dev_name, wires=2, shots=None)
    model = Model(dev, diff_method)

    # Train the model
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    loss = torch.nn.L1Loss()

    X = torch.tensor(X, requires_grad=False).float()
    y_hot = y_hot.float()

    batch_size = 5
    batches = 200 // batch_size

    data_loader = torch.utils.data.DataLoader(
        list(zip(X, y_hot)), batch_size=batch_size, shuffle=True, drop_last=True
    )

    epochs = 6

    for epoch in range(epochs):
        running_loss = 0

        for xs, ys in data_loader:
            opt.zero_grad()

            loss_evaluated = loss(model(xs), ys)
            loss_evaluated.backward()

            opt.step()

            running_loss += loss_evaluated

        avg_loss = running_loss / batches
        print("Average loss over epoch {}: {:.4f}".format(epoch + 1, avg_loss))

    y_pred = model(X)
    predictions = torch.argmax(y_pred, axis=1).detach().numpy()

    correct = [1 if p == p_true else 0 for p, p_true in zip(predictions, y)]
    accuracy = sum(correct) / len(correct)
    print(f"Accuracy: {accuracy * 100}%")


if __name__ == "__main__":
    torch.manual_seed(42)
    np.random.seed(42)
    X, y = make_moons(n_samples=200, noise=0.1)
    y_ = torch.unsqueeze(torch.tensor(y), 1)  # used for one-hot encoded labels
    y_hot = torch.scatter(torch.zeros((200, 2)), 1, y_, 1)
    dev_name = sys.argv[1] if len(sys.argv) > 1 else "default.qubit"
    diff_method = sys.argv[2] if len(sys.argv) > 2 else "backprop"
    begin_time = perf_counter()
    train(X, y_hot, dev_name, diff_method)
    end_time = perf_counter()
    runtime = end_time - begin_time
    print(f"Runtime: {runtime:.2e} s or {(runtime / 60):.2e} min.")
