"""ATTN: peak training memory of attention-only fine-tuning against fine-tuning all weights.

The main job's model (FlexiViT-Ti6 + UPerNet, p8) fine-tuned at 1.5x and 2x the DigitSeg size
(96 and 128 px), batch 16: ``attn_only=True`` (attention weights, position embedding, neck and
head trainable) against every weight trainable. Each side runs in a fresh process
(``fresh``): build the model, free and reset the resident peak, then build the optimizer and
run two training steps (the first creates the optimizer state). The figure is the training
memory (peak resident memory minus the resident memory before the optimizer existed: optimizer
state, gradients, activations and buffers) of attention-only / all weights. A second row adds
activation checkpointing (``with_cp``) to attention-only fine-tuning, the note gives all
weights with checkpointing for comparison. The rows also carry each side's trainable
parameters and the time of its second step (whose ratios are comparable only on an idle
machine).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from flexseg.budget import default_image_hw
from flexseg.budget.train_step import budget_train_step

from .fresh import run_fresh
from .memory import _peak, _start_measuring
from .models import optim_wrapper, process_config_model, synthetic_batch
from .report import Goal, Row
from .settings import MAIN_CONFIG, Settings
from .timing import progress

GOAL = Goal("<=", 0.6)
SCALES = (1.5, 2.0)


VARIANTS = {"all": (False, False), "attention-only": (True, False),
            "all, checkpointed": (False, True), "attention-only, checkpointed": (True, True)}


def fine_tune_options(size: int, attn_only: bool, with_cp: bool = False) -> dict:
    """The main config at patch size 8 and ``size`` px, attention-only or not, with
    activation checkpointing or not."""
    return {"model.backbone.patch_sizes": [8], "model.backbone.patch_size": 8,
            "model.backbone.init_cfg": None, "model.backbone.attn_only": attn_only,
            "model.backbone.with_cp": with_cp, "model.data_preprocessor.size": (size, size)}


def training_memory(config: str, options: dict, batch_size: int, threads: int,
                    choice: str = "p8") -> dict:
    """Bytes a fine-tuning run holds beyond its model (runs in its own process), its
    trainable parameters and the seconds of its second step."""
    torch.set_num_threads(threads)
    cfg, model = process_config_model(Path(config), options)
    model = model.train()
    batch = synthetic_batch(batch_size, default_image_hw(cfg), cfg.model.decode_head.num_classes)
    choices = [model.backbone.choice(choice)]
    before = _start_measuring("cpu")
    optimizer = optim_wrapper(cfg, model)
    budget_train_step(model, batch, optimizer, model.backbone, choices)
    began = time.perf_counter()
    budget_train_step(model, batch, optimizer, model.backbone, choices)
    seconds = time.perf_counter() - began
    peak = _peak("cpu")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(training_bytes=peak - before, trainable_params=trainable, step_seconds=seconds)


def _mib(measured: dict) -> str:
    return f"{measured['training_bytes'] / 2**20:.0f} MiB"


def run(settings: Settings) -> list[Row]:
    batch_size = 2 if settings.quick else 16
    threads = 1 if settings.quick else settings.threads or os.cpu_count()
    base = 64
    rows = []
    for scale in progress(SCALES[-1:] if settings.quick else SCALES, "attention-only",
                          settings.show_progress):
        size = int(base * scale)
        measured = {}
        for name, (attn_only, with_cp) in VARIANTS.items():
            options = settings.options(MAIN_CONFIG, fine_tune_options(size, attn_only, with_cp))
            if settings.quick:
                process_config_model(MAIN_CONFIG, options)  # the forked probe inherits it
            measured[name] = run_fresh(training_memory, dict(
                config=str(MAIN_CONFIG), options=options, batch_size=batch_size,
                threads=threads), clean=not settings.quick)
        full = measured["all"]
        for name in ("attention-only", "attention-only, checkpointed"):
            side = measured[name]
            rows.append(Row(
                "ATTN", f"FlexiViT-Ti6 + UPerNet p8 at {size} px, batch {batch_size}: training "
                f"memory {name} / all weights", side["training_bytes"] / full["training_bytes"],
                "x", GOAL, f"{_mib(full)} → {_mib(side)} (all, checkpointed: "
                f"{_mib(measured['all, checkpointed'])}); trainable "
                f"{full['trainable_params'] / 1e6:.2f} → {side['trainable_params'] / 1e6:.2f} M; "
                f"step {full['step_seconds']:.2f} → {side['step_seconds']:.2f} s",
                dict(measured)))
    return rows
