"""A latency profile: how fast every choice of one model runs on one machine, as JSON.

GFLOPs rank the choices but do not say how many milliseconds a call takes on the user's
hardware, which is what a latency budget is about. ``tools/profile_latency.py`` measures every
choice (median and p95 per call of a batch, images/s, peak resident memory) and writes this
file, with a fingerprint of where it was measured: a profile read elsewhere (another CPU, other
thread counts, another library version) warns, naming each difference.

File layout::

    {"fingerprint": {"machine": ..., "cpu": ..., "cores": N, "threads": N, "device": "cpu",
                     "backend": "torch" | "onnxruntime", "torch": ..., ...},
     "batch": N, "shape": [H, W],
     "choices": {"p8": {"median_ms": ..., "p95_ms": ..., "images_per_s": ...,
                        "peak_mem_mb": ..., "gflops": ...}, ...},
     "metric": {"name": "mIoU", "higher_is_better": true, "values": {"p8": 64.1, ...}} | null}
"""
from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from flexseg.layers.size import Size2d

BACKENDS = ("torch", "onnxruntime")
STATISTICS = ("median_ms", "p95_ms")
# Fingerprint entries that describe the run rather than the machine: compared like the others,
# but named first in warnings because they are the ones a user can change.
RUN_SETTINGS = ("backend", "threads", "device")


@dataclass
class ChoiceLatency:
    """One choice measured: per call of a ``batch`` at ``shape``."""

    median_ms: float
    p95_ms: float
    images_per_s: float
    peak_mem_mb: float
    gflops: float


@dataclass
class LatencyProfile:
    fingerprint: dict
    batch: int
    shape: Size2d
    choices: dict[str, ChoiceLatency]
    metric: dict | None = field(default=None)

    # ----------------------------------------------------------------- files
    @classmethod
    def load(cls, path: str | os.PathLike) -> LatencyProfile:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"latency profile not found: {path}")
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not a JSON file: {error}") from None
        required = ("fingerprint", "batch", "shape", "choices")
        if not isinstance(document, dict) or any(key not in document for key in required):
            raise ValueError(f"{path} is not a latency profile (it needs the keys "
                             f"{', '.join(required)}; tools/profile_latency.py writes one)")
        try:
            choices = {key: ChoiceLatency(**row) for key, row in document["choices"].items()}
        except TypeError as error:
            raise ValueError(f"{path}: a choice row is malformed: {error}") from None
        if not choices:
            raise ValueError(f"{path} holds no measured choice")
        return cls(dict(document["fingerprint"]), int(document["batch"]),
                   tuple(document["shape"]), choices, document.get("metric"))

    def save(self, path: str | os.PathLike) -> None:
        document = asdict(self)
        document["shape"] = list(self.shape)
        Path(path).write_text(json.dumps(document, indent=2) + "\n")

    # ----------------------------------------------------------------- queries
    def ids(self) -> list[str]:
        """Choice ids by increasing GFLOPs."""
        return sorted(self.choices, key=lambda key: (self.choices[key].gflops, key))

    def latency(self, choice_id: str, statistic: str = "median_ms") -> float:
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got "
                             f"{statistic!r}")
        if choice_id not in self.choices:
            raise ValueError(f"the latency profile has no {choice_id!r}; it holds "
                             f"{', '.join(self.ids())}")
        return getattr(self.choices[choice_id], statistic)

    def fastest(self, statistic: str = "median_ms") -> str:
        return min(self.ids(), key=lambda key: self.latency(key, statistic))

    def within(self, latency_ms: float, statistic: str = "median_ms") -> list[str]:
        """Ids (by increasing GFLOPs) whose latency per call is at most ``latency_ms``; a cap
        below the fastest choice is a ValueError saying what the fastest takes."""
        fitting = [key for key in self.ids() if self.latency(key, statistic) <= latency_ms]
        if not fitting:
            fastest = self.fastest(statistic)
            raise ValueError(
                f"latency cap {latency_ms:g} ms is below the fastest choice: {fastest} takes "
                f"{self.latency(fastest, statistic):.3g} ms ({statistic.removesuffix('_ms')}"
                f" per batch of {self.batch} at {self.shape[0]}x{self.shape[1]}, "
                f"{self.fingerprint.get('backend', '?')}, "
                f"threads={self.fingerprint.get('threads', '?')})")
        return fitting

    def metric_values(self) -> tuple[str, bool, dict[str, float]] | None:
        """(metric name, higher is better, value per choice id) if a metric was merged in."""
        if not self.metric:
            return None
        return (self.metric["name"], bool(self.metric["higher_is_better"]),
                {key: float(value) for key, value in self.metric["values"].items()})

    def check_fingerprint(self, backend: str | None = None, threads: int | None = None,
                          device: str = "cpu") -> list[str]:
        """One line per difference between where the profile was measured and here (run
        settings first); empty when they agree."""
        here = current_fingerprint(backend or self.fingerprint.get("backend", "torch"),
                                   threads, device)
        keys = [*RUN_SETTINGS, *(key for key in self.fingerprint if key not in RUN_SETTINGS)]
        return [f"{key}: profiled with {self.fingerprint[key]!r}, running with {here[key]!r}"
                for key in keys
                if key in self.fingerprint and key in here and self.fingerprint[key] != here[key]]


def load_profile_for(flag: str, path: str | os.PathLike | None) -> LatencyProfile:
    """A tool's ``--profile`` (one line if ``flag`` was given without it), with a
    ``warning:`` line on standard error per fingerprint difference."""
    if path is None:
        raise ValueError(f"{flag} needs --profile PROFILE.json (tools/profile_latency.py)")
    profile = LatencyProfile.load(path)
    for difference in profile.check_fingerprint():
        print(f"warning: the latency profile was measured elsewhere ({difference})",
              file=sys.stderr)
    return profile


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def current_fingerprint(backend: str, threads: int | None = None,
                        device: str = "cpu") -> dict:
    """Where and how a measurement runs now: machine, CPU, cores, threads, device, backend
    and the versions of the libraries doing the work."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose {' or '.join(BACKENDS)}")
    fingerprint = dict(
        machine=platform.node(), cpu=_cpu_model(), cores=os.cpu_count(),
        threads=torch.get_num_threads() if threads is None else int(threads),
        device=torch.cuda.get_device_name(device) if device.startswith("cuda") else device,
        backend=backend, python=platform.python_version(), torch=torch.__version__)
    if backend == "onnxruntime":
        fingerprint["onnxruntime"] = _version("onnxruntime")
    return fingerprint
