"""Building blocks of a study's report: curves read from evaluations, tables, one figure."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from flexseg.evaluation.pareto import pareto_front
from flexseg.evaluation.results import load_results

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Point:
    """One evaluated choice of one model."""

    id: str
    gflops: float
    value: float


def read_points(path: str | Path, metric: str | None = None) -> dict[str, Point]:
    """Choice id -> point, from a multi-budget results JSON (default: its main metric)."""
    results = load_results(path)
    metric = metric or results.main_metric
    return {r.id: Point(r.id, r.gflops, r.metrics.get(metric, math.nan))
            for r in results.choices}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats with one decimal, None as an en dash (not measured yet)."""
    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def label_colors(panels: Sequence[Sequence[str]]) -> dict[str, tuple]:
    """A colour per curve label: the same in every panel it appears in, and distinct within
    each panel (the dark colours first, so small panels get strong ones)."""
    import matplotlib

    pairs = matplotlib.colormaps["tab20"].colors  # dark/light pairs
    palette = pairs[0::2] + pairs[1::2]
    colors: dict[str, tuple] = {}
    for labels in panels:
        used = {colors[label] for label in labels if label in colors}
        free = iter([color for color in palette if color not in used])
        for label in labels:
            if label not in colors:
                colors[label] = next(free, palette[len(colors) % len(palette)])
    return colors


def plot_panels(panels: Sequence[tuple[str, Mapping[str, Sequence[Point]]]], path: str | Path,
                ylabel: str, xlabel: str, fronts: Sequence[str] = (),
                emphasize: Sequence[str] = ()) -> "Figure":
    """One panel per (title, {curve label: points}); curves are drawn in GFLOPs order, a
    single-point curve as a square marker, GFLOPs on a log axis. In the panels titled in
    ``fronts`` (many choices at equal GFLOPs, e.g. stitching routes) every point is a marker
    and the line follows only the Pareto front, which a line through all points would hide.
    In a panel with a curve labelled in ``emphasize`` (the references and the winner among
    many), those are drawn bold and in front, the others thin and faded. A label keeps its
    colour in every panel."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(6.0 * len(panels), 4.8), dpi=150, layout="constrained")
    colors = label_colors([list(curves) for _, curves in panels])
    for index, (title, curves) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), index + 1)
        ax.set_title(title, fontsize=10)
        if not any(not math.isnan(p.value) for points in curves.values() for p in points):
            ax.text(0.5, 0.5, "not measured yet", ha="center", va="center", color="gray",
                    transform=ax.transAxes)
            ax.set_axis_off()
            continue
        faded = any(label in emphasize for label in curves)
        for label, points in curves.items():
            style = (dict(linewidth=2.6, zorder=3) if label in emphasize else
                     dict(linewidth=1.0, alpha=0.45) if faded else {})
            style["color"] = colors[label]
            points = sorted((p for p in points if not math.isnan(p.value)),
                            key=lambda p: p.gflops)
            if not points:
                continue
            if len(points) == 1:
                ax.plot(points[0].gflops, points[0].value, "s", markersize=8, label=label,
                        color=colors[label])
            elif title in fronts:
                front = [points[i] for i in pareto_front([(p.gflops, p.value) for p in points])]
                ax.plot([p.gflops for p in front], [p.value for p in front], "-",
                        label=f"{label} (front)", color=colors[label])
                ax.plot([p.gflops for p in points], [p.value for p in points], "o",
                        markersize=4, alpha=0.6, color=colors[label])
            else:
                ax.plot([p.gflops for p in points], [p.value for p in points], "-o",
                        markersize=5, label=label, **style)
        ax.set_xscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path)
    return fig
