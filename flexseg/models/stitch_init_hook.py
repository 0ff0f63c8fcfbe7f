"""Least-squares initialisation of a StitchedViT's stitching layers at the start of training.

    custom_hooks = [dict(type='StitchInitHook', num_batches=16)]

Before the first iteration, rank 0 runs both anchors on ``num_batches`` batches of training
images (the training dataset and pipeline, in a shuffled order fixed by the run's seed) and fits
every stitching layer; the result is broadcast so every rank holds the same layers. The layers
and their ``fitted`` flags are part of the model's state, so a resumed run, or one started from
a checkpoint with fitted layers, skips the fit.
"""
from __future__ import annotations

from typing import Iterable

import torch
from mmengine.dist import broadcast, get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from flexseg.models.contract import find_flexible, unwrap
from flexseg.models.stitched_vit import StitchedViT
from flexseg.models.training_batches import training_batches


def fit_on_rank_zero(backbone: StitchedViT, batches: Iterable[torch.Tensor]) -> int:
    """Fit on rank 0 (the only rank that reads ``batches``), then broadcast the layers to all
    ranks. Returns the number of images rank 0 used (0 on other ranks)."""
    images = backbone.fit_stitches(batches) if get_rank() == 0 else 0
    for layer in backbone.stitching_layers():
        weight, bias = layer.weight.clone(), layer.bias.detach().clone()
        broadcast(weight, src=0)
        broadcast(bias, src=0)
        layer.set_map(weight, bias)
    return images


@HOOKS.register_module()
class StitchInitHook(Hook):
    """Fit the stitching layers by least squares once, before training (module doc)."""

    priority = "VERY_HIGH"

    def __init__(self, num_batches: int = 16) -> None:
        if not isinstance(num_batches, int) or num_batches < 1:
            raise ValueError(f"num_batches must be a positive integer, got {num_batches!r}")
        self.num_batches = num_batches

    def before_train(self, runner) -> None:
        backbone = find_flexible(runner.model)
        if not isinstance(backbone, StitchedViT):
            raise TypeError(f"StitchInitHook needs a StitchedViT backbone, got "
                            f"{type(backbone).__name__}")
        if backbone.stitches_fitted:
            print_log("StitchInitHook: stitching layers already fitted (from the checkpoint)",
                      logger="current")
            return
        model = unwrap(runner.model)
        batches = training_batches(runner.train_dataloader, model, self.num_batches,
                                   runner.seed or 0)
        images = fit_on_rank_zero(backbone, (data["inputs"] for data in batches))
        print_log(f"StitchInitHook: fitted {len(backbone.stitching_layers())} stitching layers "
                  f"by least squares on {images} training images", logger="current")
