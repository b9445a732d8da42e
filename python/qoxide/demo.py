"""`qoxide demo`: a batched quantum layer, its adjoint gradient, and how long they take.

The circuit is the seeds' dressed-net core (4 qubits; H + RY(x) encoding; 6 layers of
CNOT pairs + RY(w); <Z_i> on every wire), run on a batch of 64 inputs as one native call.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

import qoxide as qx

N_QUBITS, DEPTH, BATCH = 4, 6, 64


@qx.circuit(n_qubits=N_QUBITS)
def dressed_core(q, x, w):
    for i in range(N_QUBITS):
        q.h(i)
        q.ry(x[i], i)
    for k in range(DEPTH):
        for i in range(0, N_QUBITS - 1, 2):
            q.cnot(i, i + 1)
        for i in range(1, N_QUBITS - 1, 2):
            q.cnot(i, i + 1)
        for i in range(N_QUBITS):
            q.ry(w[k, i], i)
    return [q.expval(qx.Z(i)) for i in range(N_QUBITS)]


def main(iterations: int = 200, progress: bool = True) -> dict[str, float]:
    torch.manual_seed(0)
    x = torch.rand(BATCH, N_QUBITS, dtype=torch.float64) * np.pi
    w = (0.01 * torch.randn(DEPTH, N_QUBITS, dtype=torch.float64)).requires_grad_()

    y = dressed_core(x, w)
    y.sum().backward()
    print(
        f"qoxide {qx.__version__}: {N_QUBITS}-qubit dressed circuit, depth {DEPTH}, batch {BATCH}"
    )
    print(
        f"  outputs [{BATCH}, {N_QUBITS}]; first row <Z_i> = {np.round(y[0].detach().numpy(), 4)}"
    )
    print(f"  d(sum)/dw from the adjoint VJP: |grad| = {w.grad.norm():.6f}")

    fwd, bwd = [], []
    for _ in tqdm(range(iterations), desc="forward+backward", disable=not progress, leave=False):
        w.grad = None
        t0 = time.perf_counter()
        y = dressed_core(x, w)
        t1 = time.perf_counter()
        y.sum().backward()
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    f, b = float(np.median(fwd)), float(np.median(bwd))
    print(
        f"  median over {iterations} runs: forward {f * 1e3:.3f} ms, backward {b * 1e3:.3f} ms "
        f"({(f + b) / BATCH * 1e6:.1f} us per sample), threads {qx.get_num_threads()}"
    )
    return {"forward_s": f, "backward_s": b}
