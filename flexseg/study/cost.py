"""What a training run cost, read back from mmengine's scalar logs.

mmengine writes one JSON line per logged iteration to ``<work dir>/<timestamp>/vis_data/
scalars.json``; each value is the mean over the iterations since the previous line. A resumed
run writes a new timestamped folder and repeats the iterations after its checkpoint, so lines
are merged by iteration (the latest attempt wins) before summing value x iterations covered.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TIME_KEY = "time"
GFLOPS_KEY = "budget/gflops"
# A training step costs about three forward passes (forward, and backward's two products).
TRAIN_STEP_FORWARDS = 3


@dataclass(frozen=True)
class TrainingCost:
    """Iterations, seconds spent in training steps (data waiting included, validation not),
    and forward GFLOPs per image summed over the iterations' sub-networks."""

    iterations: int
    seconds: float
    forward_gflops_per_image: float

    def train_tflops(self, batch_size: int) -> float:
        """Multiply-adds of the whole run in TFLOPs (forward + backward)."""
        return TRAIN_STEP_FORWARDS * self.forward_gflops_per_image * batch_size / 1e3


def _log_lines(train_dir: Path) -> dict[int, dict]:
    by_iter: dict[int, dict] = {}
    for path in sorted(train_dir.glob("*/vis_data/scalars.json")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "iter" in record and TIME_KEY in record and "lr" in record:
                by_iter[int(record["iter"])] = record
    return by_iter


def read_training_cost(train_dir: str | Path) -> TrainingCost:
    """The cost of the run logged in ``train_dir`` (the ``--work-dir`` of ``tools/train.py``)."""
    by_iter = _log_lines(Path(train_dir))
    if not by_iter:
        raise FileNotFoundError(f"no training log lines under {train_dir}")
    seconds = gflops = 0.0
    previous = 0
    for iteration in sorted(by_iter):
        record, covered = by_iter[iteration], iteration - previous
        seconds += record[TIME_KEY] * covered
        gflops += record.get(GFLOPS_KEY, 0.0) * covered
        previous = iteration
    return TrainingCost(previous, seconds, gflops)
