"""tools/train.py trains a stock mmseg config on DigitSeg and --resume continues where it stopped."""
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import (BASELINE_CONFIG, load_run_checkpoint, quick_run_options,
                            run_tool_here)


def _train(work_dir, data_root, *extra) -> str:
    result = run_tool_here("tools/train.py", str(BASELINE_CONFIG), "--work-dir", str(work_dir),
                           *extra, "--cfg-options", *quick_run_options(data_root))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _trained_iters(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"Iter\(train\) \[\s*(\d+)/\d+\]", log)]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, small_digitseg) -> tuple[Path, str]:
    """Four iterations with checkpoints at 2 and 4, and the run's log."""
    work_dir = tmp_path_factory.mktemp("first") / "run"
    return work_dir, _train(work_dir, small_digitseg)


def _copy_of(first_run: tuple[Path, str], tmp_path: Path) -> Path:
    """The first run's folder, for a test to change; its last_checkpoint names the copy."""
    work_dir = tmp_path / "run"
    shutil.copytree(first_run[0], work_dir)
    (work_dir / "last_checkpoint").write_text(str(work_dir / "iter_4.pth"))
    return work_dir


def test_resume_continues_from_saved_iteration(tmp_path, small_digitseg, first_run):
    work_dir = _copy_of(first_run, tmp_path)
    first = first_run[1]
    assert _trained_iters(first) == [1, 2, 3, 4]
    assert "mIoU" in first
    final = load_run_checkpoint(work_dir / "iter_4.pth")
    assert final["meta"]["iter"] == 4

    # Resume from the middle: only iterations 3 and 4 run again, starting from iter_2's state.
    second = _train(work_dir, small_digitseg, "--resume", str(work_dir / "iter_2.pth"))
    assert "resumed" in second.lower()
    assert _trained_iters(second) == [3, 4]
    resumed = load_run_checkpoint(work_dir / "iter_4.pth")
    assert resumed["meta"]["iter"] == 4
    assert resumed["message_hub"]["log_scalars"]["train/loss"].data[0].size == 4


def test_resume_skips_a_checkpoint_truncated_by_a_kill(tmp_path, small_digitseg, first_run):
    """A kill while iter_4.pth was written: ``--resume`` warns and continues from iter_2."""
    work_dir = _copy_of(first_run, tmp_path)
    newest = work_dir / "iter_4.pth"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    with pytest.warns(UserWarning) as warned:  # in this process pytest records the warning
        log = _train(work_dir, small_digitseg, "--resume")
    assert f"last_checkpoint names {newest}, which is missing or truncated; resuming from " \
           f"{work_dir / 'iter_2.pth'}" in [str(w.message) for w in warned]
    assert _trained_iters(log) == [3, 4]
    assert load_run_checkpoint(newest)["meta"]["iter"] == 4  # written whole this time
