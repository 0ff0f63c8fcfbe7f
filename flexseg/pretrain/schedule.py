"""The pretraining schedule as pure functions of the step, so a resumed run is the same run."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class Schedule:
    """Steps, batch, AdamW settings, linear warm-up then cosine decay to ``min_lr``."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.05
    warmup_steps: int = 100
    clip_grad: float | None = 1.0
    seed: int = 0
    log_interval: int = 25
    checkpoint_interval: int = 100

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps}, "
                             f"{self.batch_size}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps], got {self.warmup_steps}")

    def learning_rate(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(1, self.steps - self.warmup_steps)
        progress = (step - self.warmup_steps) / span
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress))


def draw_choice(ids: Sequence[str], step: int, seed: int,
                weights: Mapping[str, float] | None = None) -> str:
    """The sub-network of ``step``: uniform over ``ids`` (FlexiViT's recipe) or by ``weights``,
    a pure function of (seed, step)."""
    if weights:
        unknown = sorted(set(weights) - set(ids))
        if unknown:
            raise ValueError(f"sampler weights name unknown choices {unknown}; space: "
                             f"{', '.join(ids)}")
        p = np.array([float(weights.get(i, 0.0)) for i in ids])
        if (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"sampler weights must be >= 0 with a positive sum, got {weights}")
        p = p / p.sum()
    else:
        p = None
    rng = np.random.default_rng([seed, step])
    return ids[int(rng.choice(len(ids), p=p))]
