"""Shared fixtures; the hypothesis settings profiles live in :mod:`hypothesis_profiles`
(select one with ``QOXIDE_HYPOTHESIS_PROFILE``: ``default`` or ``thorough``)."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import reference`, `import helpers`

import hypothesis_profiles  # noqa: E402, F401 - registers and loads the profile
import qoxide as qx  # noqa: E402
import reference as ref  # noqa: E402


@pytest.fixture
def rng(request) -> np.random.Generator:  # noqa: ANN001
    """A numpy generator seeded from the test's id (reproducible, distinct per test)."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def random_unitary(rng):  # noqa: ANN001, ANN201
    return lambda dim: ref.random_unitary(dim, rng)


@pytest.fixture
def random_state(rng):  # noqa: ANN001, ANN201
    return lambda n: ref.random_state(n, rng)


@pytest.fixture
def two_threads():  # noqa: ANN201
    """Run the test with (at least) two compute threads, so registers of >= 2^14
    amplitudes take the amplitude-parallel kernels even on a one-core machine."""
    old = qx.get_num_threads()
    qx.set_num_threads(max(2, old))
    yield
    qx.set_num_threads(old)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gpu: needs a CUDA GPU and driver (skipped with the reason where absent)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [it for it in items if it.get_closest_marker("gpu") is not None]
    if not gpu_items or qx.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=f"no usable CUDA GPU: {qx.cuda.reason()}")
    for it in gpu_items:
        it.add_marker(skip)
