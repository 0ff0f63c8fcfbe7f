"""Does measured latency order the choices the way GFLOPs do?

Timings interleave the choices (every round times each choice once, starting one further along
each round) so drifts in machine load hit all of them alike; the median round is kept.
"""
from __future__ import annotations

import statistics
import time
from typing import Sequence

import torch
import torch.nn as nn
from scipy.stats import spearmanr

from flexseg.models.contract import find_flexible

from .inference import InferenceForward, eval_mode
from .space import BudgetSpace


def median_latencies_ms(model: nn.Module, space: BudgetSpace, batch_size: int = 1,
                        rounds: int = 20, warmup: int = 2) -> dict[str, float]:
    """Median forward time (ms) of a ``batch_size`` batch at ``space.image_hw`` per choice."""
    backbone = find_flexible(model)
    original = backbone.active_choice
    forward = InferenceForward(model, space.image_hw, batch_size)
    images = forward.synthetic_images()
    times: dict[str, list[float]] = {entry.id: [] for entry in space}
    try:
        with torch.inference_mode(), eval_mode(forward):
            for entry in space:
                backbone.activate(entry.choice)
                for _ in range(warmup):
                    forward(images)
            for round_index in range(rounds):
                start = round_index % len(space)
                for entry in [*space[start:], *space[:start]]:
                    backbone.activate(entry.choice)
                    began = time.perf_counter()
                    forward(images)
                    if images.is_cuda:  # kernels run asynchronously
                        torch.cuda.synchronize()
                    times[entry.id].append(time.perf_counter() - began)
    finally:
        backbone.activate(original)
    return {choice_id: 1000 * statistics.median(values) for choice_id, values in times.items()}


def spearman_rho(first: Sequence[float], second: Sequence[float]) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    return float(spearmanr(first, second).statistic)
