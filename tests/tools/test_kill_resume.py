"""A run killed with SIGKILL and resumed is the run that was never killed.

The main job's config (FlexiViT, random patch size, photometric augmentation, decode-head
dropout, in-place distillation from p8 after a teacher-only phase; drop path switched on so
that the random generators matter) shrunk to 8 iterations on tiny
data, with a checkpoint every 2 iterations and a multi-budget validation every 4. One run goes
through; another is killed with ``kill -9`` in the middle of its validation at iteration 4 and
resumed with ``--resume``. The resumed run repeats the interrupted validation, then trains
iterations 5-8 drawing the same choices with the same losses.
"""
import json
import os
import signal
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, REPO, quick_run_options

CONFIG = REPO / "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"
MAX_ITERS = 8
VALIDATION_STARTED = "multi-budget val:"


def _command(work_dir: Path, data_root: Path, *extra: str) -> list[str]:
    return [PYTHON, "tools/train.py", str(CONFIG), "--work-dir", str(work_dir), *extra,
            "--cfg-options", *quick_run_options(data_root, max_iters=MAX_ITERS),
            "train_cfg.val_interval=4", "model.backbone.drop_path_rate=0.1",
            # the main job's in-place distillation with a shorter teacher-only phase: both
            # phases cross the kill
            "train_cfg.distill.teacher_only_iters=2",
            "log_processor.window_size=1"]  # each logged loss is its own iteration's


def _start(command: list[str]) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> str:
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log[-4000:]
    return log


def _kill_when(process: subprocess.Popen, needle: str) -> str:
    """Read the run's output until ``needle`` appears, then SIGKILL it."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if needle in line:
            process.send_signal(signal.SIGKILL)
            break
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)[-4000:]
    return "".join(seen)


def _train_scalars(work_dir: Path) -> dict[int, dict]:
    """Per-iteration training scalars of every run in ``work_dir`` (full float precision)."""
    rows = {}
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if "loss" in row:
                rows[row["step"]] = row
    return rows


def _choices(log: str) -> dict[int, str]:
    import re

    return {int(n): c for n, c in re.findall(r"Iter\(train\) \[\s*(\d+)/\d+\].*choice: (\S+)",
                                             log)}


def _validation_metrics(log: str) -> list[str]:
    """The metrics part of each validation's summary line."""
    return [line.split("Iter(val) [1/1]")[1].split("data_time")[0]
            for line in log.splitlines() if "Iter(val) [1/1]" in line and "mIoU" in line]


def test_a_run_killed_during_validation_resumes_as_if_never_killed(tmp_path, small_digitseg):
    whole = _start(_command(tmp_path / "whole", small_digitseg))
    killed_dir = tmp_path / "killed"
    killed_log = _kill_when(_start(_command(killed_dir, small_digitseg)), VALIDATION_STARTED)
    assert "Saving checkpoint at 4 iterations" in killed_log
    assert not (killed_dir / "multibudget_val.json").exists()  # the kill cut the validation
    assert (killed_dir / "last_checkpoint").read_text().strip() == str(killed_dir / "iter_4.pth")

    resumed_log = _finish(_start(_command(killed_dir, small_digitseg, "--resume")))
    whole_log = _finish(whole)

    # The interrupted validation at iteration 4 is run again, with the same metrics.
    assert "repeating the validation at iteration 4" in resumed_log
    assert _validation_metrics(resumed_log) == _validation_metrics(whole_log)
    expected, resumed = _train_scalars(tmp_path / "whole"), _train_scalars(killed_dir)
    assert sorted(expected) == list(range(1, MAX_ITERS + 1))
    assert sorted(_choices(resumed_log)) == [5, 6, 7, 8]
    for step in range(5, MAX_ITERS + 1):
        assert _choices(resumed_log)[step] == _choices(whole_log)[step]
        for key in ("loss", "decode.loss_ce", "loss_distill", "grad_norm"):
            assert abs(resumed[step][key] - expected[step][key]) <= 1e-6, (step, key)
    # The draws differ between iterations, so equal choices are not a coincidence.
    assert len(set(_choices(whole_log).values())) > 1
