"""A latency profile as a Markdown table and, with a merged metric, a latency-vs-metric plot.

The plot is the multi-budget evaluation's (``evaluation.plot``) with median latency on the x
axis: its front holds the choices no other choice beats on both latency and metric, the ones
worth deploying at some latency budget.
"""
from __future__ import annotations

from pathlib import Path

from flexseg.evaluation.pareto import pareto_front
from flexseg.evaluation.plot import CostAxis, plot_pareto
from flexseg.evaluation.report import format_metric
from flexseg.evaluation.results import ChoiceResult, MultiBudgetResults

from .latency import LatencyProfile


def describe_setting(profile: LatencyProfile) -> str:
    """'batch 1 at 64x64, torch on 2 threads (cpu)'."""
    fingerprint = profile.fingerprint
    threads = fingerprint.get("threads")
    return (f"batch {profile.batch} at {profile.shape[0]}x{profile.shape[1]}, "
            f"{fingerprint.get('backend')} on {threads} thread{'' if threads == 1 else 's'} "
            f"({fingerprint.get('device')})")


def latency_front(profile: LatencyProfile) -> list[str]:
    """Ids on the median-latency vs metric front (empty without a metric)."""
    merged = profile.metric_values()
    if merged is None:
        return []
    _, higher_is_better, values = merged
    ids = [key for key in profile.ids() if key in values]
    points = [(profile.choices[key].median_ms, values[key]) for key in ids]
    return [ids[i] for i in pareto_front(points, higher_is_better)]


def to_markdown(profile: LatencyProfile) -> str:
    """One row per choice by GFLOPs: latency, throughput, memory (and the metric, and whether
    the choice is on the latency front, when a metric was merged)."""
    merged = profile.metric_values()
    header = ["choice", "GFLOPs", "median ms", "p95 ms", "img/s", "peak MiB"]
    if merged:
        header += [merged[0], "latency front"]
    front = set(latency_front(profile))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in profile.ids():
        entry = profile.choices[key]
        row = [key, f"{entry.gflops:.4g}", f"{entry.median_ms:.2f}", f"{entry.p95_ms:.2f}",
               f"{entry.images_per_s:.1f}", f"{entry.peak_mem_mb:.3g}"]
        if merged:
            value = merged[2].get(key)
            row += [format_metric(value) if value is not None else "-",
                    "yes" if key in front else ""]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot_latency_front(profile: LatencyProfile, path: str | Path) -> None:
    """The merged metric against median latency, with its front (needs a merged metric)."""
    merged = profile.metric_values()
    if merged is None:
        raise ValueError("the plot needs a metric: merge a multi-budget results file "
                         "(--results multibudget_test.json)")
    name, higher_is_better, values = merged
    rows = [ChoiceResult(key, profile.choices[key].gflops, profile.choices[key].gflops, 0,
                         {name: values[key]}, profile.choices[key].images_per_s)
            for key in profile.ids() if key in values]
    results = MultiBudgetResults(tuple(profile.shape), name, higher_is_better, rows)
    axis = CostAxis({key: profile.choices[key].median_ms for key in values}, "latency",
                    f"median latency per call (ms), {describe_setting(profile)}")
    plot_pareto(results, path, cost_axis=axis)
