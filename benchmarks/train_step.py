"""P2: a training step (forward, backward, optimizer step) of the DigitSeg models against
MMSegmentation's own ``VisionTransformer`` with the same dimensions, neck and head.

The reference of FlexiViT at patch size p is the stock ViT at p; the head sees maps of equal
strides on both sides. With the config's ``out_stride`` (4) FlexiViT resamples its maps to
stride 4, so the reference's neck scales are multiplied by p / 4 (its maps are at stride p);
with ``out_stride=None`` both hand the neck the token grids through a neck for stride 8, and
so does the stitched model. Where both sides are the same network (p = out_stride, or
out_stride None, or the stitched model's L anchor), the reference gets the same weights and the two losses are compared before
timing. The stitched model's S route maps its levels to the large anchor's width; its stock
ViT hands the neck the small anchor's width instead.

Steps of all pairs are interleaved (``timing.interleaved``) on one fixed batch; the figure is
the median over rounds of the per-round ratio flexseg / mmseg, beside the spread of each
side's step times.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from flexseg.budget import default_image_hw
from flexseg.budget.train_step import budget_train_step

from .models import (build_config_model, eval_loss, optim_wrapper, stock_vit,
                     synthetic_batch, with_backbone_weights)
from .report import Goal, Row
from .settings import MAIN_CONFIG, STITCHED_CONFIG, Settings
from .timing import interleaved, median_ratio, spread_text

PATCH_SIZES = (8, 16)
BATCH = 16
GOAL = Goal("<=", 1.0)  # a flexible step costs no more than the stock one


@dataclass
class Pair:
    """A flexible model at one choice and its stock reference, as two timed steps."""

    name: str
    flexible: Callable[[], object]
    reference: Callable[[], object]
    losses: tuple[float, float] | None  # (flexseg, mmseg) when both are the same network


def _flexible_step(model: nn.Module, batch: dict, choice: str,
                   optimizer: OptimWrapper) -> Callable[[], object]:
    return lambda: budget_train_step(model, batch, optimizer, model.backbone,
                                     [model.backbone.choice(choice)])


def _stock_step(model: nn.Module, batch: dict, cfg: Config) -> Callable[[], object]:
    optimizer = optim_wrapper(cfg, model)
    return lambda: model.train_step(batch, optim_wrapper=optimizer)


def _reference(config: Path, flexible: nn.Module, choice: str, vit: tuple[dict, dict],
               options: dict, same: bool, batch: dict, settings: Settings
               ) -> tuple[Config, nn.Module, tuple[float, float] | None]:
    """The stock model, given ``flexible``'s weights and compared with it when ``same``."""
    vit_cfg, vit_state = vit
    options = {"model.backbone": dict(_delete_=True, **vit_cfg), **options}
    cfg, reference = build_config_model(config, settings.options(config, options),
                                        settings.device)
    losses = None
    if same:
        reference.load_state_dict(with_backbone_weights(flexible, vit_state))
        flexible.backbone.activate(choice)
        losses = (eval_loss(flexible, batch), eval_loss(reference, batch))
    return cfg, reference.train(), losses


def _flexivit_pairs(settings: Settings, batch_size: int) -> list[Pair]:
    cfg, fixed = build_config_model(MAIN_CONFIG, settings.options(MAIN_CONFIG),
                                    settings.device)
    stride, scales = cfg.model.backbone.out_stride, list(cfg.model.neck.scales)
    # Maps at the grid's stride p go through the neck that suits stride 8 (the smallest level
    # of the config's stride-4 neck would be empty at p16).
    grid_scales = [s * 8 / stride for s in scales]
    _, at_grid = build_config_model(
        MAIN_CONFIG, settings.options(MAIN_CONFIG, {"model.backbone.out_stride": None,
                                                    "model.neck.scales": grid_scales}),
        settings.device)
    image_hw = default_image_hw(cfg)
    batch = synthetic_batch(batch_size, image_hw, cfg.model.decode_head.num_classes)
    pairs = []
    for model, out_stride, base in ((fixed, stride, scales), (at_grid, None, grid_scales)):
        optimizer = optim_wrapper(cfg, model.train())
        for patch in PATCH_SIZES:
            if out_stride is None and patch == stride:
                continue  # the same network as with out_stride == patch size
            choice = f"p{patch}"
            neck_scales = [s * patch / (out_stride or patch) for s in base]
            ref_cfg, reference, losses = _reference(
                MAIN_CONFIG, model, choice, stock_vit(model.backbone, patch, image_hw),
                {"model.neck.scales": neck_scales}, neck_scales == base, batch, settings)
            pairs.append(Pair(f"FlexiViT-Ti6 {choice}, out_stride={out_stride}",
                              _flexible_step(model, batch, choice, optimizer),
                              _stock_step(reference, batch, ref_cfg), losses))
    return pairs


def _stitched_pairs(settings: Settings, batch_size: int) -> list[Pair]:
    # A stock ViT hands over maps at the patch's stride: so does the stitched model here, with
    # the neck scaled to match (the config resamples its maps to a finer stride).
    base = Config.fromfile(str(STITCHED_CONFIG))
    patch, stride = base.model.backbone.patch_size, base.model.backbone.out_stride
    options = {"model.backbone.out_stride": None,
               "model.neck.scales": [s * patch / stride for s in base.model.neck.scales]}
    cfg, model = build_config_model(STITCHED_CONFIG, settings.options(STITCHED_CONFIG, options),
                                    settings.device)
    backbone = model.backbone
    if backbone.out_stride not in (None, patch):
        raise ValueError(f"{STITCHED_CONFIG.name}: a stock ViT's maps are at the patch size's "
                         f"stride ({patch}), the stitched model's at {backbone.out_stride}")
    image_hw = default_image_hw(cfg)
    batch = synthetic_batch(batch_size, image_hw, cfg.model.decode_head.num_classes)
    backbone.fit_stitches([model.data_preprocessor(batch, False)["inputs"]])
    optimizer = optim_wrapper(cfg, model.train())
    large_levels = [backbone.ratio * (unit + 1) - 1 for unit in backbone.out_indices]
    pairs = []
    for route, anchor, levels in (("S", backbone.small, backbone.out_indices),
                                  ("L", backbone.large, large_levels)):
        ref_cfg, reference, losses = _reference(
            STITCHED_CONFIG, model, route, stock_vit(anchor, patch, image_hw, levels),
            {"model.neck.in_channels": [anchor.embed_dim] * 4,
             "model.neck.scales": options["model.neck.scales"]},
            anchor is backbone.large,
            batch, settings)
        pairs.append(Pair(f"stitched DigitSeg {route} ({anchor.embed_dim}-d, {anchor.depth} "
                          "blocks)", _flexible_step(model, batch, route, optimizer),
                          _stock_step(reference, batch, ref_cfg), losses))
    return pairs


def run(settings: Settings) -> list[Row]:
    batch_size = 2 if settings.quick else BATCH
    pairs = _flexivit_pairs(settings, batch_size) + _stitched_pairs(settings, batch_size)
    runs = {}
    for pair in pairs:
        runs[f"{pair.name} / flexseg"] = pair.flexible
        runs[f"{pair.name} / mmseg"] = pair.reference
    times = interleaved(runs, settings.rounds_or(11), settings.warmup, "P2 training steps",
                        settings.show_progress)
    rows = []
    for pair in pairs:
        ours, stock = times[f"{pair.name} / flexseg"], times[f"{pair.name} / mmseg"]
        same = "" if pair.losses is None else "; same network, loss " + (
            "equal" if abs(pair.losses[0] - pair.losses[1]) <= 1e-4 * abs(pair.losses[1])
            else "DIFFERS")
        rows.append(Row("P2", f"{pair.name}, batch {batch_size}: step vs mmseg ViT",
                        median_ratio(times, f"{pair.name} / flexseg", f"{pair.name} / mmseg"),
                        "x", GOAL, f"steps {spread_text(ours)} vs {spread_text(stock)}{same}",
                        dict(flexseg_s=ours, mmseg_s=stock, losses=pair.losses)))
    return rows
