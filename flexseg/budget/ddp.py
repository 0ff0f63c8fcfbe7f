"""DDP settings that follow the space of choices, so no step pays for what it does not need.

``find_unused_parameters=True`` makes DDP walk the autograd graph after every forward pass to
find parameters without a gradient; ``static_graph=True`` records the graph once and reuses it.
Which one a run needs follows from the parameters each choice leaves unused
(``FlexibleBackbone.unused_parameters``):

- every choice leaves the same set unused (FlexiViT patch sizes and keep rates: none; a stitched
  space pinned to one route): the graph's parameters never change, so ``static_graph=True`` is
  valid, and it needs no graph walk even when that set is not empty; but DDP's static graph
  fails (an internal assertion) when a step accumulates several backward passes under
  ``no_sync``, so with several sub-networks per step (the sandwich rule, distillation) it stays
  off and only a non-empty set turns ``find_unused_parameters`` on;
- choices leave different sets unused (stitched routes): ``find_unused_parameters=True``.

``BudgetDistributedDataParallel`` (``model_wrapper_cfg=dict(type=...)``, set by the tools for
every distributed run) resolves ``'auto'`` in either argument this way and logs its reason;
``True``/``False`` are kept as given.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from flexseg.models.contract import FlexibleBackbone, find_flexible

AUTO = "auto"
WRAPPER = "BudgetDistributedDataParallel"


@dataclass(frozen=True)
class DDPSettings:
    find_unused_parameters: bool
    static_graph: bool
    reason: str


def unused_parameter_sets(backbone: FlexibleBackbone) -> dict[str, frozenset[str]]:
    """Choice id -> the trainable backbone parameters that choice leaves unused."""
    return {choice.id: backbone.unused_parameters(choice) for choice in backbone.space()}


def ddp_settings(backbone: FlexibleBackbone, one_backward_per_step: bool) -> DDPSettings:
    """The cheapest DDP settings valid for every choice of ``backbone`` (module doc)."""
    unused = unused_parameter_sets(backbone)
    distinct = set(unused.values())
    if len(distinct) > 1:
        counts = sorted({len(names) for names in distinct})
        return DDPSettings(True, False, f"the choices leave different parameters unused "
                           f"({counts[0]} to {counts[-1]} of them)")
    constant = len(next(iter(distinct)))
    same = (f"every choice leaves the same {constant} parameters unused" if constant else
            "every choice uses every trainable parameter")
    if one_backward_per_step:
        return DDPSettings(False, True, same + "; one backward pass per step")
    return DDPSettings(bool(constant), False,
                       same + "; several backward passes per step (no static graph)")


@MODEL_WRAPPERS.register_module()
class BudgetDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` whose ``find_unused_parameters`` and ``static_graph``
    may be ``'auto'`` (module doc). ``one_backward_per_step``: whether each training step runs
    a single forward and backward pass (the tools set it from ``train_cfg``)."""

    def __init__(self, module: nn.Module, find_unused_parameters: bool | str = AUTO,
                 static_graph: bool | str = AUTO, one_backward_per_step: bool = True,
                 **kwargs) -> None:
        if AUTO in (find_unused_parameters, static_graph):
            settings = _settings_for(module, one_backward_per_step)
            if find_unused_parameters == AUTO:
                find_unused_parameters = settings.find_unused_parameters
            if static_graph == AUTO:
                static_graph = settings.static_graph
            print_log(f"DDP: find_unused_parameters={find_unused_parameters}, static_graph="
                      f"{static_graph} ({settings.reason})", logger="current")
        super().__init__(module=module, find_unused_parameters=find_unused_parameters,
                         static_graph=static_graph, **kwargs)


def _settings_for(module: nn.Module, one_backward_per_step: bool) -> DDPSettings:
    try:
        backbone = find_flexible(module)
    except TypeError:  # a stock model: mmengine's defaults
        return DDPSettings(False, False, "no flexible backbone")
    return ddp_settings(backbone, one_backward_per_step)


def one_backward_per_step(cfg: Config) -> bool:
    """Whether every training step of ``cfg`` runs one sub-network (no sandwich rule, no
    distillation, one choice per draw)."""
    train_cfg = cfg.get("train_cfg") or {}
    sampler = train_cfg.get("sampler") or {}
    return (train_cfg.get("distill") is None and sampler.get("strategy") != "sandwich"
            and sampler.get("num_choices", 1) == 1)


def budget_ddp_wrapper(cfg: Config) -> dict:
    """``model_wrapper_cfg`` for a distributed run of ``cfg``: ``BudgetDistributedDataParallel``
    with ``'auto'`` settings unless the config states them (its ``model_wrapper_cfg`` or the
    top-level ``find_unused_parameters`` mmengine reads). A config naming another wrapper type
    keeps it."""
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    if wrapper.get("type", WRAPPER) not in (WRAPPER, "MMDistributedDataParallel"):
        return wrapper
    wrapper["type"] = WRAPPER
    wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", AUTO))
    wrapper.setdefault("static_graph", AUTO)
    wrapper.setdefault("one_backward_per_step", one_backward_per_step(cfg))
    return wrapper
