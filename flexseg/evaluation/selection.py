"""Which choices a multi-budget evaluation runs: all, the Pareto front, ids, or budgets.

Requested choices are the candidates; budgets then pick, for each budget, the best candidate
whose whole-model GFLOPs fit. "Best" is the highest (or lowest, for error metrics) value in a
previous evaluation's results when one is given, else simply the most expensive that fits.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

from flexseg.budget.space import BudgetEntry, BudgetSpace
from flexseg.evaluation.pareto import pareto_front
from flexseg.layers.checks import is_number
from flexseg.evaluation.results import MultiBudgetResults, is_higher_better

ALL = "all"
PARETO = "pareto"
ChoiceSpec = str | Sequence[str]


@dataclass(frozen=True)
class Selection:
    """Choices to evaluate (sorted by GFLOPs) and the choice picked for each budget."""

    entries: list[BudgetEntry]
    budget_picks: dict[float, str] = field(default_factory=dict)

    def budgets_of(self, choice_id: str) -> list[float]:
        return [budget for budget, picked in self.budget_picks.items() if picked == choice_id]


def describe(entries: Sequence[BudgetEntry]) -> str:
    """``p16 (0.4213 GFLOPs), p8 (1.6 GFLOPs)``: what error messages list as available."""
    return ", ".join(f"{entry.id} ({entry.gflops:.4g} GFLOPs)" for entry in entries)


def parse_choices(spec: ChoiceSpec) -> str | list[str]:
    """'all', 'pareto', or a list of ids (from a list or a comma-separated string)."""
    if isinstance(spec, str):
        if spec.strip() in (ALL, PARETO):
            return spec.strip()
        spec = spec.split(",")
    elif isinstance(spec, dict) or not isinstance(spec, Sequence):
        raise ValueError(f"choices must be '{ALL}', '{PARETO}' or choice ids (a list, or a "
                         f"comma-separated string such as 'p8,p16'), got {spec!r}")
    ids = [str(item).strip() for item in spec if str(item).strip()]
    if not ids:
        raise ValueError(f"no choice given; use '{ALL}', '{PARETO}' or ids such as p8,p16")
    return list(dict.fromkeys(ids))


def _budget(item: object) -> float:
    """One budget in GFLOPs: a positive, finite number, or a string holding one."""
    try:
        value = float(item) if isinstance(item, str) or is_number(item) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"budgets must be positive numbers of GFLOPs (a number, a list, or a "
                         f"comma-separated string such as '5,10,20'), got {item!r}")
    return value


def parse_budgets(spec: str | float | Sequence[float] | None) -> list[float] | None:
    """Budgets in GFLOPs from a number, a list or a comma-separated string (None: no budgets)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        items = [item.strip() for item in spec.split(",") if item.strip()]
    elif isinstance(spec, Sequence):
        items = list(spec)
    else:
        items = [spec]
    if not items:
        raise ValueError(f"budgets must be positive numbers of GFLOPs, got {spec!r}")
    return sorted(dict.fromkeys(_budget(item) for item in items))


def check_results_match(previous: MultiBudgetResults, space: BudgetSpace) -> None:
    """A results file must come from a model with the same space (ids it has, metric it ranks)."""
    unknown = [choice_id for choice_id in previous.ids() if choice_id not in space.ids()]
    if unknown:
        raise ValueError(f"the results file does not match the model: it has choices "
                         f"{', '.join(unknown)} that the model lacks; available: "
                         f"{describe(space)}")


def _requested(space: BudgetSpace, choices: str | list[str],
               previous: MultiBudgetResults | None, metric: str,
               higher_is_better: bool) -> list[BudgetEntry]:
    if choices == ALL:
        return list(space)
    if choices == PARETO:
        if previous is None:
            warnings.warn("choices='pareto' needs the results of a previous evaluation "
                          "(results file); evaluating all choices instead", stacklevel=3)
            return list(space)
        points = [(space.get(r.id).gflops, _value(r.metrics, metric, r.id))
                  for r in previous.choices]
        on_front = {previous.choices[i].id for i in pareto_front(points, higher_is_better)}
        return [entry for entry in space if entry.id in on_front]
    unknown = [choice_id for choice_id in choices if choice_id not in space.ids()]
    if unknown:
        raise ValueError(f"unknown choice(s) {', '.join(unknown)}; available: {describe(space)}")
    return sorted((space.get(choice_id) for choice_id in choices), key=lambda e: e.gflops)


def _value(metrics: dict[str, float], metric: str, choice_id: str) -> float:
    if metric not in metrics:
        raise ValueError(f"the results file has no {metric!r} for {choice_id}; it has "
                         f"{', '.join(metrics) or 'no metrics'}")
    return metrics[metric]


def _pick(budget: float, candidates: BudgetSpace, previous: MultiBudgetResults | None,
          metric: str, higher_is_better: bool) -> BudgetEntry:
    try:
        largest = candidates.largest(max_gflops=budget)
    except ValueError:
        raise ValueError(f"budget {budget:g} GFLOPs is below the cheapest choice; available: "
                         f"{describe(candidates)}") from None
    if previous is None:
        return largest
    fitting = candidates.restrict(max_gflops=budget)
    evaluated = [entry for entry in fitting if entry.id in previous.ids()]
    if not evaluated:
        raise ValueError(f"no choice under {budget:g} GFLOPs ({describe(fitting)}) was "
                         f"evaluated in the results file, which has {', '.join(previous.ids())}")
    sign = 1.0 if higher_is_better else -1.0
    # Best value; among equals, the cheaper one.
    return max(evaluated, key=lambda e: (sign * _value(previous.get(e.id).metrics, metric, e.id),
                                         -e.gflops))


def select_choices(space: BudgetSpace, choices: ChoiceSpec = ALL,
                   budgets: str | float | Sequence[float] | None = None,
                   previous: MultiBudgetResults | None = None, metric: str | None = None,
                   higher_is_better: bool | None = None) -> Selection:
    """Resolve requested choices and budgets to the entries to evaluate.

    ``metric``/``higher_is_better`` rank the previous results (default: the file's own).
    Raises ValueError, listing the available ids with their GFLOPs, for unknown ids, budgets
    below the cheapest candidate and results files from another model.
    """
    choices = parse_choices(choices)
    budgets = parse_budgets(budgets)
    if previous is not None:
        check_results_match(previous, space)
        if metric in (None, previous.main_metric):
            metric = previous.main_metric
            if higher_is_better is None:
                higher_is_better = previous.higher_is_better
    if higher_is_better is None:
        higher_is_better = is_higher_better(metric) if metric else True
    candidates = _requested(space, choices, previous, metric, higher_is_better)
    if not budgets:
        return Selection(candidates)
    within = BudgetSpace(candidates, space.image_hw)
    picks = {budget: _pick(budget, within, previous, metric, higher_is_better)
             for budget in budgets}
    entries = sorted({entry.id: entry for entry in picks.values()}.values(),
                     key=lambda entry: entry.gflops)
    return Selection(entries, {budget: entry.id for budget, entry in picks.items()})

