"""An open-loop load test of a server on this machine (loopback only) and its summary.

Requests arrive as a Poisson process at a fixed rate for a fixed time, whether or not earlier
ones were answered (a closed loop would slow down with the server and hide its overload).
Each request's latency runs from its scheduled arrival, so a client that fell behind counts
against the server, never for it. The run is bounded: at most ``max_requests`` requests, each
with a socket timeout, and only 127.0.0.1 is accepted as a target.

Summary per run: SLO attainment (the share of ALL requests answered within their deadline),
the share of answers that came late, refusals and the p99 latency of those refused at arrival
(from the scheduled arrival, so under load it includes the client's own delays), the mix of
choices, and the
effective metric:
the mean over all requests of the answering choice's metric, zero for a late, refused or
failed one (Clipper's "effective accuracy").
"""
from __future__ import annotations

import http.client
import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Mapping

import numpy as np

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """One request as the client saw it: HTTP status (0: no answer), the choice that answered,
    the latency from the scheduled arrival to the last byte, the deadline."""

    status: int
    choice: str | None
    latency_ms: float
    deadline_ms: float
    stage: str | None = None  # of a refusal: arrival, queue or late

    @property
    def on_time(self) -> bool:
        return self.status == 200 and self.latency_ms <= self.deadline_ms


def poisson_arrivals(rate: float, duration_s: float, seed: int = 0,
                     max_requests: int = 100_000) -> list[float]:
    """Arrival offsets in seconds: exponential gaps of mean 1/rate, up to ``duration_s``."""
    if rate <= 0 or duration_s <= 0:
        raise ValueError("rate and duration must be positive")
    generator = random.Random(seed)
    offsets, now = [], generator.expovariate(rate)
    while now < duration_s and len(offsets) < max_requests:
        offsets.append(now)
        now += generator.expovariate(rate)
    return offsets


def post_image(port: int, body: bytes, deadline_ms: float | None = None,
               content_type: str = "image/png", timeout_s: float = 10.0,
               query: str = "") -> tuple[int, dict]:
    """POST an image to ``/predict`` on 127.0.0.1: (status, JSON answer)."""
    path = "/predict"
    params = [f"deadline_ms={deadline_ms:g}"] if deadline_ms is not None else []
    params += [query] if query else []
    if params:
        path += "?" + "&".join(params)
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout_s)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        answer = json.loads(data)
    except ValueError:
        answer = {"error": data.decode("utf-8", "replace")}
    return response.status, answer


def run_load(port: int, body: bytes, rate: float, duration_s: float, deadline_ms: float,
             seed: int = 0, max_requests: int = 5_000, clients: int = 64,
             timeout_s: float = 5.0) -> list[Reply]:
    """Send ``body`` at Poisson arrivals of ``rate`` per second for ``duration_s`` seconds
    (module docstring); one reply per request, in arrival order."""
    arrivals = poisson_arrivals(rate, duration_s, seed, max_requests)
    replies: list[Reply | None] = [None] * len(arrivals)
    start = time.monotonic() + 0.05

    def send(index: int) -> None:
        scheduled = start + arrivals[index]
        try:
            status, answer = post_image(port, body, deadline_ms, timeout_s=timeout_s)
        except (OSError, http.client.HTTPException):
            status, answer = 0, {}
        replies[index] = Reply(status, answer.get("choice"),
                               1000 * (time.monotonic() - scheduled), deadline_ms,
                               answer.get("stage"))

    with ThreadPoolExecutor(clients, thread_name_prefix="load") as pool:
        for index, offset in enumerate(arrivals):
            delay = start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index)
    return [reply for reply in replies if reply is not None]


def summarize(replies: list[Reply], metric: Mapping[str, float]) -> dict:
    """SLO attainment, late and refused shares, choice mix and effective metric (module
    docstring) of one run."""
    count = len(replies)
    if not count:
        raise ValueError("no requests to summarize")
    on_time = [reply for reply in replies if reply.on_time]
    late = sum(reply.status == 200 and not reply.on_time for reply in replies)
    refused = sum(reply.status in (429, 503) for reply in replies)
    mix = Counter(reply.choice for reply in on_time)
    refusal_ms = [reply.latency_ms for reply in replies
                  if reply.status in (429, 503) and reply.stage == "arrival"]
    return dict(requests=count, slo_attainment=len(on_time) / count, late=late / count,
                refused=refused / count,
                refusal_p99_ms=float(np.percentile(refusal_ms, 99)) if refusal_ms else None,
                other=(count - len(on_time) - late - refused) / count,
                effective_metric=sum(metric[reply.choice] for reply in on_time) / count,
                mix={key: mix[key] / count for key in sorted(mix)})


def resident_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
