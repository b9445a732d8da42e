"""The hypothesis settings profiles, selected with ``QOXIDE_HYPOTHESIS_PROFILE``:

* ``default``: modest example counts so the whole correctness suite runs in well under a
  minute on two cores;
* ``thorough``: about six times as many examples everywhere, for hunting bugs locally.

A test that sets its own ``max_examples`` takes it from :func:`examples`, so that the
thorough profile scales it too (an explicit count overrides the profile's)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 80
THOROUGH_EXAMPLES = 500

for _name, _count in (("default", DEFAULT_EXAMPLES), ("thorough", THOROUGH_EXAMPLES)):
    settings.register_profile(
        _name,
        max_examples=_count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )

PROFILE = os.environ.get("QOXIDE_HYPOTHESIS_PROFILE", "default")
settings.load_profile(PROFILE)


def examples(n: int) -> int:
    """``n`` examples under the default profile, scaled like the profile's own count under
    the others (500 / 80 under ``thorough``)."""
    return max(n, round(n * settings.get_profile(PROFILE).max_examples / DEFAULT_EXAMPLES))
