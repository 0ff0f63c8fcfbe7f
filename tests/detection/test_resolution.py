"""The resolution factor on Mask R-CNN: a half-resolution choice of both backbones trains and
predicts boxes and masks in the image's own coordinates and size."""
import pytest
import torch

from tests.conftest import REPO
from tests.detection.conftest import build_detector, data_options, first_batch, load_cfg
from tests.detection.test_every_choice import SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_a_half_resolution_choice_trains_and_predicts_at_the_image_size(name, coco_digitseg):
    cfg = load_cfg(REPO / "configs/detection" / SHIPPED[name],
                   **data_options(coco_digitseg, batch_size=1),
                   **{"model.backbone.resolutions": (1.0, 0.5)})
    torch.manual_seed(0)
    detector = build_detector(cfg)
    batch = detector.data_preprocessor(first_batch(cfg), True)
    images, samples = batch["inputs"], batch["data_samples"]
    backbone = detector.backbone
    if hasattr(backbone, "fit_stitches"):
        backbone.fit_stitches([images])
    half = next(c for c in backbone.space() if c.resolution == 0.5)
    backbone.activate(half)
    detector.train()
    total, _ = detector.parse_losses(detector.loss(images, samples))
    assert torch.isfinite(total)
    detector.eval()
    with torch.no_grad():
        result = detector.predict(images, samples)[0].pred_instances
    assert tuple(result.masks.shape[-2:]) == (64, 64)
    assert (result.bboxes[:, 2:] <= 64 + 1e-3).all()
