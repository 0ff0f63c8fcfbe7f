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
MMCV_VERSION=2.1.0

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; rm -f "$READY"; exit 1; }

# The served web page's browser test drives Debian's Chromium; as root, install it if missing
# (elsewhere that test is skipped, saying why).
if ! { command -v chromium && command -v chromedriver; } >/dev/null && [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing chromium and chromedriver (browser test of the served web page)"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
        chromium-driver; } > /dev/null || say "warning: chromium did not install"
fi

if [[ -f "$READY" ]] && cat "${STAMPED[@]}" | cmp -s "$READY" -; then
    say "environment $VENV is ready"
    exit 0
fi
rm -f "$READY"

say "virtual environment: $VENV"
[[ -x "$VENV/bin/python" ]] || "$BASE_PYTHON" -m venv "$VENV" || die "could not create $VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

say "installing torch and build tools"
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt" || die "torch/build tools failed to install"

mkdir -p "$WHEELS"
MMCV_WHEEL="$(ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$MMCV_WHEEL" ]]; then
    say "building mmcv $MMCV_VERSION with CPU ops (about 10 minutes on 2 cores, done once)"
    BUILD="$(mktemp -d)"
    trap 'rm -rf "$BUILD"' EXIT
    "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary :all: \
        -d "$BUILD" "mmcv==$MMCV_VERSION" || die "could not download the mmcv $MMCV_VERSION sdist"
    tar -xzf "$BUILD/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers need C++20; mmcv's setup.py hard-codes C++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    if ! MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" wheel --no-build-isolation \
            --no-deps -w "$BUILD/dist" "$SRC" > "$BUILD/build.log" 2>&1; then
        tail -n 30 "$BUILD/build.log" >&2
        die "mmcv build failed (log above)"
    fi
    cp "$BUILD"/dist/mmcv-*.whl "$WHEELS/"
    MMCV_WHEEL="$(ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
    say "cached $MMCV_WHEEL"
fi

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
cat "${STAMPED[@]}" > "$READY"
say "ready: source $VENV/bin/activate"
