"""ONNX export of one choice: the graph ONNX Runtime runs computes what the torch model computes
at that choice (segmentor, depth estimator, stitched backbone), the shape is static and must
fit the choice, and the check on a test set reports agreement, metrics and both latencies."""
import json
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch

from flexseg.deploy.onnx_runtime import OnnxRunner
from flexseg.evaluation.export.dense_forward import DenseForward
from flexseg.evaluation.export.onnx import export_onnx
from tests.conftest import PYTHON, REPO
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


@pytest.mark.parametrize("choice", CHOICES)
def test_every_choice_runs_in_onnx_runtime_as_in_torch(segmentor, tmp_path, choice):
    path = export_onnx(segmentor, choice, (64, 64), tmp_path / f"{choice}.onnx", batch=2)
    runner = OnnxRunner(path, threads=1)
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


def test_the_graph_is_one_choice_not_the_flexible_model(segmentor, tmp_path):
    """Exporting p4 then p16 gives two graphs that differ as the torch choices do."""
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    outputs = {}
    for choice in ("p4", "p16"):
        runner = OnnxRunner(export_onnx(segmentor, choice, (64, 64),
                                        tmp_path / f"{choice}.onnx"), threads=1)
        outputs[choice] = runner(inputs)
    assert np.abs(outputs["p4"] - outputs["p16"]).max() > 1e-2


def test_export_restores_the_active_choice_and_mode(segmentor, tmp_path):
    segmentor.backbone.activate("p8")
    export_onnx(segmentor, "p4", (64, 64), tmp_path / "p4.onnx")
    assert segmentor.backbone.active_choice.id == "p8"
    assert not segmentor.training


def test_static_shape_refuses_other_inputs(segmentor, tmp_path):
    runner = OnnxRunner(export_onnx(segmentor, "p8", (64, 64), tmp_path / "p8.onnx"))
    with pytest.raises(ValueError, match="takes inputs of shape 1x3x64x64 .static., got "
                                         "1x3x32x32"):
        runner(torch.zeros(1, 3, 32, 32))


def test_a_shape_that_does_not_fit_the_choice_is_one_line(segmentor, tmp_path):
    with pytest.raises(ValueError) as error:
        export_onnx(segmentor, "p16", (8, 8), tmp_path / "x.onnx")
    message = str(error.value)
    assert message.startswith("shape 8x8 does not fit p16: patch size p16 is larger than the "
                              "8x8 input")
    assert "\n" not in message and not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("config", [FLEXIVIT_CONFIG, SNNET_CONFIG], ids=["flexivit", "snnet"])
def test_depth_estimators_export_every_choice(tmp_path, config):
    model = _perturbed(build_model(load_cfg(config)), 4)
    if hasattr(model.backbone, "fit_stitches"):
        model.backbone.fit_stitches([torch.randn(2, 3, 64, 64)])
    inputs = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    choices = [c.id for c in model.backbone.space()]
    for choice in (choices[0], choices[len(choices) // 2], choices[-1]):
        runner = OnnxRunner(export_onnx(model, choice, (64, 64), tmp_path / f"{choice}.onnx"),
                            threads=1)
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


def _tool_error(*args) -> str:
    result = subprocess.run([PYTHON, "tools/export.py", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    return errors[0]


def test_export_tool_refuses_a_shape_that_does_not_fit(tmp_path, tiny_checkpoint):
    error = _tool_error(TINY_CONFIG, tiny_checkpoint, "--format", "onnx", "--choice", "p16",
                        "--shape", 8, 8, "--out", tmp_path / "x.onnx")
    assert "shape 8x8 does not fit p16" in error
