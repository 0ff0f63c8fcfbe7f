"""What switching choice between calls costs an inferencer, measured in one process.

Two figures:

- the switch itself: ``select(budget=id)`` plus ``activate`` (what a call adds to pick and set
  its choice), microseconds per switch, median over many switches through every choice;
- whole calls: every round runs each choice twice in a row on the same preprocessed batch
  (``run_pinned``), the choices in a rotating order, so the first call of a choice follows
  another choice (switched) and the second repeats it (pinned). Per choice, the median over
  rounds of switched minus pinned; the figure is the largest of those medians as a share of the
  cheapest choice's pinned median. The outputs of both calls must be identical.

On a loaded machine the call figure carries the noise of two timings; the switch figure does
not, and bounds what switching can add to a call that derives nothing new (``warmup``).
"""
from __future__ import annotations

import statistics
import time

import torch

from .inferencer import FlexInferencer
from .measure import progress

SWITCHES_TIMED = 2000


def switch_cost_us(inferencer: FlexInferencer, switches: int = SWITCHES_TIMED) -> float:
    """Median microseconds of ``select`` + ``activate``, cycling through every choice."""
    ids = inferencer.choice_ids
    backbone = inferencer.backbone
    original = backbone.active_choice
    times = []
    for index in range(switches):
        began = time.perf_counter()
        backbone.activate(inferencer.select(budget=ids[index % len(ids)]))
        times.append(time.perf_counter() - began)
    backbone.activate(original)
    return 1e6 * statistics.median(times)


def call_costs(inferencer: FlexInferencer, batch: torch.Tensor, rounds: int = 30,
               warmup: int = 2) -> dict:
    """Per choice: pinned and switched median ms and the median of their per-round
    difference; whether every switched output equals its pinned one."""
    ids = inferencer.choice_ids
    pinned: dict[str, list[float]] = {key: [] for key in ids}
    switched: dict[str, list[float]] = {key: [] for key in ids}
    identical = True

    def timed(key: str) -> tuple[float, torch.Tensor]:
        began = time.perf_counter()
        output = inferencer.run_pinned(batch, key)
        return time.perf_counter() - began, output

    for _ in range(warmup):
        for key in ids:
            timed(key)
    for round_index in progress(range(rounds), "switched vs pinned calls"):
        start = round_index % len(ids)
        for key in ids[start:] + ids[:start]:
            first, first_output = timed(key)
            second, second_output = timed(key)
            switched[key].append(first)
            pinned[key].append(second)
            identical &= torch.equal(first_output, second_output)
    return dict(identical=identical, choices={key: dict(
        pinned_ms=1000 * statistics.median(pinned[key]),
        switched_ms=1000 * statistics.median(switched[key]),
        extra_ms=1000 * statistics.median(a - b for a, b in zip(switched[key], pinned[key])))
        for key in ids})


def switching_report(inferencer: FlexInferencer, batch: torch.Tensor,
                     rounds: int = 30) -> dict:
    """Both figures of the module docstring, relative to the cheapest choice's latency."""
    calls = call_costs(inferencer, batch, rounds)
    cheapest = calls["choices"][inferencer.choice_ids[0]]["pinned_ms"]
    switch_us = switch_cost_us(inferencer)
    largest_extra = max(entry["extra_ms"] for entry in calls["choices"].values())
    return dict(**calls, cheapest=inferencer.choice_ids[0], cheapest_ms=cheapest,
                switch_us=switch_us, switch_share=switch_us / 1000 / cheapest,
                largest_extra_ms=largest_extra, call_share=largest_extra / cheapest)
