"""The main metric against GFLOPs, with the Pareto front, labelled choices and baselines."""
from __future__ import annotations

import math
import os
import warnings
from typing import Sequence

from flexseg.evaluation.reference import ReferencePoint
from flexseg.evaluation.results import MultiBudgetResults

# Spread beyond which GFLOPs are drawn on a log axis (e.g. patch 8 vs 32: 16x).
LOG_AXIS_SPREAD = 8.0


def _label(ax, text: str, x: float, y: float, color: str) -> None:
    ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8,
                color=color)


def plot_pareto(results: MultiBudgetResults, path: str | os.PathLike,
                reference: Sequence[ReferencePoint] = ()) -> None:
    """Write a PNG (Agg renderer, no display needed)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    metric = results.main_metric
    rows = [r for r in results.choices
            if metric in r.metrics and not math.isnan(r.metrics[metric])]
    shown_reference = [p for p in reference if metric in p.metrics]
    if len(shown_reference) < len(reference):
        warnings.warn(f"reference points without {metric!r} are not drawn: "
                      f"{', '.join(p.name for p in reference if metric not in p.metrics)}")
    fig = Figure(figsize=(6.4, 4.6), dpi=150, layout="constrained")
    ax = fig.add_subplot()
    off_front = [r for r in rows if not r.pareto]
    front = [r for r in rows if r.pareto]
    if off_front:
        ax.scatter([r.gflops for r in off_front], [r.metrics[metric] for r in off_front],
                   color="tab:gray", zorder=3, label="choice off the front")
    ax.plot([r.gflops for r in front], [r.metrics[metric] for r in front], "-o",
            color="tab:blue", zorder=4, label="Pareto front")
    for r in rows:
        _label(ax, r.id, r.gflops, r.metrics[metric], "tab:blue" if r.pareto else "dimgray")
    if shown_reference:
        ax.scatter([p.gflops for p in shown_reference],
                   [p.metrics[metric] for p in shown_reference],
                   marker="s", color="tab:orange", zorder=4, label="reference")
        for p in shown_reference:
            _label(ax, p.name, p.gflops, p.metrics[metric], "tab:orange")
    budgets = sorted({b for r in results.choices for b in r.budgets})
    for index, budget in enumerate(budgets):
        ax.axvline(budget, linestyle=":", linewidth=1, color="tab:green",
                   label="budget" if index == 0 else None)
        ax.annotate(f"≤{budget:g}", (budget, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -10), textcoords="offset points", fontsize=7,
                    color="tab:green")
    costs = [r.gflops for r in rows] + [p.gflops for p in shown_reference] + budgets
    if costs and min(costs) > 0 and max(costs) / min(costs) > LOG_AXIS_SPREAD:
        ax.set_xscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
    ax.margins(x=0.08, y=0.1)
    height, width = results.image_hw
    ax.set_xlabel(f"GFLOPs per {height}x{width} image (multiply-adds)")
    direction = "higher" if results.higher_is_better else "lower"
    ax.set_ylabel(f"{metric} ({direction} is better)")
    ax.set_title(f"{metric} vs GFLOPs: {len(rows)} sub-networks of one model")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    fig.savefig(path)
