"""The main job finds every pretrained file its config loads, and builds only ours that are
missing."""
import importlib.util
import json
import shutil
from pathlib import Path

from tests.conftest import run_tool_here

REPO = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("ensure", REPO / "tools/ensure_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pretrained_checkpoint_of_a_model_is_found():
    model = dict(backbone=dict(type="StitchedViT",
                               small=dict(init_cfg=dict(type="Pretrained", checkpoint="a.pth")),
                               large=dict(init_cfg=[dict(type="Pretrained", checkpoint="b.pth"),
                                                    dict(type="Constant", val=0)])),
                 decode_head=dict(init_cfg=dict(type="Normal", std=0.01)))
    assert list(_tool().pretrained_files(model)) == ["a.pth", "b.pth"]


def test_committed_weights_make_it_a_no_op():
    result = run_tool_here("tools/ensure_pretrained.py",
                           "configs/snnet/snnet-tiny_upernet_digitseg-64x64.py")
    assert result.returncode == 0, result.stderr
    assert "missing" not in result.stdout
    assert "warning" not in result.stderr  # made by this checkout's generator version


def test_weights_of_another_generator_version_are_named_with_the_rebuild_command(tmp_path):
    tool = _tool()
    name = "anchor-s_digittags-64x64"
    weights = tmp_path / f"{name}.pth"
    shutil.copy(REPO / "pretrained" / f"{name}.json", tmp_path)
    assert tool.stale_warning(weights) is None
    record = json.loads((tmp_path / f"{name}.json").read_text())
    record["generator_version"] = tool.GENERATOR_VERSION - 1
    (tmp_path / f"{name}.json").write_text(json.dumps(record))
    warning = tool.stale_warning(weights)
    assert f"generator version {tool.GENERATOR_VERSION - 1}, this checkout's is " \
        f"{tool.GENERATOR_VERSION}" in warning
    assert f"python tools/pretrain.py configs/pretrain/{name}.py --out {tmp_path}" in warning


def test_a_missing_file_nothing_makes_is_one_line(tmp_path):
    config = tmp_path / "config.py"
    config.write_text("model = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
                      "checkpoint='pretrained/nobody-makes-this.pth')))\n")
    result = run_tool_here("tools/ensure_pretrained.py", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith("error: pretrained/nobody-makes-this.pth is missing and no "
                                    "configs/pretrain/nobody-makes-this.py makes it")
