"""MMDetection's own tools/train.py (shipped in its package under ``.mim/tools``) trains a flexseg
detection config unchanged: ``custom_imports`` loads flexseg, the budget loop draws a choice per
iteration and the checkpoint holds the flexible backbone."""
import os
import re
import subprocess
from pathlib import Path

import mmdet
import torch

from tests.conftest import PYTHON
from tests.detection.conftest import TINY_CONFIGS, data_options

MMDET_TRAIN = Path(mmdet.__file__).parent / ".mim/tools/train.py"


def test_mmdet_train_tool_runs_a_flexseg_detection_config(tmp_path, coco_digitseg):
    options = {**data_options(coco_digitseg, batch_size=2), "train_cfg.max_iters": 2,
               "train_cfg.val_begin": 100, "default_hooks.logger.interval": 1,
               "default_hooks.checkpoint.interval": 2}
    cmd = [PYTHON, str(MMDET_TRAIN), str(TINY_CONFIGS["flexivit"]), "--work-dir",
           str(tmp_path), "--cfg-options", *(f"{key}={value}" for key, value in options.items())]
    # Outside the repository: flexseg is found as an installed package, not from the cwd.
    result = subprocess.run(cmd, cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"),
                            capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    choices = re.findall(r"Iter\(train\) \[\s*\d+/2\].*choice: (p\d+)", log)
    assert len(choices) == 2 and set(choices) <= {"p4", "p8", "p16"}, log[-4000:]
    # The stock tool saves numpy's random state too: a trusted file of this test, fully loaded.
    state = torch.load(tmp_path / "iter_2.pth", map_location="cpu",
                       weights_only=False)["state_dict"]
    assert {"backbone.patch_embed.proj.weight", "roi_head.mask_head.conv_logits.weight"} <= \
        set(state)
