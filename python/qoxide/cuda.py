"""The CUDA backend: availability and diagnostics.

``qx.cuda.is_available()`` is True when a CUDA driver, a GPU and NVRTC (the CUDA runtime
compiler, which compiles qoxide's kernels at first use) are all usable; ``qx.cuda.reason()``
says why not otherwise. Importing qoxide never needs CUDA.

NVRTC is looked up, first hit wins, in: the ``QOXIDE_NVRTC`` environment variable (the
path of ``libnvrtc.so.*`` or a folder holding it); the NVIDIA wheels on ``sys.path``
(``site-packages/nvidia/*/lib``, where torch's CUDA wheels put ``libnvrtc.so.13``) — this
module passes those folders to the native side through ``QOXIDE_NVRTC`` when it is unset;
then ``$VIRTUAL_ENV`` / ``$CONDA_PREFIX``; then the system loader (``LD_LIBRARY_PATH``).

What runs on CUDA in this build: circuits called with torch CUDA tensors (inputs and
weights on one GPU) whose measurements are expectation values of Pauli sums, on 1 to 32
qubits — forward, expectation values, the adjoint VJP (backward) and the Jacobian, on
torch's current stream, outputs allocated by torch, no host copy (:mod:`qoxide.cuda_ops`).
Everything else raises NotImplementedError saying so.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import Any

from . import _core

__all__ = [
    "compile_check",
    "device_error",
    "is_available",
    "nvrtc_path",
    "nvrtc_version",
    "reason",
]


def _nvrtc_dirs() -> list[str]:
    """Folders of ``libnvrtc.so*`` in NVIDIA wheels on sys.path."""
    found: list[str] = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        for lib in sorted(glob.glob(os.path.join(entry, "nvidia", "*", "lib", "libnvrtc.so*"))):
            d = os.path.dirname(lib)
            if d not in found:
                found.append(d)
    return found


def _prepare() -> None:
    if "QOXIDE_NVRTC" not in os.environ:
        dirs = _nvrtc_dirs()
        if dirs:
            os.environ["QOXIDE_NVRTC"] = os.pathsep.join(dirs)


def is_available() -> bool:
    """True when qoxide's CUDA backend can run here (driver, GPU and NVRTC)."""
    _prepare()
    return bool(_core.cuda_is_available())


def reason() -> str | None:
    """Why the CUDA backend cannot run here, or None when it can."""
    _prepare()
    r: str | None = _core.cuda_reason()
    return r


def nvrtc_path() -> str | None:
    """The libnvrtc qoxide loads by path, or None (left to the system loader)."""
    _prepare()
    p: str | None = _core.cuda_nvrtc_path()
    return p


def nvrtc_version() -> tuple[int, int]:
    """NVRTC's (major, minor); RuntimeError when NVRTC cannot be loaded."""
    _prepare()
    v: tuple[int, int] = _core.cuda_nvrtc_version()
    return v


def compile_check(arch: str = "sm_90") -> list[dict[str, Any]]:
    """Compile every kernel with NVRTC for ``arch`` (needs NVRTC, not a GPU).

    Returns ptxas' report per kernel for a real architecture (``sm_80``, ``sm_90``):
    registers, spill stores/loads and stack bytes; an empty list for PTX (``compute_75``).
    """
    _prepare()
    return [
        {"kernel": k, "registers": r, "spill_stores": ss, "spill_loads": sl, "stack_bytes": st}
        for (k, r, ss, sl, st) in _core.cuda_compile_check(arch)
    ]


def device_error(device: Any) -> NotImplementedError:
    """The error for a tensor on a device qoxide cannot run on."""
    if getattr(device, "type", None) == "cuda":
        why = reason() or "unknown reason"
        return NotImplementedError(
            f"got a tensor on {device}, but qoxide's CUDA backend is not available here: "
            f"{why}. Move inputs with .cpu() to run on the CPU."
        )
    return NotImplementedError(
        f"qoxide runs on CPU (and CUDA, where available); got a tensor on {device}. "
        "Move inputs with .cpu()."
    )
