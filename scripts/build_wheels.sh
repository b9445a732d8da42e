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
report=$(auditwheel show "$wheel")
echo "$report"
# auditwheel names the most compatible tag the wheel's libraries and symbol versions allow;
# it must be manylinux with glibc <= 2.28 (the tag the wheel claims)
tag=$(echo "$report" | tr '\n' ' ' | grep -o 'platform tag: *"[^"]*"' | head -1 | grep -o '"[^"]*"' | tr -d '"')
glibc_minor=$(echo "$tag" | sed -n 's/^manylinux_2_\([0-9]*\)_x86_64$/\1/p')
if [ -z "$glibc_minor" ] || [ "$glibc_minor" -gt 28 ]; then
    echo "auditwheel: $wheel is consistent with '$tag', not manylinux_2_28 or older"
    exit 1
fi
echo "ok: $(basename "$wheel") is consistent with $tag"
ls -l dist
