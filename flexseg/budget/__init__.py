"""Budget-aware training: the space of choices with their costs, samplers and training loops.

Importing this package registers ``BudgetIterBasedTrainLoop``, ``BudgetEpochBasedTrainLoop``,
``BudgetLogProcessor``, ``BudgetDistributedDataParallel`` and ``CompileHook`` in mmengine's root
registries, visible from mmseg and mmdet scopes.
"""
from .compile import CompileHook
from .ddp import BudgetDistributedDataParallel
from .log_processor import BudgetLogProcessor
from .loop import BudgetEpochBasedTrainLoop, BudgetIterBasedTrainLoop
from .samplers import (STRATEGIES, CategoricalSampler, ChoiceSampler, SandwichSampler,
                       build_sampler, ros_groups)
from .space import BudgetEntry, BudgetSpace, build_budget_space, default_image_hw, format_table

__all__ = [
    "STRATEGIES", "BudgetDistributedDataParallel", "BudgetEntry", "BudgetEpochBasedTrainLoop",
    "BudgetIterBasedTrainLoop", "BudgetLogProcessor", "BudgetSpace", "CategoricalSampler",
    "ChoiceSampler", "CompileHook", "SandwichSampler", "build_budget_space", "build_sampler",
    "default_image_hw", "format_table", "ros_groups",
]
