"""Training cost: time from mmengine's scalar logs (a resumed attempt's lines replacing the
interrupted attempt's), multiply-adds replayed from the sampler."""
import json

import pytest

from flexseg.budget import build_budget_space, build_sampler
from flexseg.study.cost import planned_forward_gflops, read_training_time, train_tflops
from tests.conftest import REPO


def _log(path, records):
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")


def test_time_sums_window_means_and_prefers_the_resumed_attempt(tmp_path):
    line = dict(lr=1e-3)
    _log(tmp_path / "20260101_000000/vis_data/scalars.json", [
        dict(line, iter=10, time=0.5, **{"budget/gflops": 1.0}),
        dict(line, iter=20, time=0.7, **{"budget/gflops": 3.0}),   # repeated after the resume
        dict(mIoU=50.0, step=20),                                   # a validation line
    ])
    _log(tmp_path / "20260101_010000/vis_data/scalars.json", [
        dict(line, iter=20, time=0.6, **{"budget/gflops": 2.0}),
        dict(line, iter=25, time=0.4, **{"budget/gflops": 4.0}),
    ])
    cost = read_training_time(tmp_path)
    assert cost.iterations == 25
    assert cost.seconds == pytest.approx(10 * 0.5 + 10 * 0.6 + 5 * 0.4)
    assert train_tflops(50.0, batch_size=8) == pytest.approx(3 * 50 * 8 / 1e3)


def test_a_folder_without_logs_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training log lines"):
        read_training_time(tmp_path)


def test_planned_gflops_replay_the_sampler_and_the_teacher_choice(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    config = tmp_path / "inplace.py"
    config.write_text(f"_base_ = ['{REPO}/configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-"
                      "64x64.py']\ntrain_cfg = dict(distill=dict(_delete_=True, mode='inplace', "
                      "teacher_only_iters=10), sampler=dict(_delete_=True, strategy='uniform', "
                      "num_choices=2))\n")
    cfg = Config.fromfile(str(config))
    init_default_scope("mmseg")
    space = build_budget_space(MODELS.build(cfg.model), (64, 64))
    sampler = build_sampler(space.without("p4"), "uniform", seed=0, num_choices=2)
    # The largest choice teaches: alone for 10 iterations, then with two drawn students.
    expected = 30 * space.get("p4").gflops + sum(e.gflops for i in range(10, 30)
                                                 for e in sampler.draw(i))
    assert planned_forward_gflops(config, 30) == pytest.approx(expected)
