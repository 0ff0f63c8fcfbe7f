"""Per-choice BN statistics recomputed with the final weights.

While training, a ``ChoiceBatchNorm`` row averages batches seen under weights that kept
changing, and a choice drawn rarely (one route of a 32-route stitched space) updates its row
rarely, so its row lags the weights. BigNAS and once-for-all recompute each child's BN
statistics after training; this does the same for every choice: the same training batches
through each choice with the final weights, every other layer in evaluation mode, and each row
set to the plain average of those batches' statistics (BN's ``momentum=None``).

    custom_hooks = [dict(type='ChoiceNormCalibrationHook', num_batches=20)]

recalibrates after the last training iteration, before the last checkpoint is written and
the last validation runs. ``tools/test.py --recalibrate-bn N`` recalibrates a trained
checkpoint before testing; a checkpoint trained with stock BN gets rows of its own that way.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from mmengine.utils import ProgressBar

from flexseg.models.choice_norm import ChoiceBatchNorm
from flexseg.models.contract import find_flexible, unwrap
from flexseg.models.training_batches import training_batches


@torch.no_grad()
def recalibrate_choice_norms(model: nn.Module, batches: Iterable[dict]) -> int:
    """Recompute every ``ChoiceBatchNorm`` row of every choice of ``model``'s flexible backbone
    from ``batches`` (preprocessed data, as ``model(**data, mode='tensor')`` takes it). The
    shared statistics, the modes of all layers and the active choice are left as they were;
    under DDP the rows are averaged over the ranks (each must read as many batches). Returns
    the number of batches read."""
    model = unwrap(model)
    backbone = find_flexible(model)  # also links the norms to it
    norms = [m for m in model.modules() if isinstance(m, ChoiceBatchNorm)]
    if not norms:
        raise ValueError("BN recalibration needs ChoiceBatchNorm layers; set "
                         "norm_cfg=dict(type='ChoiceBatchNorm') in the neck or head")
    modes = [(m, m.training) for m in model.modules()]
    shared = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone(),
               m.momentum) for m in norms]
    active = backbone.active_choice
    model.eval()
    for norm in norms:
        norm.train()
        norm.momentum = None  # rows become plain averages over the batches
        norm.choice_updates.zero_()
    read = 0
    try:
        for data in batches:
            for choice in backbone.space():
                backbone.activate(choice)
                model(**data, mode="tensor")
            read += 1
    finally:
        for norm, (mean, var, tracked, momentum) in zip(norms, shared):
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.num_batches_tracked.copy_(tracked)
            norm.momentum = momentum
        for module, training in modes:
            module.train(training)
        backbone.activate(active)
    for norm in norms:
        all_reduce(norm.choice_mean, op="mean")
        all_reduce(norm.choice_var, op="mean")
    return read


@HOOKS.register_module()
class ChoiceNormCalibrationHook(Hook):
    """Recalibrate the per-choice BN rows on ``num_batches`` training batches after the last
    training iteration and, with ``at_test=True``, before testing (module doc)."""

    priority = "NORMAL"  # after_train_iter before CheckpointHook (VERY_LOW) saves the model

    def __init__(self, num_batches: int = 20, at_test: bool = False) -> None:
        if isinstance(num_batches, bool) or not isinstance(num_batches, int) or num_batches < 1:
            raise ValueError(f"num_batches must be a positive integer, got {num_batches!r}")
        self.num_batches = num_batches
        self.at_test = at_test

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.is_last_train_iter(runner):
            self._recalibrate(runner, runner.train_dataloader)

    def before_test(self, runner) -> None:
        if self.at_test:
            self._recalibrate(runner, Runner.build_dataloader(runner.cfg.train_dataloader,
                                                              seed=runner.seed))

    def _recalibrate(self, runner, loader) -> None:
        model = unwrap(runner.model)
        batches = training_batches(loader, model, self.num_batches, runner.seed or 0)
        read = recalibrate_choice_norms(model, _with_progress(batches, self.num_batches))
        choices = len(find_flexible(model).space())
        print_log(f"ChoiceNormCalibrationHook: BN statistics of {choices} choices recomputed "
                  f"on {read} training batches", logger="current")


def _with_progress(batches: Iterable[dict], total: int) -> Iterator[dict]:
    """``batches``, with a progress bar on the main process (one step per batch done)."""
    bar = ProgressBar(total) if is_main_process() else None
    for data in batches:
        yield data
        if bar is not None:
            bar.update()
