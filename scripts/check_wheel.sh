#!/usr/bin/env bash
# Install the wheel from dist/ into a fresh venv and run it with no Rust toolchain on PATH:
# `import qoxide` must load the wheel's own extension, its version must match the package
# metadata, and `qoxide demo --epochs 1` must train.
#
# Dependencies: a full `pip install` of the wheel downloads torch (several GB). With
# DEPS_VENV=<venv that already has qoxide's dependencies> (CI: .venv), the fresh venv
# instead sees that venv's site-packages through a .pth file placed after its own, and
# the wheel is installed with --no-deps; the qoxide that runs is still the wheel's.
set -euo pipefail
cd "$(dirname "$0")/.."

wheel=$(ls "$PWD"/dist/qoxide-*-abi3-manylinux*.whl)
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
if [ -n "${DEPS_VENV:-}" ]; then
    deps_site=$("$DEPS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    own_site=$("$tmp/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$deps_site" > "$own_site/zz_deps.pth"
    "$tmp/venv/bin/pip" install -q --no-deps --ignore-installed "$wheel"
else
    "$tmp/venv/bin/pip" install -q "$wheel"
fi

# PATH without any Rust toolchain (rustup's ~/.cargo/bin and anything holding cargo)
clean_path=$(echo "$PATH" | tr ':' '\n' | while read -r d; do
    [ -n "$d" ] && [ ! -x "$d/cargo" ] && [ ! -x "$d/rustc" ] && echo "$d"; done | paste -sd:)
cd "$tmp"  # away from the source tree, so nothing imports python/qoxide by accident
env -u PYTHONPATH PATH="$tmp/venv/bin:$clean_path" VIRTUAL_ENV_CHECK="$tmp/venv" bash -euo pipefail -c '
    if command -v cargo || command -v rustc; then echo "Rust is still on PATH"; exit 1; fi
    python - <<PY
import importlib.metadata as md, os, qoxide, qoxide._core as core
venv = os.path.realpath(os.environ["VIRTUAL_ENV_CHECK"])
for mod in (qoxide, core):
    path = os.path.realpath(mod.__file__)
    assert path.startswith(venv), f"{mod.__name__} loaded from {path}, not the wheel in {venv}"
assert qoxide.__version__ == md.version("qoxide") == core.__version__, qoxide.__version__
print("qoxide", qoxide.__version__, "from", os.path.dirname(qoxide.__file__))
PY
    qoxide demo --epochs 1 --no-progress
'
