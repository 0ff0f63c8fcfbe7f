"""PRE: what preprocessing a batch once saves the multi-budget loops. One test batch of the main
job's validation set goes through the data preprocessor, then every choice predicts on it; the
loops used to preprocess the batch once per choice plus once, now once, so per batch they save
K preprocessings of K choices' predictions. The figure is that saving as a share of the
predictions' time (medians of interleaved rounds)."""
from __future__ import annotations

import statistics

import torch
from mmengine.runner import Runner

import flexseg.evaluation  # noqa: F401  (registers the multi-budget loops)
from flexseg.compat.mmengine_private import run_forward
from flexseg.models.contract import find_flexible

from .models import build_config_model
from .report import Row
from .settings import MAIN_CONFIG, Settings
from .timing import interleaved


def _batch(cfg, settings: Settings) -> dict:
    loader_cfg = dict(cfg.val_dataloader, num_workers=0, persistent_workers=False)
    loader_cfg["dataset"] = dict(loader_cfg["dataset"], data_root=str(settings.data_root),
                                 **settings.dataset_options)
    return next(iter(Runner.build_dataloader(loader_cfg)))


@torch.no_grad()
def run(settings: Settings) -> list[Row]:
    cfg, model = build_config_model(MAIN_CONFIG, settings.options(MAIN_CONFIG),
                                    settings.device)
    model.eval()
    backbone = find_flexible(model)
    batch = _batch(cfg, settings)
    data = model.data_preprocessor(batch, False)
    sides = {"preprocess": lambda: model.data_preprocessor(batch, False)}
    for choice in backbone.space():
        def predict(choice=choice) -> None:
            backbone.activate(choice)
            run_forward(model, data, mode="predict")
        sides[choice.id] = predict
    times = interleaved(sides, settings.rounds_or(5), settings.warmup, "PRE",
                        settings.show_progress)
    medians = {name: statistics.median(values) for name, values in times.items()}
    choices = [name for name in medians if name != "preprocess"]
    predictions = sum(medians[name] for name in choices)
    saved = len(choices) * medians["preprocess"] / predictions
    images = len(batch["inputs"])
    return [Row("PRE", f"preprocessing saved per batch of {images}, {len(choices)} choices: "
                "share of their predictions", saved, "x", None,
                f"one preprocessing {medians['preprocess'] * 1e3:.2f} ms; predictions "
                + ", ".join(f"{name} {medians[name] * 1e3:.0f} ms" for name in choices),
                dict(median_s=medians, images=images))]
