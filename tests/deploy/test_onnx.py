"""ONNX export of one choice: the graph ONNX Runtime runs computes what the torch model computes
at that choice (segmentor, depth estimator, stitched backbone), the shape is static and must
fit the choice, and the check on a test set reports agreement, metrics and both latencies."""
import json
import runpy
import sys

import numpy as np
import pytest
import torch

from flexseg.deploy.onnx_runtime import OnnxRunner
from flexseg.evaluation.export.dense_forward import DenseForward
from flexseg.evaluation.export.onnx import export_onnx
from tests.conftest import REPO
from tests.deploy.conftest import CHOICES, TINY_CONFIG, build_segmentor, tiny_cfg
from tests.depth.conftest import FLEXIVIT_CONFIG, SNNET_CONFIG, build_model, load_cfg

# Layer scale and a stored patch size (16) other than most exported ones: the PI-resized
# kernel and the resampled position embedding must enter the graph as the eager pass made them.
OVERRIDES = {"model.backbone.patch_size": 16, "model.backbone.layer_scale_init": 0.1}


def _perturbed(model, seed: int):
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in model.backbone.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model.eval()


@pytest.fixture(scope="module")
def segmentor():
    model = build_segmentor(tiny_cfg(**OVERRIDES))
    model.init_weights()
    return _perturbed(model, 3)


def _torch_output(model, choice, inputs):
    model.backbone.activate(choice)
    with torch.no_grad():
        return DenseForward(model)(inputs)


@pytest.fixture(scope="module")
def exported(segmentor, tmp_path_factory):
    """Every choice exported for batches of 2."""
    directory = tmp_path_factory.mktemp("onnx")
    return {choice: export_onnx(segmentor, choice, (64, 64), directory / f"{choice}.onnx",
                                batch=2) for choice in CHOICES}


@pytest.mark.parametrize("choice", CHOICES)
def test_every_choice_runs_in_onnx_runtime_as_in_torch(segmentor, exported, choice):
    runner = OnnxRunner(exported[choice], threads=1)
    inputs = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    want = _torch_output(segmentor, choice, inputs)
    got = torch.from_numpy(runner(inputs))
    assert got.shape == want.shape == (2, 11, 64, 64)
    assert (got - want).abs().max() <= 1e-4
    assert (got.argmax(1) == want.argmax(1)).float().mean() >= 0.999
    assert runner.choice == choice
    assert runner.metadata["input_shape"] == [2, 3, 64, 64]
    assert runner.metadata["mean"] == [123.675, 116.28, 103.53]
    assert runner.metadata["channel_order_in"] == "bgr"


def test_each_graph_is_one_choice_not_the_flexible_model(exported):
    """The graphs differ as the torch choices do."""
    inputs = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    outputs = {choice: OnnxRunner(path, threads=1)(inputs) for choice, path in exported.items()}
    assert np.abs(outputs["p4"] - outputs["p16"]).max() > 1e-2
    assert np.abs(outputs["p4"] - outputs["p8"]).max() > 1e-2


def test_static_shape_refuses_other_inputs(exported):
    with pytest.raises(ValueError, match="takes inputs of shape 2x3x64x64 .static., got "
                                         "1x3x64x64"):
        OnnxRunner(exported["p8"])(torch.zeros(1, 3, 64, 64))


def test_a_shape_that_does_not_fit_the_choice_is_one_line(segmentor, tmp_path):
    with pytest.raises(ValueError) as error:
        export_onnx(segmentor, "p16", (8, 8), tmp_path / "x.onnx")
    message = str(error.value)
    assert message.startswith("shape 8x8 does not fit p16: patch size p16 is larger than the "
                              "8x8 input")
    assert "\n" not in message and not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("config, choice", [(FLEXIVIT_CONFIG, "p16"), (SNNET_CONFIG, "l1-s1")],
                         ids=["flexivit", "snnet"])
def test_depth_estimators_export(tmp_path, config, choice):
    """A FlexiViT patch size other than the stored one, a stitched route that crosses anchors;
    the active choice and the modes are as before the export."""
    model = _perturbed(build_model(load_cfg(config)), 4)
    if hasattr(model.backbone, "fit_stitches"):
        model.backbone.fit_stitches([torch.randn(2, 3, 64, 64)])
    before = model.backbone.space()[0]
    model.backbone.activate(before)
    runner = OnnxRunner(export_onnx(model, choice, (64, 64), tmp_path / f"{choice}.onnx"),
                        threads=1)
    assert model.backbone.active_choice == before and not model.training
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    want = _torch_output(model, choice, inputs)
    got = torch.from_numpy(runner(inputs))
    assert got.shape == want.shape == (1, 1, 64, 64)
    assert runner.metadata["output"] == "depth"
    assert (got - want).abs().max() <= 1e-4 * max(1.0, float(want.abs().max()))


def test_detectors_are_refused_in_one_line(tmp_path):
    from tests.detection.conftest import TINY_CONFIGS, build_detector
    from tests.detection.conftest import load_cfg as load_detection_cfg

    detector = build_detector(load_detection_cfg(TINY_CONFIGS["flexivit"])).eval()
    with pytest.raises(TypeError, match="segmentors and depth estimators, not detectors"):
        export_onnx(detector, "p8", (64, 64), tmp_path / "x.onnx")


def _export_tool(monkeypatch, *args) -> None:
    monkeypatch.setattr(sys, "argv", ["export.py", *map(str, args)])
    runpy.run_path(str(REPO / "tools/export.py"), run_name="__main__")


def test_export_tool_checks_the_graph_on_the_test_set(monkeypatch, tmp_path, tiny_checkpoint,
                                                      small_digitseg, capsys):
    config = tmp_path / "tiny.py"
    tiny_cfg(**{"test_dataloader.dataset.data_root": str(small_digitseg),
                "test_dataloader.num_workers": 0,
                "test_dataloader.persistent_workers": False}).dump(str(config))
    out = tmp_path / "p8.onnx"
    _export_tool(monkeypatch, config, tiny_checkpoint, "--format", "onnx", "--choice", "p8",
                 "--shape", 64, 64, "--out", out, "--check", "--threads", 1)
    printed = capsys.readouterr().out
    assert f"wrote {out} (p8, inputs 1x3x64x64)" in printed
    report = json.loads(out.with_suffix(".check.json").read_text())
    assert report["choice"] == "p8" and report["images"] == 8
    assert report["pixel_agreement"] >= 0.999
    assert report["metric"] == "mIoU" and report["metric_difference"] <= 0.1
    assert set(report["latency"]) == {"torch", "onnxruntime"}
    for latency in report["latency"].values():
        assert 0 < latency["median_ms"] <= latency["p95_ms"]
    assert "onnxruntime / torch" in printed and "argmax agreement" in printed


def test_export_tool_refuses_a_shape_that_does_not_fit(monkeypatch, tmp_path,
                                                       tiny_checkpoint, capsys):
    with pytest.raises(SystemExit) as exit_code:
        _export_tool(monkeypatch, TINY_CONFIG, tiny_checkpoint, "--format", "onnx", "--choice",
                     "p16", "--shape", 8, 8, "--out", tmp_path / "x.onnx")
    assert exit_code.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1 and "shape 8x8 does not fit p16" in errors[0]
