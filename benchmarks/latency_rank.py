"""P5: does measured latency order the choices the way their GFLOPs do?

Every choice of the main-job model runs the inference path (``InferenceForward``: backbone,
neck and head) on synthetic images, interleaved (``timing.interleaved``); the figure is
Spearman's rank correlation between the GFLOPs and the median latencies, at batch 8 and 1.
"""
from __future__ import annotations

import statistics
from typing import Callable, Sequence

import torch
import torch.nn as nn
from scipy.stats import spearmanr

from flexseg.budget import BudgetSpace, build_budget_space, default_image_hw
from flexseg.budget.inference import InferenceForward, eval_mode
from flexseg.models.contract import Choice, find_flexible

from .models import build_config_model
from .report import Goal, Row
from .settings import MAIN_CONFIG, Settings
from .timing import interleaved

GOAL = Goal(">=", 0.9, "rho")
BATCHES = (8, 1)


def median_latencies_ms(model: nn.Module, space: BudgetSpace, batch_size: int = 1,
                        rounds: int = 20, warmup: int = 2,
                        show: bool = False) -> dict[str, float]:
    """Median forward time (ms) of a ``batch_size`` batch at ``space.image_hw`` per choice;
    the model's active choice and modes are restored afterwards."""
    backbone = find_flexible(model)
    original = backbone.active_choice
    forward = InferenceForward(model, space.image_hw, batch_size)
    images = forward.synthetic_images()

    def run(choice: Choice) -> Callable[[], object]:
        return lambda: (backbone.activate(choice), forward(images))

    try:
        with torch.inference_mode(), eval_mode(forward):
            times = interleaved({entry.id: run(entry.choice) for entry in space}, rounds,
                                warmup, f"P5 batch {batch_size}", show)
    finally:
        backbone.activate(original)
    return {choice_id: 1000 * statistics.median(values) for choice_id, values in times.items()}


def spearman_rho(first: Sequence[float], second: Sequence[float]) -> float:
    """Spearman rank correlation (ties get average ranks)."""
    return float(spearmanr(first, second).statistic)


def run(settings: Settings) -> list[Row]:
    cfg, model = build_config_model(MAIN_CONFIG, settings.options(MAIN_CONFIG), settings.device)
    space = build_budget_space(model, default_image_hw(cfg))
    rows = []
    for batch in (2, 1) if settings.quick else BATCHES:
        latencies = median_latencies_ms(model, space, batch, settings.rounds_or(11),
                                        settings.warmup, settings.show_progress)
        rho = spearman_rho([entry.gflops for entry in space],
                           [latencies[entry.id] for entry in space])
        rows.append(Row("P5", f"FlexiViT-Ti6 latency order vs GFLOPs order, batch {batch}",
                        rho, "rho", GOAL, "ms: " + ", ".join(
                            f"{entry.id} {latencies[entry.id]:.3g}" for entry in space),
                        dict(gflops={entry.id: entry.gflops for entry in space},
                             latency_ms=latencies)))
    return rows
