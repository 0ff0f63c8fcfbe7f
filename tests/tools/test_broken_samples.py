"""The tools stop on a half-size annotation or an out-of-range label with one line naming the
file (evaluation used to end in an IndexError traceback from mmseg's IoU metric)."""
import subprocess

import torch
from mmengine.config import Config

from tests.conftest import BASELINE_CONFIG, quick_run_options, run_tool_here
from tests.datasets.test_sample_checks import halve, set_label
from tests.evaluation.conftest import TINY_CONFIG, build_segmentor
from tests.evaluation.conftest import tiny_checkpoint  # noqa: F401  (a fixture)
from tests.tools.test_cli_errors import _assert_short_error


def _test(config, checkpoint, root, work_dir) -> subprocess.CompletedProcess:
    return run_tool_here("tools/test.py", str(config), str(checkpoint), "--work-dir",
                         str(work_dir), "--cfg-options",
                         f"test_dataloader.dataset.data_root={root}",
                         "test_dataloader.num_workers=1", "test_dataloader.batch_size=4")


def test_evaluation_names_a_half_size_annotation(tmp_path, digitseg_copy, tiny_checkpoint):
    broken = sorted((digitseg_copy / "annotations/validation").iterdir())[5]
    halve(broken)
    stock = tmp_path / "stock.pth"
    torch.save({"state_dict": build_segmentor(Config.fromfile(str(BASELINE_CONFIG)))
                .state_dict()}, stock)
    for config, checkpoint in ((BASELINE_CONFIG, stock), (TINY_CONFIG, tiny_checkpoint)):
        result = _test(config, checkpoint, digitseg_copy, tmp_path / config.stem)
        _assert_short_error(result, f"annotation {broken} is 32x32 (HxW) but its image",
                            "python tools/check_dataset.py CONFIG")


def test_training_names_an_out_of_range_label(tmp_path, digitseg_copy):
    broken = sorted((digitseg_copy / "annotations/training").iterdir())[3]
    set_label(broken, 11)
    result = run_tool_here("tools/train.py", str(BASELINE_CONFIG), "--work-dir",
                           str(tmp_path / "w"), "--cfg-options",
                           *quick_run_options(digitseg_copy), "train_dataloader.num_workers=1",
                           "train_dataloader.batch_size=24")
    _assert_short_error(result, f"annotation {broken} has label values 11, outside the 11 "
                        "classes (0-10) and the ignore index 255")
