"""Measure every choice of a model on this machine into a ``LatencyProfile``; merge a metric.

What is timed is the network on a preprocessed batch (``DenseForward``: backbone, neck, head,
resize to the input), the same for both backends: torch runs the flexible model switching
choice between calls; ONNX Runtime runs one exported graph per choice. Image decoding and the
data pipeline are not included (they do not depend on the choice).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from flexseg.budget.inference import eval_mode
from flexseg.budget.space import BudgetSpace
from flexseg.evaluation.export.dense_forward import DenseForward, run_at_shape
from flexseg.evaluation.export.onnx import export_onnx
from flexseg.evaluation.results import MultiBudgetResults
from flexseg.layers.size import Size2d
from flexseg.models.contract import find_flexible

from .latency import BACKENDS, ChoiceLatency, LatencyProfile, current_fingerprint
from .measure import interleaved_times, latency_summary, peak_memory_mb, progress
from .onnx_runtime import OnnxRunner, require_onnxruntime

Runner = Callable[[], object]


def _torch_runners(model: nn.Module, space: BudgetSpace, images: torch.Tensor
                   ) -> dict[str, Runner]:
    backbone = find_flexible(model)
    forward = DenseForward(model)

    def runner(choice) -> Runner:
        def run():
            backbone.activate(choice)
            with torch.no_grad():
                return forward(images)
        return run

    for entry in space:  # the shape must fit every choice; derived weights made once
        run_at_shape(model, entry.choice, tuple(images.shape[-2:]), images.shape[0])
    return {entry.id: runner(entry.choice) for entry in space}


def _export_all(model: nn.Module, space: BudgetSpace, images: torch.Tensor,
                onnx_dir: Path) -> dict[str, Path]:
    batch, _, height, width = images.shape
    return {entry.id: export_onnx(model, entry.choice, (height, width),
                                  onnx_dir / f"{entry.id}.onnx", batch,
                                  dict(gflops=entry.gflops))
            for entry in progress(space, "exporting to ONNX")}


def _session_runner(path: Path, threads: int, images: torch.Tensor) -> Runner:
    session = OnnxRunner(path, threads)
    return lambda: session(images)


def profile_model(model: nn.Module, space: BudgetSpace, shape: Size2d, batch: int = 1,
                  backend: str = "torch", threads: int | None = None, rounds: int = 30,
                  warmup: int = 3, device: str = "cpu",
                  onnx_dir: str | Path | None = None) -> LatencyProfile:
    """Every choice of ``space`` at ``batch`` x ``shape``: peak memory choice by choice
    (cheapest first), then latency interleaved over ``rounds`` calls each. ``threads`` sets
    torch's (and ONNX Runtime's) intra-op threads; ``onnx_dir`` keeps the exported graphs
    (default: a temporary folder). Memory is what the calls need above what the process
    held (``measure``): activations and workspace for torch, whose weights are already
    loaded; for ONNX Runtime also the choice's session, created for the measurement."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose {' or '.join(BACKENDS)}")
    if backend == "onnxruntime" and device != "cpu":
        raise ValueError(f"the onnxruntime backend runs on the CPU here; got device {device!r}")
    if threads is not None:
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, *shape, generator=generator).to(device)
    backbone = find_flexible(model)
    original = backbone.active_choice
    with eval_mode(model), tempfile.TemporaryDirectory() as scratch:
        try:
            if backend == "torch":
                runners = _torch_runners(model, space, images)
                memory = {key: peak_memory_mb(runners[key], device=device)
                          for key in progress(space.ids(), "peak memory")}
            else:
                require_onnxruntime()
                paths = _export_all(model, space, images, Path(onnx_dir or scratch))
                memory = {key: peak_memory_mb(setup=lambda key=key: _session_runner(
                    paths[key], threads, images))
                    for key in progress(space.ids(), "peak memory")}
                runners = {key: _session_runner(path, threads, images)
                           for key, path in paths.items()}
            times = interleaved_times(runners, rounds, warmup, device,
                                      f"timing {len(runners)} choices")
        finally:
            backbone.activate(original)
    choices = {entry.id: ChoiceLatency(**latency_summary(times[entry.id], batch),
                                       peak_mem_mb=memory[entry.id], gflops=entry.gflops)
               for entry in space}
    return LatencyProfile(current_fingerprint(backend, threads, device), batch, tuple(shape),
                          choices)


def merge_metric(profile: LatencyProfile, results: MultiBudgetResults) -> LatencyProfile:
    """The profile with the main metric of a multi-budget evaluation of the same model."""
    unknown = [key for key in results.ids() if key not in profile.choices]
    if unknown:
        raise ValueError(f"the results file does not match the profile: it has "
                         f"{', '.join(unknown)}, which the profile lacks (it has "
                         f"{', '.join(profile.ids())})")
    metric = results.main_metric
    values = {r.id: r.metrics[metric] for r in results.choices if metric in r.metrics}
    profile.metric = dict(name=metric, higher_is_better=results.higher_is_better,
                          values=values)
    return profile
