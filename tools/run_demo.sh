#!/usr/bin/env bash
# The main job: set up the environment if needed, generate DigitSeg if missing, build the
# pretrained weights it loads if missing, fine-tune the demo config on it and evaluate the
# final checkpoint. Depth configs (DigitSeg-NYU) also get the
# depth variant of the data. The main job (no arguments) trains and evaluates under bfloat16
# autocast where the processor multiplies bfloat16 natively (AVX512-BF16 or AMX): faster steps,
# the same mIoU within run-to-run noise (docs/results.md, ip-p8-p4-bf16); FLEXSEG_DEMO_AMP=0
# keeps float32. Other configs run in float32, as their tables were measured.
#   bash tools/run_demo.sh [CONFIG] [train.py args...]
set -euo pipefail
# glibc keeps freed memory instead of returning it: each patch size allocates buffers of its own
# size, and returned memory made a step after a size switch fault its pages in again. The main
# job, float32 on 2 idle cores: 21 min 51 s against 23 min 51 s, the same mIoU to the digit
# (docs/benchmarks.md, P2s). Values already set are kept.
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-1073741824}"
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-33554432}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONFIG="${1:-configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py}"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
PY="${FLEXSEG_VENV:-$ROOT/.venv}/bin/python"
WORK_DIR="work_dirs/$(basename "${CONFIG%.py}")"

GENERATE_ARGS=()
if [[ "$CONFIG" == *digitseg-nyu* ]]; then
  GENERATE_ARGS=(--nyu-root data/digitseg_nyu)
fi
"$PY" tools/generate_digitseg.py "${GENERATE_ARGS[@]}"
"$PY" tools/ensure_pretrained.py "$CONFIG"
AMP=()
if [[ $# -eq 0 && "${FLEXSEG_DEMO_AMP:-1}" != 0 ]] && grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then
  AMP=(--amp --amp-dtype bfloat16)
fi
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "${AMP[@]}" "${@:2}"
"$PY" tools/test.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR" "${AMP[@]}"
