"""What a training run cost: its time, read back from mmengine's scalar logs, and its
multiply-adds, replayed exactly from the config's sampler.

mmengine writes one JSON line per logged iteration to ``<work dir>/<timestamp>/vis_data/
scalars.json``; its ``time`` is the mean over the last iterations, taken to stand for every
iteration since the previous line. A resumed run writes a new timestamped folder and repeats
the iterations after its checkpoint, so lines are merged by iteration (the latest attempt wins).
The trained sub-networks are a pure function of (seed, iteration), so their GFLOPs are summed
exactly by drawing them again rather than from logged samples.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TIME_KEY = "time"
# A training step costs about three forward passes (forward, and backward's two products).
TRAIN_STEP_FORWARDS = 3


@dataclass(frozen=True)
class TrainingTime:
    """Iterations and seconds spent in training steps (data waiting included, validation
    not)."""

    iterations: int
    seconds: float


def train_tflops(forward_gflops_per_image: float, batch_size: int) -> float:
    """Multiply-adds of a run in TFLOPs (forward + backward) from its summed forward GFLOPs."""
    return TRAIN_STEP_FORWARDS * forward_gflops_per_image * batch_size / 1e3


def _log_lines(train_dir: Path) -> dict[int, dict]:
    by_iter: dict[int, dict] = {}
    for path in sorted(train_dir.glob("*/vis_data/scalars.json")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "iter" in record and TIME_KEY in record and "lr" in record:
                by_iter[int(record["iter"])] = record
    return by_iter


def read_training_time(train_dir: str | Path) -> TrainingTime:
    """The time of the run logged in ``train_dir`` (the ``--work-dir`` of ``tools/train.py``)."""
    by_iter = _log_lines(Path(train_dir))
    if not by_iter:
        raise FileNotFoundError(f"no training log lines under {train_dir}")
    seconds = 0.0
    previous = 0
    for iteration in sorted(by_iter):
        seconds += by_iter[iteration][TIME_KEY] * (iteration - previous)
        previous = iteration
    return TrainingTime(previous, seconds)


def planned_forward_gflops(config: str | Path, iterations: int) -> float:
    """Forward GFLOPs per image of every sub-network the budget loop of ``config`` trains in
    ``iterations`` iterations (an in-place teacher choice included; a frozen teacher not)."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    from flexseg.budget.distill import DistillConfig
    from flexseg.budget.loop import plan_training
    from flexseg.budget.space import build_budget_space, default_image_hw

    cfg = Config.fromfile(str(config))
    seed = (cfg.get("randomness") or {}).get("seed")
    if seed is None:
        raise ValueError(f"{config} sets no randomness.seed: its draws cannot be replayed")
    init_default_scope(cfg.get("default_scope", "mmseg"))
    train_cfg = cfg.train_cfg
    image_hw = train_cfg.get("image_hw") or default_image_hw(cfg)
    space = build_budget_space(MODELS.build(cfg.model), tuple(image_hw))
    distill = train_cfg.get("distill")
    plan = plan_training(space, dict(train_cfg.get("sampler") or {}),
                         DistillConfig.from_dict(distill) if distill else None, seed)
    return sum(entry.gflops for iteration in range(iterations)
               for entry in plan.entries(iteration))
