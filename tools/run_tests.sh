#!/usr/bin/env bash
# Set up the environment if needed (see tools/setup_env.sh), then run the test suite on
# FLEXSEG_TEST_WORKERS pytest-xdist workers (default 2; each test uses one thread; 0 runs it in
# this process, e.g. to debug one test):
#   bash tools/run_tests.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${FLEXSEG_VENV:-$ROOT/.venv}/bin/python" -m pytest tests \
    --numprocesses "${FLEXSEG_TEST_WORKERS:-2}" --dist loadfile "$@"
