#!/usr/bin/env bash
# Build the mmcv wheel tools/setup_env.sh installs, with CPU ops or, on a machine with an NVIDIA
# GPU (nvidia-smi lists one) or with FORCE_CUDA=1, with CUDA ops too.
#   bash tools/build_mmcv.sh PYTHON WHEEL_DIR [--dry-run]
# PYTHON: the environment's interpreter, torch installed. The wheel goes to WHEEL_DIR
# (CPU) or WHEEL_DIR/cuda<X.Y> (CUDA ops for torch's CUDA X.Y); its path is the only line on
# standard output (progress and the commands run go to standard error).
# The CUDA compiler: a system nvcc (on PATH or $CUDA_HOME/bin) of torch's CUDA major version,
# else NVIDIA's from PyPI (nvidia-cuda-nvcc and the headers it needs, at torch's X.Y), installed
# into the environment and used as CUDA_HOME. --dry-run prints the decision and the commands,
# runs none of them (no build, no install). TORCH_CUDA_ARCH_LIST: GPU architectures to build
# for (default: the visible GPUs', or CUDA_ARCHS_DEFAULT below without one).
set -euo pipefail

MMCV_VERSION=2.1.0
CUDA_ARCHS_DEFAULT="7.5;8.0;8.6;8.9;9.0+PTX"

log() { printf '[setup] %s\n' "$*" >&2; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

gpu_visible() {
    command -v nvidia-smi > /dev/null && nvidia-smi -L 2> /dev/null | grep -q '^GPU'
}

# Whether mmcv gets CUDA ops: FORCE_CUDA=1, or nvidia-smi lists a GPU.
want_cuda() {
    [[ "${FORCE_CUDA:-0}" == 1 ]] || gpu_visible
}

# The X.Y release of an nvcc binary (empty if it does not run).
nvcc_release() {
    "$1" --version 2> /dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' | head -n1
}

# A system nvcc on PATH or in $CUDA_HOME/bin.
system_nvcc() {
    if [[ -n "${CUDA_HOME:-}" && -x "$CUDA_HOME/bin/nvcc" ]]; then
        echo "$CUDA_HOME/bin/nvcc"
    else
        command -v nvcc || true
    fi
}

# PyPI requirements giving an nvcc (and the headers a torch extension needs) for CUDA X.Y:
# from CUDA 13 on, unsuffixed packages whose dependencies are pinned too; before, -cuN names.
nvcc_requirements() {
    local release=$1 major=${1%%.*}
    if (( major >= 13 )); then
        echo "nvidia-cuda-nvcc==$release.* nvidia-nvvm==$release.* nvidia-cuda-crt==$release.*" \
            "nvidia-cuda-cccl==$release.* nvidia-cuda-runtime==$release.*"
    else
        echo "nvidia-cuda-nvcc-cu$major==$release.* nvidia-cuda-cccl-cu$major==$release.*" \
            "nvidia-cuda-runtime-cu$major==$release.*"
    fi
}

run() {  # print a command; run it (its output to standard error) unless --dry-run
    printf '+ %s\n' "$*" >&2
    [[ "$DRY_RUN" == 1 ]] || "$@" >&2
}

main() {
    local python=$1 wheels=$2
    DRY_RUN=0
    [[ "${3:-}" == --dry-run ]] && DRY_RUN=1
    local pip=("$python" -m pip --disable-pip-version-check)
    local flavour=cpu torch_cuda="" env=(MMCV_WITH_OPS=1 "MAX_JOBS=${MAX_JOBS:-$(nproc)}")
    if want_cuda; then
        torch_cuda=$("$python" -c 'import torch; print(torch.version.cuda or "")') ||
            fail "$python cannot import torch"
        [[ -n "$torch_cuda" ]] || fail "CUDA ops asked for (GPU or FORCE_CUDA=1) but torch in" \
            "$python is a CPU build; install a CUDA build of torch first"
        flavour="cuda$torch_cuda"
        wheels="$wheels/$flavour"
        local nvcc cuda_home
        nvcc=$(system_nvcc)
        if [[ -n "$nvcc" && "$(nvcc_release "$nvcc")" == "${torch_cuda%%.*}".* ]]; then
            cuda_home=$(dirname "$(dirname "$(readlink -f "$nvcc")")")  # a symlink's target
            log "CUDA ops with the system nvcc $nvcc ($(nvcc_release "$nvcc"); torch's CUDA" \
                "$torch_cuda)"
        else
            [[ -n "$nvcc" ]] && log "the system nvcc $nvcc is CUDA $(nvcc_release "$nvcc"), not" \
                "torch's CUDA $torch_cuda: using NVIDIA's nvcc from PyPI instead"
            log "CUDA ops with NVIDIA's nvcc from PyPI (CUDA $torch_cuda)"
            # shellcheck disable=SC2046
            run "${pip[@]}" install -q $(nvcc_requirements "$torch_cuda")
            cuda_home=$(pypi_cuda_home "$python")
        fi
        env+=(FORCE_CUDA=1 "CUDA_HOME=$cuda_home")
        if ! gpu_visible; then
            env+=("TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$CUDA_ARCHS_DEFAULT}")
        fi
    fi
    log "mmcv $MMCV_VERSION ops: $flavour"
    local cached
    cached=$(ls "$wheels"/mmcv-"$MMCV_VERSION"-*.whl 2> /dev/null | head -n1 || true)
    if [[ -n "$cached" ]]; then
        echo "$cached"
        return
    fi
    build "$python" "$wheels" "${env[@]}"
}

# Where NVIDIA's PyPI nvcc landed in the environment: its toolkit root (bin/nvcc). A torch
# extension links -lcudart, which the runtime package ships only as libcudart.so.N: the
# unversioned name is added beside it.
pypi_cuda_home() {
    if [[ "$DRY_RUN" == 1 ]]; then
        echo "<site-packages>/nvidia/<toolkit>"
        return
    fi
    "$1" - <<'PY'
import pathlib
import site

for root in site.getsitepackages():
    for nvcc in sorted(pathlib.Path(root, "nvidia").glob("*/bin/nvcc")):
        home = nvcc.parent.parent
        for lib in home.glob("lib/libcudart.so.*"):
            plain = lib.with_name("libcudart.so")
            if not plain.exists():
                plain.symlink_to(lib.name)
        print(home)
        raise SystemExit
raise SystemExit("NVIDIA's nvcc is not in the environment after installing it")
PY
}

build() {
    local python=$1 wheels=$2
    shift 2
    local pip=("$python" -m pip --disable-pip-version-check)
    log "building mmcv $MMCV_VERSION (about 10 minutes on 2 cores for CPU ops, more with CUDA;" \
        "done once)"
    local work="<tmp>"
    if [[ "$DRY_RUN" == 0 ]]; then
        BUILD_DIR=$(mktemp -d)
        trap 'rm -rf "$BUILD_DIR"' EXIT
        work=$BUILD_DIR
    fi
    run "${pip[@]}" download -q --no-deps --no-build-isolation --no-binary :all: -d "$work" \
        "mmcv==$MMCV_VERSION"
    run tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work"
    # torch >= 2.10 headers need C++20; mmcv's setup.py hard-codes C++17.
    run sed -i 's/-std=c++17/-std=c++20/g' "$work/mmcv-$MMCV_VERSION/setup.py"
    local wheel_cmd="${pip[*]} wheel --no-build-isolation --no-deps -w $work/dist"
    printf '+ %s\n' "env $* $wheel_cmd $work/mmcv-$MMCV_VERSION" >&2
    if [[ "$DRY_RUN" == 1 ]]; then
        echo "$wheels/mmcv-$MMCV_VERSION-<built>.whl"
    else
        if ! env "$@" "${pip[@]}" wheel --no-build-isolation --no-deps -w "$work/dist" \
                "$work/mmcv-$MMCV_VERSION" > "$work/build.log" 2>&1; then
            tail -n 30 "$work/build.log" >&2
            fail "mmcv build failed (log above)"
        fi
        mkdir -p "$wheels"
        cp "$work"/dist/mmcv-*.whl "$wheels/"
        ls "$wheels"/mmcv-"$MMCV_VERSION"-*.whl | head -n1
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    [[ $# -ge 2 ]] || fail "usage: bash tools/build_mmcv.sh PYTHON WHEEL_DIR [--dry-run]"
    main "$@"
fi
