"""CMP: torch.compile (``flexseg.budget.compile``) against eager, and the graphs it compiles.

The main job's model (FlexiViT-Ti6 + UPerNet, DigitSeg 64x64, batch 16) and a compiled copy with
the same weights: one training step (forward in tensor mode, backward) at a cheap and a dear
patch size, in interleaved rounds; the figure is the median per-round ratio compiled / eager,
with the first call's compile time beside it. Then every choice once in training and once in
evaluation: the graphs dynamo compiled for the backbone, neck and head, against the bound (2 x
choices for the backbone and for the head, whose BN keeps statistics per choice; one per mode
for the neck, whose maps have one shape at the fixed stride). Quick runs use the ``eager``
backend and two patch sizes: they check the output, they time nothing.
"""
from __future__ import annotations

import copy
import time

import torch
import torch._dynamo
from torch._dynamo.utils import counters

from flexseg.budget import default_image_hw
from flexseg.budget.compile import compile_model, part_graphs_bound

from .models import build_config_model
from .report import Goal, Row
from .settings import MAIN_CONFIG, Settings
from .timing import interleaved, median_ratio

GOAL = Goal("<=", 1.0)
# Quick runs trace two patch sizes, not five: dynamo's tracing is most of their time, and
# tests/budget/test_compile.py counts the graphs over a whole space.
QUICK_SPACE = {"model.backbone.patch_sizes": [8, 16]}


def _step(model: torch.nn.Module, x: torch.Tensor) -> None:
    model(x, mode="tensor").float().mean().backward()


def _graphs_over_the_space(model: torch.nn.Module, x: torch.Tensor, backend: str
                           ) -> tuple[int, int, list[str]]:
    """(graphs compiled, their bound, compiled parts) over every choice in both modes."""
    torch._dynamo.reset()
    counters.clear()
    parts = compile_model(model, backend=backend)
    backbone = model.backbone
    for training in (True, False):
        model.train(training)
        for choice in backbone.space():
            backbone.activate(choice)
            with torch.set_grad_enabled(training):
                out = model(x, mode="tensor")
            if training:
                out.float().mean().backward()
    used = [part for part in parts if part != "auxiliary_head"]  # tensor mode skips it
    bound = sum(part_graphs_bound(getattr(model, part), backbone) for part in used)
    return counters["stats"]["unique_graphs"], bound, parts


def run(settings: Settings) -> list[Row]:
    backend = "eager" if settings.quick else "inductor"
    cfg, eager = build_config_model(
        MAIN_CONFIG, settings.options(MAIN_CONFIG, QUICK_SPACE if settings.quick else None),
        settings.device)
    batch = 2 if settings.quick else 16
    x = torch.randn(batch, 3, *default_image_hw(cfg), device=settings.device)
    rows = []
    for choice in ("p16",) if settings.quick else ("p16", "p4"):
        torch._dynamo.reset()
        compiled = copy.deepcopy(eager).train()
        compile_model(compiled, backend=backend, dynamic=False)
        eager.train()
        for model in (eager, compiled):
            model.backbone.activate(choice)
        began = time.perf_counter()
        _step(compiled, x)
        compile_s = time.perf_counter() - began
        times = interleaved(dict(eager=lambda: _step(eager, x),
                                 compiled=lambda: _step(compiled, x)),
                            settings.rounds_or(11), settings.warmup, f"CMP {choice}",
                            settings.show_progress)
        rows.append(Row("CMP", f"training step at {choice}, batch {batch}: compiled ({backend}) "
                        "/ eager", median_ratio(times, "compiled", "eager"), "x", GOAL,
                        f"first call (compiling) {compile_s:.0f} s",
                        dict(times_s=times, compile_s=compile_s, backend=backend)))
    graphs, bound, parts = _graphs_over_the_space(copy.deepcopy(eager), x, "eager")
    rows.append(Row("CMP", f"graphs compiled over {len(eager.backbone.space())} choices x "
                    "training/evaluation", graphs, "graphs", Goal("<=", bound, "graphs"),
                    f"{', '.join(parts)}; bound {bound}",
                    dict(graphs=graphs, bound=bound, parts=parts)))
    torch._dynamo.reset()
    return rows
