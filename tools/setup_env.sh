#!/usr/bin/env bash
# Create .venv with the pinned OpenMMLab stack, building mmcv 2.1.0 with its CPU ops once and
# caching the wheel in the user cache so later set-ups (fresh clones included) take seconds.
# Usage: bash tools/setup_env.sh            (FLEXSEG_VENV, FLEXSEG_CACHE override locations)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FLEXSEG_VENV:-$ROOT/.venv}"
CACHE="${FLEXSEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flexseg}"
WHEELS="$CACHE/wheels"
BASE_PYTHON="${BASE_PYTHON:-python3}"
READY="$VENV/.flexseg-ready"
# The ready stamp holds what was installed: requirements and pyproject (its optional extras).
STAMPED=("$ROOT/requirements.txt" "$ROOT/pyproject.toml")

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; rm -f "$READY"; exit 1; }

# The served web page's browser test drives Debian's Chromium; as root, install it if missing
# (elsewhere that test is skipped, saying why).
if ! { command -v chromium && command -v chromedriver; } >/dev/null && [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing chromium and chromedriver (browser test of the served web page)"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
        chromium-driver; } > /dev/null || say "warning: chromium did not install"
fi

# shellcheck source=tools/build_mmcv.sh
source "$ROOT/tools/build_mmcv.sh"  # MMCV_VERSION, want_cuda
stamp() {  # what a ready environment holds; CUDA ops add a line (CPU stamps are unchanged)
    cat "${STAMPED[@]}"
    if want_cuda; then echo "mmcv ops: cuda"; fi
}

if [[ -f "$READY" ]] && stamp | cmp -s "$READY" -; then
    say "environment $VENV is ready"
    exit 0
fi
rm -f "$READY"

say "virtual environment: $VENV"
[[ -x "$VENV/bin/python" ]] || "$BASE_PYTHON" -m venv "$VENV" || die "could not create $VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

say "installing torch and build tools"
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt" || die "torch/build tools failed to install"

# mmcv with CPU ops, or CUDA ops on a machine with an NVIDIA GPU or with FORCE_CUDA=1
# (tools/build_mmcv.sh: a system nvcc of torch's CUDA version, else NVIDIA's from PyPI).
MMCV_WHEEL="$(bash "$ROOT/tools/build_mmcv.sh" "$VENV/bin/python" "$WHEELS")" ||
    die "mmcv $MMCV_VERSION could not be built"

say "installing mmcv, OpenMMLab and flexseg"
"${PIP[@]}" install -q "$MMCV_WHEEL" || die "could not install $MMCV_WHEEL"
"${PIP[@]}" install -q -r "$ROOT/requirements.txt" || die "requirements failed to install"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT" || die "pip install -e . failed"

say "installing the optional extras of pyproject.toml (deploy: ONNX; serve: HTTP server)"
mapfile -t EXTRAS < <("$VENV/bin/python" - "$ROOT/pyproject.toml" <<'PY'
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

with open(sys.argv[1], "rb") as file:
    extras = tomllib.load(file)["project"].get("optional-dependencies", {})
print("\n".join(requirement for group in extras.values() for requirement in group))
PY
)
if [[ ${#EXTRAS[@]} -gt 0 ]]; then
    "${PIP[@]}" install -q "${EXTRAS[@]}" || die "optional extras failed to install"
fi

say "checking that mmcv.ops runs"
"$VENV/bin/python" - <<'PY' || die "mmcv.ops check failed: the environment is NOT ready"
import torch
from mmcv.ops import nms
import mmseg, mmdet, timm  # noqa: F401
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
_, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
assert keep.tolist() == [0, 2], keep
PY
if want_cuda; then
    "$VENV/bin/python" -c 'from mmcv.ops import get_compiling_cuda_version as v; print(v())' |
        grep -q '^[0-9]' || die "mmcv.ops has no CUDA ops: the environment is NOT ready"
fi
stamp > "$READY"
say "ready: source $VENV/bin/activate"
