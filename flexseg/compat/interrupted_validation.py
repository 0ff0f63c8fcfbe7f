"""A resumed run repeats the validation that a kill interrupted.

mmengine saves the checkpoint of iteration k before it validates at k, and a run resumed from
that checkpoint goes on with iteration k + 1: when the kill came during the validation, its
metrics were never reported. ``RepeatInterruptedValidationHook`` records every validation that
finishes during training in ``work_dir/last_validation``; a run resumed at an iteration whose
validation is due but not recorded runs it before training on. It runs after
``RandomStateHook`` restored the generators, so the training that follows draws what the
uninterrupted run drew (the multi-budget loops leave the generators untouched anyway).
Iteration-based loops only (every flexseg config).
"""
from __future__ import annotations

import logging
from pathlib import Path

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

from .atomic_write import write_text_atomically

RECORD = "last_validation"


def recorded_validation(work_dir: str | Path) -> int | None:
    """The iteration of the last validation that finished during training, if recorded."""
    path = Path(work_dir) / RECORD
    text = path.read_text().strip() if path.is_file() else ""
    return int(text) if text.isdigit() else None


def validation_due(loop: IterBasedTrainLoop) -> bool:
    """Whether the loop validates after its current iteration (mmengine's own rule)."""
    loop._decide_current_val_interval()
    return (loop.iter >= loop.val_begin
            and (loop.iter % loop.val_interval == 0 or loop.iter == loop.max_iters))


@HOOKS.register_module()
class RepeatInterruptedValidationHook(Hook):
    """``custom_hooks = [dict(type='RepeatInterruptedValidationHook')]``; flexseg's tools add
    it to every run."""

    priority = "LOWEST"  # after RandomStateHook's restore

    def __init__(self) -> None:
        self.training = False

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if (runner.iter > 0 and isinstance(loop, IterBasedTrainLoop)
                and runner.val_loop is not None and validation_due(loop)
                and recorded_validation(runner.work_dir) != runner.iter):
            print_log(f"resumed at iteration {runner.iter}, whose validation did not finish: "
                      f"repeating the validation at iteration {runner.iter}", logger="current",
                      level=logging.WARNING)
            runner.val_loop.run()
        self.training = True

    def after_val(self, runner) -> None:
        if self.training and is_main_process():
            write_text_atomically(Path(runner.work_dir) / RECORD, f"{runner.iter}\n")

    def after_train(self, runner) -> None:
        self.training = False
