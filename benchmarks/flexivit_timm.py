"""P1: FlexiViT's inference against timm's ``VisionTransformer`` holding the same weights.

At each patch size the timm model is FlexiViT's export at that size (``export.timm_vit``:
PI-resized kernel, resampled position embedding), so both compute the same function (the
largest difference of their outputs is reported). Eval mode, no gradients, batch 1,
``forward_features`` on both sides, interleaved rounds; the figure is the median per-round
ratio FlexiViT / timm.
"""
from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer

from flexseg.evaluation.export.timm_vit import timm_kwargs, timm_state_dict
from flexseg.models import FlexiViT

from .report import Goal, Row
from .settings import Settings
from .timing import interleaved, median_ratio, spread_text

GOAL = Goal("<=", 1.05)
# (name, FlexiViT arguments, image size, patch sizes); the kernel is stored at 32 px, as
# FlexiViT stores it.
MODELS = (
    ("ViT-S", dict(embed_dim=384, depth=12, num_heads=6), 224, (8, 16, 32)),
    ("ViT-B", dict(embed_dim=768, depth=12, num_heads=12), 224, (16, 32)),
)
QUICK_MODELS = (("ViT-tiny", dict(embed_dim=32, depth=2, num_heads=2), 32, (8, 16)),)


def run(settings: Settings) -> list[Row]:
    rows = []
    for name, dims, size, patches in QUICK_MODELS if settings.quick else MODELS:
        torch.manual_seed(0)
        model = FlexiViT(img_size=size, patch_size=32, patch_sizes=list(patches),
                         **dims).eval().to(settings.device)
        x = torch.randn(1, 3, size, size, device=settings.device)
        runs, differences = {}, {}
        for patch in patches:
            choice = model.choice(f"p{patch}")
            twin = VisionTransformer(**timm_kwargs(model, choice, (size, size)))
            twin.load_state_dict(timm_state_dict(model, choice, (size, size)))
            twin = twin.eval().to(settings.device)

            def ours(choice=choice) -> torch.Tensor:
                model.activate(choice)
                return model.forward_features(x)

            with torch.no_grad():
                differences[patch] = (ours() - twin.forward_features(x)).abs().max().item()
            runs[f"p{patch} flexseg"] = ours
            runs[f"p{patch} timm"] = lambda twin=twin: twin.forward_features(x)
        with torch.no_grad():
            times = interleaved(runs, settings.rounds_or(11), settings.warmup,
                                f"P1 {name}", settings.show_progress)
        for patch in patches:
            ours_s, timm_s = times[f"p{patch} flexseg"], times[f"p{patch} timm"]
            rows.append(Row("P1", f"{name} p{patch}, {size} px, batch 1: FlexiViT vs timm",
                            median_ratio(times, f"p{patch} flexseg", f"p{patch} timm"), "x",
                            GOAL, f"{spread_text(ours_s, 1e3, 'ms')} vs "
                            f"{spread_text(timm_s, 1e3, 'ms')}; largest difference "
                            f"{differences[patch]:.1e}",
                            dict(flexseg_s=ours_s, timm_s=timm_s,
                                 max_abs_difference=differences[patch])))
    return rows
