"""The "three things" study end to end on a tiny setting: a fine-tuning at a higher resolution
that needs its base model, the base model evaluated at that size, a masked-patch pretraining
of the hMLP stem and its fine-tuning at every patch size, the memory measurements, the report,
and a second run that redoes nothing."""
import json
import os
import subprocess

import torch

from tests.conftest import PYTHON, REPO, quick_run_options

SCRIPT = "tools/reproduce/three_things.py"
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
PRETRAIN_OPTIONS = ["schedule.batch_size=2", "schedule.warmup_steps=1",
                    "schedule.log_interval=1", "data.num_val=4"]


def _shared_weights(path):
    """Random weights of the main job's backbone, as a pretrained file."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    cfg = Config.fromfile(str(REPO / "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py"))
    init_default_scope("mmseg")
    cfg.model.backbone.init_cfg = None
    torch.save(MODELS.build(cfg.model.backbone).state_dict(), path)
    return path


def _study(tmp_path, options, shared, *extra):
    cmd = [PYTHON, SCRIPT, "--root", str(tmp_path / "study"), "--out", str(tmp_path / "docs"),
           "--iters", "2", "--ft-iters", "2", "--pretrain-steps", "2", "--parallel", "1",
           "--shared-weights", str(shared), "--quick-measurements",
           "--only", "res-128-attn,mim-hmlp-ft", *extra,
           "--pretrain-options", *PRETRAIN_OPTIONS, "--cfg-options", *options]
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=1200)


def test_tiny_three_things_study(tmp_path, small_digitseg):
    shared = _shared_weights(tmp_path / "shared.pth")
    options = quick_run_options(small_digitseg, max_iters=2)
    result = _study(tmp_path, options, shared)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    study = tmp_path / "study"
    assert f"loaded {shared}" in (study / "res-base/train.log").read_text()
    fine_tune = (study / "res-128-attn/config.py").read_text()
    assert f"load_from = '{study}/res-base/final.pth'" in fine_tune
    assert "'attn_only': True" in fine_tune and "'size': (128, 128)" in fine_tune
    at_128 = json.loads((study / "res-base/at-128/multibudget_test.json").read_text())
    assert at_128["image_hw"] == [128, 128]
    # The masked pretraining wrote an hMLP backbone that the fine-tuning loaded.
    pretrained = json.loads((study / "pretrained/mim-hmlp.json").read_text())
    assert pretrained["backbone"]["stem"] == "hmlp"
    assert set(pretrained["set_accuracy"]) == {"p4", "p6", "p8", "p12", "p16"}
    assert "loaded {}/pretrained/mim-hmlp.pth".format(study) in \
        (study / "mim-hmlp-ft/train.log").read_text()

    docs = tmp_path / "docs"
    report = (docs / "three_things.md").read_text()
    assert "## 1. Parallel blocks" in report and "## 3. hMLP stem" in report
    assert "| 128 px | attention only |" in report
    assert "| p4 | – |" in report  # the linear stem did not run; the hMLP one did
    assert not report.split("| p4 | – |")[1].startswith(" – |")
    measured = json.loads((docs / "three_things/measurements.json").read_text())
    assert set(measured["memory"]["128"]) == {"all", "attention-only", "all, checkpointed",
                                              "attention-only, checkpointed"}
    assert (docs / "three_things/hmlp_masked.png").read_bytes().startswith(b"\x89PNG")

    again = _study(tmp_path, options, shared)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "training" not in again.stdout and "pretraining" not in again.stdout
