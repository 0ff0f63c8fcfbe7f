"""One multi-budget pass gives, per choice, exactly what a separate standard test run gives at
that choice, while loading every image once and leaving the backbone's choice as it was."""
import json
import os
import subprocess

import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

from flexseg.evaluation.results import numeric_metrics
from flexseg.models.contract import find_flexible
from tests.conftest import PYTHON, REPO, free_port
from tests.evaluation.conftest import CHOICES, TINY_CONFIG, make_runner

NUM_VAL_IMAGES = 8


@METRICS.register_module(force=True)
class PredictionChecksum(BaseMetric):
    """Keeps the data samples themselves (not copies) and reads them only at the end, as
    metrics that defer work do: an evaluator must receive its own choice's predictions."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: list) -> dict:
        checksum = sum(int((s["pred_sem_seg"]["data"] * (i + 1)).sum())
                       for i, s in enumerate(results))
        return {"checksum": float(checksum)}


EVALUATOR = [dict(type="IoUMetric", iou_metrics=["mIoU"]), dict(type="PredictionChecksum")]


@pytest.fixture(scope="module")
def one_pass(tmp_path_factory, small_digitseg, tiny_checkpoint):
    """Metrics of one pass over all choices, images loaded, and the choice active after it."""
    loads = []
    original = LoadImageFromFile.transform
    work_dir = tmp_path_factory.mktemp("one_pass")
    runner = make_runner(work_dir, small_digitseg, tiny_checkpoint,
                         dict(type="MultiBudgetTestLoop", choices="all"),
                         test_evaluator=EVALUATOR)
    backbone = find_flexible(runner.model)
    backbone.activate("p16")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LoadImageFromFile, "transform",
                      lambda self, results: loads.append(1) or original(self, results))
        metrics = runner.test()
    return dict(metrics=metrics, loads=len(loads), active=backbone.active_choice.id,
                work_dir=work_dir)


@pytest.fixture(scope="module")
def separate_runs(tmp_path_factory, small_digitseg, tiny_checkpoint) -> dict:
    """Stock TestLoop runs of configs whose backbone space is pinned to one patch size."""
    results = {}
    for choice in CHOICES:
        runner = make_runner(tmp_path_factory.mktemp(choice), small_digitseg, tiny_checkpoint,
                             dict(type="TestLoop"), test_evaluator=EVALUATOR,
                             **{"model.backbone.patch_sizes": [int(choice[1:])]})
        assert find_flexible(runner.model).active_choice.id == choice
        results[choice] = runner.test()
    return results


def test_each_choice_matches_a_separate_run(one_pass, separate_runs):
    per_choice = {choice: {name: one_pass["metrics"][f"{choice}/{name}"]
                           for name in separate_runs[choice]} for choice in CHOICES}
    # The choices really differ, so a loop that ran one choice K times would fail.
    assert len({tuple(metrics.items()) for metrics in per_choice.values()}) == len(CHOICES)
    for choice in CHOICES:
        assert per_choice[choice] == separate_runs[choice], choice


def test_plain_names_hold_the_largest_choice(one_pass, separate_runs):
    largest = CHOICES[-1]
    for name, value in separate_runs[largest].items():
        assert one_pass["metrics"][name] == value


def test_every_image_is_loaded_once(one_pass):
    assert one_pass["loads"] == NUM_VAL_IMAGES


def test_the_active_choice_is_restored(one_pass):
    assert one_pass["active"] == "p16"


def test_reports_hold_the_logged_metrics(one_pass):
    document = json.loads((one_pass["work_dir"] / "multibudget_test.json").read_text())
    assert [row["id"] for row in document["choices"]] == list(CHOICES)
    for row in document["choices"]:
        assert row["metrics"]["mIoU"] == pytest.approx(
            float(one_pass["metrics"][f"{row['id']}/mIoU"]))
        assert row["images_per_s"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="exercises the CPU (gloo) path")
def test_two_gloo_ranks_give_the_single_process_metrics(tmp_path, small_digitseg,
                                                        tiny_checkpoint, one_pass):
    """Each rank evaluates half of the images; the evaluators gather them before computing."""
    env = dict(os.environ, PYTHON=PYTHON, PORT=str(free_port()), OMP_NUM_THREADS="1")
    cmd = ["bash", "tools/dist_test.sh", str(TINY_CONFIG), str(tiny_checkpoint), "2",
           "--work-dir", str(tmp_path), "--choices", "all", "--cfg-options",
           f"test_dataloader.dataset.data_root={small_digitseg}", "test_dataloader.batch_size=3",
           "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False"]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    document = json.loads((tmp_path / "multibudget_test.json").read_text())
    assert [row["id"] for row in document["choices"]] == list(CHOICES)
    for row in document["choices"]:
        expected = numeric_metrics({name: one_pass["metrics"][f"{row['id']}/{name}"]
                                    for name in ("aAcc", "mIoU", "mAcc")})
        assert {name: row["metrics"][name] for name in expected} == expected
