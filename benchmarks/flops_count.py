"""P4: the analytic FLOPs of the budget space against mmengine's counter.

For a few choices of both DigitSeg models, the backbone's analytic multiply-adds
(``FlexibleBackbone.flops``) are divided by what mmengine's counter finds in the backbone on
the inference path, attention computed as explicit matmuls (``count_flops_explicitly``);
the note has the same ratio for the whole model (the budget space's GFLOPs, whose neck and
head part is itself counted). Both should agree within 1%. Counting times nothing, so quick
runs count the real models too.
"""
from __future__ import annotations

from flexseg.budget import build_budget_space, default_image_hw
from flexseg.budget.inference import count_flops_explicitly

from .models import build_config_model
from .report import Goal, Row
from .settings import MAIN_CONFIG, STITCHED_CONFIG, Settings

GOAL = Goal("within", 0.01)
CHOICES = {MAIN_CONFIG: ("p16", "p8", "p4"), STITCHED_CONFIG: ("S", "s2-l6", "L")}


def run(settings: Settings) -> list[Row]:
    rows = []
    for config, choices in CHOICES.items():
        cfg, model = build_config_model(config, device=settings.device)
        image_hw = default_image_hw(cfg)
        space = build_budget_space(model, image_hw)
        for choice in choices:
            entry = space.get(choice)
            model.backbone.activate(choice)
            whole, backbone = count_flops_explicitly(model, image_hw)
            ratio = entry.backbone_gflops * 1e9 / backbone
            rows.append(Row("P4", f"{config.stem.split('_')[0]} {choice}: analytic vs counted "
                            "backbone FLOPs", ratio, "x", GOAL,
                            f"whole model {entry.gflops * 1e9 / whole:.4f}× "
                            f"({entry.gflops:.4f} GFLOPs)",
                            dict(analytic_backbone=entry.backbone_gflops * 1e9,
                                 counted_backbone=backbone, analytic_whole=entry.gflops * 1e9,
                                 counted_whole=whole)))
    return rows
