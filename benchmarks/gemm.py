"""P6: how close the backbone runs to the machine's matrix-multiply speed.

In the same rounds, the backbone's inference (eval, no gradients) and one plain
``torch.matmul`` of the shape of its MLP's first layer ((batch x tokens, width) x (width,
hidden)) are timed; each one's multiply-adds per second use the analytic backbone count and
m * k * n. The figure is the backbone's rate / the matmul's rate.
"""
from __future__ import annotations

import statistics

import torch

from flexseg.budget import default_image_hw
from flexseg.layers import token_grid_size
from flexseg.models import FlexiViT

from .models import build_config_model
from .report import Goal, Row
from .settings import MAIN_CONFIG, Settings
from .timing import interleaved

GOAL = Goal(">=", 0.5)


def _cases(settings: Settings) -> list[tuple[str, FlexiViT, str, tuple[int, int], int]]:
    """(name, backbone, choice, image size, batch)."""
    cfg, model = build_config_model(MAIN_CONFIG, settings.options(MAIN_CONFIG), settings.device)
    image_hw = default_image_hw(cfg)
    batch = 2 if settings.quick else 16
    cases = [(f"FlexiViT-Ti6 {choice}, batch {batch}", model.backbone, choice, image_hw, batch)
             for choice in ("p8", "p4")]
    if not settings.quick:
        torch.manual_seed(0)
        vit_b = FlexiViT(img_size=224, patch_size=16, patch_sizes=[16], embed_dim=768,
                         depth=12, num_heads=12).to(settings.device)
        cases.append(("ViT-B/16 224 px, batch 1", vit_b, "p16", (224, 224), 1))
    return cases


def run(settings: Settings) -> list[Row]:
    rows = []
    for name, backbone, choice, image_hw, batch in _cases(settings):
        backbone.eval().activate(choice)
        x = torch.randn(batch, 3, *image_hw, device=settings.device)
        grid = token_grid_size(image_hw, backbone.active_choice.patch_hw, backbone.fit)
        m = batch * (grid[0] * grid[1] + backbone.num_prefix_tokens)
        k, n = backbone.embed_dim, backbone.mlp_hidden_dim
        a = torch.randn(m, k, device=settings.device)
        b = torch.randn(k, n, device=settings.device)
        with torch.no_grad():
            times = interleaved(dict(backbone=lambda: backbone(x), gemm=lambda: a @ b),
                                settings.rounds_or(11), settings.warmup, f"P6 {name}",
                                settings.show_progress)
        work = dict(backbone=backbone.flops(choice, image_hw) * batch, gemm=m * k * n)
        rates = {side: work[side] / statistics.median(times[side]) for side in times}
        rows.append(Row("P6", f"{name}: backbone vs matmul multiply-adds per second",
                        rates["backbone"] / rates["gemm"], "x", GOAL,
                        f"{rates['backbone'] / 1e9:.3g} vs {rates['gemm'] / 1e9:.3g} GMAC/s "
                        f"(matmul {m}x{k}x{n})",
                        dict(times_s=times, multiply_adds=work, rates=rates)))
    return rows
