"""One training step on one or several sub-networks of a flexible backbone.

Several sub-networks (the sandwich rule) share one optimizer step, as in once-for-all and
BigNAS: the batch is preprocessed once, each sub-network runs forward and backward and its
gradients add up (a sum, not a mean), then the optimizer steps once. Under DDP the gradients
are synchronised only with the last backward pass.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from flexseg.models.contract import Choice, FlexibleBackbone, unwrap


def _sync_context(model: nn.Module, synchronise: bool) -> contextlib.AbstractContextManager:
    if synchronise or not hasattr(model, "no_sync"):
        return contextlib.nullcontext()
    return model.no_sync()


def accumulated_train_step(model: nn.Module, data_batch: dict | tuple | list,
                           optim_wrapper: OptimWrapper, backbone: FlexibleBackbone,
                           choices: Sequence[Choice]) -> dict[str, torch.Tensor]:
    """Train ``choices`` on one batch with one optimizer step; log values are their means."""
    # mmengine's own accumulation would step only every N-th call: that would break the rule.
    if getattr(optim_wrapper, "_accumulative_counts", 1) != 1:
        raise ValueError("the sandwich rule already accumulates its sub-networks into one "
                         "optimizer step; set optim_wrapper.accumulative_counts=1")
    module = unwrap(model)
    with optim_wrapper.optim_context(model):
        data = module.data_preprocessor(data_batch, True)
    per_choice = []
    for index, choice in enumerate(choices):
        backbone.activate(choice)
        with _sync_context(model, synchronise=index == len(choices) - 1):
            with optim_wrapper.optim_context(model):
                losses = model._run_forward(data, mode="loss")
            loss, log_vars = module.parse_losses(losses)
            optim_wrapper.backward(loss)
        per_choice.append(log_vars)
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    return {key: torch.stack([log_vars[key].detach() for log_vars in per_choice]).mean()
            for key in per_choice[0]}


def budget_train_step(model: nn.Module, data_batch: dict | tuple | list,
                      optim_wrapper: OptimWrapper, backbone: FlexibleBackbone,
                      choices: Sequence[Choice]) -> dict[str, torch.Tensor]:
    """The model's own ``train_step`` for one choice; ``accumulated_train_step`` for several."""
    if len(choices) == 1:
        backbone.activate(choices[0])
        return model.train_step(data_batch, optim_wrapper=optim_wrapper)
    return accumulated_train_step(model, data_batch, optim_wrapper, backbone, choices)
