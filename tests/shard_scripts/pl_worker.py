"""One rank of the ``qoxide.qubit(mpi=True)`` test: expvals, probs and torch gradients
(device VJP and device Jacobian) of a QNode; writes this rank's results.

argv: out_dir n. Launched with RANK/WORLD_SIZE/MASTER_* set.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(__file__))

import pennylane as qml  # noqa: E402
from cases import pennylane_case  # noqa: E402


def main() -> None:
    out_dir, n = sys.argv[1], int(sys.argv[2])
    expvals, probs, x, w, g = pennylane_case(n)
    dev = qml.device("qoxide.qubit", wires=n, mpi=True)
    res = {}
    for tag, device_vjp in (("vjp", True), ("jac", False)):
        node = qml.QNode(
            expvals, dev, interface="torch", diff_method="adjoint", device_vjp=device_vjp
        )
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        ev = torch.stack(node(xt, wt))
        (ev * torch.tensor(g)).sum().backward()
        res[f"ev_{tag}"] = ev.detach().numpy()
        res[f"gx_{tag}"] = xt.grad.numpy()
        res[f"gw_{tag}"] = wt.grad.numpy()
    res["probs"] = np.asarray(qml.QNode(probs, dev)(x, w))
    shots = qml.set_shots(qml.QNode(probs, dev), shots=10)
    try:
        shots(x, w)
        res["shots_refused"] = np.array(False)
    except NotImplementedError:
        res["shots_refused"] = np.array(True)
    # the state really was sharded: collectives ran, the shard holds 2^(n-k) amplitudes
    comm = dev._runner.comm
    res["collectives"] = np.array(sum(comm.calls.values()))
    res["ranks"] = np.array(comm.size)
    rank = int(os.environ["RANK"])
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), **res)


if __name__ == "__main__":
    main()
