"""A log processor whose training lines also name the choice(s) the iteration trained.

mmengine's log lines hold numbers only; the budget loops store the trained choice id(s) as
runtime info ``budget/choice`` (``p8``, or ``p16+p4+p8`` for the sandwich rule) and this
processor appends them: ``... loss: 1.2345  budget/gflops: 0.1234  choice: p8``.
"""
from __future__ import annotations

from mmengine.registry import LOG_PROCESSORS
from mmengine.runner import LogProcessor

CHOICE_INFO = "budget/choice"


@LOG_PROCESSORS.register_module()
class BudgetLogProcessor(LogProcessor):
    """``log_processor = dict(type='BudgetLogProcessor', by_epoch=False)``."""

    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> tuple[dict, str]:
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        choice = runner.message_hub.get_info(CHOICE_INFO)
        if mode == "train" and choice is not None:
            log_str = f"{log_str}  choice: {choice}"
        return tag, log_str
