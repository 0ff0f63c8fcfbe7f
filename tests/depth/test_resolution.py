"""The resolution factor on a depth estimator: every resolution of both backbones predicts depth
at the image's size (the backbone resizes its input, the head's maps line up with the image)."""
import pytest
import torch

from tests.depth.conftest import FLEXIVIT_CONFIG, SNNET_CONFIG, build_model, load_batch, load_cfg


@pytest.mark.parametrize("config", [FLEXIVIT_CONFIG, SNNET_CONFIG], ids=["flexivit", "snnet"])
def test_depth_at_every_resolution_has_the_image_size(config, small_digitseg_nyu):
    cfg = load_cfg(config, **{"model.backbone.resolutions": (1.0, 0.5)})
    model = build_model(cfg)
    test = model.data_preprocessor(load_batch(cfg, small_digitseg_nyu, "test", count=1), False)
    backbone = model.backbone
    if hasattr(backbone, "fit_stitches"):
        backbone.fit_stitches([test["inputs"]])
    halves = [c for c in backbone.space() if c.resolution == 0.5]
    assert halves and len(halves) * 2 == len(backbone.space())
    predictions = {}
    for choice in (halves[0], backbone.space()[0]):
        backbone.activate(choice)
        with torch.no_grad():
            sample = model.predict(test["inputs"], test["data_samples"])[0]
        assert sample.pred_depth_map.data.shape == sample.gt_depth_map.data.shape, choice.id
        predictions[choice.id] = sample.pred_depth_map.data
    first, second = predictions.values()
    assert not torch.equal(first, second)
