"""Two gloo ranks train the stitched detector (tools/dist_train.sh) with the same sampled route
on every rank at every iteration, and stay in step."""
import json
import os
import subprocess

import pytest
import torch

from tests.conftest import PYTHON, REPO, free_port
from tests.detection.conftest import CONFIGS, data_options

CONFIG = CONFIGS / "snnet-tiny_maskrcnn_digitseg-coco_recorded.py"
ITERS = 4


def _records(work_dir, rank: int) -> list[dict]:
    lines = (work_dir / f"budget_record_rank{rank}.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["event"] == "train"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the CPU (gloo) path")
def test_two_ranks_train_the_same_route_at_every_iteration(tmp_path, coco_digitseg):
    options = {**data_options(coco_digitseg, batch_size=2), "train_cfg.max_iters": ITERS,
               "train_cfg.val_begin": 100, "default_hooks.checkpoint.interval": ITERS}
    env = dict(os.environ, PYTHON=PYTHON, PORT=str(free_port()), OMP_NUM_THREADS="1")
    cmd = ["bash", "tools/dist_train.sh", str(CONFIG), "2", "--work-dir", str(tmp_path),
           "--cfg-options", *(f"{key}={value}" for key, value in options.items())]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    first, second = _records(tmp_path, 0), _records(tmp_path, 1)
    assert [r["iter"] for r in first] == [r["iter"] for r in second] == list(range(ITERS))
    assert [r["choice"] for r in first] == [r["choice"] for r in second]
    assert [r["active"] for r in first] == [r["choice"] for r in first]
    assert len({r["choice"] for r in first}) > 1  # a rank-local draw would show
    # One synchronised step per iteration on each rank's own data.
    assert [r["checksum"] for r in first] == [r["checksum"] for r in second]
    assert [r["loss"] for r in first] != [r["loss"] for r in second]
