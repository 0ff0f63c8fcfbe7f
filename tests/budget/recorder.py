"""A hook the end-to-end tests load: each rank records what every iteration trained and which
choice validation ran at."""
import json
from pathlib import Path

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from flexseg.models.contract import find_flexible


@HOOKS.register_module()
class BudgetRecorderHook(Hook):
    """Appends JSON lines to ``budget_record_rank{r}.jsonl`` in the work dir: per training
    iteration the logged choice(s) and GFLOPs, the active choice, the loss and a checksum of
    the weights after the step; per validation the active choice."""

    def _write(self, runner, **record) -> None:
        path = Path(runner.work_dir) / f"budget_record_rank{get_rank()}.jsonl"
        with path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        with torch.no_grad():
            checksum = sum(float(p.double().sum()) for p in runner.model.parameters())
        self._write(runner, event="train", iter=runner.iter,
                    choice=runner.message_hub.get_info("budget/choice"),
                    active=find_flexible(runner.model).active_choice.id,
                    gflops=runner.message_hub.get_scalar("train/budget/gflops").current(),
                    loss=float(outputs["loss"].detach()), checksum=checksum)

    def before_val_epoch(self, runner) -> None:
        self._write(runner, event="val", active=find_flexible(runner.model).active_choice.id)


@HOOKS.register_module()
class HangingRankHook(Hook):
    """Blocks one rank forever at one iteration, as a deadlock or stuck I/O would."""

    def __init__(self, rank: int, at_iter: int) -> None:
        self.rank = rank
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if get_rank() == self.rank and runner.iter == self.at_iter:
            import time
            time.sleep(3600)
