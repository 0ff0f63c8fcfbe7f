"""The one thread that runs the model, and the queue in front of it.

Requests are admitted under a lock: the controller sees the queue as it is (``backlog``),
decides, and the request joins the queue in the same step, so concurrent admissions never
promise the same free time twice. The worker takes requests in order and, just before running
one, asks the controller again with the time actually left (``at_most`` its admitted choice):
a request whose wait ran long moves to a cheaper choice, or is refused rather than answered
late. torch releases the GIL while it computes, so the HTTP side keeps answering meanwhile.

Calibration: a profile is measured once, but the machine's speed changes (other processes,
frequency scaling). The worker keeps the last runs' ratios of measured time to the profile's
median for that choice, and gives the controller ``max(profile p95, profile median x the 95th
percentile of those ratios)`` as each choice's p95: the profile still ranks the choices, the
recent runs say how fast the machine is now (the median ratio scales the medians). Ratios
are kept per choice (a busy machine adds time more than it multiplies it: cheap choices slow
down by larger factors), and a choice with fewer than ``min_runs`` recent runs uses those of
every choice. Recent means the last ``window`` runs of the last ``memory_s`` seconds, so one
stall cannot price every choice out for good (a server that refuses everything measures
nothing new); a 95th percentile needs ``min_runs`` runs, below that the median stands in.

Arrivals: every request is counted when it arrives (``admit``), refused or not; the rate over
the last second tells the controller whether the server is overloaded (``worth_offering``).
That needs a metric per choice (higher is better) to weigh answers: without one, every choice
stays on offer.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from .controller import Backlog, Decision, Option, decide
from .model import ServedModel


@dataclass
class Outcome:
    """What became of an admitted request: a label map at ``choice``, or a refusal/error
    (``labels`` is None and ``reason`` says why)."""

    choice: str | None
    labels: np.ndarray | None
    queue_ms: float
    model_ms: float = 0.0
    reason: str = ""
    queued: bool = True  # False: refused at admission, never queued


@dataclass
class Job:
    prepared: object
    choice: str
    estimate_ms: float  # the choice's p95 when admitted (what the queue counts it as)
    deadline: float  # time.monotonic() at which an answer is late
    done: Callable[[Outcome], None]  # called on the worker thread
    admitted: float = field(default_factory=time.monotonic)
    cancelled: bool = False  # the client went away: skip it


class ModelWorker:
    """A queue and one thread running ``model`` (module docstring). ``margin_ms`` is kept free
    of every deadline for the work around the model (encoding, sending the answer)."""

    def __init__(self, model: ServedModel, options: Sequence[Option],
                 margin_ms: float = 5.0, window: int = 100, memory_s: float = 10.0,
                 min_runs: int = 20, rate_window_s: float = 1.0) -> None:
        self.model = model
        self.weigh_overload = model.higher_is_better and all(
            choice.metric is not None for choice in model.choices)
        self._arrivals: collections.deque[float] = collections.deque()
        self.rate_window_s = rate_window_s
        self.profiled = list(options)
        self.options = list(options)
        self.margin_ms = margin_ms
        self._median = {choice.id: choice.median_ms for choice in model.choices}
        self._ratios: dict[str, collections.deque[tuple[float, float]]] = {
            option.id: collections.deque(maxlen=window) for option in self.profiled
        }  # per choice: (monotonic time, measured / profiled median)
        self.memory_s, self.min_runs = memory_s, min_runs
        self._queue: collections.deque[Job] = collections.deque()
        self._queued_ms = 0.0
        self._running: tuple[float, float] | None = None  # (p95 estimate, start)
        self._condition = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="flexseg-model", daemon=True)

    # ----------------------------------------------------------------- state
    def backlog(self) -> Backlog:
        with self._condition:
            return self._backlog()

    def _backlog(self) -> Backlog:
        running_left = 0.0
        if self._running is not None:
            estimate, began = self._running
            running_left = estimate - 1000 * (time.monotonic() - began)
        return Backlog(running_left, self._queued_ms)

    def _estimate(self, choice: str) -> float:
        return next(option.p95_ms for option in self.options if option.id == choice)

    def queued(self) -> int:
        with self._condition:
            return len(self._queue) + (self._running is not None)

    def time_left_ms(self, deadline: float) -> float:
        return 1000 * (deadline - time.monotonic()) - self.margin_ms

    def arrival_rate(self) -> float:
        """Requests per second over the last ``rate_window_s`` (0 when overload is not
        weighed)."""
        with self._condition:
            return self._arrival_rate()

    def _arrival_rate(self) -> float:
        if not self.weigh_overload:
            return 0.0
        horizon = time.monotonic() - self.rate_window_s
        while self._arrivals and self._arrivals[0] < horizon:
            self._arrivals.popleft()
        return len(self._arrivals) / self.rate_window_s

    def slowdown(self) -> float:
        """How much slower than profiled the choices run now (module docstring)."""
        with self._condition:
            return self._slowdown()

    def _recent_ratios(self, choice: str | None = None) -> list[float]:
        """Ratios of the recent runs of ``choice`` (None: of every choice)."""
        horizon = time.monotonic() - self.memory_s
        for runs in self._ratios.values():
            while runs and runs[0][0] < horizon:
                runs.popleft()
        keys = [choice] if choice is not None else list(self._ratios)
        return [ratio for key in keys for _, ratio in self._ratios[key]]

    def _scale(self, ratios: list[float]) -> float:
        if len(ratios) >= self.min_runs:
            return float(np.percentile(ratios, 95))
        return float(np.median(ratios)) if ratios else 1.0

    def _slowdown(self) -> float:
        return self._scale(self._recent_ratios())

    def _calibrate(self, choice: str | None = None, measured_ms: float = 0.0) -> None:
        """Record a run (if given) and re-derive every choice's p95 and median (module
        docstring); queued work keeps the estimates it was admitted with."""
        if choice is not None:
            self._ratios[choice].append((time.monotonic(), measured_ms / self._median[choice]))
        pooled = self._recent_ratios()
        options = []
        for option in self.profiled:
            own = self._recent_ratios(option.id)
            ratios = own if len(own) >= self.min_runs else pooled
            typical = float(np.median(ratios)) if ratios else 1.0
            median = self._median[option.id]
            options.append(replace(option, p95_ms=max(option.p95_ms,
                                                      median * self._scale(ratios)),
                                   median_ms=median * typical))
        self.options = options

    # ----------------------------------------------------------------- admission
    def admit(self, deadline: float) -> Decision:
        """Count an arrival; what the controller would decide now, without queueing (an early
        refusal before the upload is decoded)."""
        with self._condition:
            self._arrivals.append(time.monotonic())
            horizon = time.monotonic() - self.memory_s
            if any(runs and runs[0][0] < horizon for runs in self._ratios.values()):
                self._calibrate()  # runs have expired: back towards the profile
            return decide(self.options, self.time_left_ms(deadline), self._backlog(),
                          arrival_rate=self._arrival_rate())

    def submit(self, prepared: object, deadline: float,
               done: Callable[[Outcome], None]) -> tuple[Decision, Job | None]:
        """Decide and queue in one step; a refusal queues nothing."""
        with self._condition:
            if self._stopping:
                return Decision(None, "the server is shutting down"), None
            decision = decide(self.options, self.time_left_ms(deadline), self._backlog(),
                              arrival_rate=self._arrival_rate())
            if decision.choice is None:
                return decision, None
            job = Job(prepared, decision.choice, self._estimate(decision.choice), deadline,
                      done)
            self._queue.append(job)
            self._queued_ms += job.estimate_ms
            self._condition.notify()
            return decision, job

    # ----------------------------------------------------------------- running
    def start(self, rounds: int = 5) -> None:
        """Run every choice ``rounds`` times on a blank image, all but the first round (one-off
        costs) calibrating, then start the thread."""
        prepared = self.model.prepare(np.zeros((*self.model.input_hw, 3), np.uint8))
        for round_index in range(rounds):
            for option in self.profiled:
                began = time.monotonic()
                self.model.run(prepared, option.id)
                if round_index > 0:
                    with self._condition:
                        self._calibrate(option.id, 1000 * (time.monotonic() - began))
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Refuse new requests, finish (or refuse, by their deadlines) the queued ones, end
        the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _next(self) -> tuple[Job, Decision] | None:
        """The next job and the controller's second look at it (None: stopped and empty)."""
        with self._condition:
            while not self._queue and not self._stopping:
                self._condition.wait()
            if not self._queue:
                return None
            job = self._queue.popleft()
            self._queued_ms = max(self._queued_ms - job.estimate_ms, 0.0)
            if job.cancelled:
                return job, Decision(None, "the client went away")
            decision = decide(self.options, self.time_left_ms(job.deadline),
                              at_most=job.choice, arrival_rate=self._arrival_rate())
            if decision.choice is not None:
                self._running = (self._estimate(decision.choice), time.monotonic())
            return job, decision

    def _loop(self) -> None:
        while (item := self._next()) is not None:
            job, decision = item
            if job.cancelled:
                continue
            began = time.monotonic()
            queue_ms = 1000 * (began - job.admitted)
            if decision.choice is None:
                job.done(Outcome(None, None, queue_ms, reason=decision.reason))
                continue
            try:
                labels = self.model.run(job.prepared, decision.choice)
                outcome = Outcome(decision.choice, labels, queue_ms,
                                  1000 * (time.monotonic() - began))
            except Exception as error:  # the server answers 500 and keeps serving
                outcome = Outcome(decision.choice, None, queue_ms,
                                  reason=f"the model failed: {type(error).__name__}: {error}")
            finally:
                with self._condition:
                    self._running = None
                    self._calibrate(decision.choice, 1000 * (time.monotonic() - began))
            job.done(outcome)
