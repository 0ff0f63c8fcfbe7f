"""The budget loops end to end: logging, resume, two gloo ranks, epoch-based training."""
import argparse
import json
import os
import re
import subprocess

import pytest
import torch
from mmengine.runner import Runner

from flexseg.cli import add_common_args, load_config

from tests.conftest import PYTHON, REPO, free_port, quick_run_options, run_tool_here

CONFIG = REPO / "tests/budget/budget_config.py"
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


def _train(work_dir, *extra, options=(), config=CONFIG) -> str:
    """tools/train.py in this process; what it logged."""
    result = run_tool_here("tools/train.py", str(config), "--work-dir", str(work_dir), *extra,
                           "--cfg-options", *options)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _records(work_dir, rank=0) -> list[dict]:
    path = work_dir / f"budget_record_rank{rank}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _training(records):
    return [r for r in records if r["event"] == "train"]


def test_resumed_run_draws_the_same_choices_with_the_same_losses(tmp_path, small_digitseg):
    ros = ["train_cfg.sampler.strategy=ros", "train_cfg.sampler.gap_gflops=0.005",
           "train_cfg.eval_choice=p12"]
    options = [*quick_run_options(small_digitseg, max_iters=6), *ros]
    full = _train(tmp_path / "full", options=options)
    records = _records(tmp_path / "full")
    trained = _training(records)
    assert [r["iter"] for r in trained] == list(range(6))
    assert len({r["choice"] for r in trained}) > 1
    # Each log line names the choice and its GFLOPs; the hook saw that choice active.
    logged = re.findall(r"Iter\(train\) \[\s*\d+/6\].*budget/gflops: ([\d.]+).*choice: (\w+)",
                        full)
    assert [choice for _, choice in logged] == [r["choice"] for r in trained]
    assert all(r["active"] == r["choice"] for r in trained)
    assert [float(g) for g, _ in logged] == [round(r["gflops"], 4) for r in trained]
    # Validation ran at the configured eval choice, not at the last trained one.
    assert trained[-1]["choice"] != "p12"
    assert [r["active"] for r in records if r["event"] == "val"] == ["p12"]

    _train(tmp_path / "resumed", "--resume", str(tmp_path / "full" / "iter_2.pth"),
           options=options)
    resumed = _training(_records(tmp_path / "resumed"))
    assert [r["iter"] for r in resumed] == [2, 3, 4, 5]
    for original, again in zip(trained[2:], resumed):
        assert again["choice"] == original["choice"]
        assert again["loss"] == pytest.approx(original["loss"], rel=1e-6, abs=0)
        assert again["checksum"] == pytest.approx(original["checksum"], rel=1e-9, abs=0)


def test_resume_reproduces_losses_with_augmentation_dropout_and_a_validation(tmp_path,
                                                                             small_digitseg):
    """Random states travel in the checkpoint; the validation after it draws nothing that
    training would miss."""
    options = [*quick_run_options(small_digitseg, max_iters=4),
               "train_dataloader.num_workers=2", "train_dataloader.persistent_workers=True",
               "train_cfg.val_interval=2", "val_cfg.type=MultiBudgetValLoop",
               "val_cfg.choices=p8,p16"]
    runs = {}
    for name, extra in (("full", []), ("resumed", ["--resume", str(tmp_path / "full/iter_2.pth")])):
        _train(tmp_path / name, *extra, options=options,
               config=REPO / "tests/budget/budget_config_random.py")
        runs[name] = _training(_records(tmp_path / name))
    assert [r["iter"] for r in runs["resumed"]] == [2, 3]
    for original, again in zip(runs["full"][2:], runs["resumed"], strict=True):
        assert again["choice"] == original["choice"]
        assert abs(again["loss"] - original["loss"]) <= 1e-6
        assert again["checksum"] == pytest.approx(original["checksum"], rel=1e-9, abs=0)


INPLACE = ["train_cfg.distill.mode=inplace", "train_cfg.sampler.num_choices=2"]


def test_in_place_distillation_resumes_with_the_same_choices_and_losses(tmp_path,
                                                                        small_digitseg):
    options = [*quick_run_options(small_digitseg, max_iters=4), *INPLACE,
               "train_cfg.distill.teacher_only_iters=1"]
    log = _train(tmp_path / "full", options=options)
    trained = _training(_records(tmp_path / "full"))
    # The teacher choice (the largest) alone for the first iteration, then first with two
    # distinct sampled students.
    assert trained[0]["choice"] == "p4"
    assert all(r["choice"].startswith("p4+") and len(set(r["choice"].split("+"))) == 3
               for r in trained[1:])
    assert "loss_distill" in log and "distillation: DistillConfig(mode='inplace'" in log
    _train(tmp_path / "resumed", "--resume", str(tmp_path / "full" / "iter_2.pth"),
           options=options)
    resumed = _training(_records(tmp_path / "resumed"))
    for original, again in zip(trained[2:], resumed, strict=True):
        assert again["choice"] == original["choice"]
        assert again["loss"] == pytest.approx(original["loss"], rel=1e-6, abs=0)
        assert again["checksum"] == pytest.approx(original["checksum"], rel=1e-9, abs=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the CPU (gloo) path")
@pytest.mark.parametrize("recipe, prefix", [
    (["train_cfg.sampler.strategy=sandwich", "train_cfg.sampler.num_random=1"], "p4+p16+"),
    (INPLACE, "p4+"),
    ([*INPLACE, "model.backbone.keep_points=[1]", "model.backbone.keep_rates=[1.0,0.5]"],
     "p4+"),
], ids=["sandwich", "inplace-distillation", "supervit-joint-space"])
def test_two_ranks_train_the_same_choices_at_every_iteration(tmp_path, small_digitseg, recipe,
                                                             prefix):
    work_dir = tmp_path / "dist"
    env = dict(ENV, PYTHON=PYTHON, PORT=str(free_port()))
    cmd = ["bash", "tools/dist_train.sh", str(CONFIG), "2", "--work-dir", str(work_dir),
           "--cfg-options", *quick_run_options(small_digitseg, max_iters=6), *recipe]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    first, second = (_training(_records(work_dir, rank)) for rank in (0, 1))
    assert [r["iter"] for r in first] == [r["iter"] for r in second] == list(range(6))
    assert [r["choice"] for r in first] == [r["choice"] for r in second]
    assert all(r["choice"].startswith(prefix) for r in first)  # e.g. largest, smallest, random
    assert len({r["choice"] for r in first}) > 1
    if "model.backbone.keep_points=[1]" in recipe:  # reduced choices of the joint space train
        assert any("-k0.5" in r["choice"] for r in first)
    # One synchronised step per iteration: the ranks' weights never drift apart, although
    # each rank computed its losses on its own data.
    assert [r["checksum"] for r in first] == [r["checksum"] for r in second]
    assert [r["loss"] for r in first] != [r["loss"] for r in second]
    # Validation after training ran at the default eval choice, the largest.
    assert [r["active"] for r in _records(work_dir) if r["event"] == "val"] == ["p4"]


def test_epoch_based_loop_draws_by_global_iteration(tmp_path, small_digitseg):
    # In this process (a third training subprocess would cost more than the training itself),
    # with the options parsed and applied as tools/train.py does.
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    add_common_args(parser)
    args = parser.parse_args([
        str(CONFIG), "--work-dir", str(tmp_path / "epochs"), "--cfg-options",
        *quick_run_options(small_digitseg), "train_dataloader.batch_size=8",  # 3 iters/epoch
        "train_dataloader.sampler.type=DefaultSampler", "log_processor.by_epoch=True",
        "default_hooks.checkpoint.by_epoch=True",
        "randomness.deterministic=False"])  # no process-wide deterministic-algorithms switch
    cfg = load_config(args)
    cfg.train_cfg = dict(type="BudgetEpochBasedTrainLoop", max_epochs=2, val_interval=2,
                         sampler=dict(strategy="uniform"))
    Runner.from_cfg(cfg).train()
    records = _records(tmp_path / "epochs")
    trained = _training(records)
    assert [r["iter"] for r in trained] == list(range(6))
    assert all(r["active"] == r["choice"] for r in trained)
    assert len({r["choice"] for r in trained}) > 1
    assert [r["active"] for r in records if r["event"] == "val"] == ["p4"]
