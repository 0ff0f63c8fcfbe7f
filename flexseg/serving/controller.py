"""Which choice a request gets: a pure function of the model's measured choices, the time the
request has left and the work queued ahead of it.

One model worker runs requests one after another, so a request that joins the queue starts
when the work ahead of it is done. The controller gives it the most accurate choice whose p95
latency fits what is left of its deadline after that wait; when not even the fastest choice
fits, the request is refused at once (a refusal costs the client nothing but a retry, a late
answer costs it the deadline). Using p95 rather than the median keeps the promise for about 19
calls in 20 even when every estimate ahead of it runs long; the worker checks again just
before running (``decide`` with ``at_most``), so a request whose wait ran long is moved to a
cheaper choice or refused rather than answered late.

Overload: an answer from a cheap choice is not free when requests are waiting: its run delays
every request behind it. What a busy server should maximise is the metric it delivers per
millisecond of model time. So when requests arrive faster than the server could answer them
even with its most efficient choice (the highest metric per median millisecond), only choices
at least that accurate are offered: a request that only a cheaper, less efficient choice could
still make is refused, and its model time goes to answers worth more. Below that load every
choice is offered, and cheap choices absorb bursts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Option:
    """A choice as the controller sees it: its p95 and median latency per call and its
    quality (higher is better; the metric, oriented, or the GFLOPs when no metric was
    measured)."""

    id: str
    p95_ms: float
    quality: float
    median_ms: float | None = None  # None: the p95

    @property
    def cost_ms(self) -> float:
        return self.p95_ms if self.median_ms is None else self.median_ms


@dataclass(frozen=True)
class Backlog:
    """Work the model worker has before a new request's run can start, in p95 milliseconds:
    what is left of the run in progress and the runs queued behind it."""

    running_left_ms: float = 0.0
    queued_ms: float = 0.0

    @property
    def wait_ms(self) -> float:
        return max(self.running_left_ms, 0.0) + self.queued_ms


@dataclass(frozen=True)
class Decision:
    """The choice to run (``None``: refuse) and why, in one line a client can read."""

    choice: str | None
    reason: str


def by_quality(options: Sequence[Option]) -> tuple[Option, ...]:
    """Options best first; among equals, the faster first."""
    return tuple(sorted(options, key=lambda option: (-option.quality, option.p95_ms)))


def most_efficient(options: Sequence[Option]) -> Option:
    """The option with the highest quality per median millisecond (quality must be > 0)."""
    return max(options, key=lambda option: (option.quality / option.cost_ms, option.quality))


def worth_offering(options: Sequence[Option], arrival_rate: float) -> list[Option]:
    """All options, or under overload (``arrival_rate`` per second at least what the most
    efficient option can serve) only those at least as accurate as it (module docstring).
    Qualities that are not all positive (a lower-is-better metric) cannot be compared per
    millisecond: all options are kept."""
    if not options or arrival_rate <= 0 or min(o.quality for o in options) <= 0:
        return list(options)
    efficient = most_efficient(options)
    if arrival_rate * efficient.cost_ms / 1000 < 1:
        return list(options)
    return [option for option in options if option.quality >= efficient.quality]


def decide(options: Sequence[Option], time_left_ms: float, backlog: Backlog = Backlog(),
           at_most: str | None = None, arrival_rate: float = 0.0) -> Decision:
    """The most accurate option whose p95 latency plus the backlog's wait fits in
    ``time_left_ms`` (the request's deadline minus the time it has spent and the server's
    margin); ``at_most`` keeps only options no slower than that one (a queued request may be
    moved to a cheaper choice, never a dearer one: requests behind it were promised its
    cost); ``arrival_rate`` (requests per second) drops options not worth their model time
    under overload (``worth_offering``). No option fits: refuse."""
    if not options:
        raise ValueError("the controller needs at least one choice")
    offered = worth_offering(options, arrival_rate)
    allowed = offered
    if at_most is not None:
        ceiling = next(option.p95_ms for option in options if option.id == at_most)
        allowed = [option for option in allowed if option.p95_ms <= ceiling]
    wait = backlog.wait_ms
    for option in by_quality(allowed):
        if wait + option.p95_ms <= time_left_ms:
            return Decision(option.id, f"{option.id}: p95 {option.p95_ms:.1f} ms after "
                                       f"{wait:.1f} ms of queue fits {time_left_ms:.1f} ms")
    if not allowed:  # only under overload with a cheap admitted choice
        return Decision(None, "overloaded: no choice worth its model time fits")
    fastest = min(allowed, key=lambda option: option.p95_ms)
    overloaded = " (overloaded: cheaper choices withheld)" if len(offered) < len(options) else ""
    return Decision(None, f"deadline cannot be met: {time_left_ms:.1f} ms left, the fastest "
                          f"choice {fastest.id} needs p95 {fastest.p95_ms:.1f} ms after "
                          f"{wait:.1f} ms of queue{overloaded}")
