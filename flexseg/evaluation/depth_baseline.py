"""The trivial depth baseline: predict the training set's mean depth at every pixel.

A depth model has learnt something only if it beats this constant on the test set; the
multi-budget tables of depth jobs are read against it.
"""
from __future__ import annotations

import copy

import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import DATASETS, METRICS, init_default_scope
from mmengine.structures import PixelData

GT_ONLY_PIPELINE = [dict(type="LoadDepthMap")]


def _dataset(cfg: Config, split: str, pipeline: list[dict] | None = None):
    dataset_cfg = copy.deepcopy(cfg[f"{split}_dataloader"]["dataset"])
    if pipeline is not None:
        factor = next(t.get("depth_rescale_factor", 1.0) for t in dataset_cfg["pipeline"]
                      if t["type"] in ("LoadDepthMap", "LoadDepthAnnotation"))
        dataset_cfg["pipeline"] = [dict(t, depth_rescale_factor=factor) for t in pipeline]
    return DATASETS.build(dataset_cfg)


def training_mean_depth(cfg: Config) -> float:
    """Mean ground-truth depth over every valid (> 0) pixel of the training set."""
    init_default_scope(cfg.get("default_scope", "mmseg"))
    total, count = 0.0, 0
    for item in _dataset(cfg, "train", GT_ONLY_PIPELINE):
        depth = item["gt_depth_map"]
        valid = depth > 0
        total += float(depth[valid].sum(dtype="float64"))
        count += int(valid.sum())
    if count == 0:
        raise ValueError("the training set has no valid depth pixel")
    return total / count


def evaluate_constant(cfg: Config, depth: float) -> dict[str, float]:
    """The config's test metrics for a prediction of ``depth`` everywhere."""
    init_default_scope(cfg.get("default_scope", "mmseg"))
    dataset = _dataset(cfg, "test")
    evaluator = Evaluator(METRICS.build(copy.deepcopy(cfg.test_evaluator)))
    for item in dataset:
        sample = item["data_samples"]
        gt = sample.gt_depth_map.data
        sample.pred_depth_map = PixelData(data=torch.full_like(gt, depth))
        evaluator.process(data_samples=[sample])
    return evaluator.evaluate(len(dataset))
