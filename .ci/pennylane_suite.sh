#!/usr/bin/env bash
# PennyLane's own device test suite (pl-device-test) against the installed qoxide.qubit,
# analytic and with 10000 shots; exits non-zero on any failure.
# Needs pennylane, pytest, pytest-mock and flaky in the environment (pl-device-test refuses
# to start without pytest-mock and flaky). VENV (default .venv) is the environment to use.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
# pl-device-test runs `pytest` from PATH: make it the environment's.
export PATH="$PWD/$venv/bin:$PATH"
for shots in None 10000; do
    echo "== pl-device-test --device qoxide.qubit --shots $shots"
    # -p no:cacheprovider: the suite lives in site-packages; leave no .pytest_cache there
    pl-device-test --device qoxide.qubit --shots "$shots" -q -p no:cacheprovider
done
