"""Example 1: the hybrid make_moons classifier (PennyLane TorchLayer), trained with qoxide.

    python examples/moons_hybrid.py [--epochs 6]

The workflow (model, data, training loop) is ``qoxide/demo.py``, the module that
``qoxide demo`` runs, so the example and the demo are the same code. The model:
Linear(2,10)-ReLU-Linear(10,2)-Tanh -> 2-qubit QuantumLayer (H + RZ(2x) encoding, CNOT,
RY weights, <Z0>, <Z1>) -> the same classical block; SGD lr 0.2, L1 loss, batch 5.
"""

import argparse

from qoxide.demo import main

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=6)
    main(epochs=ap.parse_args().epochs)
