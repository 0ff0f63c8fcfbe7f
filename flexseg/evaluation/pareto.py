"""The cost-vs-quality Pareto front: the choices worth deploying at some budget."""
from __future__ import annotations

import math
from typing import Sequence


def pareto_front(points: Sequence[tuple[float, float]], higher_is_better: bool = True) -> list[int]:
    """Indices (by increasing cost) of the ``(cost, value)`` points no other point dominates.

    A point is dominated when another costs no more and is no worse, and is strictly cheaper
    or strictly better. Identical points do not dominate each other. Points with a NaN value
    (a metric that could not be computed) are never on the front and dominate nothing.
    """
    sign = 1.0 if higher_is_better else -1.0
    valid = [(i, cost, sign * value) for i, (cost, value) in enumerate(points)
             if not math.isnan(value)]

    def dominated(cost: float, score: float) -> bool:
        return any(c <= cost and s >= score and (c < cost or s > score) for _, c, s in valid)

    front = [(cost, i) for i, cost, score in valid if not dominated(cost, score)]
    return [i for _, i in sorted(front)]
