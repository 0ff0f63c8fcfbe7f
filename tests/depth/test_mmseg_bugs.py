"""The three mmseg 1.2.2 depth bugs: each test states the property, fails on mmseg's class
(strict xfail) and passes on flexseg's."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation.metrics import DepthMetric
from mmseg.models.segmentors import DepthEstimator

from flexseg.evaluation import FlexDepthMetric
from flexseg.models import FlexDepthEstimator
from tests.depth.conftest import FLEXIVIT_CONFIG, build_model, load_cfg



def mmseg_bug(raises: type[Exception]):
    """Expected to fail on mmseg's class, and only with ``raises``."""
    return pytest.mark.xfail(strict=True, raises=raises, reason="mmseg 1.2.2 bug")


@pytest.mark.parametrize("cls", [
    FlexDepthEstimator, pytest.param(DepthEstimator, marks=mmseg_bug(AssertionError))])
def test_slide_mode_runs_the_windows(cls):
    """mode='slide' with two side-by-side windows is the two windows' predictions, not a
    whole-image prediction (mmseg falls through to whole inference)."""
    cfg = load_cfg(FLEXIVIT_CONFIG, **{"model.test_cfg": dict(mode="slide", crop_size=(64, 64),
                                                              stride=(64, 64))})
    cfg.model.type = cls.__name__
    model = build_model(cfg)
    assert type(model) is cls
    images = torch.randn(1, 3, 64, 128)
    meta = dict(img_shape=(64, 128), ori_shape=(64, 128), pad_shape=(64, 128))
    with torch.no_grad():
        depth = model.inference(images, [dict(meta)])  # (slide mutates the metas it gets)
        halves = [model.whole_inference(half, [dict(meta, img_shape=(64, 64),
                                                    pad_shape=(64, 64))])
                  for half in images.split(64, dim=3)]
        whole = model.whole_inference(images, [dict(meta)])
    assert not torch.allclose(whole, torch.cat(halves, dim=3), atol=1e-4)  # windows matter
    torch.testing.assert_close(depth, torch.cat(halves, dim=3))


def _samples(gt: np.ndarray, pred: np.ndarray) -> list[dict]:
    return [dict(gt_depth_map=dict(data=torch.from_numpy(gt)[None]),
                 pred_depth_map=dict(data=torch.from_numpy(pred)[None]))]


@pytest.mark.parametrize("cls", [
    FlexDepthMetric, pytest.param(DepthMetric, marks=mmseg_bug(TypeError))])
def test_metric_selection_keeps_the_requested_metrics(cls):
    """depth_metrics=['rmse', 'd1'] reports exactly those (mmseg raises a TypeError)."""
    metric = cls(depth_metrics=["rmse", "d1"])
    gt = np.full((4, 4), 2.0, np.float32)
    metric.process({}, _samples(gt, gt * 1.5))
    assert list(metric.compute_metrics(metric.results)) == ["rmse", "d1"]


def _eigen_box(height: int, width: int) -> tuple[slice, slice]:
    """Eigen's 480x640 box (rows 45:471, columns 41:601) scaled to the image, by hand."""
    return (slice(round(45 * height / 480), round(471 * height / 480)),
            slice(round(41 * width / 640), round(601 * width / 640)))


@pytest.mark.parametrize("cls", [
    FlexDepthMetric, pytest.param(DepthMetric, marks=mmseg_bug(AssertionError))])
def test_eigen_crop_scales_with_the_image(cls):
    """On a 32x40 image the crop is Eigen's box scaled to the image: finite numbers equal to
    the hand computation over it (mmseg's fixed pixel box is empty there: NaN)."""
    rng = np.random.default_rng(0)
    gt = rng.uniform(1.0, 5.0, (32, 40)).astype(np.float32)
    pred = gt * rng.uniform(0.7, 1.4, gt.shape).astype(np.float32)
    metric = cls(crop_type="nyu_crop")
    metric.process({}, _samples(gt, pred))
    result = metric.compute_metrics(metric.results)
    rows, cols = _eigen_box(32, 40)
    g, p = gt[rows, cols].astype(np.float64), pred[rows, cols].astype(np.float64)
    assert math.isfinite(result["rmse"])
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((p - g) ** 2)), rel=1e-5)
    assert result["d1"] == pytest.approx(np.mean(np.maximum(p / g, g / p) < 1.25), rel=1e-6)


def test_eigen_crop_is_eigens_box_at_480x640():
    metric = FlexDepthMetric(crop_type="nyu_crop")
    mask = metric._get_eval_mask(torch.ones(480, 640))
    expected = torch.zeros(480, 640, dtype=torch.bool)
    expected[45:471, 41:601] = True
    assert torch.equal(mask, expected)
