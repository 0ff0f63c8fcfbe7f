#!/usr/bin/env bash
# The five-minute GPU acceptance check (tools/gpu_check.py): mmcv's CUDA ops, mixed precision,
# compile, DDP on 2 GPUs, multi-budget evaluation, a latency profile, and one step of every
# paper-scale config; a summary table, exit status 1 if any step failed.
#   bash tools/gpu_check.sh [--work-dir DIR] [--only STEP,...] [--iters N] [--dry-run] [--gpus N]
# Without CUDA it says so and exits 0. Runs the project's .venv (tools/python_env.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tools/python_env.sh"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" "$ROOT/tools/gpu_check.py" "$@"
