"""DDP without waste on 2 gloo ranks (tools/dist_train.sh): the main job at its own batch size of
16 (where channels-last maps used to hand DDP strided weight gradients: "Grad strides do not
match bucket view strides" on every rank) trains with a static graph and no search for unused
parameters, and the ranks' weights stay equal while their losses differ; two "nodes" on one
machine train the stitched job in step."""
import json
import os
import subprocess

import pytest
import torch

from tests.conftest import PYTHON, REPO, free_port, quick_run_options

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the CPU (gloo) path")

MAIN_JOB = REPO / "tests/compat/configs/main_job_recorded.py"
STITCHED = REPO / "tests/compat/configs/snnet_recorded.py"
STRIDE_WARNING = "Grad strides do not match bucket view strides"


def records(work_dir, rank: int) -> list[dict]:
    """The training records BudgetRecorderHook wrote on ``rank``."""
    lines = (work_dir / f"budget_record_rank{rank}.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["event"] == "train"]


def assert_ranks_in_step(work_dir, iterations: int) -> None:
    """Both ranks trained the same choices and hold the same weights after every step, from
    different data (different losses): one synchronised step per iteration."""
    first, second = records(work_dir, 0), records(work_dir, 1)
    assert [r["iter"] for r in first] == [r["iter"] for r in second] == list(range(iterations))
    assert [r["choice"] for r in first] == [r["choice"] for r in second]
    assert [r["checksum"] for r in first] == [r["checksum"] for r in second]
    assert [r["loss"] for r in first] != [r["loss"] for r in second]


def test_main_job_on_two_ranks_trains_without_waste(tmp_path, small_digitseg):
    work_dir = tmp_path / "ddp"
    env = dict(os.environ, PYTHON=PYTHON, PORT=str(free_port()), OMP_NUM_THREADS="1")
    # The main job's in-place distillation, its teacher-only phase shortened to 1 iteration:
    # iterations 2 and 3 train p8 and a student, two backward passes per step.
    options = [*quick_run_options(small_digitseg, max_iters=3, batch_size=16),
               "train_cfg.val_begin=1000", "default_hooks.checkpoint.interval=1000",
               "train_cfg.distill.teacher_only_iters=1"]
    result = subprocess.run(["bash", "tools/dist_train.sh", str(MAIN_JOB), "2", "--work-dir",
                             str(work_dir), "--cfg-options", *options], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert STRIDE_WARNING not in log
    assert ("DDP: find_unused_parameters=False, static_graph=False (every choice uses every "
            "trainable parameter; several backward passes per step (no static graph))") in log
    assert_ranks_in_step(work_dir, 3)


def test_two_nodes_on_one_machine_train_in_step(tmp_path, small_digitseg):
    """NNODES=2: two tools/dist_train.sh launchers on loopback (NODE_RANK 0 and 1, one rank
    each), as on two machines, train the stitched job, whose routes leave different parameters
    unused: DDP searches for them, and both nodes train the same routes with the same weights."""
    work_dir = tmp_path / "nodes"
    port = str(free_port())
    options = [*quick_run_options(small_digitseg, max_iters=3),
               "train_cfg.val_begin=1000", "default_hooks.checkpoint.interval=1000"]
    launchers = [subprocess.Popen(
        ["bash", "tools/dist_train.sh", str(STITCHED), "1", "--work-dir", str(work_dir),
         "--cfg-options", *options], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHON=PYTHON, OMP_NUM_THREADS="1", NNODES="2",
                 NODE_RANK=str(node), MASTER_ADDR="127.0.0.1", PORT=port))
        for node in (0, 1)]
    logs = [launcher.communicate(timeout=600)[0] for launcher in launchers]
    for node, (launcher, log) in enumerate(zip(launchers, logs)):
        assert launcher.returncode == 0, f"node {node}:\n{log[-4000:]}"
    assert "Distributed training: True" in logs[0] and "GPU number: 2" in logs[0]
    assert "DDP: find_unused_parameters=True, static_graph=False (the choices leave " \
           "different parameters unused" in logs[0]
    assert_ranks_in_step(work_dir, 3)
    assert len({r["choice"] for r in records(work_dir, 0)}) > 1
