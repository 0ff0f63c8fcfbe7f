"""P3b: evaluating many choices by shared prefixes (``FlexibleBackbone.forward_choices``,
``models.prefix_tree``) against one pass per choice.

Two spaces, each as the backbone alone and as the whole model (the neck and head run once per
route on both sides, as the multi-budget loops run them, so they raise the whole model's
floor): the DeiT-III S/L stitched model of the ADE20K config (134 routes) at 224 x 224, batch
1, where the neck and head are 28% of the separate passes' multiply-adds; and the DigitSeg
stitched model (32 routes) at its 64 x 64 size, batch 16, where they are most of the work and
the floor stays above the whole model's goal. Random weights, eval mode, no gradients,
interleaved rounds; the figure is the median per-round time ratio shared / separate.

Beside it, the block-cost floor: the share of the separate passes' multiply-adds that the
shared pass still runs, counted by torch's FLOP counter on one pass of each side (attention as
explicit matmuls) — the ratio the time would reach if time followed multiply-adds — and the
tree's operation counts (``TreeStats``). The counted passes are each side's first (the
one-off merges of stitching maps they include are under 0.1% of the work); the separate
side's takes as long as a round.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from flexseg.budget import default_image_hw
from flexseg.budget.inference import InferenceForward, eval_mode
from flexseg.layers import explicit_attention
from flexseg.models.contract import find_flexible
from flexseg.models.intercept import serve_outputs
from flexseg.models.prefix_tree import TreeStats

from .models import build_config_model
from .report import Goal, Row
from .settings import ADE20K_STITCHED_CONFIG, STITCHED_CONFIG, Settings
from .timing import interleaved, median_ratio, progress, spread_text

SIDES = ("shared", "separate")
WHOLE_MODEL_GOAL = Goal("<=", 0.6)


def _backbone_sides(backbone: nn.Module, x: torch.Tensor,
                    stats: TreeStats) -> dict[str, Callable[[], object]]:
    routes = backbone.space()

    def shared() -> None:
        for _ in backbone.forward_choices(x, routes, stats):
            pass

    def separate() -> None:
        for route in routes:
            backbone.activate(route)
            backbone(x)

    return dict(shared=shared, separate=separate)


def _model_sides(model: nn.Module, forward: InferenceForward, images: torch.Tensor,
                 stats: TreeStats) -> dict[str, Callable[[], object]]:
    backbone = find_flexible(model)
    routes = backbone.space()

    def shared() -> None:
        for route, maps in backbone.forward_choices(images, routes, stats):
            backbone.activate(route)
            with serve_outputs(backbone, images, maps):
                forward(images)

    def separate() -> None:
        for route in routes:
            backbone.activate(route)
            forward(images)

    return dict(shared=shared, separate=separate)


def _counted(module: nn.Module, run: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with explicit_attention(module), counter:
        run()
    return counter.get_total_flops()


def _row(name: str, module: nn.Module, sides: dict, stats: TreeStats, goal: Goal | None,
         settings: Settings) -> Row:
    with torch.no_grad(), eval_mode(module):
        # The counted passes also warm what the sides cache (merged stitching maps,
        # resampled position embeddings); the first one fills the tree stats.
        counted = {side: _counted(module, sides[side])
                   for side in progress(SIDES, f"P3b {name}: counting", settings.show_progress)}
        ops = (stats.ops_run, stats.ops_separately)
        times = interleaved(sides, settings.rounds_or(3), min(settings.warmup, 1),
                            f"P3b {name}", settings.show_progress)
    floor = counted["shared"] / counted["separate"]
    return Row("P3b", f"{name}: shared prefixes vs a pass per route",
               median_ratio(times, "shared", "separate"), "x", goal,
               f"floor {floor:.3f} (multiply-adds); operations {ops[0]} of {ops[1]}; at most "
               f"{stats.peak_states} states; "
               f"{spread_text(times['shared'])} vs {spread_text(times['separate'])}",
               dict(floor=floor, multiply_adds={k: v // 2 for k, v in counted.items()},
                    ops_run=ops[0], ops_separately=ops[1],
                    peak_states=stats.peak_states, shared_s=times["shared"],
                    separate_s=times["separate"]))


def _whole_model_rows(config: Path, size: int | None, batch: int, label: str,
                      backbone_goal: Goal, settings: Settings) -> list[Row]:
    """The backbone row and the whole-model row of one stitched config, on ``size`` x ``size``
    images (None: the config's own size)."""
    cfg, model = build_config_model(config, settings.options(config), settings.device)
    image_hw = (size, size) if size else default_image_hw(cfg)
    forward = InferenceForward(model, image_hw, batch)
    images = forward.synthetic_images()
    name = f"{label}, {len(model.backbone.space())} routes, batch {batch}"
    stats = TreeStats()
    rows = [_row(f"{name}, backbone", model.backbone,
                 _backbone_sides(model.backbone, images, stats), stats, backbone_goal, settings)]
    stats = TreeStats()
    rows.append(_row(f"{name}, whole model", model, _model_sides(model, forward, images, stats),
                     stats, WHOLE_MODEL_GOAL, settings))
    return rows


def run(settings: Settings) -> list[Row]:
    size = 32 if settings.quick else 224
    return (_whole_model_rows(ADE20K_STITCHED_CONFIG, size, 1, f"DeiT-III S/L stitch, {size} px",
                              Goal("<=", 0.45), settings)
            + _whole_model_rows(STITCHED_CONFIG, None, 2 if settings.quick else 16,
                                "DigitSeg stitch", Goal("<=", 0.5), settings))
