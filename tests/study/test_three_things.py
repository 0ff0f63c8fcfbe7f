"""The "three things" study on a tiny setting: a masked-patch pretraining of the hMLP stem and its
fine-tuning at every patch size, the report, and a second run that redoes nothing, end to end;
the resolution jobs' configs (the base model fine-tuned at a higher size); the memory
measurements."""
import json
import re

import torch

from tests.conftest import REPO, quick_run_options, run_tool_here

SCRIPT = "tools/reproduce/three_things.py"
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
    """The study script in this process (its runs in their own)."""
    return run_tool_here(SCRIPT, "--root", str(tmp_path / "study"), "--out",
                         str(tmp_path / "docs"), "--iters", "2", "--pretrain-steps", "2",
                         "--parallel", "1", "--shared-weights", str(shared),
                         "--quick-measurements", "--only", "mim-hmlp-ft", *extra,
                         "--pretrain-options", *PRETRAIN_OPTIONS, "--cfg-options", *options)


def _script():
    """The study script as a module (it lives outside the package)."""
    import importlib.util
    import sys

    if "three_things" not in sys.modules:  # its dataclasses look their module up there
        spec = importlib.util.spec_from_file_location("three_things", REPO / SCRIPT)
        sys.modules["three_things"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["three_things"])
    return sys.modules["three_things"]


def test_tiny_masked_hmlp_study_and_its_report(tmp_path, small_digitseg):
    shared = _shared_weights(tmp_path / "shared.pth")
    options = quick_run_options(small_digitseg, max_iters=2)
    result = _study(tmp_path, options, shared)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    study = tmp_path / "study"
    # The masked pretraining wrote an hMLP backbone that the fine-tuning loaded.
    pretrained = json.loads((study / "pretrained/mim-hmlp.json").read_text())
    assert pretrained["backbone"]["stem"] == "hmlp"
    assert set(pretrained["set_accuracy"]) == {"p4", "p6", "p8", "p12", "p16"}
    assert "loaded {}/pretrained/mim-hmlp.pth".format(study) in \
        (study / "mim-hmlp-ft/train.log").read_text()

    docs = tmp_path / "docs"
    report = (docs / "three_things.md").read_text()
    assert "## 1. Parallel blocks" in report and "## 3. hMLP stem" in report
    assert "| p4 | – |" in report  # the linear stem did not run; the hMLP one did
    assert not report.split("| p4 | – |")[1].startswith(" – |")
    # the masked pretraining's validation error beside each size's mIoU
    error = json.loads((study / "pretrained/mim-hmlp.json").read_text())["set_accuracy"]["p8"]
    assert re.search(rf"\| p8 \| – \| [\d.]+ \| – \| {error:.3f} \|", report)
    assert (docs / "three_things/hmlp_masked.png").read_bytes().startswith(b"\x89PNG")

    again = _study(tmp_path, options, shared)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "training" not in again.stdout and "pretraining" not in again.stdout


def test_resolution_jobs_fine_tune_the_base_model_at_their_size(tmp_path):
    from mmengine.config import Config

    from flexseg.study.jobs import _write_config

    jobs = {job.name: job for job in _script().resolution_jobs(1300, 400, "shared.pth")}
    base = jobs["res-base"]
    assert [e.tag for e in base.evals] == ["eval", "at-96", "at-128"]
    base_cfg = Config.fromfile(_write_config(tmp_path / "res-base/config.py",
                                             REPO / base.config, base.overrides, tmp_path))
    assert base_cfg.model.backbone.init_cfg.checkpoint == "shared.pth"
    for name, attn_only in (("res-128-attn", True), ("res-128-all", False)):
        job = jobs[name]
        assert job.needs == ("res-base",)
        cfg = Config.fromfile(_write_config(tmp_path / name / "config.py", REPO / job.config,
                                            job.overrides, tmp_path))
        assert cfg.load_from == f"{tmp_path}/res-base/final.pth"
        assert cfg.model.backbone.attn_only is attn_only
        assert cfg.model.backbone.init_cfg is None  # the base model's weights, not shared.pth
        resize = [t for t in cfg.train_dataloader.dataset.pipeline if t["type"] == "Resize"]
        assert resize and tuple(resize[0]["scale"]) == (128, 128)
        assert cfg.train_cfg.max_iters == 400


def test_memory_is_measured_for_every_variant_at_both_sizes():
    measured = _script().measure_memory(quick=True)
    variants = {"all", "attention-only", "all, checkpointed", "attention-only, checkpointed"}
    assert set(measured) == {"96", "128"}
    for by_variant in measured.values():
        assert set(by_variant) == variants
        params = {name: figures["trainable_params"] for name, figures in by_variant.items()}
        assert params["attention-only"] < params["all"]  # the MLPs are frozen
        assert params["all, checkpointed"] == params["all"]  # checkpointing trains the same
        assert params["attention-only, checkpointed"] == params["attention-only"]
        assert all(figures["training_bytes"] > 0 for figures in by_variant.values())
