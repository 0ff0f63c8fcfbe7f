"""Which sub-network(s) a training iteration trains.

Every draw is a pure function of ``(seed, iteration)`` (a NumPy generator seeded with both), so
all ranks draw the same choice without communicating and a resumed run continues the exact
sequence of an uninterrupted one; a sampler keeps no state to save.

Strategies:

- ``uniform``: every choice equally often.
- ``ros``: SN-Netv2's resource-constrained sampling. The space is cut into GFLOPs groups; a
  group is drawn uniformly, then a choice inside it uniformly, so crowded cost ranges do not
  dominate training. ``ros_grouping='greedy'`` (default) is SN-Netv2's rule: walk the choices
  from the cheapest, and open a new group at the first choice more than ``gap`` GFLOPs above
  the current group's reference (its first choice; 0 for the first group, as the released
  code starts from 0). ``'bins'``: fixed-width bins ``[g_min + k * gap, g_min + (k + 1) * gap)``
  anchored at the cheapest choice.
- ``weighted``: probabilities proportional to user weights, one per choice id.
- ``sandwich``: the once-for-all / BigNAS rule: the largest and the smallest choice plus
  ``num_random`` distinct random choices strictly between them, trained together in one
  optimizer step.
- ``supervit``: SuperViT's step (its ``deit/engine.py``, ``get_training_sub_network``) over a
  space that varies in input resolution and keep rate only: (full resolution, keep 1),
  (full resolution, keep k), (a smaller resolution r, keep 1), (r, keep k'), with k, r, k'
  drawn uniformly (k and k' independently, below 1; r below the full resolution). With
  in-place distillation the two keep-1 choices train on the task loss and each following
  choice is distilled toward the one before it (``SuperViTSampler.targets``).

``min_gflops`` / ``max_gflops`` restrict the space first (inclusive). ``num_choices`` (uniform,
ros, weighted) trains that many distinct choices per iteration, drawn without replacement with
the strategy's probabilities, in one optimizer step.
"""
from __future__ import annotations

import abc
from typing import Mapping

import numpy as np

from flexseg.layers.checks import check_int, is_int, is_number

from .space import BudgetEntry, BudgetSpace

STRATEGIES = ("uniform", "ros", "weighted", "sandwich", "supervit")
ROS_GROUPINGS = ("greedy", "bins")
DEFAULT_NUM_RANDOM = 2  # BigNAS's sandwich: smallest, largest and two random children


class ChoiceSampler(abc.ABC):
    """Draws the entries an iteration trains from ``space``.

    ``targets`` (None: the distillation recipe's default) gives, per drawn position, the
    earlier position whose detached output that sub-network is distilled toward, or None for
    one trained on the task loss alone.
    """

    targets: tuple[int | None, ...] | None = None

    def __init__(self, space: BudgetSpace, seed: int) -> None:
        if not is_int(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.space = space
        self.seed = int(seed)

    def generator(self, iteration: int) -> np.random.Generator:
        """The random stream of one iteration, identical wherever and whenever it is made."""
        check_int("iteration", iteration, 0)
        return np.random.default_rng([self.seed, iteration])

    @abc.abstractmethod
    def draw(self, iteration: int) -> tuple[BudgetEntry, ...]:
        """The entries iteration ``iteration`` trains (one, except for the sandwich rule)."""


class CategoricalSampler(ChoiceSampler):
    """``num_choices`` distinct entries per iteration, drawn with fixed ``probabilities``
    (aligned with ``space``) without replacement."""

    def __init__(self, space: BudgetSpace, seed: int, probabilities: np.ndarray,
                 num_choices: int = 1) -> None:
        super().__init__(space, seed)
        self.probabilities = np.asarray(probabilities, dtype=float)
        possible = int(np.count_nonzero(self.probabilities))
        if not is_int(num_choices) or not 1 <= num_choices <= possible:
            raise ValueError(f"num_choices must be an integer from 1 to {possible} (the "
                             f"choices that can be drawn: {', '.join(space.ids())}), got "
                             f"{num_choices!r}")
        self.num_choices = int(num_choices)

    def draw(self, iteration: int) -> tuple[BudgetEntry, ...]:
        generator = self.generator(iteration)
        if self.num_choices == 1:  # keeps the draws of runs made before num_choices existed
            return (self.space[int(generator.choice(len(self.space), p=self.probabilities))],)
        indices = generator.choice(len(self.space), size=self.num_choices, replace=False,
                                   p=self.probabilities)
        return tuple(self.space[int(index)] for index in indices)


class SandwichSampler(ChoiceSampler):
    """Largest, smallest and ``num_random`` distinct choices between them, in that order."""

    def __init__(self, space: BudgetSpace, seed: int, num_random: int) -> None:
        super().__init__(space, seed)
        if not is_int(num_random) or num_random < 0:
            raise ValueError(f"num_random must be a non-negative integer, got {num_random!r}")
        self.num_random = num_random

    def draw(self, iteration: int) -> tuple[BudgetEntry, ...]:
        if len(self.space) == 1:
            return (self.space[0],)
        middle = self.space[1:-1]
        count = min(self.num_random, len(middle))
        picks = self.generator(iteration).choice(len(middle), size=count, replace=False)
        return (self.space[-1], self.space[0], *(middle[int(i)] for i in picks))


class SuperViTSampler(ChoiceSampler):
    """(full, keep 1), (full, k), (r, keep 1), (r, k'): SuperViT's four sub-networks per step.

    "Full" is the largest resolution of the space, "keep 1" its largest keep rate; k and k'
    are drawn independently from the smaller keep rates, r from the smaller resolutions,
    in SuperViT's order (k, r, k').
    """

    targets = (None, 0, None, 2)

    def __init__(self, space: BudgetSpace, seed: int) -> None:
        super().__init__(space, seed)
        self.by_factors: dict[tuple[float, float], BudgetEntry] = {}
        for entry in space:
            factors = (getattr(entry.choice, "resolution", None),
                       getattr(entry.choice, "keep_rate", None))
            if None in factors:
                raise ValueError(f"strategy 'supervit' needs choices with a resolution and a "
                                 f"keep rate (FlexiViT or StitchedViT), got {entry.id}")
            if factors in self.by_factors:
                raise ValueError(f"strategy 'supervit' needs a space varying only in "
                                 f"resolution and keep rate; {self.by_factors[factors].id} "
                                 f"and {entry.id} differ in something else (restrict "
                                 f"patch_sizes or the routes to one)")
            self.by_factors[factors] = entry
        self.resolutions = sorted({r for r, _ in self.by_factors}, reverse=True)
        self.keep_rates = sorted({k for _, k in self.by_factors}, reverse=True)
        if len(self.resolutions) < 2 or len(self.keep_rates) < 2:
            raise ValueError(f"strategy 'supervit' needs at least two resolutions and two keep "
                             f"rates, got resolutions {self.resolutions} and keep rates "
                             f"{self.keep_rates}")
        if len(self.by_factors) != len(self.resolutions) * len(self.keep_rates):
            raise ValueError("strategy 'supervit' needs every resolution with every keep rate "
                             f"(the GFLOPs limits left {', '.join(space.ids())})")

    def draw(self, iteration: int) -> tuple[BudgetEntry, ...]:
        generator = self.generator(iteration)
        full, one = self.resolutions[0], self.keep_rates[0]
        keep = self.keep_rates[1 + int(generator.integers(len(self.keep_rates) - 1))]
        smaller = self.resolutions[1 + int(generator.integers(len(self.resolutions) - 1))]
        keep_small = self.keep_rates[1 + int(generator.integers(len(self.keep_rates) - 1))]
        return tuple(self.by_factors[factors] for factors in
                     ((full, one), (full, keep), (smaller, one), (smaller, keep_small)))


def ros_groups(space: BudgetSpace, gap_gflops: float,
               grouping: str = "greedy") -> list[list[BudgetEntry]]:
    """The ROS groups of ``space``, cheapest first (module doc: 'greedy' or 'bins')."""
    if not is_number(gap_gflops) or gap_gflops <= 0:
        raise ValueError(f"gap_gflops must be a positive number, got {gap_gflops!r}")
    if grouping not in ROS_GROUPINGS:
        raise ValueError(f"ros_grouping must be one of {', '.join(ROS_GROUPINGS)}, got "
                         f"{grouping!r}")
    if grouping == "greedy":
        return _greedy_groups(space, gap_gflops)
    bins: dict[int, list[BudgetEntry]] = {}
    for entry in space:
        bins.setdefault(int((entry.gflops - space[0].gflops) // gap_gflops), []).append(entry)
    return [bins[key] for key in sorted(bins)]


def _greedy_groups(space: BudgetSpace, gap_gflops: float) -> list[list[BudgetEntry]]:
    """SN-Netv2's grouping: a new group when a choice exceeds the reference by more than gap."""
    groups: list[list[BudgetEntry]] = []
    current: list[BudgetEntry] = []
    reference = 0.0
    for entry in space:  # cheapest first
        if abs(entry.gflops - reference) > gap_gflops:
            if current:
                groups.append(current)
            current, reference = [entry], entry.gflops
        else:
            current.append(entry)
    if current:
        groups.append(current)
    return groups


def ros_probabilities(space: BudgetSpace, gap_gflops: float,
                      grouping: str = "greedy") -> np.ndarray:
    """P(choice) = 1 / (number of groups * size of its group)."""
    groups = ros_groups(space, gap_gflops, grouping)
    share = {entry.id: 1.0 / (len(groups) * len(group)) for group in groups for entry in group}
    return np.array([share[entry.id] for entry in space])


def weighted_probabilities(space: BudgetSpace, weights: Mapping[str, float]) -> np.ndarray:
    """Normalised ``weights``, which must name exactly the choices of ``space``."""
    ids = space.ids()
    if not isinstance(weights, Mapping):
        raise ValueError(f"weights must be a dict {{choice id: weight}} over {', '.join(ids)}, "
                         f"got {weights!r}")
    unknown = sorted(set(weights) - set(ids), key=str)
    missing = [i for i in ids if i not in weights]
    if unknown or missing:
        problems = ([f"unknown ids {', '.join(map(str, unknown))}"] if unknown else []) + \
                   ([f"no weight for {', '.join(missing)}"] if missing else [])
        raise ValueError(f"weights must give one weight per choice of the space "
                         f"({', '.join(ids)}): {'; '.join(problems)}")
    if not all(is_number(weights[i]) and weights[i] >= 0 for i in ids) or \
            sum(weights[i] for i in ids) <= 0:
        raise ValueError(f"weights must be finite, non-negative numbers, not all zero, got "
                         f"{dict(weights)}")
    values = np.array([float(weights[i]) for i in ids])
    return values / values.sum()


def build_sampler(space: BudgetSpace, strategy: str = "uniform", seed: int = 0, *,
                  gap_gflops: float | None = None, weights: Mapping[str, float] | None = None,
                  num_random: int | None = None, num_choices: int = 1,
                  ros_grouping: str | None = None,
                  min_gflops: float | None = None,
                  max_gflops: float | None = None) -> ChoiceSampler:
    """A sampler for ``strategy`` over ``space`` restricted to ``[min_gflops, max_gflops]``.

    ``gap_gflops`` is required by and only accepted with 'ros' (``ros_grouping`` too, default
    'greedy'), ``weights`` with 'weighted',
    ``num_random`` (default 2) with 'sandwich'; ``num_choices`` with all but 'sandwich' and
    'supervit'.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {strategy!r}; allowed: "
                         f"{', '.join(STRATEGIES)}")
    options = dict(gap_gflops=("ros", gap_gflops), ros_grouping=("ros", ros_grouping),
                   weights=("weighted", weights),
                   num_random=("sandwich", num_random))
    for name, (owner, value) in options.items():
        if value is not None and strategy != owner:
            raise ValueError(f"{name} applies only to strategy '{owner}', not '{strategy}'")
    if strategy in ("sandwich", "supervit") and num_choices != 1:
        raise ValueError(f"num_choices does not apply to strategy '{strategy}' (it draws its "
                         f"own sub-networks per step)")
    space = space.restrict(min_gflops, max_gflops)
    if strategy == "uniform":
        return CategoricalSampler(space, seed, np.full(len(space), 1.0 / len(space)),
                                  num_choices)
    if strategy == "ros":
        if gap_gflops is None:
            raise ValueError("strategy 'ros' needs gap_gflops (the width of its GFLOPs groups)")
        return CategoricalSampler(
            space, seed, ros_probabilities(space, gap_gflops, ros_grouping or "greedy"),
            num_choices)
    if strategy == "weighted":
        if weights is None:
            raise ValueError("strategy 'weighted' needs weights={choice id: weight}")
        return CategoricalSampler(space, seed, weighted_probabilities(space, weights),
                                  num_choices)
    if strategy == "supervit":
        return SuperViTSampler(space, seed)
    return SandwichSampler(space, seed, DEFAULT_NUM_RANDOM if num_random is None else num_random)
