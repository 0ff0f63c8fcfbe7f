"""The trivial baseline: the training set's mean depth, evaluated as a constant prediction."""
import cv2
import numpy as np
import pytest

from flexseg.evaluation.depth_baseline import evaluate_constant, training_mean_depth
from tests.depth.conftest import FLEXIVIT_CONFIG, load_cfg


def _depths(root, split: str) -> list[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) * 1e-3
            for p in sorted((root / "annotations" / split).glob("*.png"))]


def test_mean_and_metrics_of_the_constant(small_digitseg_nyu):
    root = str(small_digitseg_nyu)
    cfg = load_cfg(FLEXIVIT_CONFIG, **{"train_dataloader.dataset.data_root": root,
                                       "test_dataloader.dataset.data_root": root})
    train = _depths(small_digitseg_nyu, "train")
    mean = training_mean_depth(cfg)
    assert mean == pytest.approx(np.concatenate([d.ravel() for d in train]).mean(), rel=1e-6)
    metrics = evaluate_constant(cfg, mean)
    test = _depths(small_digitseg_nyu, "test")
    rmse = np.mean([np.sqrt(np.mean((mean - d) ** 2)) for d in test])
    d1 = np.mean([np.mean(np.maximum(d / mean, mean / d) < 1.25) for d in test])
    assert metrics["rmse"] == pytest.approx(rmse, rel=1e-5)
    assert metrics["d1"] == pytest.approx(d1, rel=1e-5)
