"""The CUDA build path of tools/build_mmcv.sh (run by tools/setup_env.sh), by its --dry-run on
stand-ins: a fake nvidia-smi, a fake nvcc and a python that reports torch's CUDA version. On a
machine without a GPU the build is the CPU one it always was; with a GPU (or FORCE_CUDA=1) a
system nvcc of torch's CUDA major version is used, else NVIDIA's nvcc from PyPI at torch's
version."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "tools/build_mmcv.sh"
GPU_LINE = "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-0)"


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)


def _plan(tmp_path, torch_cuda: str = "13.0", gpu: bool = False, nvcc: str | None = None,
          **env) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Dry-run the script; (the result, the commands it would run)."""
    bin_dir = tmp_path / "bin"
    _executable(tmp_path / "python", f'[ "$1" = -c ] && echo "{torch_cuda}"\n')
    if gpu:
        _executable(bin_dir / "nvidia-smi", f'[ "$1" = -L ] && echo "{GPU_LINE}"\n')
    if nvcc is not None:
        _executable(tmp_path / "cuda/bin/nvcc",
                    f'echo "Cuda compilation tools, release {nvcc}, V{nvcc}.1"\n')
        (bin_dir / "nvcc").parent.mkdir(parents=True, exist_ok=True)
        (bin_dir / "nvcc").symlink_to(tmp_path / "cuda/bin/nvcc")
    clean = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "FORCE_CUDA",
                                                               "TORCH_CUDA_ARCH_LIST")}
    clean["PATH"] = f"{bin_dir}:/usr/bin:/bin"  # no /usr/local/bin (a real nvcc may be there)
    result = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "python"),
                             str(tmp_path / "wheels"), "--dry-run"], env={**clean, **env},
                            capture_output=True, text=True, timeout=60)
    commands = [line[2:] for line in result.stderr.splitlines() if line.startswith("+ ")]
    return result, commands


def _build_env(commands: list[str]) -> str:
    return next(c for c in commands if c.startswith("env ") and " wheel " in c)


def test_without_a_gpu_the_cpu_build_is_unchanged(tmp_path):
    result, commands = _plan(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{tmp_path}/wheels/mmcv-2.1.0-<built>.whl"]
    assert "mmcv 2.1.0 ops: cpu" in result.stderr
    assert [c.split()[0] for c in commands] == [str(tmp_path / "python"), "tar", "sed", "env"]
    assert "-m pip --disable-pip-version-check download" in commands[0]
    env = _build_env(commands)
    assert "MMCV_WITH_OPS=1" in env and "FORCE_CUDA" not in env and "CUDA_HOME" not in env


def test_a_gpu_without_nvcc_installs_nvidias_nvcc_from_pypi(tmp_path):
    result, commands = _plan(tmp_path, gpu=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{tmp_path}/wheels/cuda13.0/mmcv-2.1.0-<built>.whl"
    assert commands[0] == (f"{tmp_path}/python -m pip --disable-pip-version-check install -q "
                           "nvidia-cuda-nvcc==13.0.* nvidia-nvvm==13.0.* "
                           "nvidia-cuda-crt==13.0.* nvidia-cuda-cccl==13.0.* "
                           "nvidia-cuda-runtime==13.0.*")
    env = _build_env(commands)
    assert "FORCE_CUDA=1" in env and "CUDA_HOME=<site-packages>/nvidia/<toolkit>" in env
    assert "TORCH_CUDA_ARCH_LIST" not in env  # the visible GPU's architecture


def test_cuda_12_uses_the_cu12_packages(tmp_path):
    _, commands = _plan(tmp_path, torch_cuda="12.8", gpu=True)
    assert commands[0].endswith("install -q nvidia-cuda-nvcc-cu12==12.8.* "
                                "nvidia-cuda-cccl-cu12==12.8.* nvidia-cuda-runtime-cu12==12.8.*")


def test_a_system_nvcc_of_torchs_major_version_is_used(tmp_path):
    result, commands = _plan(tmp_path, gpu=True, nvcc="13.1")
    assert result.returncode == 0, result.stderr
    assert not any(" install " in c for c in commands)
    assert f"CUDA_HOME={tmp_path}/cuda" in _build_env(commands).split()
    assert f"system nvcc {tmp_path}/bin/nvcc (13.1; torch's CUDA 13.0)" in result.stderr


def test_a_system_nvcc_of_another_major_version_is_passed_over(tmp_path):
    result, commands = _plan(tmp_path, gpu=True, nvcc="12.4")
    assert "is CUDA 12.4, not torch's CUDA 13.0: using NVIDIA's nvcc from PyPI" in result.stderr
    assert "nvidia-cuda-nvcc==13.0.*" in commands[0]


def test_force_cuda_without_a_gpu_builds_for_default_architectures(tmp_path):
    result, commands = _plan(tmp_path, FORCE_CUDA="1")
    assert result.returncode == 0, result.stderr
    assert "TORCH_CUDA_ARCH_LIST=7.5;8.0;8.6;8.9;9.0+PTX" in _build_env(commands).split()
    _, commands = _plan(tmp_path, FORCE_CUDA="1", TORCH_CUDA_ARCH_LIST="9.0")
    assert "TORCH_CUDA_ARCH_LIST=9.0" in _build_env(commands).split()


def test_a_cpu_build_of_torch_cannot_get_cuda_ops(tmp_path):
    result, commands = _plan(tmp_path, torch_cuda="", gpu=True)
    assert result.returncode == 1 and not commands and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        "[setup] ERROR: CUDA ops asked for (GPU or FORCE_CUDA=1) but torch in "
        f"{tmp_path}/python is a CPU build; install a CUDA build of torch first")


def test_a_cached_wheel_of_the_flavour_is_reused_without_building(tmp_path):
    wheel = tmp_path / "wheels/cuda13.0/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.parent.mkdir(parents=True)
    wheel.touch()
    (tmp_path / "wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl").touch()  # the CPU one
    result, commands = _plan(tmp_path, gpu=True, nvcc="13.0")
    assert result.stdout.strip() == str(wheel) and not commands


@pytest.mark.skipif(shutil.which("chromium") is None, reason="setup_env.sh would install it")
def test_a_cpu_environment_is_not_ready_on_a_gpu_machine(tmp_path):
    """setup_env.sh's ready stamp records CUDA ops: a CPU environment's stamp does not match
    on a machine with a GPU, so the set-up goes on (here it stops at the venv step)."""
    root = tmp_path / "checkout"
    (root / "tools").mkdir(parents=True)
    (root / "requirements").mkdir()
    for name in ("tools/setup_env.sh", "tools/build_mmcv.sh", "requirements.txt",
                 "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".flexseg-ready").write_bytes((root / "requirements.txt").read_bytes() +
                                          (root / "pyproject.toml").read_bytes())
    _executable(tmp_path / "bin/nvidia-smi", f'[ "$1" = -L ] && echo "{GPU_LINE}"\n')
    _executable(tmp_path / "bin/chromedriver", "")
    env = dict(os.environ, FLEXSEG_VENV=str(venv), BASE_PYTHON="false",
               PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    cpu = {**env, "PATH": os.environ["PATH"]}
    if shutil.which("nvidia-smi") is None:  # the same stamp is ready without the GPU
        ready = subprocess.run(["bash", str(root / "tools/setup_env.sh")], env=cpu,
                               capture_output=True, text=True, timeout=60)
        assert "is ready" in ready.stdout, ready.stderr
    result = subprocess.run(["bash", str(root / "tools/setup_env.sh")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "is ready" not in result.stdout
    assert result.returncode == 1 and "could not create" in result.stderr
