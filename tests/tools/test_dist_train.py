"""tools/dist_train.sh runs 2 gloo ranks on the CPU, trains, validates and writes a checkpoint."""
import os
import re
import subprocess

import pytest
import torch

from tests.conftest import (BASELINE_CONFIG, PYTHON, REPO, free_port, load_run_checkpoint,
                            quick_run_options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the CPU (gloo) path")
def test_two_rank_gloo_training(tmp_path, small_digitseg):
    work_dir = tmp_path / "dist"
    env = dict(os.environ, PYTHON=PYTHON, PORT=str(free_port()), OMP_NUM_THREADS="1")
    cmd = ["bash", "tools/dist_train.sh", str(BASELINE_CONFIG), "2", "--work-dir",
           str(work_dir), "--cfg-options", *quick_run_options(small_digitseg)]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "Distributed training: True" in log and "GPU number: 2" in log  # world size 2
    assert "mIoU" in log
    checkpoint = load_run_checkpoint(work_dir / "iter_4.pth")
    assert checkpoint["meta"]["iter"] == 4
    # DDP keeps ranks in step: the saved weights are those of the wrapped module, unprefixed.
    assert not any(key.startswith("module.") for key in checkpoint["state_dict"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the CPU (gloo) path")
def test_a_hanging_rank_ends_the_job_after_the_configured_timeout(tmp_path, small_digitseg):
    """Rank 1 blocks forever at iteration 1; rank 0 waits 15 s in its collective, says so in
    one line naming itself, and torchrun tears the job down (not after gloo's 30 minutes)."""
    import time

    env = dict(os.environ, PYTHON=PYTHON, PORT=str(free_port()), OMP_NUM_THREADS="1")
    cmd = ["bash", "tools/dist_train.sh", str(REPO / "tests/budget/budget_config_hang.py"), "2",
           "--work-dir", str(tmp_path), "--cfg-options", *quick_run_options(small_digitseg)]
    start = time.monotonic()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    assert result.returncode != 0
    # gloo says "Timed out waiting 15000ms ..." or, when the wait ends inside a transfer (DDP's
    # buffer broadcast), "Application timeout caused pair closure"; either is the one line.
    assert re.search(r"error: rank [01]: a collective operation timed out \(", result.stderr), \
        result.stderr[-3000:]
    assert elapsed < 240, elapsed  # start-up, one iteration, the 15 s wait, the tear-down


LAUNCHERS = {"dist_train.sh": ["CONFIG", "2"], "dist_test.sh": ["CONFIG", "CKPT", "2"],
             "slurm_train.sh": ["PARTITION", "JOB", "CONFIG"]}


def _stand_in(path, has_torch: bool = True) -> None:
    """An executable that answers the torch check and prints how it was run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n[ "$1" = -c ] && exit {0 if has_torch else 1}\n'
                    f'echo "ran {path}: $*"\n')
    path.chmod(0o755)


def _launch(tmp_path, script: str, venv: bool, **env) -> subprocess.CompletedProcess:
    """Run a copy of ``script`` from a fresh shell: no activated environment, a ``python`` on
    the PATH without torch, and ``.venv`` present or not."""
    import shutil

    root = tmp_path / "checkout"
    (root / "tools").mkdir(parents=True)
    for name in (script, "python_env.sh"):
        shutil.copy(REPO / "tools" / name, root / "tools" / name)
    if venv:
        _stand_in(root / ".venv/bin/python")
    _stand_in(tmp_path / "bin/python", has_torch=False)
    _stand_in(tmp_path / "bin/srun")  # slurm_train.sh: srun prints what it would start
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHON", "FLEXSEG_VENV", "VIRTUAL_ENV")}
    clean["PATH"] = f"{tmp_path / 'bin'}:/usr/bin:/bin"
    return subprocess.run(["bash", str(root / "tools" / script), *LAUNCHERS[script]],
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("script", LAUNCHERS)
def test_launchers_use_the_project_environment_without_activation(tmp_path, script):
    result = _launch(tmp_path, script, venv=True)
    assert result.returncode == 0, result.stderr
    venv_python = tmp_path / "checkout/.venv/bin/python"
    if script == "slurm_train.sh":  # srun starts the environment's python on every task
        assert result.stdout.startswith(f"ran {tmp_path / 'bin/srun'}: -p PARTITION")
        assert f"{venv_python} -u {tmp_path / 'checkout/tools/train.py'} CONFIG --launcher " \
            "slurm" in result.stdout
    else:
        assert result.stdout.startswith(f"ran {venv_python}: -m torch.distributed.run")


@pytest.mark.parametrize("script", LAUNCHERS)
def test_launchers_say_what_to_do_without_an_environment(tmp_path, script):
    result = _launch(tmp_path, script, venv=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: 'python' cannot import torch; run 'bash tools/setup_env.sh' once (the launch "
        f"scripts then use its environment, {tmp_path / 'checkout/.venv'}), or set "
        "PYTHON=/path/to/python of an environment with flexseg's requirements"]
    assert result.stdout == ""  # nothing was started


def test_python_overrides_the_project_environment(tmp_path):
    _stand_in(tmp_path / "mine/python3.12")
    result = _launch(tmp_path, "dist_train.sh", venv=True,
                     PYTHON=str(tmp_path / "mine/python3.12"))
    assert result.stdout.startswith(f"ran {tmp_path / 'mine/python3.12'}: -m "
                                    "torch.distributed.run")


@pytest.mark.parametrize("message, is_timeout", [
    ("[../gloo/transport/tcp/pair.cc:534] Timed out waiting 15000ms for recv operation", True),
    ("[../gloo/transport/tcp/unbound_buffer.cc:81] Application timeout caused pair closure",
     True),
    ("Connection closed by peer [127.0.0.1]:29500", False),
    ("CUDA error: out of memory", False)])
def test_collective_timeouts_are_told_from_other_errors(message, is_timeout):
    from flexseg.cli import _is_collective_timeout

    assert _is_collective_timeout(RuntimeError(message)) is is_timeout
