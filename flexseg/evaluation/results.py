"""What a multi-budget evaluation found, per choice, and its JSON file.

The JSON file is both an output (one row per evaluated choice) and an input: a later run reads
it to pick choices on the Pareto front or the best choice under a budget.
"""
from __future__ import annotations

import json
import numbers
import os
from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np

from flexseg.evaluation.pareto import pareto_front

# Metrics preferred as "the" metric when the config names none, in order.
PREFERRED_METRICS = ("mIoU", "coco/bbox_mAP", "coco/segm_mAP", "mDice", "d1")
# Substrings of metric names for which lower is better (errors and losses).
LOWER_IS_BETTER = ("loss", "rmse", "abs_rel", "sq_rel", "log10", "silog")
FORMAT_VERSION = 1


def default_main_metric(names: list[str]) -> str:
    """The metric ranked and plotted when none is configured."""
    if not names:
        raise ValueError("the evaluator returned no numeric metric")
    return next((name for name in PREFERRED_METRICS if name in names), names[0])


def is_higher_better(metric: str) -> bool:
    return not any(part in metric.lower() for part in LOWER_IS_BETTER)


def _plain_float(value: numbers.Real) -> float:
    """NumPy floats via their shortest decimal form: float32 0.39 stays 0.39, not
    0.38999998569488525 (float64 values are unchanged)."""
    return float(str(value)) if isinstance(value, np.floating) else float(value)


def numeric_metrics(metrics: Mapping[str, object]) -> dict[str, float]:
    """The scalar entries of an evaluator's result, as plain floats (JSON/CSV-ready)."""
    return {name: _plain_float(value) for name, value in metrics.items()
            if isinstance(value, numbers.Real) and not isinstance(value, bool)}


@dataclass
class ChoiceResult:
    """One evaluated choice. ``images_per_s`` counts only the time of its own forward passes
    (summed over ranks: the speed of one process); ``budgets`` are the requested budgets
    (GFLOPs) this choice was picked for."""

    id: str
    gflops: float
    backbone_gflops: float
    params: int
    metrics: dict[str, float]
    images_per_s: float
    budgets: list[float] = field(default_factory=list)
    pareto: bool = False


@dataclass
class MultiBudgetResults:
    """All evaluated choices (sorted by GFLOPs) and how they are ranked."""

    image_hw: tuple[int, int]
    main_metric: str
    higher_is_better: bool
    choices: list[ChoiceResult]

    def ids(self) -> list[str]:
        return [result.id for result in self.choices]

    def get(self, choice_id: str) -> ChoiceResult:
        for result in self.choices:
            if result.id == choice_id:
                return result
        raise ValueError(f"choice {choice_id!r} is not in these results; they hold "
                         f"{', '.join(self.ids())}")

    def higher_is_better_for(self, metric: str) -> bool:
        """The configured direction for the main metric; the name's for any other metric."""
        return self.higher_is_better if metric == self.main_metric else is_higher_better(metric)

    def front(self, metric: str) -> list[str]:
        """Ids on the Pareto front of ``metric`` against GFLOPs, in that metric's direction."""
        rows = [r for r in self.choices if metric in r.metrics]
        points = [(r.gflops, r.metrics[metric]) for r in rows]
        return [rows[i].id for i in pareto_front(points, self.higher_is_better_for(metric))]

    def metric_names(self) -> list[str]:
        """Every metric name, in first-seen order."""
        return list(dict.fromkeys(name for r in self.choices for name in r.metrics))

    def to_json(self, path: str | os.PathLike) -> None:
        document = dict(format_version=FORMAT_VERSION, **asdict(self))
        with open(path, "w") as file:
            json.dump(document, file, indent=2)


def load_results(path: str | os.PathLike) -> MultiBudgetResults:
    """Read a results file written by ``MultiBudgetResults.to_json``."""
    with open(path) as file:
        try:
            document = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not a JSON file: {error}") from error
    required = ("image_hw", "main_metric", "higher_is_better", "choices")
    if not isinstance(document, dict) or any(key not in document for key in required):
        raise ValueError(f"{path} is not a multi-budget results file (it needs the keys "
                         f"{', '.join(required)})")
    try:
        choices = [ChoiceResult(**row) for row in document["choices"]]
    except TypeError as error:
        raise ValueError(f"{path}: a choice row is malformed: {error}") from error
    return MultiBudgetResults(tuple(document["image_hw"]), document["main_metric"],
                              bool(document["higher_is_better"]),
                              sorted(choices, key=lambda r: r.gflops))
