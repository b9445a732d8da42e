"""``qoxide.gpu``: the PennyLane device with its native calls on CUDA.

Without a GPU: creating it is a DeviceError with the reason, and its wiring (which calls
go to the GPU runner, which fall back to the CPU engine, results and gradients) is checked
with the engine-backed stand-in for the CUDA program. With a GPU (``gpu``-marked): QNodes
on qoxide.gpu equal qoxide.qubit, values and gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

qml = pytest.importorskip("pennylane")
torch = pytest.importorskip("torch")

import qoxide as qx  # noqa: E402
from cuda_standin import EngineBackedProgram  # noqa: E402
from pennylane.exceptions import DeviceError  # noqa: E402
from qoxide import cuda_ops  # noqa: E402


def gpu(f):  # type: ignore[no-untyped-def]
    why = qx.cuda.reason()
    return pytest.mark.gpu(pytest.mark.skipif(why is not None, reason=f"no usable GPU: {why}")(f))


@pytest.mark.skipif(qx.cuda.is_available(), reason="this machine can run the CUDA backend")
def test_without_a_gpu_creating_the_device_says_why() -> None:
    with pytest.raises(DeviceError, match="qoxide.gpu needs a usable NVIDIA GPU: .+qoxide.qubit"):
        qml.device("qoxide.gpu", wires=2)


@pytest.fixture
def standin_gpu(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A qoxide.gpu device whose CUDA programs are the engine-backed stand-in."""
    monkeypatch.setattr(qx.cuda, "reason", lambda: None)
    monkeypatch.setattr(qx._core, "CudaSmallProgram", EngineBackedProgram)
    monkeypatch.setattr(cuda_ops, "_stream", lambda device: 0)

    def make(**kw):  # type: ignore[no-untyped-def]
        dev = qml.device("qoxide.gpu", **kw)
        dev._runner.device = torch.device("cpu")  # the stand-in writes host memory
        return dev

    return make


def _model(dev, obs):  # type: ignore[no-untyped-def]
    @qml.qnode(dev, interface="torch", diff_method="adjoint")
    def f(x, w):  # type: ignore[no-untyped-def]
        for i in range(3):
            qml.RY(x[..., i], wires=i)
        qml.StronglyEntanglingLayers(w, wires=range(3))
        return [qml.expval(o) for o in obs]

    return f


def _values_and_grads(f, x, w):  # type: ignore[no-untyped-def]
    w = w.clone().requires_grad_()
    out = torch.stack(f(x, w), -1)
    (gw,) = torch.autograd.grad(out.sum(), w)
    return out.detach(), gw


def test_device_runs_expvals_and_adjoint_on_the_gpu_runner(standin_gpu) -> None:  # type: ignore[no-untyped-def]
    dev = standin_gpu(wires=3)
    assert dev.name == "qoxide.gpu"
    obs = [qml.PauliZ(0), qml.PauliX(1) @ qml.PauliY(2), 0.5 * qml.PauliZ(2) - qml.PauliX(0)]
    x = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(4, 3)
    w = torch.rand(2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    got = _values_and_grads(_model(dev, obs), x, w)
    want = _values_and_grads(_model(qml.device("qoxide.qubit", wires=3), obs), x, w)
    torch.testing.assert_close(got[0], want[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=1e-12, rtol=0)
    assert dev.backend_calls["gpu"] >= 2 and dev.backend_calls["cpu"] == 0


def test_what_the_kernels_do_not_run_goes_to_the_cpu_engine(standin_gpu) -> None:  # type: ignore[no-untyped-def]
    dev = standin_gpu(wires=2)

    @qml.qnode(dev)
    def f(a):  # type: ignore[no-untyped-def]
        qml.RX(a, wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.probs(wires=[0, 1]), qml.expval(qml.Hermitian(np.diag([1.0, 2.0]), wires=1))

    probs, h = f(0.4)
    c, s = np.cos(0.2) ** 2, np.sin(0.2) ** 2
    np.testing.assert_allclose(probs, [c, 0, 0, s], atol=1e-12)
    np.testing.assert_allclose(h, c + 2 * s, atol=1e-12)
    assert dev.backend_calls["cpu"] >= 1 and dev.backend_calls["gpu"] == 0


@gpu
@pytest.mark.parametrize("c_dtype", [np.complex128, np.complex64])
def test_gpu_device_equals_qoxide_qubit(c_dtype: type) -> None:
    obs = [qml.PauliZ(0), qml.PauliX(1) @ qml.PauliY(2), 0.5 * qml.PauliZ(2) - qml.PauliX(0)]
    x = torch.linspace(-1, 1, 96, dtype=torch.float64).reshape(32, 3)
    w = torch.rand(2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    dev = qml.device("qoxide.gpu", wires=3, c_dtype=c_dtype)
    got = _values_and_grads(_model(dev, obs), x, w)
    want = _values_and_grads(_model(qml.device("qoxide.qubit", wires=3), obs), x, w)
    tol = 1e-10 if c_dtype == np.complex128 else 1e-4
    torch.testing.assert_close(got[0], want[0], atol=tol, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=tol, rtol=0)
    assert dev.backend_calls["gpu"] >= 2
