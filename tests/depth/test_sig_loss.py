"""The release's SigLoss against its formula in NumPy: one loss over the batch's valid pixels,
var + 0.15 mean^2 (unbiased variance, eps 1e-3), mean^2 only during the warm-up calls, which a
checkpoint carries."""
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

import flexseg  # noqa: F401  (registers the loss)


def _pair():
    rng = np.random.default_rng(0)
    target = rng.uniform(0.5, 9.0, (2, 1, 6, 7)).astype(np.float32)
    target[0, 0, :2] = 0  # invalid pixels
    pred = (target * rng.uniform(0.7, 1.4, target.shape)).astype(np.float32) + 0.1
    return pred, target


def _reference(pred, target, warm):
    valid = target > 0
    g = np.log(pred[valid].astype(np.float64) + 1e-3) - np.log(target[valid] + 1e-3)
    if warm:
        return np.sqrt(0.15 * g.mean() ** 2)
    return np.sqrt(g.var(ddof=1) + 0.15 * g.mean() ** 2)


def test_warm_up_calls_then_the_full_loss_over_the_batch():
    pred, target = _pair()
    loss = MODELS.build(dict(type="SigLoss", warm_up=True, warm_iter=2, loss_weight=2.0))
    loss.train()
    values = [loss(torch.from_numpy(pred), torch.from_numpy(target)).item() for _ in range(3)]
    assert values[:2] == pytest.approx([2 * _reference(pred, target, True)] * 2, rel=1e-5)
    assert values[2] == pytest.approx(2 * _reference(pred, target, False), rel=1e-5)
    assert loss.loss_name == "loss_depth"
    # Not the per-image mean of mmseg's SiLogLoss: the batch is one sample of g.
    per_image = np.mean([_reference(pred[i:i + 1], target[i:i + 1], False) for i in range(2)])
    assert values[2] != pytest.approx(2 * per_image, rel=1e-3)


def test_the_warm_up_count_travels_in_the_state_dict():
    pred, target = (torch.from_numpy(a) for a in _pair())
    loss = MODELS.build(dict(type="SigLoss", warm_up=True, warm_iter=1)).train()
    loss(pred, target)
    resumed = MODELS.build(dict(type="SigLoss", warm_up=True, warm_iter=1))
    resumed.load_state_dict(loss.state_dict())
    assert resumed(pred, target).item() == pytest.approx(_reference(*_pair(), False), rel=1e-5)
