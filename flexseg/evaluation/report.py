"""Tables of a multi-budget evaluation: CSV and Markdown, and writing every output at once."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence

from flexseg.evaluation.plot import plot_pareto
from flexseg.evaluation.reference import ReferencePoint
from flexseg.evaluation.results import MultiBudgetResults

FIXED_COLUMNS = ("id", "gflops", "backbone_gflops", "params", "images_per_s", "pareto",
                 "budgets")


def _ordered_metrics(results: MultiBudgetResults) -> list[str]:
    """The main metric first, then the others in the evaluator's order."""
    names = results.metric_names()
    return [results.main_metric] + [n for n in names if n != results.main_metric]


def to_csv(results: MultiBudgetResults, path: str | os.PathLike) -> None:
    """One row per choice; budgets joined with ';'; metrics as extra columns."""
    metric_names = _ordered_metrics(results)
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*FIXED_COLUMNS, *metric_names])
        for r in results.choices:
            writer.writerow([r.id, r.gflops, r.backbone_gflops, r.params, r.images_per_s,
                             r.pareto, ";".join(f"{b:g}" for b in r.budgets),
                             *(r.metrics.get(name, "") for name in metric_names)])


def format_metric(value: float) -> str:
    """Two decimals; three below 1 (depth errors and ratios such as RMSE 0.513, d1 0.780)."""
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"


def to_markdown(results: MultiBudgetResults) -> str:
    """Choice, GFLOPs, params (M), metrics, img/s (and budgets if any), by GFLOPs."""
    metric_names = _ordered_metrics(results)
    with_budgets = any(r.budgets for r in results.choices)
    header = ["choice", "GFLOPs", "params (M)", *metric_names, "img/s"]
    if with_budgets:
        header.append("budgets (GFLOPs)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results.choices:
        metrics = [format_metric(r.metrics[n]) if n in r.metrics else "-" for n in metric_names]
        row = [r.id, f"{r.gflops:.4g}", f"{r.params / 1e6:.2f}", *metrics,
               f"{r.images_per_s:.1f}"]
        if with_budgets:
            row.append(", ".join(f"≤{b:g}" for b in r.budgets) or "")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_reports(results: MultiBudgetResults, out_dir: str | os.PathLike, stem: str,
                  reference: Sequence[ReferencePoint] = (),
                  plot_metrics: Sequence[str] | None = None) -> dict[str, Path]:
    """``stem``.json/.csv/.md/.png in ``out_dir`` (the plot has a panel per ``plot_metrics``
    entry, default the main metric); returns the paths by extension."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"{stem}.{ext}" for ext in ("json", "csv", "md", "png")}
    results.to_json(paths["json"])
    to_csv(results, paths["csv"])
    paths["md"].write_text(to_markdown(results) + "\n")
    plot_pareto(results, paths["png"], reference, plot_metrics)
    return paths
