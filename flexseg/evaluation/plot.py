"""Metrics against GFLOPs, each with its own Pareto front, labelled choices and baselines.

One panel per plotted metric (default: the main one). Each panel's front and axis label follow
that metric's direction: higher is better for mIoU, AP and d1; lower for RMSE, AbsRel and other
errors. A ``CostAxis`` puts another cost on the x axis (measured latency), with the front taken
against that cost.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

from flexseg.evaluation.pareto import pareto_front
from flexseg.evaluation.reference import ReferencePoint
from flexseg.evaluation.results import MultiBudgetResults

# Spread beyond which GFLOPs are drawn on a log axis (e.g. patch 8 vs 32: 16x).
LOG_AXIS_SPREAD = 8.0
PANEL_SIZE = (6.4, 4.6)


@dataclass(frozen=True)
class CostAxis:
    """A cost per choice id drawn instead of GFLOPs: ``name`` for the title (``latency``),
    ``label`` for the axis."""

    values: Mapping[str, float]
    name: str
    label: str


def _label(ax, text: str, x: float, y: float, color: str) -> None:
    ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8,
                color=color)


def _panel(ax, results: MultiBudgetResults, metric: str,
           reference: Sequence[ReferencePoint], cost_axis: CostAxis | None = None) -> None:
    """Draw ``metric`` vs GFLOPs (or ``cost_axis``) with its front on ``ax``."""
    from matplotlib.ticker import FuncFormatter

    def cost(r) -> float:
        return r.gflops if cost_axis is None else cost_axis.values[r.id]

    rows = sorted((r for r in results.choices
                   if metric in r.metrics and not math.isnan(r.metrics[metric])
                   and (cost_axis is None or r.id in cost_axis.values)), key=cost)
    on_front = {rows[i].id for i in pareto_front([(cost(r), r.metrics[metric]) for r in rows],
                                                 results.higher_is_better_for(metric))}
    if cost_axis is not None:
        reference = []  # baselines are known by their GFLOPs only
    shown_reference = [p for p in reference if metric in p.metrics]
    if len(shown_reference) < len(reference):
        warnings.warn(f"reference points without {metric!r} are not drawn: "
                      f"{', '.join(p.name for p in reference if metric not in p.metrics)}")
    off_front = [r for r in rows if r.id not in on_front]
    front = [r for r in rows if r.id in on_front]
    if off_front:
        ax.scatter([cost(r) for r in off_front], [r.metrics[metric] for r in off_front],
                   color="tab:gray", zorder=3, label="choice off the front")
    ax.plot([cost(r) for r in front], [r.metrics[metric] for r in front], "-o",
            color="tab:blue", zorder=4, label="Pareto front")
    for r in rows:
        _label(ax, r.id, cost(r), r.metrics[metric],
               "tab:blue" if r.id in on_front else "dimgray")
    if shown_reference:
        ax.scatter([p.gflops for p in shown_reference],
                   [p.metrics[metric] for p in shown_reference],
                   marker="s", color="tab:orange", zorder=4, label="reference")
        for p in shown_reference:
            _label(ax, p.name, p.gflops, p.metrics[metric], "tab:orange")
    budgets = sorted({b for r in results.choices for b in r.budgets}) if cost_axis is None else []
    for index, budget in enumerate(budgets):
        ax.axvline(budget, linestyle=":", linewidth=1, color="tab:green",
                   label="budget" if index == 0 else None)
        ax.annotate(f"≤{budget:g}", (budget, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -10), textcoords="offset points", fontsize=7,
                    color="tab:green")
    costs = [cost(r) for r in rows] + [p.gflops for p in shown_reference] + budgets
    if costs and min(costs) > 0 and max(costs) / min(costs) > LOG_AXIS_SPREAD:
        ax.set_xscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
    ax.margins(x=0.08, y=0.1)
    height, width = results.image_hw
    ax.set_xlabel(f"GFLOPs per {height}x{width} image (multiply-adds)" if cost_axis is None
                  else cost_axis.label)
    direction = "higher" if results.higher_is_better_for(metric) else "lower"
    ax.set_ylabel(f"{metric} ({direction} is better)")
    ax.set_title(f"{metric} vs {'GFLOPs' if cost_axis is None else cost_axis.name}: "
                 f"{len(rows)} sub-networks of one model")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)


def plot_pareto(results: MultiBudgetResults, path: str | os.PathLike,
                reference: Sequence[ReferencePoint] = (),
                metrics: Sequence[str] | None = None, cost_axis: CostAxis | None = None) -> None:
    """Write a PNG (Agg renderer, no display needed) with one panel per metric in ``metrics``
    (default: the main metric), against GFLOPs or ``cost_axis``."""
    from matplotlib.figure import Figure

    metrics = list(metrics or [results.main_metric])
    missing = [m for m in metrics if m not in results.metric_names()]
    if missing:
        raise ValueError(f"cannot plot {', '.join(missing)}: the results hold "
                         f"{', '.join(results.metric_names())}")
    fig = Figure(figsize=(PANEL_SIZE[0] * len(metrics), PANEL_SIZE[1]), dpi=150,
                 layout="constrained")
    for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics):
        _panel(ax, results, metric, reference, cost_axis)
    fig.savefig(path)
