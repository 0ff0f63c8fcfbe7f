"""Training cost from mmengine's scalar logs: window means times the iterations they cover,
with a resumed attempt's lines replacing the interrupted attempt's."""
import json

import pytest

from flexseg.study.cost import read_training_cost


def _log(path, records):
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")


def test_cost_sums_window_means_and_prefers_the_resumed_attempt(tmp_path):
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
    cost = read_training_cost(tmp_path)
    assert cost.iterations == 25
    assert cost.seconds == pytest.approx(10 * 0.5 + 10 * 0.6 + 5 * 0.4)
    assert cost.forward_gflops_per_image == pytest.approx(10 * 1 + 10 * 2 + 5 * 4)
    assert cost.train_tflops(batch_size=8) == pytest.approx(3 * 50 * 8 / 1e3)


def test_a_folder_without_logs_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training log lines"):
        read_training_cost(tmp_path)
