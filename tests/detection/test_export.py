"""tools/export.py on a detector: the exported model (the backbone pinned to one choice, the
rest of the detector unchanged) predicts exactly what the flexible model predicts at that
choice."""
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from tests.conftest import REPO
from tests.detection.conftest import (TINY_CONFIGS, build_detector, data_options, first_batch,
                                      load_cfg)


def test_exported_detector_predicts_as_the_flexible_one(monkeypatch, tmp_path, coco_digitseg):
    cfg = load_cfg(TINY_CONFIGS["flexivit"], **data_options(coco_digitseg, batch_size=2))
    torch.manual_seed(0)
    flexible = build_detector(cfg)
    flexible.init_weights()
    checkpoint = tmp_path / "flexible.pth"
    torch.save({"meta": {}, "state_dict": flexible.state_dict()}, checkpoint)
    monkeypatch.setattr(sys, "argv", ["export.py", str(TINY_CONFIGS["flexivit"]),
                                      str(checkpoint), "--choice", "p4",
                                      "--out", str(tmp_path / "p4.pth")])
    runpy.run_path(str(REPO / "tools/export.py"), run_name="__main__")

    exported_cfg = Config.fromfile(str(tmp_path / "p4.py"))
    exported = build_detector(exported_cfg)
    load_checkpoint(exported, str(tmp_path / "p4.pth"), map_location="cpu", strict=True)
    assert [c.id for c in exported.backbone.space()] == ["p4"]
    batch = flexible.data_preprocessor(first_batch(cfg, "val"), False)
    flexible.eval().backbone.activate("p4")
    exported.eval()
    with torch.no_grad():
        want = flexible.predict(batch["inputs"], batch["data_samples"])
        got = exported.predict(batch["inputs"], batch["data_samples"])
    for a, b in zip(want, got, strict=True):
        assert len(a.pred_instances) > 0
        torch.testing.assert_close(a.pred_instances.bboxes, b.pred_instances.bboxes)
        torch.testing.assert_close(a.pred_instances.scores, b.pred_instances.scores)
        assert torch.equal(a.pred_instances.masks, b.pred_instances.masks)


def test_plain_vit_formats_refuse_windowed_attention():
    from flexseg.evaluation.export.fixed_patch import check_plain_vit

    backbone = build_detector(load_cfg(TINY_CONFIGS["flexivit"])).backbone
    with pytest.raises(ValueError, match="windowed attention has no plain-ViT equivalent"):
        check_plain_vit(backbone, "p8", (64, 64), "timm")
