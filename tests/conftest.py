"""Shared fixtures and the hypothesis settings profiles.

Profiles (select with ``QOXIDE_HYPOTHESIS_PROFILE``):

* ``default``: modest example counts so the whole correctness suite runs in well
  under a minute on two cores;
* ``thorough``: many more examples, for hunting bugs locally.
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))  # `import reference`, `import helpers`

import qoxide as qx  # noqa: E402
import reference as ref  # noqa: E402

settings.register_profile(
    "default",
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("QOXIDE_HYPOTHESIS_PROFILE", "default"))


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
