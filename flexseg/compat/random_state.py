"""Random states in checkpoints, so a resumed run draws exactly what the uninterrupted run drew.

mmengine 0.10.7 saves no random states and reseeds from the run's seed on resume, so dropout,
drop path and anything else drawing from the main process's generators diverge after a resume
(data-loader workers are reseeded per worker by mmengine and replayed by its resume, so they
already match). ``RandomStateHook`` stores torch's (CPU and CUDA), NumPy's and Python's states
with every checkpoint and restores them when the checkpoint is resumed. Validation can draw from
the same generators between a checkpoint and the next iteration, so the multi-budget loops run
inside ``preserved_random_state``.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

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
        self.loaded = None


def add_random_state_hook(cfg) -> None:
    """Add ``RandomStateHook`` to a config's ``custom_hooks`` unless it is there."""
    hooks = list(cfg.get("custom_hooks") or [])
    if not any(hook.get("type") == "RandomStateHook" for hook in hooks):
        cfg.custom_hooks = [*hooks, dict(type="RandomStateHook")]
