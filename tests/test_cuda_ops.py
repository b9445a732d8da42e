"""Circuits on torch CUDA tensors (qoxide.cuda_ops).

Without a GPU: the glue's buffers, shapes, dtypes and launch arguments, checked by a
stand-in for the resident program that computes through the CPU engine and writes into
the pointers it is given (as the kernel does on a GPU). With a GPU (marked ``gpu``):
circuits, layers, autograd, torch.compile and torch.func on CUDA tensors equal the CPU.
"""

from __future__ import annotations

import weakref

import pytest
import qoxide as qx
import torch
from cuda_standin import EngineBackedLargeProgram, EngineBackedProgram
from qoxide import _core, cuda_ops


def gpu(f):  # type: ignore[no-untyped-def]
    why = qx.cuda.reason()
    return pytest.mark.gpu(pytest.mark.skipif(why is not None, reason=f"no usable GPU: {why}")(f))


@qx.circuit(n_qubits=3)
def net(q, x, w):  # type: ignore[no-untyped-def]
    for i in range(3):
        q.ry(x[i], i)
    for i in range(3):
        q.rx(w[i], i)
    q.cnot(0, 1)
    q.cnot(1, 2)
    return [q.expval(qx.Z(i)) for i in range(3)] + [q.expval(0.5 * qx.X(0) @ qx.Y(2))]


@pytest.fixture
def engine_backed(monkeypatch: pytest.MonkeyPatch) -> dict:
    made: dict = {}

    def resident(key: int, device: torch.device) -> EngineBackedProgram:
        prog = qx.native.lookup(key)
        made.setdefault(key, EngineBackedProgram(prog.tape, prog.observables))
        return made[key]

    monkeypatch.setattr(cuda_ops, "resident", resident)
    monkeypatch.setattr(cuda_ops, "_stream", lambda device: 1234)
    return made


def _key_and_theta(dtype: torch.dtype, batch: int = 5) -> tuple[int, torch.Tensor]:
    x = torch.linspace(-1, 1, batch * 3, dtype=dtype).reshape(batch, 3)
    w = torch.tensor([0.3, -0.7, 1.1], dtype=dtype)
    prog = net.program((3,), [(3,)])
    theta = prog.theta_map.torch(x, w, batch)
    return prog.native.key, theta


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_glue_forward_vjp_jacobian_equal_the_cpu_ops(
    engine_backed: dict, dtype: torch.dtype
) -> None:
    key, theta = _key_and_theta(dtype)
    out, states = cuda_ops._expval_cuda(theta, None, key, False)
    want = qx.ops.expval_impl(theta, None, key, False)[0]
    assert out.dtype == dtype and out.shape == want.shape == (5, 4)
    torch.testing.assert_close(out, want.to(dtype))
    assert states.shape == (5, 0) and states.dtype == cuda_ops._complex(dtype)
    out, states = cuda_ops._expval_cuda(theta, None, key, True)
    want_states = qx.ops.expval_impl(theta.double(), None, key, True)[1]
    torch.testing.assert_close(states, want_states.to(states.dtype))
    g = torch.randn(5, 4, dtype=dtype, generator=torch.Generator().manual_seed(0))
    gt = cuda_ops._vjp_cuda(theta, g, None, None, key)
    assert gt.dtype == dtype and gt.shape == theta.shape
    torch.testing.assert_close(gt, qx.ops.vjp_impl(theta, g, None, None, key).to(dtype))
    jac = cuda_ops._jacobian_cuda(theta, None, key)
    assert jac.shape == (5, 4, theta.shape[1]) and jac.dtype == dtype
    torch.testing.assert_close(jac, qx.ops.jacobian_impl(theta, None, key).to(dtype))
    (prog,) = engine_backed.values()
    precision = "complex64" if dtype == torch.float32 else "complex128"
    assert all(r["precision"] == precision and r["stream"] == 1234 for r in prog.launches)


def test_glue_refuses_what_the_kernels_do_not_run(engine_backed: dict) -> None:
    key, theta = _key_and_theta(torch.float64)
    with pytest.raises(NotImplementedError, match="initial states"):
        cuda_ops._expval_cuda(theta, torch.zeros(5, 8, dtype=torch.complex128), key, False)
    with pytest.raises(ValueError, match="grad_out must be"):
        cuda_ops._vjp_cuda(theta, torch.zeros(5, 3, dtype=torch.float64), None, None, key)
    with pytest.raises(NotImplementedError, match="second derivatives"):
        cuda_ops._hvp_cuda(theta, theta, theta, None, key)
    # an empty batch launches nothing and returns empty results
    out, _ = cuda_ops._expval_cuda(theta[:0], None, key, False)
    assert out.shape == (0, 4)


def test_register_size_limit_is_a_clear_error() -> None:
    @qx.circuit(n_qubits=33)
    def wide(q, x):  # type: ignore[no-untyped-def]
        q.rx(x[0], 0)
        return [q.expval(qx.Z(0))]

    prog = wide.program((1,), [])
    with pytest.raises(NotImplementedError, match="up to 32 qubits"):
        cuda_ops.resident(prog.native.key, torch.device("cuda:0"))


@qx.circuit(n_qubits=13)
def wide_net(q, x, w):  # type: ignore[no-untyped-def]
    for i in range(13):
        q.ry(x[i % 3], i)
    for i in range(12):
        q.cnot(i, i + 1)
    for i in range(3):
        q.rz(w[i], 4 * i)
        q.rx(w[i], 4 * i + 1)
    return [q.expval(qx.Z(0)), q.expval(qx.X(12) @ qx.Z(1))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_glue_large_register_loops_over_the_batch(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype
) -> None:
    monkeypatch.setattr(_core, "CudaLargeProgram", EngineBackedLargeProgram)
    monkeypatch.setattr(cuda_ops, "_RESIDENT", weakref.WeakKeyDictionary())
    monkeypatch.setattr(cuda_ops, "_stream", lambda device: 77)
    x = torch.linspace(-1, 1, 9, dtype=dtype).reshape(3, 3)
    w = torch.tensor([0.3, -0.7, 1.1], dtype=dtype)
    prog = wide_net.program((3,), [(3,)])
    key = prog.native.key
    theta = prog.theta_map.torch(x, w, 3)
    with monkeypatch.context() as m:  # resident() picks the large program from 13 qubits
        m.setattr(cuda_ops, "_index", lambda device: 0)
        gpu_prog = cuda_ops.resident(key, torch.device("cpu"))
    assert isinstance(gpu_prog, EngineBackedLargeProgram)
    monkeypatch.setattr(cuda_ops, "resident", lambda key, device: gpu_prog)
    tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {}
    out, states = cuda_ops._expval_cuda(theta, None, key, True)
    want, want_states = qx.ops.expval_impl(theta.double(), None, key, True)
    torch.testing.assert_close(out, want.to(dtype), **tol)
    torch.testing.assert_close(states, want_states.to(states.dtype), **tol)
    g = torch.randn(3, 2, dtype=dtype, generator=torch.Generator().manual_seed(0))
    gt = cuda_ops._vjp_cuda(theta, g, None, None, key)
    want_gt = qx.ops.vjp_impl(theta.double(), g.double(), None, None, key)
    torch.testing.assert_close(gt, want_gt.to(dtype), **tol)
    jac = cuda_ops._jacobian_cuda(theta, None, key)
    torch.testing.assert_close(
        jac, qx.ops.jacobian_impl(theta.double(), None, key).to(dtype), **tol
    )
    precision = "complex64" if dtype == torch.float32 else "complex128"
    assert len(gpu_prog.launches) == 9  # three runs of one launch per sample
    assert all(r["precision"] == precision and r["stream"] == 77 for r in gpu_prog.launches)
    assert [r["lam"] for r in gpu_prog.launches] == [False] * 3 + [True] * 6
    assert gpu_prog.memory_checks == [(precision, False), (precision, True), (precision, True)]


# ---- on a GPU ------------------------------------------------------------------------------


@gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_circuit_on_cuda_tensors_equals_cpu(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(33, 3, dtype=dtype, generator=g)
    w = torch.rand(3, dtype=dtype, generator=g, requires_grad=True)
    xc, wc = x.cuda().requires_grad_(), w.detach().cuda().requires_grad_()
    x.requires_grad_()
    out, outc = net(x, w), net(xc, wc)
    assert outc.device.type == "cuda" and outc.dtype == dtype
    tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 0}
    torch.testing.assert_close(outc.cpu(), out, **tol)
    gw = torch.randn(out.shape, dtype=dtype, generator=g)
    gx, gwt = torch.autograd.grad(out, (x, w), gw)
    gxc, gwc = torch.autograd.grad(outc, (xc, wc), gw.cuda())
    assert gxc.device.type == "cuda"
    torch.testing.assert_close(gxc.cpu(), gx, **tol)
    torch.testing.assert_close(gwc.cpu(), gwt, **tol)


@gpu
def test_cuda_call_never_synchronises_the_host() -> None:
    x = torch.rand(64, 3, device="cuda")
    w = torch.rand(3, device="cuda", requires_grad=True)
    net(x, w)  # first call: records, compiles and uploads (may synchronise)
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = net(x, w)
        out.sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert w.grad is not None and w.grad.device.type == "cuda"


@gpu
def test_gradcheck_on_cuda_float64() -> None:
    x = torch.rand(4, 3, dtype=torch.float64, device="cuda", requires_grad=True)
    w = torch.rand(3, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: net(a, b), (x, w))


@gpu
def test_layers_move_to_cuda() -> None:
    torch.manual_seed(0)
    model = qx.nn.DressedQuantumNet(8, 4, 3, 2)
    x = torch.rand(16, 8)
    want = model(x)
    model_c = model.cuda()
    got = model_c(x.cuda())
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.cpu(), want, atol=1e-4, rtol=1e-4)
    got.sum().backward()
    assert all(p.grad is not None and p.grad.is_cuda for p in model_c.parameters())


@gpu
def test_compile_and_func_on_cuda() -> None:
    x = torch.rand(8, 3, dtype=torch.float64, device="cuda")
    w = torch.rand(3, dtype=torch.float64, device="cuda")
    eager = net(x, w)
    compiled = torch.compile(lambda a, b: net(a, b), fullgraph=True)(x, w)
    torch.testing.assert_close(compiled, eager)
    jac = torch.func.jacrev(lambda b: net(x[0], b))(w)
    want = torch.func.jacrev(lambda b: net(x[0].cpu(), b))(w.cpu())
    torch.testing.assert_close(jac.cpu(), want, atol=1e-10, rtol=0)


@gpu
def test_trainer_fits_a_quantum_model_on_the_gpu() -> None:
    from qoxide.train import Trainer
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.rand(64, 8)
    y = (x.sum(1) > 4).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    results = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(1)
        model = qx.nn.DressedQuantumNet(8, 4, 3, 2)
        trainer = Trainer(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            torch.nn.CrossEntropyLoss(),
            epochs=2,
            device=device,
            progress=False,
        )
        results[device] = [h["loss"] for h in trainer.fit(loader, seed=0).train_history]
        assert next(trainer.model.parameters()).device.type == device
    torch.testing.assert_close(
        torch.tensor(results["cuda"]), torch.tensor(results["cpu"]), rtol=1e-4, atol=1e-6
    )
