"""One multi-budget pass over DigitSeg-COCO gives, per choice, the box and mask AP (and the very
predictions, in its own CocoMetric files) of a separate stock MMDetection test run of that
choice alone."""
import json

import pytest
import torch
from mmengine.runner import Runner

from flexseg.evaluation.export.pinned import pinned_backbone_config
from tests.detection.conftest import TINY_CONFIGS, build_detector, data_options, load_cfg

CHOICES = ("p16", "p8", "p4")
AP_KEYS = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "segm_mAP", "segm_mAP_50", "segm_mAP_75")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    detector = build_detector(load_cfg(TINY_CONFIGS["flexivit"]))
    detector.init_weights()
    path = tmp_path_factory.mktemp("detector") / "tiny.pth"
    torch.save({"meta": {}, "state_dict": detector.state_dict()}, path)
    return path


def _test(work_dir, data_root, checkpoint, test_cfg, **overrides) -> dict:
    cfg = load_cfg(TINY_CONFIGS["flexivit"], work_dir=str(work_dir), load_from=str(checkpoint),
                   **{"default_hooks.visualization.draw": False,
                      "test_evaluator.outfile_prefix": str(work_dir / "coco")},
                   **data_options(data_root), **overrides)
    cfg.test_cfg = test_cfg
    return Runner.from_cfg(cfg).test()


def _predictions(path):
    return [(p["image_id"], p["category_id"], p["bbox"], p["score"])
            for p in json.loads(path.read_text())]


def test_one_pass_equals_a_stock_run_per_choice(tmp_path, coco_digitseg, checkpoint):
    one = _test(tmp_path / "one", coco_digitseg, checkpoint,
                dict(type="MultiBudgetTestLoop", choices="all"))
    backbone_cfg = load_cfg(TINY_CONFIGS["flexivit"]).model.backbone
    backbone = build_detector(load_cfg(TINY_CONFIGS["flexivit"])).backbone
    predictions = {}
    for choice in CHOICES:
        pinned = pinned_backbone_config(backbone_cfg.to_dict(), backbone, choice)
        stock = _test(tmp_path / choice, coco_digitseg, checkpoint, dict(type="TestLoop"),
                      **{"model.backbone": pinned})
        for key in AP_KEYS:
            assert one[f"{choice}/coco/{key}"] == stock[f"coco/{key}"], (choice, key)
        for kind in ("bbox", "segm"):
            own = _predictions(tmp_path / "one" / f"coco_{choice}.{kind}.json")
            alone = _predictions(tmp_path / choice / f"coco.{kind}.json")
            assert [p[:2] for p in own] == [p[:2] for p in alone] and len(own) > 0
            if kind == "bbox":
                torch.testing.assert_close(torch.tensor([p[2] + [p[3]] for p in own]),
                                           torch.tensor([p[2] + [p[3]] for p in alone]),
                                           atol=1e-3, rtol=1e-4)
        predictions[choice] = own
    # Each choice predicts differently, so a mix-up between choices would show.
    assert predictions["p4"] != predictions["p8"] != predictions["p16"]
