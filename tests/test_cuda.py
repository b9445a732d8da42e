"""qx.cuda without a GPU: availability, reasons, NVRTC discovery and compile, and the
errors circuits raise for CUDA tensors. Tests marked ``gpu`` skip with the reason here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import qoxide as qx
import torch

HAS_NVRTC = bool(qx.cuda._nvrtc_dirs()) or "QOXIDE_NVRTC" in os.environ
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
    assert names == {"qx_small_c64", "qx_small_c128"}, report
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
    monkeypatch.setattr(qx.cuda, "reason", lambda: None)
    e = qx.cuda.device_error(torch.device("cuda:0"))
    assert "not wired" in str(e)
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

    # a CPU input and a weight on another device: refused, naming that device
    @qx.circuit(n_qubits=1)
    def circ2(q, x, w):  # type: ignore[no-untyped-def]
        q.ry(x[0] + w[0], 0)
        return [q.expval(qx.Z(0))]

    with pytest.raises(NotImplementedError, match="meta"):
        circ2(torch.zeros(1), torch.zeros(1, device="meta"))


@pytest.mark.gpu
def test_gpu_backend_available() -> None:
    assert qx.cuda.is_available(), qx.cuda.reason()
    major = torch.cuda.get_device_capability()[0]
    report = qx.cuda.compile_check(f"sm_{major}0")
    assert {r["kernel"] for r in report} == {"qx_small_c64", "qx_small_c128"}
