"""tools/export.py on a detector: the exported model (the backbone pinned to one choice, the
rest of the detector unchanged) predicts exactly what the flexible model predicts at that
choice, for a FlexiViT patch size and a stitched route."""
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from tests.conftest import REPO
from tests.detection.conftest import (TINY_CONFIGS, build_detector, data_options, first_batch,
                                      load_cfg)


# A patch size other than the default, and a route that crosses from the large anchor to the
# small one (its stitching layer and the small anchor's tail both matter).
PINNED = {"flexivit": "p4", "snnet": "l1-s1"}


@pytest.mark.parametrize("name", PINNED)
def test_exported_detector_predicts_as_the_flexible_one(monkeypatch, tmp_path, coco_digitseg,
                                                        name):
    cfg = load_cfg(TINY_CONFIGS[name], **data_options(coco_digitseg, batch_size=2))
    choice = PINNED[name]
    torch.manual_seed(0)
    flexible = build_detector(cfg)
    flexible.init_weights()
    batch = flexible.data_preprocessor(first_batch(cfg, "val"), False)
    if hasattr(flexible.backbone, "fit_stitches"):
        flexible.backbone.fit_stitches([batch["inputs"]])
    checkpoint = tmp_path / "flexible.pth"
    torch.save({"meta": {}, "state_dict": flexible.state_dict()}, checkpoint)
    monkeypatch.setattr(sys, "argv", ["export.py", str(TINY_CONFIGS[name]),
                                      str(checkpoint), "--choice", choice,
                                      "--out", str(tmp_path / "pinned.pth")])
    runpy.run_path(str(REPO / "tools/export.py"), run_name="__main__")

    exported_cfg = Config.fromfile(str(tmp_path / "pinned.py"))
    exported = build_detector(exported_cfg)
    load_checkpoint(exported, str(tmp_path / "pinned.pth"), map_location="cpu", strict=True)
    assert [c.id for c in exported.backbone.space()] == [choice]
    flexible.eval().backbone.activate(choice)
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
