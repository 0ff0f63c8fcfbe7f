"""Every choice of both shipped DigitSeg-COCO detectors runs through Mask R-CNN: training losses
that reach the backbone, and box and mask predictions of the image's size."""
import pytest
import torch

from tests.conftest import REPO
from tests.detection.conftest import build_detector, data_options, first_batch, load_cfg

SHIPPED = {"flexivit": "flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py",
           "snnet": "snnet-tiny_maskrcnn_sfp_digitseg-coco-64x64.py"}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_choice_trains_and_predicts(name, coco_digitseg):
    cfg = load_cfg(REPO / "configs/detection" / SHIPPED[name],
                   **data_options(coco_digitseg, batch_size=2))
    torch.manual_seed(0)
    detector = build_detector(cfg)
    detector.init_weights()
    batch = detector.data_preprocessor(first_batch(cfg), True)
    images, samples = batch["inputs"], batch["data_samples"]
    assert images.shape[-2:] == (64, 64) and len(samples[0].gt_instances) > 0
    backbone = detector.backbone
    if hasattr(backbone, "fit_stitches"):
        backbone.fit_stitches([images])
    for choice in backbone.space():
        backbone.activate(choice)
        detector.train()
        detector.zero_grad()
        total, log_vars = detector.parse_losses(detector.loss(images, samples))
        assert torch.isfinite(total), choice.id
        assert {"loss_rpn_cls", "loss_cls", "loss_bbox", "loss_mask"} <= set(log_vars)
        total.backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in backbone.parameters()), choice.id
        detector.eval()
        with torch.no_grad():
            result = detector.predict(images, samples)[0].pred_instances
        assert result.bboxes.shape[-1] == 4 and len(result.scores) == len(result.labels)
        assert tuple(result.masks.shape[-2:]) == (64, 64), choice.id
