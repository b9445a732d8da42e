#!/usr/bin/env bash
# Device check of qoxide's CUDA backend (issue 17), for a GPU machine with torch 2.11+cu130,
# numpy, pytest, Python >= 3.11 and NO Rust and no network. Build the abi3 wheel elsewhere
# (`maturin build --release -o dist`) and carry it with the repository checkout:
#
#   benches/gpu_check.sh dist/qoxide-*.whl dist/tqdm-*.whl   # ~ 2-4 minutes
#   benches/gpu_check.sh --dry                                # CPU-side parts only
#
# `import qoxide` needs tqdm besides torch and numpy: carry its pure-Python wheel
# (`pip download --no-deps tqdm -d dist`); every wheel given is installed the same way.
# The tests run with --noconftest (tests/conftest.py needs hypothesis, absent there).
# Steps: install the wheel with `pip install --no-deps --target` into a temporary folder
# (nothing else is touched), print qx.cuda's view of the machine, run the `gpu`-marked
# tests, then benches/gpu_check.py (batched small circuits) and benches/gpu_large.py (large
# registers): JSON lines + tables of ratios from the same run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-python3}"
dry=""
if [[ "${1:-}" == "--dry" ]]; then
    dry="--dry"
    shift
fi
if [[ $# -ge 1 ]]; then
    target="$(mktemp -d /tmp/qoxide-gpu-check.XXXXXX)"
    "$py" -m pip install --no-deps --no-index --target "$target" "$@" >/dev/null
    export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
elif [[ -z "$dry" ]]; then
    echo "usage: $0 [--dry] QOXIDE_WHEEL [TQDM_WHEEL ...]  |  $0 --dry" >&2
    exit 2
fi
cd "$here"
"$py" - <<'PY'
import json, torch, qoxide as qx
print(json.dumps({
    "qoxide": qx.__version__, "qoxide_file": qx.__file__, "torch": torch.__version__,
    "torch_cuda": torch.cuda.is_available(),
    "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    "qx_cuda_available": qx.cuda.is_available(), "qx_cuda_reason": qx.cuda.reason(),
    "nvrtc": qx.cuda.nvrtc_path(),
}))
PY
if [[ -z "$dry" ]]; then
    timeout 180 "$py" -m pytest -q -m gpu -p no:cacheprovider --noconftest \
        tests/test_cuda.py tests/test_cuda_ops.py tests/test_pennylane_gpu.py tests/test_hsm_cuda.py
fi
timeout 150 "$py" benches/gpu_check.py $dry
timeout 150 "$py" benches/gpu_large.py $dry
