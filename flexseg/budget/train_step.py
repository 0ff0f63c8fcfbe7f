"""One training step on one or several sub-networks of a flexible backbone.

Several sub-networks (the sandwich rule) share one optimizer step, as in once-for-all and
BigNAS: the batch is preprocessed once, each sub-network runs forward and backward and its
gradients add up (a sum, not a mean), then the optimizer steps once. Under DDP the gradients
are synchronised only with the last backward pass.

With a ``Distiller`` the same step distils: sub-networks that have a target (the frozen
teacher's output, or for in-place distillation the output of an earlier sub-network of the
step) add a distillation term to their task loss; a sub-network without one trains on the task
loss and its detached output may become the target of those after it. ``targets`` says which:
by default the first sub-network teaches all the others; SuperViT's step teaches in pairs,
``(None, 0, None, 2)``.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from flexseg.compat.mmengine_private import accumulative_counts, run_forward
from flexseg.models.contract import Choice, FlexibleBackbone, unwrap
from flexseg.models.intercept import capture_output

from .distill import Distiller

DISTILL_LOG_KEY = "loss_distill"


def _sync_context(model: nn.Module, synchronise: bool) -> contextlib.AbstractContextManager:
    if synchronise or not hasattr(model, "no_sync"):
        return contextlib.nullcontext()
    return model.no_sync()


def _detach(output):
    return output.detach() if isinstance(output, torch.Tensor) else [o.detach() for o in output]


def _mean_log_vars(per_choice: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Each key's mean over the sub-networks that logged it."""
    keys = dict.fromkeys(key for log_vars in per_choice for key in log_vars)
    return {key: torch.stack([v[key].detach() for v in per_choice if key in v]).mean()
            for key in keys}


def in_place_targets(count: int,
                     targets: Sequence[int | None] | None = None) -> tuple[int | None, ...]:
    """Per sub-network, the earlier one whose output it is distilled toward (None: task loss
    alone); default: the first teaches the rest. Refuses targets that are not earlier teachers."""
    chosen = tuple(targets) if targets is not None else (None,) + (0,) * (count - 1)
    if len(chosen) != count or chosen[0] is not None or any(
            t is not None and not (0 <= t < i and chosen[t] is None)
            for i, t in enumerate(chosen)):
        raise ValueError(f"distillation targets {chosen} do not fit {count} sub-networks: each "
                         f"must be None or the index of an earlier one without a target")
    return chosen


def accumulated_train_step(model: nn.Module, data_batch: dict | tuple | list,
                           optim_wrapper: OptimWrapper, backbone: FlexibleBackbone,
                           choices: Sequence[Choice], distiller: Distiller | None = None,
                           targets: Sequence[int | None] | None = None
                           ) -> dict[str, torch.Tensor]:
    """Train ``choices`` on one batch with one optimizer step; log values are their means.
    ``targets`` applies to in-place distillation (``in_place_targets``)."""
    # mmengine's own accumulation would step only every N-th call: that would break the rule.
    if accumulative_counts(optim_wrapper) != 1:
        raise ValueError("the sandwich rule already accumulates its sub-networks into one "
                         "optimizer step; set optim_wrapper.accumulative_counts=1")
    module = unwrap(model)
    with optim_wrapper.optim_context(model):
        data = module.data_preprocessor(data_batch, True)
    external = distiller.external_target(data) if distiller is not None else None
    sources = in_place_targets(len(choices), targets) \
        if distiller is not None and external is None else None
    outputs: dict[int, object] = {}  # detached outputs of the in-place teachers
    per_choice = []
    for index, choice in enumerate(choices):
        backbone.activate(choice)
        with _sync_context(model, synchronise=index == len(choices) - 1):
            capturing = (capture_output(distiller.module) if distiller is not None
                         else contextlib.nullcontext({}))
            with optim_wrapper.optim_context(model), capturing as out:
                losses = run_forward(model, data, mode="loss")
            loss, log_vars = module.parse_losses(losses)
            target = external if sources is None or sources[index] is None else \
                outputs[sources[index]]
            if distiller is not None and target is None:
                outputs[index] = _detach(out["output"])
            elif distiller is not None:
                loss, term = distiller.student_loss(loss, out["output"], target,
                                                    backbone.active_choice.id)
                log_vars.update(loss=loss.detach(), **{DISTILL_LOG_KEY: term.detach()})
            optim_wrapper.backward(loss)
        per_choice.append(log_vars)
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    return _mean_log_vars(per_choice)


def budget_train_step(model: nn.Module, data_batch: dict | tuple | list,
                      optim_wrapper: OptimWrapper, backbone: FlexibleBackbone,
                      choices: Sequence[Choice], distiller: Distiller | None = None,
                      targets: Sequence[int | None] | None = None) -> dict[str, torch.Tensor]:
    """The model's own ``train_step`` for one choice without distillation;
    ``accumulated_train_step`` otherwise."""
    if len(choices) == 1 and distiller is None:
        backbone.activate(choices[0])
        return model.train_step(data_batch, optim_wrapper=optim_wrapper)
    return accumulated_train_step(model, data_batch, optim_wrapper, backbone, choices, distiller,
                                  targets)
