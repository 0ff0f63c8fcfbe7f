#!/usr/bin/env bash
# The main job: set up the environment if needed, generate DigitSeg if missing, build the
# pretrained weights it loads if missing, fine-tune the demo config on it and evaluate the
# final checkpoint. Depth configs (DigitSeg-NYU) also get the
# depth variant of the data.
#   bash tools/run_demo.sh [CONFIG] [train.py args...]
set -euo pipefail
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
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "${@:2}"
"$PY" tools/test.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR"
