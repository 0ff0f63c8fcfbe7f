"""PAR: parallel blocks against their sequential twin, batch-1 inference latency.

A ViT with ``d`` parallel blocks of two branches and the ViT with ``2 d`` sequential blocks
have the same parameters and the same multiply-adds (asserted here); the parallel one runs
each pair of branches as one wider layer (``layers.branch_fusion``), so it issues half the
operations, each twice as wide. Twins: the main job's backbone (FlexiViT-Ti6 with 2 branches
per block vs 12 blocks, DigitSeg 64x64, at its cheapest, middle and dearest patch sizes, the
maps at the config's stride as the head reads them) and a ViT-S/16 at 224 px (6 x 2 vs 12).
Interleaved rounds on 2 threads (``--threads`` overrides); the figure is the median of the
per-round ratio parallel / sequential.
"""
from __future__ import annotations

import statistics

import torch
import torch.nn as nn
from mmengine.config import Config

from flexseg.budget import default_image_hw
from flexseg.models import FlexiViT

from .models import build_config_backbone
from .report import Goal, Row
from .settings import MAIN_CONFIG, Settings
from .timing import interleaved, median_ratio

GOAL = Goal("<=", 0.9)
THREADS = 2


def sequential_twin_options(depth: int, out_indices: tuple[int, ...]) -> dict:
    """Backbone overrides turning a ``depth``-block parallel model (2 branches) into its
    sequential twin: twice the blocks, each level taken after the second block of the pair."""
    return {"model.backbone.depth": 2 * depth, "model.backbone.num_parallel": 1,
            "model.backbone.out_indices": tuple(2 * (i % depth) + 1 for i in out_indices)}


def _twins(settings: Settings) -> list[tuple[str, nn.Module, nn.Module, tuple[int, int],
                                             list[str]]]:
    """(name, parallel, sequential, image size, choices)."""
    options = settings.options(MAIN_CONFIG)
    parallel = build_config_backbone(MAIN_CONFIG, {**options, "model.backbone.num_parallel": 2},
                                     settings.device)
    twin = sequential_twin_options(parallel.depth, tuple(parallel.out_indices))
    sequential = build_config_backbone(MAIN_CONFIG, {**options, **twin}, settings.device)
    image_hw = default_image_hw(Config.fromfile(str(MAIN_CONFIG)))
    choices = ["p8"] if settings.quick else ["p16", "p8", "p4"]
    twins = [(f"FlexiViT-Ti {parallel.depth}x2 vs {sequential.depth}", parallel, sequential,
              image_hw, choices)]
    if not settings.quick:
        vit_s = dict(img_size=224, patch_size=16, patch_sizes=[16], embed_dim=384,
                     num_heads=6, out_indices=(-1,), out_stride=None)
        torch.manual_seed(0)
        twins.append(("ViT-S/16 6x2 vs 12, 224 px", FlexiViT(depth=6, num_parallel=2, **vit_s),
                      FlexiViT(depth=12, **vit_s), (224, 224), ["p16"]))
    return twins


def _same_cost(parallel: nn.Module, sequential: nn.Module, choice: str,
               image_hw: tuple[int, int]) -> tuple[int, int]:
    """(parameters, multiply-adds) of both twins; raises if they differ."""
    params = [sum(p.numel() for p in model.parameters()) for model in (parallel, sequential)]
    flops = [model.flops(choice, image_hw) for model in (parallel, sequential)]
    if params[0] != params[1] or flops[0] != flops[1]:
        raise RuntimeError(f"the twins differ: parameters {params}, multiply-adds {flops}")
    return params[0], flops[0]


def run(settings: Settings) -> list[Row]:
    previous = torch.get_num_threads()
    threads = settings.threads or THREADS
    torch.set_num_threads(threads)
    rows = []
    try:
        for name, parallel, sequential, image_hw, choices in _twins(settings):
            parallel.eval().to(settings.device)
            sequential.eval().to(settings.device)
            x = torch.randn(1, 3, *image_hw, device=settings.device)
            for choice in choices:
                params, flops = _same_cost(parallel, sequential, choice, image_hw)
                parallel.activate(choice)
                sequential.activate(choice)
                with torch.inference_mode():
                    times = interleaved(dict(parallel=lambda: parallel(x),
                                             sequential=lambda: sequential(x)),
                                        settings.rounds_or(31), settings.warmup,
                                        f"PAR {name} {choice}", settings.show_progress)
                medians = {side: 1000 * statistics.median(t) for side, t in times.items()}
                rows.append(Row(
                    "PAR", f"{name} {choice}, batch 1, {threads} threads: parallel / "
                    "sequential latency", median_ratio(times, "parallel", "sequential"), "x",
                    GOAL, f"{medians['parallel']:.3g} vs {medians['sequential']:.3g} ms; "
                    f"{params / 1e6:.2f} M params, {flops / 1e9:.3g} GMACs each",
                    dict(times_s=times, parameters=params, multiply_adds=flops,
                         threads=threads)))
    finally:
        torch.set_num_threads(previous)
    return rows
