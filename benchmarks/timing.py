"""Interleaved timing: every round runs each side once, starting one further along the sides
each round, so drifts in machine load hit all sides alike and each round pairs them."""
from __future__ import annotations

import statistics
import sys
import time
from typing import Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import torch
from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], label: str, show: bool, total: int | None = None
             ) -> Iterator[T]:
    """``items`` with a progress bar on standard error (only on a terminal, and if ``show``)."""
    yield from tqdm(items, desc=label, total=total, disable=None if show else True,
                    leave=False, file=sys.stderr)


def synchronize() -> None:
    """Wait for queued GPU work, so a timer measures the work itself."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(run: Callable[[], object]) -> float:
    """Wall-clock seconds of ``run()``."""
    synchronize()
    began = time.perf_counter()
    run()
    synchronize()
    return time.perf_counter() - began


def interleaved(runs: Mapping[str, Callable[[], object]], rounds: int, warmup: int,
                label: str = "", show: bool = False) -> dict[str, list[float]]:
    """Seconds of every run in every round, after ``warmup`` untimed runs of each."""
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in progress(range(rounds), label, show):
        start = round_index % len(names)
        for name in names[start:] + names[:start]:
            times[name].append(timed(runs[name]))
    return times


def median_ratio(times: Mapping[str, Sequence[float]], name: str, reference: str) -> float:
    """Median over rounds of ``name``'s time / ``reference``'s time in the same round."""
    return statistics.median(a / b for a, b in zip(times[name], times[reference], strict=True))


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(min, median, max)."""
    return min(values), statistics.median(values), max(values)


def spread_text(values: Sequence[float], scale: float = 1.0, unit: str = "s") -> str:
    """'min/median/max unit' of ``values * scale``, three significant digits."""
    return "/".join(f"{v * scale:.3g}" for v in spread(values)) + f" {unit}"
