"""tools/test.py's multi-budget flags: budgets ranked by a previous results file, reference
points on the plot, and one-line errors for models and flags that cannot work."""
import json
import runpy
import sys

import pytest
import torch

from tests.conftest import BASELINE_CONFIG, REPO
from tests.evaluation.conftest import TINY_CONFIG

DATA_OPTIONS = ("test_dataloader.batch_size=4", "test_dataloader.num_workers=0",
                "test_dataloader.persistent_workers=False")


def run_test_tool(monkeypatch, *args) -> None:
    monkeypatch.setattr(sys, "argv", ["test.py", *map(str, args)])
    monkeypatch.setenv("LOCAL_RANK", "0")  # the tool sets it when absent; keep it test-local
    runpy.run_path(str(REPO / "tools/test.py"), run_name="__main__")


def previous_results(path, best: str) -> None:
    """A results file in which ``best`` has the highest mIoU (GFLOPs are not used to rank)."""
    rows = [dict(id=c, gflops=0.0, backbone_gflops=0.0, params=0, images_per_s=1.0,
                 metrics={"mIoU": 50.0 if c == best else 10.0}) for c in ("p16", "p8", "p4")]
    path.write_text(json.dumps(dict(image_hw=[64, 64], main_metric="mIoU",
                                    higher_is_better=True, choices=rows)))


def test_budget_picks_the_best_previous_choice(monkeypatch, tmp_path, small_digitseg,
                                               tiny_checkpoint):
    previous_results(tmp_path / "previous.json", best="p8")
    (tmp_path / "baselines.csv").write_text("name,gflops,mIoU\nViT/8 alone,0.01,1.0\n")
    run_test_tool(monkeypatch, TINY_CONFIG, tiny_checkpoint, "--work-dir", tmp_path / "run",
                  "--budgets", "1000", "--results", tmp_path / "previous.json",
                  "--reference", tmp_path / "baselines.csv", "--cfg-options",
                  f"test_dataloader.dataset.data_root={small_digitseg}", *DATA_OPTIONS)
    document = json.loads((tmp_path / "run/multibudget_test.json").read_text())
    # Not the most expensive choice (p4), but the best one by the previous results.
    assert [(row["id"], row["budgets"]) for row in document["choices"]] == [("p8", [1000.0])]
    assert (tmp_path / "run/multibudget_test.png").stat().st_size > 10_000


def test_model_without_flexible_backbone(monkeypatch, tmp_path, capsys):
    from mmengine.config import Config

    from tests.evaluation.conftest import build_segmentor

    torch.save({"state_dict": build_segmentor(Config.fromfile(str(BASELINE_CONFIG)))
                .state_dict()}, tmp_path / "stock.pth")
    with pytest.raises(SystemExit):
        run_test_tool(monkeypatch, BASELINE_CONFIG, tmp_path / "stock.pth", "--work-dir",
                      tmp_path / "run", "--choices", "all")
    error = capsys.readouterr().err
    assert "VisionTransformer is not a flexible backbone" in error
    assert "Traceback" not in error


def test_out_gets_one_destination_per_choice(monkeypatch, tmp_path, small_digitseg,
                                            tiny_checkpoint):
    run_test_tool(monkeypatch, TINY_CONFIG, tiny_checkpoint, "--work-dir", tmp_path / "run",
                  "--choices", "p8,p16", "--out", tmp_path / "preds", "--cfg-options",
                  f"test_dataloader.dataset.data_root={small_digitseg}", *DATA_OPTIONS)
    written = {choice: sorted(p.name for p in (tmp_path / "preds" / choice).iterdir())
               for choice in ("p8", "p16")}
    assert written["p8"] == written["p16"] and len(written["p8"]) == 8  # every val image
    pictures = [(tmp_path / "preds" / c / written[c][0]).read_bytes() for c in ("p8", "p16")]
    assert pictures[0] != pictures[1]  # each choice wrote its own predictions
