"""A budget given as a choice id, a GFLOPs cap or a latency cap, resolved to one choice.

Caps reuse the multi-budget evaluation's rule (``evaluation.selection.select_choices``): among
the choices that fit, the best by a known metric (a results file, or the metric merged into a
latency profile), else the most expensive. A latency cap first keeps the choices whose measured
latency per call fits it (``LatencyProfile.within``), then applies that rule among them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from flexseg.budget.space import BudgetEntry, BudgetSpace
from flexseg.evaluation.results import ChoiceResult, MultiBudgetResults
from flexseg.evaluation.selection import ALL, ChoiceSpec, parse_budgets, select_choices
from flexseg.models.contract import Choice

from .latency import LatencyProfile


@dataclass(frozen=True)
class ProfiledChoice(Choice):
    """A choice known only by its id, as a latency profile names it."""

    choice_id: str

    @property
    def id(self) -> str:
        return self.choice_id


def profile_space(profile: LatencyProfile) -> BudgetSpace:
    """The profile's choices as a budget space (GFLOPs at the profile's shape), for choosing
    without building the model."""
    return BudgetSpace([BudgetEntry(ProfiledChoice(key), entry.gflops, math.nan, 0)
                        for key, entry in profile.choices.items()], profile.shape)


def check_profile_matches(profile: LatencyProfile, space: BudgetSpace) -> None:
    unknown = [key for key in profile.ids() if key not in space.ids()]
    if unknown:
        raise ValueError(f"the latency profile was measured on another model: it has "
                         f"{', '.join(unknown)}, which this model lacks (it has "
                         f"{', '.join(space.ids())})")


def profile_ranking(profile: LatencyProfile | None,
                    space: BudgetSpace) -> MultiBudgetResults | None:
    """The metric merged into ``profile`` as results that rank choices, if there is one."""
    merged = profile.metric_values() if profile is not None else None
    if merged is None:
        return None
    name, higher_is_better, values = merged
    rows = [ChoiceResult(e.id, e.gflops, e.backbone_gflops, e.params, {name: values[e.id]}, 0.0)
            for e in space if e.id in values]
    return MultiBudgetResults(space.image_hw, name, higher_is_better, rows)


def parse_latency_budgets(spec: str | float | Sequence[float]) -> list[float]:
    """Latency caps in ms from a number, a list or a comma-separated string."""
    try:
        return parse_budgets(spec)
    except ValueError:
        raise ValueError(f"latency budgets must be positive numbers of milliseconds (a number, "
                         f"a list, or a comma-separated string such as '20,40'), got "
                         f"{spec!r}") from None


def pick_by_gflops(space: BudgetSpace, gflops: float,
                   ranking: MultiBudgetResults | None = None) -> str:
    [budget] = parse_budgets([gflops])
    return select_choices(space, budgets=[budget], previous=ranking).budget_picks[budget]


def pick_by_latency(space: BudgetSpace, profile: LatencyProfile, latency_ms: float,
                    choices: ChoiceSpec = ALL,
                    ranking: MultiBudgetResults | None = None) -> str:
    """The choice for a latency cap among ``choices``: the best by ``ranking`` (else the
    profile's merged metric) among the fitting choices that have a metric, or the most
    expensive fitting choice when none has one."""
    [cap] = parse_latency_budgets([latency_ms])
    check_profile_matches(profile, space)
    fitting = profile.within(cap)
    requested = [entry.id for entry in select_choices(space, choices).entries]
    candidates = [key for key in fitting if key in requested]
    if not candidates:
        raise ValueError(f"none of the requested choices ({', '.join(requested)}) fits "
                         f"{cap:g} ms; within it: {', '.join(fitting)}")
    ranking = ranking if ranking is not None else profile_ranking(profile, space)
    if ranking is not None and not set(candidates) & set(ranking.ids()):
        ranking = None  # no fitting choice has a metric: rank by GFLOPs
    budget = max(space.get(key).gflops for key in candidates)
    selection = select_choices(space, candidates, budgets=[budget], previous=ranking)
    return selection.budget_picks[budget]


def pick_by_latencies(space: BudgetSpace, profile: LatencyProfile,
                      budgets_ms: str | float | Sequence[float], choices: ChoiceSpec = ALL,
                      ranking: MultiBudgetResults | None = None) -> dict[float, str]:
    """``{cap: choice id}`` for several latency caps (``pick_by_latency`` each)."""
    return {cap: pick_by_latency(space, profile, cap, choices, ranking)
            for cap in parse_latency_budgets(budgets_ms)}
