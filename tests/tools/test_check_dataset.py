"""tools/check_dataset.py: one line per broken sample naming its file, class frequencies equal
to a count made directly from the label files, exit status 1 exactly when something is wrong."""
import contextlib
import io
import re
import runpy
import shutil
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from tests.conftest import BASELINE_CONFIG, REPO, break_file
from tests.datasets.test_sample_checks import halve, set_label


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _check(root, *extra) -> Result:
    """The tool, in this process (faster than a new interpreter per run)."""
    options = [f"{key}.dataset.data_root={root}"
               for key in ("train_dataloader", "val_dataloader", "test_dataloader")]
    argv = ["check_dataset.py", str(BASELINE_CONFIG), "--quiet", "--cfg-options", *options,
            *extra]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        patch.setattr(sys, "argv", argv)
        patch.setenv("LOCAL_RANK", "0")
        try:
            runpy.run_path(str(REPO / "tools/check_dataset.py"), run_name="__main__")
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def _table(stdout: str, split: str) -> dict[str, tuple[int, int]]:
    block = stdout.split(f"class frequencies, {split}:\n")[1].split("\n\n")[0]
    rows = [line.split("|")[1:-1] for line in block.splitlines()[2:]]
    return {name.strip(): (int(pixels), int(images)) for name, pixels, _, images in rows}


def test_a_clean_dataset_passes_with_frequencies_counted_from_the_files(digitseg_copy):
    result = _check(digitseg_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "problem:" not in result.stdout and "no problems found" in result.stdout
    assert "train (DigitSegDataset" in result.stdout
    assert "val/test (DigitSegDataset" in result.stdout
    labels = [np.array(Image.open(p)) for p in (digitseg_copy / "annotations/training").iterdir()]
    table = _table(result.stdout, "train")
    for label, (name, (pixels, images)) in enumerate(table.items()):
        assert pixels == sum(int((m == label).sum()) for m in labels), name
        assert images == sum(bool((m == label).any()) for m in labels), name
    assert len(table) == 11


def test_every_problem_is_one_line_naming_its_file(digitseg_copy):
    annotations = sorted((digitseg_copy / "annotations/training").iterdir())
    images = sorted((digitseg_copy / "images/training").iterdir())
    halve(annotations[0])
    set_label(annotations[1], 42)
    break_file(images[2], "truncated")
    for path in (digitseg_copy / "images/validation").iterdir():
        path.unlink()
    # mmseg's generic dataset lists an empty folder without complaint (DigitSeg's refuses it)
    result = _check(digitseg_copy, "val_dataloader.dataset.type=BaseSegDataset",
                    "test_dataloader.dataset.type=BaseSegDataset")
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem:")]
    assert len(problems) == 4, result.stdout
    assert re.search(f"train: annotation {annotations[0]} is 32x32 .* is 64x64", problems[0])
    assert f"train: annotation {annotations[1]} has label values 42" in problems[1]
    assert f"train: cannot read image {images[2]} (truncated" in problems[2]
    assert problems[3].startswith("problem: val/test: the split is empty")
    assert "4 problem(s)" in result.stdout and "Traceback" not in result.stderr


def test_a_missing_split_folder_is_a_problem_and_splits_can_be_chosen(digitseg_copy):
    shutil.rmtree(digitseg_copy / "images/validation")
    result = _check(digitseg_copy)
    assert result.returncode == 1
    assert "problem: val/test: cannot list the samples" in result.stdout
    only_train = _check(digitseg_copy, "--splits", "train")
    assert only_train.returncode == 0 and "val/test" not in only_train.stdout


def test_an_unknown_split_is_a_one_line_error(digitseg_copy):
    result = _check(digitseg_copy, "--splits", "training")
    assert result.returncode == 2 and "error: --splits takes train, val, test" in result.stderr
