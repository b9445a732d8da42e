"""HSM models on CUDA tensors (``gpu``-marked: skipped without a GPU): the same outputs and
parameter gradients as on the CPU (torch's eigh and the models' custom backward on the
GPU)."""

from __future__ import annotations

import copy

import pytest
import torch
from qoxide.hsm import GeneralFullEnergyHSM, GeneralHSM, PauliHSM

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device for torch")

MODELS = {
    "general": lambda: GeneralHSM(3, 2, 6, seed=1),
    "general-gibbs": lambda: GeneralHSM(3, 2, 6, seed=1, beta=1.5),
    "fullenergy": lambda: GeneralFullEnergyHSM(3, 1, 5, seed=3),
    "pauli-dense": lambda: PauliHSM(3, 2, 3, 2, 1, seed=2),
    "pauli-lanczos": lambda: PauliHSM(3, 2, 6, 2, 2, seed=2, dense_max_dim=8),
}


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", sorted(MODELS))
def test_hsm_on_cuda_equals_cpu(name: str) -> None:
    cpu = MODELS[name]()
    gpu = copy.deepcopy(cpu).cuda()
    x = 1.5 * torch.randn(7, 3, dtype=torch.float64)
    out = cpu(x)
    out_g = gpu(x.cuda())
    assert out_g.is_cuda
    torch.testing.assert_close(out_g.cpu(), out, atol=1e-8, rtol=1e-8)
    out.sum().backward()
    out_g.sum().backward()
    for (n, p), pg in zip(cpu.named_parameters(), gpu.parameters(), strict=True):
        assert pg.grad is not None and pg.grad.is_cuda, n
        torch.testing.assert_close(pg.grad.cpu(), p.grad, atol=1e-7, rtol=1e-7)

