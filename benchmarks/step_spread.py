"""P2s: why training steps of one patch size vary in time (the main job: 0.5-2.3 s at one
size), measured so that the causes can be told apart.

Each condition runs the main-job model's training steps in a fresh process (``fresh``), with
the patch size drawn per step as training draws it (uniform, fixed seed) or p8 only, and
records per iteration the wait for the batch, the step's wall time and this process's CPU time
(all its threads; loader workers are other processes). Conditions change one thing at a time
from a set-up of 2 loader workers and one torch thread per core:

- the loader: 0 workers, or one batch kept in memory (no loader);
- torch's threads: 1;
- the allocator: glibc keeping freed memory (``mallopt``) instead of returning it, so a step
  after a step of another size does not map and fault its memory in again;
- OpenMP's waiting: torch's threads sleep at barriers (``OMP_WAIT_POLICY=PASSIVE``) instead of
  spinning, which on oversubscribed cores burns the time slices a late thread needs;
- p8 only instead of drawn sizes.

Reading the rows: a spread that shrinks with 0 workers or 1 thread comes from loader workers
and torch's threads oversubscribing the cores; one that shrinks with the allocator setting,
from page faults; CPU seconds per wall second well below the thread count mean waiting for
the cores (other processes); p8 slower after another size than after p8 means switching shapes costs; a spread
that shrinks with passive waiting comes from threads spinning at barriers.
Figure per condition: the max / median of the p8 iterations (wait + step).
"""
from __future__ import annotations

import copy
import ctypes
import itertools
import os
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

import torch
from mmengine.runner import Runner

from flexseg.budget import default_image_hw
from flexseg.budget.train_step import budget_train_step

from .fresh import run_fresh
from .models import optim_wrapper, process_config_model, synthetic_batch
from .report import Row
from .settings import MAIN_CONFIG, Settings
from .timing import progress, spread_text

FOCUS = "p8"
SKIPPED = 3  # first iterations: loader start-up, optimizer state, first-call caches
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's largest allowed value on 64-bit systems


@dataclass(frozen=True)
class Condition:
    """``workers``: loader workers, None for one batch kept in memory; ``threads``: torch
    threads, None for one per core; ``drawn``: sizes drawn per step, else p8 only."""

    name: str
    workers: int | None = 2
    threads: int | None = None
    drawn: bool = True
    keep_freed: bool = False
    env: dict = field(default_factory=dict)


CONDITIONS = (
    Condition("loader 2 workers, a thread per core"),
    Condition("loader 0 workers (the main job)", workers=0),
    Condition("loader 0 workers, freed memory kept", workers=0, keep_freed=True),
    Condition("loader 2 workers, 1 thread", threads=1),
    Condition("loader 2 workers, OpenMP threads sleep at barriers",
              env={"OMP_WAIT_POLICY": "PASSIVE"}),
    Condition("batch in memory", workers=None),
    Condition("batch in memory, 1 thread", workers=None, threads=1),
    Condition("batch in memory, freed memory kept", workers=None, keep_freed=True),
    Condition("batch in memory, p8 only", workers=None, drawn=False),
)


def _keep_freed_memory() -> None:
    libc = ctypes.CDLL("libc.so.6")
    if not (libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
            and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)):
        raise RuntimeError("glibc refused the mallopt settings")


def _batches(cfg, workers: int | None, batch_size: int, data_root: str,
             dataset_options: dict) -> Iterator[dict]:
    if workers is None:
        return itertools.repeat(synthetic_batch(batch_size, default_image_hw(cfg),
                                                cfg.model.decode_head.num_classes))
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.update(batch_size=batch_size, num_workers=workers,
                  persistent_workers=workers > 0)
    loader.dataset.update(data_root=data_root, **dataset_options)
    return iter(Runner.build_dataloader(loader, seed=0))


def probe(condition: dict, steps: int, batch_size: int, data_root: str, threads: int,
          options: dict, dataset_options: dict) -> dict:
    """Per iteration of the condition: choice, wait, step and CPU seconds (runs in its own
    process: it sets threads and the allocator for good, and trains the model)."""
    torch.set_num_threads(threads)
    if condition["keep_freed"]:
        _keep_freed_memory()
    cfg, model = process_config_model(MAIN_CONFIG, options)
    optimizer = optim_wrapper(cfg, model.train())
    backbone = model.backbone
    draw = random.Random(0)
    ids = [choice.id for choice in backbone.space()]
    batches = _batches(cfg, condition["workers"], batch_size, data_root, dataset_options)
    records = []
    for _ in range(steps):
        choice = draw.choice(ids) if condition["drawn"] else FOCUS
        began = time.perf_counter()
        batch = next(batches)
        loaded, cpu = time.perf_counter(), time.process_time()
        budget_train_step(model, batch, optimizer, backbone, [backbone.choice(choice)])
        records.append(dict(choice=choice, wait=loaded - began,
                            step=time.perf_counter() - loaded, cpu=time.process_time() - cpu))
    applied = {name: os.environ.get(name) for name in condition["env"]}  # None: not applied
    return dict(records=records, threads=threads, env_applied=applied)


def _row(condition: Condition, result: dict, skipped: int) -> Row:
    records = result["records"][skipped:]
    focus = [r for r in records if r["choice"] == FOCUS] or records
    iterations = [r["wait"] + r["step"] for r in focus]
    cpu_share = statistics.median(r["cpu"] / r["step"] for r in focus)
    note = (f"{FOCUS if focus is not records else 'all'} iterations "
            f"{spread_text(iterations)}, wait {spread_text([r['wait'] for r in focus])}, "
            f"CPU/wall {cpu_share:.2f}")
    pairs = list(zip(records, records[1:]))
    after_same = [r["step"] for p, r in pairs if r["choice"] == FOCUS == p["choice"]]
    after_other = [r["step"] for p, r in pairs if r["choice"] == FOCUS != p["choice"]]
    if after_same and after_other:
        note += (f"; {FOCUS} after another size "
                 f"{statistics.median(after_other) / statistics.median(after_same):.2f}× "
                 f"after {FOCUS}")
    return Row("P2s", f"step spread, {condition.name}",
               max(iterations) / statistics.median(iterations), "x", None, note,
               dict(condition=asdict(condition), **result))


def run(settings: Settings) -> list[Row]:
    skipped = 1 if settings.quick else SKIPPED
    batch_size = 2 if settings.quick else 16
    options = settings.options(MAIN_CONFIG)
    if settings.quick:
        process_config_model(MAIN_CONFIG, options)  # the forked probes inherit it
    rows = []
    for condition in progress(CONDITIONS, "P2s conditions", settings.show_progress):
        # Quick runs fork this process, with one thread (a parent's thread pool does not
        # survive a fork); timing runs start every condition from a clean process.
        threads = 1 if settings.quick else condition.threads or os.cpu_count()
        steps = 2 if settings.quick else 80 if condition.drawn else 30
        result = run_fresh(probe, dict(condition=asdict(condition), steps=skipped + steps,
                                       batch_size=batch_size,
                                       data_root=str(settings.data_root), threads=threads,
                                       options=options,
                                       dataset_options=settings.dataset_options),
                           clean=not settings.quick, env=condition.env)
        rows.append(_row(condition, result, skipped))
    return rows
