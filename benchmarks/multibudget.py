"""P3a: one multi-budget test pass at K choices against K separate test runs, one per choice,
on the main job's validation set.

Both sides run in this process from one runner and one data loader, after an untimed warm-up
of each (loader workers, resized kernels, FLOP counting); each side's loop object is reused,
as a training run reuses its validation loop; the one-pass side includes writing its reports.
The weights are the main job's last checkpoint when ``work_dirs`` has one, else random (the
time hardly depends on them). The figure is the median per-round ratio of wall-clock times (lower is better); the
note has the same ratio in CPU time of this process (steadier on a shared machine, but blind
to loader workers) and whether both sides gave the same metrics.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import flexseg.evaluation  # noqa: F401  (registers the multi-budget loops)
from flexseg.cli import load_config
from flexseg.compat.mmengine_private import forget_logger
from flexseg.compat.resume import resume_checkpoint
from flexseg.models.contract import find_flexible

from .report import Goal, Row
from .settings import MAIN_CONFIG, REPO, Settings
from .timing import progress

CHOICES = 4
GOAL = Goal("<=", 1.0)


def spread_ids(ids: list[str], count: int) -> list[str]:
    """``count`` ids evenly spaced over the space's order (all of them if it is smaller)."""
    if len(ids) <= count:
        return ids
    return [ids[round(i * (len(ids) - 1) / (count - 1))] for i in range(count)]


def _timed(run: Callable[[], dict]) -> tuple[float, float, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    metrics = run()
    return time.perf_counter() - wall, time.process_time() - cpu, metrics


def _runner(settings: Settings, work_dir: str) -> tuple[Runner, str | None]:
    # Runners share loggers and visualizers by name: this one's are its own.
    name = Path(work_dir).name
    options = {"val_dataloader.dataset.data_root": str(settings.data_root),
               "log_level": "WARNING", "visualizer.name": name,
               "visualizer.vis_backends": []}
    options.update({f"val_dataloader.dataset.{key}": value
                    for key, value in settings.dataset_options.items()})
    if settings.quick:
        options.update({"val_dataloader.num_workers": 0,
                        "val_dataloader.persistent_workers": False})
    cfg = load_config(argparse.Namespace(config=str(MAIN_CONFIG), launcher="none",
                                         local_rank=0, work_dir=work_dir,
                                         cfg_options=settings.options(MAIN_CONFIG, options)))
    cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
    cfg.experiment_name = name
    trained = REPO / "work_dirs" / MAIN_CONFIG.stem
    cfg.load_from = (resume_checkpoint(trained) if trained.is_dir() and not settings.quick
                     else None)
    runner = RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
    runner.call_hook("before_run")  # as Runner.test does: hooks set up their log files
    runner.load_or_resume()
    return runner, cfg.load_from


def run(settings: Settings) -> list[Row]:
    with tempfile.TemporaryDirectory() as work_dir:
        runner, checkpoint = _runner(settings, work_dir)
        backbone = find_flexible(runner.model)
        ids = spread_ids([c.id for c in backbone.space()], CHOICES)
        loader = runner.build_dataloader(runner.cfg.test_dataloader)  # one for every loop
        one_pass = runner.build_test_loop(dict(type="MultiBudgetTestLoop", dataloader=loader,
                                               choices=ids, out_dir=work_dir))
        separate = {choice_id: runner.build_test_loop(dict(type="TestLoop", dataloader=loader))
                    for choice_id in ids}

        def run_separately() -> dict:
            metrics = {}
            for choice_id, loop in separate.items():
                backbone.activate(choice_id)
                metrics.update({f"{choice_id}/{k}": v for k, v in loop.run().items()})
            return metrics

        for _ in range(min(settings.warmup, 1)):
            one_pass.run(), run_separately()
        rounds = []
        for _ in progress(range(settings.rounds_or(3)), "P3a test passes",
                          settings.show_progress):
            rounds.append((_timed(one_pass.run), _timed(run_separately)))
        images = len(one_pass.dataloader.dataset)
        runner.call_hook("after_run")
        forget_logger(runner.logger)  # its log file goes with the folder
    (*_, pass_metrics), (*_, separate_metrics) = rounds[-1]
    same = all(pass_metrics[key] == value for key, value in separate_metrics.items())
    wall = statistics.median(one[0] / many[0] for one, many in rounds)
    cpu = statistics.median(one[1] / many[1] for one, many in rounds)
    weights = "last checkpoint" if checkpoint else "random weights"
    return [Row("P3a", f"one pass at {len(ids)} choices vs {len(ids)} test runs ({images} "
                "images)", wall, "x", GOAL,
                f"CPU {cpu:.3f}×; same metrics: {'yes' if same else 'NO'}; {weights}",
                dict(choices=ids, checkpoint=checkpoint, cpu_ratio=cpu, same_metrics=same,
                     one_pass_s=[one[:2] for one, _ in rounds],
                     separate_s=[many[:2] for _, many in rounds]))]
