"""Latency per call and peak memory, measured the way a latency profile needs them.

Latency: every round calls each choice once, starting one further along the choices each
round, so drifts in machine load hit all choices alike (and consecutive calls switch choice, as
a server's do). Per choice: the median and 95th percentile of its calls, and images/s at the
median.

Memory: what the calls need on top of what the process held before them: the peak resident
memory over a few calls minus the resident memory just before (after glibc returns what it can,
``malloc_trim``, and the kernel's peak is reset through ``/proc/self/clear_refs``); on a GPU,
the same with ``torch.cuda`` allocations. A ``setup`` made after that baseline (an ONNX Runtime
session) counts too. Where the peak cannot be reset (not Linux) it is the process's peak so far.
"""
from __future__ import annotations

import ctypes
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

import numpy as np
import torch
from tqdm import tqdm

T = TypeVar("T")
MB = 2 ** 20


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """``items`` with a progress bar on standard error when it is a terminal."""
    yield from tqdm(items, desc=label, total=total, disable=None, leave=False, file=sys.stderr)


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved_times(runs: Mapping[str, Callable[[], object]], rounds: int, warmup: int,
                      device: str = "cpu", label: str = "timing") -> dict[str, list[float]]:
    """Seconds of every call of every run, ``rounds`` calls each after ``warmup`` untimed
    ones, interleaved (module docstring)."""
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in progress(range(rounds), label):
        start = round_index % len(names)
        for name in names[start:] + names[:start]:
            _synchronize(device)
            began = time.perf_counter()
            runs[name]()
            _synchronize(device)
            times[name].append(time.perf_counter() - began)
    return times


def latency_summary(seconds: list[float], batch: int) -> dict[str, float]:
    """Median and p95 milliseconds per call, and images per second at the median."""
    median = statistics.median(seconds)
    return dict(median_ms=1000 * median, p95_ms=1000 * float(np.percentile(seconds, 95)),
                images_per_s=batch / median)


def _status_bytes(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return None


def _reset_peak(device: str) -> int:
    """Reset the peak; return the memory in use now."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not glibc/Linux: the peak stays the process's peak so far
    return _status_bytes("VmRSS") or 0


def _peak_bytes(device: str) -> int:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    peak = _status_bytes("VmHWM")
    if peak is None:  # ru_maxrss: kilobytes on Linux, bytes on macOS
        scale = 1 if sys.platform == "darwin" else 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return peak


def peak_memory_mb(run: Callable[[], object] | None = None, calls: int = 2,
                   device: str = "cpu",
                   setup: Callable[[], Callable[[], object]] | None = None) -> float:
    """MiB that ``calls`` calls of ``run`` (or of what ``setup()`` returns, setup included)
    need above the memory in use before them (module docstring)."""
    before = _reset_peak(device)
    if setup is not None:
        run = setup()
    for _ in range(calls):
        run()
    return max(_peak_bytes(device) - before, 0) / MB
