"""qx.cuda without a GPU: availability, reasons, NVRTC discovery and compile, and the
errors circuits raise for CUDA tensors. Tests marked ``gpu`` skip with the reason here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import qoxide as qx
import torch

HAS_NVRTC = bool(qx.cuda._nvrtc_dirs()) or "QOXIDE_NVRTC" in os.environ


def gpu(f):  # type: ignore[no-untyped-def]
    """Marked ``gpu`` and skipped with the reason where qoxide's CUDA backend cannot run
    (also without tests/conftest.py, as benches/gpu_check.sh runs this file)."""
    why = qx.cuda.reason()
    return pytest.mark.gpu(pytest.mark.skipif(why is not None, reason=f"no usable GPU: {why}")(f))


needs_nvrtc = pytest.mark.skipif(
    not HAS_NVRTC, reason="no libnvrtc (torch's CUDA wheels ship it; or set QOXIDE_NVRTC)"
)


def test_availability_is_consistent() -> None:
    avail = qx.cuda.is_available()
    why = qx.cuda.reason()
    assert isinstance(avail, bool)
    assert avail == (why is None)
    if not avail:
        assert isinstance(why, str) and len(why) > 20


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_no_gpu_reason_names_the_missing_piece() -> None:
    why = qx.cuda.reason()
    assert why is not None
    assert any(w in why for w in ("driver", "GPU", "libcuda", "libnvrtc")), why


@needs_nvrtc
def test_nvrtc_found_from_the_wheels() -> None:
    path = qx.cuda.nvrtc_path()
    assert path is not None and "libnvrtc" in os.path.basename(path), path
    major, minor = qx.cuda.nvrtc_version()
    assert major >= 12 and minor >= 0


@needs_nvrtc
def test_kernels_compile_for_sm90_without_spills() -> None:
    report = qx.cuda.compile_check("sm_90")
    names = {r["kernel"] for r in report}
    small = {"qx_small_c64", "qx_small_c128"}
    large = {f"qx_lg_{k}_{p}" for k in ("init", "gate", "seg", "bseg", "braket", "expval",
                                        "lambda") for p in ("c64", "c128")}  # fmt: skip
    assert names == small | large | {"qx_lg_collect"}, report
    for r in report:
        assert 0 < r["registers"] <= 128, r
        assert r["spill_stores"] == 0 and r["spill_loads"] == 0, r


def test_missing_nvrtc_is_an_error_not_a_crash(tmp_path: Path) -> None:
    code = (
        "import qoxide as qx\n"
        "assert qx.cuda.is_available() is False\n"
        "try:\n"
        "    qx.cuda.nvrtc_version()\n"
        "except RuntimeError as e:\n"
        "    print('ERR', e)\n"
        "else:\n"
        "    print('LOADED')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["QOXIDE_NVRTC"] = str(tmp_path)  # an empty folder: no libnvrtc there
    env["LD_LIBRARY_PATH"] = ""
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    # either NVRTC is on the system loader path anyway, or a clear error (never a panic)
    assert out == "LOADED" or ("ERR" in out and "QOXIDE_NVRTC" in out), out


def test_cuda_tensor_error_names_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qx.cuda, "reason", lambda: "the CUDA driver found no GPU")
    e = qx.cuda.device_error(torch.device("cuda:0"))
    assert isinstance(e, NotImplementedError)
    assert "cuda:0" in str(e) and "found no GPU" in str(e) and ".cpu()" in str(e)
    e = qx.cuda.device_error(torch.device("meta"))
    assert "CPU" in str(e)


def test_circuit_refuses_non_cpu_tensors_clearly() -> None:
    @qx.circuit(n_qubits=2)
    def circ(q, x):  # type: ignore[no-untyped-def]
        q.ry(x[0], 0)
        q.cnot(0, 1)
        return [q.expval(qx.Z(1))]

    with pytest.raises(NotImplementedError, match="meta"):
        circ(torch.zeros(1, device="meta"))

    # a CPU input and a weight on another device: refused, naming both devices
    @qx.circuit(n_qubits=1)
    def circ2(q, x, w):  # type: ignore[no-untyped-def]
        q.ry(x[0] + w[0], 0)
        return [q.expval(qx.Z(0))]

    with pytest.raises(ValueError, match="one device, got cpu, meta"):
        circ2(torch.zeros(1), torch.zeros(1, device="meta"))


@gpu
def test_gpu_backend_available() -> None:
    assert qx.cuda.is_available(), qx.cuda.reason()
    major = torch.cuda.get_device_capability()[0]
    report = qx.cuda.compile_check(f"sm_{major}0")
    assert {"qx_small_c64", "qx_small_c128", "qx_lg_seg_c128"} <= {r["kernel"] for r in report}


# ---- the kernel on a GPU (host arrays in/out) against the CPU engine -------------------

_GATES_1P = ["RX", "RY", "RZ", "PhaseShift", "U1"]
_GATES_2W = ["CNOT", "CY", "CZ", "SWAP", "ISWAP"]
_GATES_2W_1P = ["CRX", "CRY", "CRZ", "ControlledPhaseShift", "IsingXX", "IsingYY", "IsingZZ"]


def _random_case(rng: np.random.Generator, n: int, n_ops: int, n_params: int):  # type: ignore[no-untyped-def]
    tape = qx._core.Tape(n, n_params)

    def par() -> int | float:
        return int(rng.integers(n_params)) if rng.random() < 0.75 else float(rng.normal())

    for w in range(n):
        tape.add("Hadamard", [w])
    for _ in range(n_ops):
        k = int(rng.integers(6 if n >= 3 else (4 if n >= 2 else 2)))
        if k == 0:
            tape.add(
                str(rng.choice(_GATES_1P)),
                [int(rng.integers(n))],
                [par()],
                bool(rng.random() < 0.2),
            )
        elif k == 1:
            tape.add(str(rng.choice(["Rot", "U3"])), [int(rng.integers(n))], [par(), par(), par()])
        elif k == 2:
            ws = [int(w) for w in rng.choice(n, 2, replace=False)]
            tape.add(str(rng.choice(_GATES_2W)), ws)
        elif k == 3:
            ws = [int(w) for w in rng.choice(n, 2, replace=False)]
            tape.add(str(rng.choice(_GATES_2W_1P)), ws, [par()], bool(rng.random() < 0.2))
        elif k == 4:
            ws = [int(w) for w in rng.choice(n, 3, replace=False)]
            tape.add(str(rng.choice(["Toffoli", "CSWAP"])), ws)
        else:
            ws = [int(w) for w in rng.choice(n, 3, replace=False)]
            tape.add("MultiRZ", ws, [par()])
    obs = [[(1.0, [(i, "Z")])] for i in range(n)]
    obs.append([(0.5, [(0, "X"), (n - 1, "Y")] if n > 1 else [(0, "X")]), (-0.3, [(0, "Z")])])
    return tape, obs


@gpu
@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 9, 12])
@pytest.mark.parametrize("precision", ["complex128", "complex64"])
def test_gpu_kernel_matches_cpu_engine(n: int, precision: str) -> None:
    rng = np.random.default_rng(100 + n)
    n_params, batch = 4, 37
    tape, obs = _random_case(rng, n, 6 * n + 10, n_params)
    theta = rng.normal(size=(batch, n_params))
    g = rng.normal(size=(batch, len(obs)))
    cobs = [qx._core.Observable.pauli(n, o) for o in obs]
    want_ev = qx._core.expval(tape, theta, cobs)
    want_state = qx._core.state(tape, theta)
    want_vjp = qx._core.vjp(tape, theta, cobs, g)
    tol = 1e-10 if precision == "complex128" else 2e-4
    ev, st, _ = qx._core.cuda_run_small(tape, theta, obs, None, precision, True)
    np.testing.assert_allclose(ev, want_ev, atol=tol)
    np.testing.assert_allclose(st, want_state, atol=tol)
    ev2, _, gr = qx._core.cuda_run_small(tape, theta, obs, g, precision, False)
    np.testing.assert_allclose(ev2, want_ev, atol=tol)
    np.testing.assert_allclose(gr, want_vjp, atol=10 * tol)
    if n <= 9:
        ev3, _, jac = qx._core.cuda_run_small(tape, theta, obs, None, precision, False, True)
        np.testing.assert_allclose(ev3, want_ev, atol=tol)
        np.testing.assert_allclose(jac, qx._core.jacobian(tape, theta, cobs), atol=10 * tol)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_run_without_gpu_raises_with_reason() -> None:
    tape = qx._core.Tape(1, 1)
    tape.add("RX", [0], [0])
    with pytest.raises(RuntimeError, match="not available"):
        qx._core.cuda_run_small(tape, np.zeros((2, 1)), [[(1.0, [(0, "Z")])]])


@gpu
@pytest.mark.parametrize("n", [13, 16, 20, 24])
@pytest.mark.parametrize("precision", ["complex128", "complex64"])
def test_gpu_large_register_matches_cpu_engine(n: int, precision: str) -> None:
    from qoxide import cuda_ops

    rng = np.random.default_rng(200 + n)
    n_params, batch = 4, 2
    tape, obs = _random_case(rng, n, 3 * n, n_params)
    cobs = [qx._core.Observable.pauli(n, o) for o in obs]
    theta = rng.normal(size=(batch, n_params))
    g = rng.normal(size=(batch, len(obs)))
    dtype = torch.float64 if precision == "complex128" else torch.float32
    prog = cuda_ops.upload(tape, cobs, 0)
    th = torch.as_tensor(theta, dtype=dtype, device="cuda")
    tol = 1e-10 if precision == "complex128" else 2e-4
    ev, st, _, _ = cuda_ops.run(prog, th, keep_states=n <= 20)
    np.testing.assert_allclose(ev.cpu().numpy(), qx._core.expval(tape, theta, cobs), atol=tol)
    if st is not None:
        np.testing.assert_allclose(st.cpu().numpy(), qx._core.state(tape, theta), atol=tol)
    _, _, gt, _ = cuda_ops.run(prog, th, grad_out=torch.as_tensor(g, device="cuda"))
    want = qx._core.vjp(tape, theta, cobs, g)
    np.testing.assert_allclose(gt.cpu().numpy(), want, atol=10 * tol)
    if n <= 16:
        _, _, _, jac = cuda_ops.run(prog, th, jacobian=True)
        want_jac = qx._core.jacobian(tape, theta, cobs)
        np.testing.assert_allclose(jac.cpu().numpy(), want_jac, atol=10 * tol)
