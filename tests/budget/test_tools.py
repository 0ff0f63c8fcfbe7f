"""tools/get_flops.py, run as a script in this process."""
import json
import runpy
import sys

import pytest

from tests.conftest import BASELINE_CONFIG, REPO

CONFIG = REPO / "tests/budget/budget_config.py"


def _run_tool(monkeypatch, name: str, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [name, *args])
    runpy.run_path(str(REPO / "tools" / name), run_name="__main__")


def test_get_flops_prints_the_space_and_writes_json(monkeypatch, capsys, tmp_path):
    _run_tool(monkeypatch, "get_flops.py", str(CONFIG), "--shape", "64", "96", "--json",
              str(tmp_path / "space.json"), "--cfg-options",
              "model.backbone.patch_sizes=[8,16]")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "budget space at 64x96 (one image)"
    assert lines[1].split() == ["choice", "GFLOPs", "backbone", "GFLOPs", "params", "(M)"]
    assert [line.split()[0] for line in lines[2:4]] == ["p16", "p8"]
    document = json.loads((tmp_path / "space.json").read_text())
    assert document["image_hw"] == [64, 96]
    rows = document["choices"]
    assert [row["id"] for row in rows] == ["p16", "p8"]
    assert lines[2].split()[1] == f"{rows[0]['gflops']:.4f}"
    assert rows[0]["gflops"] < rows[1]["gflops"]


def test_get_flops_explains_a_backbone_that_is_not_flexible(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run_tool(monkeypatch, "get_flops.py", str(BASELINE_CONFIG))
    assert exit_info.value.code == 2
    assert "VisionTransformer is not a flexible backbone" in capsys.readouterr().err
