#!/usr/bin/env bash
# Build the release artifacts into dist/: one manylinux_2_28 abi3 wheel (CPython >= 3.11 on
# x86-64 Linux) and an sdist, then check the wheel's platform tag against the libraries and
# symbol versions it really uses.
#
# The wheel is linked with zig (ziglang from PyPI) against glibc 2.28, so no manylinux
# container is needed. Build tools go into a venv of their own (BUILD_VENV, default
# .venv-build); Rust >= 1.85 must be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_VENV=${BUILD_VENV:-.venv-build}
PYTHON=${PYTHON:-python3}
if [ ! -x "$BUILD_VENV/bin/maturin" ] || [ ! -x "$BUILD_VENV/bin/auditwheel" ]; then
    echo "== build tools into $BUILD_VENV (maturin, ziglang, auditwheel)"
    "$PYTHON" -m venv "$BUILD_VENV"
    "$BUILD_VENV/bin/pip" install -q "maturin>=1.7,<2" ziglang auditwheel
fi
export PATH="$PWD/$BUILD_VENV/bin:$PATH"

rm -rf dist
echo "== wheel: maturin build --release --zig --compatibility manylinux_2_28"
maturin build --release --zig --compatibility manylinux_2_28 \
    --interpreter "$BUILD_VENV/bin/python" --out dist
echo "== sdist"
maturin sdist --out dist

echo "== check the wheel"
wheel=$(ls dist/qoxide-*-abi3-manylinux*.whl)
auditwheel show "$wheel"
# auditwheel prints the most specific tag the wheel is consistent with; fail unless the
# wheel's own tag is allowed
auditwheel show "$wheel" | tr -d '\n' | grep -q 'is consistent with the following platform tag: *"manylinux_2_28_x86_64"\|manylinux_2_[0-9]*_x86_64' \
    || { echo "auditwheel: $wheel is not a manylinux wheel"; exit 1; }
ls -l dist
