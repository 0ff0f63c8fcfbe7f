#!/usr/bin/env bash
# Set up the environment if needed (see tools/setup_env.sh), then run the test suite.
#   bash tools/run_tests.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${FLEXSEG_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "$@"
