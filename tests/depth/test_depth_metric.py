"""FlexDepthMetric equals a NumPy hand computation, and refuses what it cannot evaluate."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from flexseg.evaluation import FlexDepthMetric

# Two images; 0 marks pixels without ground truth.
GT = [np.array([[1.0, 2.0, 4.0], [0.0, 3.0, 8.0]], np.float32),
      np.array([[2.0, 2.0], [5.0, 0.0]], np.float32)]
PRED = [np.array([[1.2, 1.0, 4.0], [9.0, 3.3, 6.0]], np.float32),
        np.array([[2.4, 1.5], [5.0, 7.0]], np.float32)]


def _by_hand(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    valid = gt > 0
    g, p = gt[valid].astype(np.float64), pred[valid].astype(np.float64)
    ratio = np.maximum(g / p, p / g)
    return {"d1": np.mean(ratio < 1.25), "abs_rel": np.mean(np.abs(p - g) / g),
            "rmse": np.sqrt(np.mean((p - g) ** 2)),
            "log10": np.mean(np.abs(np.log10(p) - np.log10(g)))}


def _samples(gts, preds, path="depth.png") -> list[dict]:
    return [dict(gt_depth_map=dict(data=torch.from_numpy(g)[None]),
                 pred_depth_map=dict(data=torch.from_numpy(p)[None]), depth_map_path=path)
            for g, p in zip(gts, preds)]


def test_matches_a_hand_computation_averaged_over_images():
    metric = FlexDepthMetric(depth_metrics=["d1", "abs_rel", "rmse", "log10"])
    metric.process({}, _samples(GT, PRED))
    result = metric.compute_metrics(metric.results)
    per_image = [_by_hand(g, p) for g, p in zip(GT, PRED)]
    for name in ("d1", "abs_rel", "rmse", "log10"):
        assert result[name] == pytest.approx(np.mean([m[name] for m in per_image]), rel=1e-5)
    # Written out: image 1 has 3 of its 5 valid pixels within 1.25, image 2 has 2 of 3.
    assert result["d1"] == pytest.approx((3 / 5 + 2 / 3) / 2)


def test_runs_in_an_evaluator_with_data_samples():
    evaluator = Evaluator(FlexDepthMetric(depth_metrics="rmse"))
    evaluator.process(data_samples=_samples(GT[:1], PRED[:1]))
    assert evaluator.evaluate(1) == {"rmse": pytest.approx(_by_hand(GT[0], PRED[0])["rmse"])}


def test_unknown_metric_name_is_one_clear_line():
    with pytest.raises(ValueError, match=r"unknown depth metric\(s\) rsme; available: d1, d2") \
            as error:
        FlexDepthMetric(depth_metrics=["d1", "rsme"])
    assert "\n" not in str(error.value)


def test_ground_truth_without_valid_pixel_is_refused_by_name():
    metric = FlexDepthMetric(max_depth_eval=10.0)
    mm = [np.full((2, 2), 2000.0, np.float32)]  # millimetres read as metres: out of range
    with pytest.raises(ValueError, match=r"ground-truth depth d7\.png has no pixel in "
                                         r"\(0, 10\); check depth_rescale_factor"):
        metric.process({}, _samples(mm, mm, path="/data/d7.png"))


def test_unknown_crop_type():
    with pytest.raises(ValueError, match="crop_type must be None or 'nyu_crop'"):
        FlexDepthMetric(crop_type="eigen")
