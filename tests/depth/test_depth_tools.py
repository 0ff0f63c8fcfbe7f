"""tools/test.py on a depth config: every depth metric per choice in one pass with RMSE ranked
lower-is-better, budgets picked by a previous results file, one side-by-side picture per test
image, and one-line errors for a bad metric name and a bad depth file."""
import json

import cv2
import numpy as np
import pytest
import torch

from flexseg.evaluation.visualize import GAP, LABEL_HEIGHT, MIN_PANEL_HEIGHT
from tests.depth.conftest import FLEXIVIT_CONFIG, build_model, load_cfg
from tests.evaluation.test_test_tool import run_test_tool

CHOICES = ("p16", "p8")  # by increasing GFLOPs
DEPTH_METRICS = ("d1", "d2", "d3", "abs_rel", "rmse", "log10")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Random weights of the tiny FlexiViT depth model."""
    path = tmp_path_factory.mktemp("depth_checkpoint") / "tiny.pth"
    torch.save({"meta": {}, "state_dict": build_model(load_cfg(FLEXIVIT_CONFIG)).state_dict()},
               path)
    return path


def _options(data_root, *extra: str) -> list[str]:
    return ["--cfg-options", f"test_dataloader.dataset.data_root={data_root}",
            "test_dataloader.batch_size=2", "test_dataloader.num_workers=0",
            "test_dataloader.persistent_workers=False", *extra]


def test_every_choice_every_metric_and_pictures(monkeypatch, tmp_path, small_digitseg_nyu,
                                                checkpoint):
    run_test_tool(monkeypatch, FLEXIVIT_CONFIG, checkpoint, "--work-dir", tmp_path / "run",
                  "--show-dir", tmp_path / "show", *_options(small_digitseg_nyu))
    document = json.loads((tmp_path / "run/multibudget_test.json").read_text())
    assert (document["main_metric"], document["higher_is_better"]) == ("rmse", False)
    assert [row["id"] for row in document["choices"]] == list(CHOICES)
    for row in document["choices"]:
        assert set(DEPTH_METRICS) <= set(row["metrics"])
        assert all(np.isfinite(row["metrics"][name]) for name in DEPTH_METRICS)
    pictures = sorted((tmp_path / "show").glob("*.png"))
    stems = sorted(p.stem for p in (small_digitseg_nyu / "images/test").glob("*.jpg"))
    assert [p.stem for p in pictures] == stems
    picture = cv2.imread(str(pictures[0]))
    panels = 2 + len(CHOICES)  # input, ground truth, one prediction per choice
    assert picture.shape == (MIN_PANEL_HEIGHT + LABEL_HEIGHT,
                             panels * MIN_PANEL_HEIGHT + (panels - 1) * GAP, 3)
    width = MIN_PANEL_HEIGHT + GAP
    p16, p8 = (picture[LABEL_HEIGHT:, k * width:k * width + MIN_PANEL_HEIGHT] for k in (2, 3))
    assert not np.array_equal(p16, p8)  # each panel shows its own choice's prediction


def test_budget_picks_the_lowest_previous_rmse(monkeypatch, tmp_path, small_digitseg_nyu,
                                               checkpoint):
    rows = [dict(id=c, gflops=0.0, backbone_gflops=0.0, params=0, images_per_s=1.0,
                 metrics={"rmse": rmse, "d1": 0.5}) for c, rmse in (("p16", 0.4), ("p8", 0.9))]
    (tmp_path / "previous.json").write_text(json.dumps(dict(
        image_hw=[64, 64], main_metric="rmse", higher_is_better=False, choices=rows)))
    run_test_tool(monkeypatch, FLEXIVIT_CONFIG, checkpoint, "--work-dir", tmp_path / "run",
                  "--budgets", "1000", "--results", tmp_path / "previous.json",
                  *_options(small_digitseg_nyu))
    document = json.loads((tmp_path / "run/multibudget_test.json").read_text())
    # Not the most expensive choice (p8): the one with the lowest RMSE.
    assert [(row["id"], row["budgets"]) for row in document["choices"]] == [("p16", [1000.0])]


def test_unknown_metric_name_is_one_line(monkeypatch, tmp_path, small_digitseg_nyu, checkpoint,
                                         capsys):
    with pytest.raises(SystemExit):
        run_test_tool(monkeypatch, FLEXIVIT_CONFIG, checkpoint, "--work-dir", tmp_path,
                      *_options(small_digitseg_nyu, "test_evaluator.depth_metrics=[rsme]"))
    error = capsys.readouterr().err
    assert "error: unknown depth metric(s) rsme; available: d1" in error
    assert "Traceback" not in error


def test_eight_bit_depth_file_is_one_line(monkeypatch, tmp_path, small_digitseg_nyu,
                                          checkpoint, capsys):
    root = tmp_path / "nyu"
    for sub in ("images/test", "annotations/test"):
        (root / sub).mkdir(parents=True)
    image = next((small_digitseg_nyu / "images/test").glob("*.jpg"))
    (root / "images/test" / image.name).write_bytes(image.read_bytes())
    cv2.imwrite(str(root / "annotations/test" / f"{image.stem}.png"),
                np.full((64, 64), 30, np.uint8))
    with pytest.raises(SystemExit):
        run_test_tool(monkeypatch, FLEXIVIT_CONFIG, checkpoint, "--work-dir", tmp_path / "run",
                      *_options(root))
    error = capsys.readouterr().err
    assert f"error: depth map {image.stem}.png is uint8; depth must be uint16" in error
    assert "Traceback" not in error
