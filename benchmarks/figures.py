"""The benchmark's figures in the order they run, and the choice of a subset by id."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import (attention_only, autocast, compile, flexivit_timm, flops_count, gemm, latency_rank,
               memory, multibudget, parallel_blocks, preprocessing, pricing, shared_prefix,
               step_spread, train_step)
from .report import Row
from .settings import Settings


@dataclass(frozen=True)
class Figure:
    """``needs_data``: the figure reads DigitSeg from ``Settings.data_root``."""

    id: str
    title: str
    run: Callable[[Settings], list[Row]]
    needs_data: bool = False


FIGURES = (
    Figure("P1", "FlexiViT vs timm ViT, same weights, inference", flexivit_timm.run),
    Figure("P2", "training step vs MMSegmentation's ViT", train_step.run),
    Figure("P2s", "spread of training-step times, by cause", step_spread.run, True),
    Figure("P3a", "one multi-budget pass vs a test run per choice", multibudget.run, True),
    Figure("P3b", "shared-prefix evaluation vs a pass per route", shared_prefix.run),
    Figure("PRE", "preprocessing once per batch in the multi-budget loops", preprocessing.run,
           True),
    Figure("P4", "analytic vs counted FLOPs", flops_count.run),
    Figure("P5", "latency order vs GFLOPs order", latency_rank.run),
    Figure("P6", "backbone vs matmul multiply-adds per second", gemm.run),
    Figure("MEM", "training-step memory with and without checkpointing", memory.run),
    Figure("PRICE", "time to price the ADE20K stitched space", pricing.run),
    Figure("PAR", "parallel blocks vs their sequential twin, batch-1 latency",
           parallel_blocks.run),
    Figure("ATTN", "attention-only vs all-weights fine-tuning, training memory",
           attention_only.run),
    Figure("CMP", "torch.compile vs eager, training step; graphs per choice", compile.run),
    Figure("AMP", "bfloat16 autocast vs float32, training step", autocast.run),
)


def select_figures(only: str | None) -> list[Figure]:
    """The figures named in ``only`` ('P1,P3b'; case-insensitive), in run order; all if None."""
    if not only:
        return list(FIGURES)
    wanted = {name.strip().upper() for name in only.split(",") if name.strip()}
    known = {figure.id.upper() for figure in FIGURES}
    unknown = sorted(wanted - known)
    if unknown or not wanted:
        raise ValueError(f"unknown figure {', '.join(unknown) or repr(only)}; known: "
                         f"{', '.join(figure.id for figure in FIGURES)}")
    return [figure for figure in FIGURES if figure.id.upper() in wanted]
