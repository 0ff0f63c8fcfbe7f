# Sourced by the launch scripts (dist_train.sh, dist_test.sh, slurm_train.sh): sets PYTHON, the
# interpreter they run. An exported PYTHON wins; otherwise the project's environment made by
# tools/setup_env.sh (${FLEXSEG_VENV:-.venv}) when it exists, so no activation is needed;
# otherwise python on the PATH. Stops in one line when that interpreter cannot import torch.
FLEXSEG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    PYTHON="${FLEXSEG_VENV:-$FLEXSEG_ROOT/.venv}/bin/python"
    [[ -x "$PYTHON" ]] || PYTHON=python
fi
if ! "$PYTHON" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)" \
        2>/dev/null; then
    echo "error: '$PYTHON' cannot import torch; run 'bash tools/setup_env.sh' once (the launch" \
         "scripts then use its environment, ${FLEXSEG_VENV:-$FLEXSEG_ROOT/.venv}), or set" \
         "PYTHON=/path/to/python of an environment with flexseg's requirements" >&2
    exit 1
fi
