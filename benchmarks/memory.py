"""Memory: the peak memory of a training step of the largest DigitSeg choices with and without
activation checkpointing (``with_cp=True``).

Each variant runs in a fresh process (``fresh``): build the model, run one training step of
batch 16 (optimizer state, one-off buffers), then measure the next. On the CPU the
figure is resident memory: glibc's free memory is returned first (``malloc_trim``) and the
peak reset (``/proc/self/clear_refs``), so the step's need is its peak minus the resident
memory before it; on a GPU, ``torch.cuda.max_memory_allocated`` over the step minus what was
allocated before. The figure is the step's need with checkpointing / without.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import torch

from flexseg.budget import default_image_hw
from flexseg.budget.train_step import budget_train_step

from .fresh import run_fresh
from .models import optim_wrapper, process_config_model, synthetic_batch
from .report import Goal, Row
from .settings import MAIN_CONFIG, STITCHED_CONFIG, Settings
from .timing import progress

GOAL = Goal("<=", 0.6)
VARIANTS = ((MAIN_CONFIG, "p4", "FlexiViT-Ti6 p4"), (STITCHED_CONFIG, "L", "stitched DigitSeg L"))


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}; resident memory is measured on "
                       "Linux only")


def _start_measuring(device: str) -> int:
    """Reset the peak; return the memory in use now."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    return _status_bytes("VmRSS")


def _peak(device: str) -> int:
    if device == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return _status_bytes("VmHWM")


def probe(config: str, options: dict, choice: str, with_cp: bool, batch_size: int,
          device: str, threads: int) -> dict:
    """Bytes a training step needs above the model, its optimizer state and what the first
    step left (runs in its own process)."""
    torch.set_num_threads(threads)
    cfg, model = process_config_model(Path(config), options)
    model = model.to(device).train()
    backbone = model.backbone
    backbone.with_cp = with_cp
    batch = synthetic_batch(batch_size, default_image_hw(cfg), cfg.model.decode_head.num_classes)
    if hasattr(backbone, "fit_stitches"):
        backbone.fit_stitches([model.data_preprocessor(batch, False)["inputs"]])
    optimizer = optim_wrapper(cfg, model)
    choices = [backbone.choice(choice)]
    budget_train_step(model, batch, optimizer, backbone, choices)  # one-off allocations
    before = _start_measuring(device)
    budget_train_step(model, batch, optimizer, backbone, choices)
    peak = _peak(device)
    return dict(before_bytes=before, peak_bytes=peak, step_bytes=peak - before)


def run(settings: Settings) -> list[Row]:
    batch_size = 2 if settings.quick else 16
    threads = 1 if settings.quick else settings.threads or os.cpu_count()
    rows = []
    for config, choice, name in progress(VARIANTS, "memory", settings.show_progress):
        options = settings.options(config)
        if settings.quick:
            process_config_model(config, options)  # the forked probes inherit it
        measured = {with_cp: run_fresh(probe, dict(
            config=str(config), options=options, choice=choice, with_cp=with_cp,
            batch_size=batch_size, device=settings.device, threads=threads),
            clean=not settings.quick) for with_cp in (False, True)}
        plain, checkpointed = measured[False]["step_bytes"], measured[True]["step_bytes"]
        rows.append(Row("MEM", f"{name}, batch {batch_size}: training-step memory with_cp / "
                        "without", checkpointed / plain, "x", GOAL,
                        f"{plain / 2**20:.0f} → {checkpointed / 2**20:.0f} MiB above the model "
                        f"({'GPU allocated' if settings.device == 'cuda' else 'resident'})",
                        dict(without_cp=measured[False], with_cp=measured[True])))
    return rows
