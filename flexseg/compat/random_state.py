"""Random states in checkpoints, so a resumed run draws exactly what the uninterrupted run drew.

mmengine 0.10.7 saves no random states and reseeds from the run's seed on resume, so dropout,
drop path and anything else drawing from the main process's generators diverge after a resume
(data-loader workers are reseeded per worker by mmengine and replayed by its resume, so they
already match). ``RandomStateHook`` stores torch's (CPU and CUDA), NumPy's and Python's states
with every checkpoint and restores them when the checkpoint is resumed. Validation can draw from
the same generators between a checkpoint and the next iteration, so the multi-budget loops run
inside ``preserved_random_state``. A resumed iteration-based loop first fetches (and throws
away) the batches already trained; with ``num_workers=0`` their augmentations draw from the
main process's generators, so those fetches run with the generators preserved.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

KEY = "random_states"


def capture_random_state() -> dict:
    return dict(torch=torch.get_rng_state(),
                cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                numpy=np.random.get_state(), python=random.getstate())


def restore_random_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Whatever the block draws, the generators leave it as they entered."""
    state = capture_random_state()
    try:
        yield
    finally:
        restore_random_state(state)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """``custom_hooks = [dict(type='RandomStateHook')]``; flexseg's tools add it to every run."""

    priority = "VERY_LOW"

    def __init__(self) -> None:
        self.loaded: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[KEY] = capture_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loaded = checkpoint.get(KEY)

    def before_train(self, runner) -> None:
        """Restore after everything a resume does (it may reseed), for resumed runs only
        (weights loaded with ``load_from`` start a new run)."""
        if self.loaded is not None and runner.iter > 0:
            restore_random_state(self.loaded)
            loop = runner.train_loop
            if isinstance(loop, IterBasedTrainLoop):
                loop.dataloader_iterator = SkipWithoutDrawing(loop, runner.iter)
        self.loaded = None


class SkipWithoutDrawing:
    """Stands in for an iteration-based loop's data iterator while the loop skips the
    ``count`` batches a resumed run already trained: they are fetched with the random
    generators preserved, then the loop gets its own iterator back."""

    def __init__(self, loop: IterBasedTrainLoop, count: int) -> None:
        self.loop = loop
        self.iterator = loop.dataloader_iterator
        self.remaining = count

    def __iter__(self) -> SkipWithoutDrawing:
        return self

    def __next__(self):
        self.remaining -= 1
        if self.remaining <= 0:
            self.loop.dataloader_iterator = self.iterator
        with preserved_random_state():
            return next(self.iterator)

