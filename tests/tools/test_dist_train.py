"""tools/dist_train.sh runs 2 gloo ranks on the CPU, trains, validates and writes a checkpoint."""
import os
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
    assert "error: rank 0: a collective operation timed out (Timed out waiting 15000ms" in \
        result.stderr
    assert elapsed < 240, elapsed  # start-up, one iteration, the 15 s wait, the tear-down
