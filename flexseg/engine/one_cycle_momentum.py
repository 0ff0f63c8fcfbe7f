"""Momentum cycled against a one-cycle learning rate, as mmcv 1.x's
``OneCycleMomentumUpdaterHook`` does (mmengine's ``OneCycleLR`` schedules the learning rate
only; configs written for mmcv 1.x with ``momentum_config=dict(policy='OneCycle')`` also cycle
the momentum, or Adam's beta1).

The momentum starts at ``max_momentum``, anneals to ``base_momentum`` while the learning rate
rises (the first ``pct_start`` of ``total_steps``) and back to ``max_momentum`` while it falls.
"""
from __future__ import annotations

import math

from mmengine.optim.scheduler.momentum_scheduler import MomentumSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmengine.registry import PARAM_SCHEDULERS


def _cos(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)


def one_cycle_momentum(step: int, total_steps: int, base_momentum: float = 0.85,
                       max_momentum: float = 0.95, pct_start: float = 0.3) -> float:
    """The momentum at ``step`` (0-based): mmcv's two phases, ending at ``pct_start *
    total_steps - 1`` and ``total_steps - 1``, cosine-annealed."""
    peak = float(pct_start * total_steps) - 1
    if step <= peak:
        return _cos(max_momentum, base_momentum, step / peak)
    return _cos(base_momentum, max_momentum, (step - peak) / (total_steps - 1 - peak))


@PARAM_SCHEDULERS.register_module()
class OneCycleMomentum(MomentumSchedulerMixin, _ParamScheduler):
    """``one_cycle_momentum`` per iteration for every parameter group (momentum, or beta1)."""

    def __init__(self, optimizer, total_steps: int, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, pct_start: float = 0.3, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if not isinstance(total_steps, int) or isinstance(total_steps, bool) or \
                total_steps < 2:
            raise ValueError(f"OneCycleMomentum needs total_steps, a whole number of "
                             f"iterations >= 2, got {total_steps!r}")
        if not 0 < pct_start < 1 or pct_start * total_steps <= 1:
            raise ValueError(f"OneCycleMomentum needs 0 < pct_start < 1 with a rising phase of "
                             f"at least one step, got {pct_start!r} of {total_steps}")
        self.total_steps = total_steps
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        self.pct_start = pct_start
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def _get_value(self) -> list[float]:
        step = min(self.last_step, self.total_steps - 1)
        value = one_cycle_momentum(step, self.total_steps, self.base_momentum,
                                   self.max_momentum, self.pct_start)
        return [value for _ in self.optimizer.param_groups]
