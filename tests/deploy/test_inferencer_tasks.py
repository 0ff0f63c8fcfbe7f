"""FlexInferencer on the other tasks: a detector (MMDetection's DetInferencer underneath) and a
depth estimator switch choice per call and equal a model pinned to each choice."""
import warnings

import pytest
import torch
from mmdet.apis import DetInferencer
from mmengine.config import Config

from flexseg.deploy.inferencer import FlexDetInferencer, FlexInferencer, FlexSegInferencer
from flexseg.evaluation.export import export_fixed_budget
from tests.depth.conftest import FLEXIVIT_CONFIG as DEPTH_CONFIG
from tests.depth.conftest import build_model as build_depth_model
from tests.depth.conftest import load_cfg as load_depth_cfg
from tests.detection.conftest import TINY_CONFIGS, build_detector, load_cfg

SWITCHES = ["p4", "p16", "p8", "p4", "p16"]


def _save(model, path):
    torch.save({"meta": {}, "state_dict": model.state_dict()}, path)
    return path


def _pinned(cfg, model, choice, directory):
    out = directory / f"pinned_{choice}.pth"
    export_fixed_budget(cfg, model, choice, "flexseg", out, (64, 64))
    return out.with_suffix(".py"), out


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    directory = tmp_path_factory.mktemp("detector")
    cfg = load_cfg(TINY_CONFIGS["flexivit"])
    torch.manual_seed(0)
    model = build_detector(cfg)
    model.init_weights()
    return cfg, model, _save(model, directory / "flexible.pth"), directory


def test_detector_switches_per_call_and_equals_the_pinned_detector(detector, images):
    cfg, model, checkpoint, directory = detector
    inferencer = FlexInferencer(TINY_CONFIGS["flexivit"], checkpoint)
    assert isinstance(inferencer, FlexDetInferencer)
    assert inferencer.choice_ids == ["p16", "p8", "p4"]
    stock = {}
    for choice in set(SWITCHES):
        config, weights = _pinned(cfg, model, choice, directory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stock[choice] = DetInferencer(str(config), str(weights), device="cpu",
                                          show_progress=False)
    for choice in SWITCHES:
        got = inferencer(images, budget=choice, return_datasamples=True)
        want = stock[choice](images, return_datasamples=True)
        assert got["choice"] == choice
        for a, b in zip(got["predictions"], want["predictions"], strict=True):
            assert a.metainfo["choice"] == choice
            assert len(a.pred_instances) > 0
            assert torch.equal(a.pred_instances.bboxes, b.pred_instances.bboxes)
            assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)
    plain = inferencer(images[0], budget="p8")
    assert plain["choice"] == "p8" and "bboxes" in plain["predictions"][0]


def test_detectors_have_no_tensor_path(detector, images):
    _, _, checkpoint, _ = detector
    inferencer = FlexInferencer(TINY_CONFIGS["flexivit"], checkpoint, warmup=False)
    with pytest.raises(TypeError, match="not detectors"):
        inferencer.run_pinned(torch.zeros(1, 3, 64, 64), "p8")


def test_depth_estimator_switches_per_call_and_equals_the_pinned_estimator(tmp_path, images):
    cfg = load_depth_cfg(DEPTH_CONFIG)
    model = build_depth_model(cfg)
    with torch.no_grad():
        for param in model.backbone.parameters():
            param.add_(0.05 * torch.randn_like(param))
    checkpoint = _save(model, tmp_path / "depth.pth")
    inferencer = FlexInferencer(DEPTH_CONFIG, checkpoint)
    assert isinstance(inferencer, FlexSegInferencer)
    pinned = {}
    for choice in ("p8", "p16"):
        config, weights = _pinned(cfg, model, choice, tmp_path)
        pinned[choice] = FlexInferencer(Config.fromfile(str(config)), weights)
    maps = {}
    for choice in ["p16", "p8", "p16", "p8"]:
        got = inferencer(images, budget=choice)
        want = pinned[choice](images)
        assert got["choice"] == choice
        for a, b in zip(got["predictions"], want["predictions"], strict=True):
            assert a.shape == (64, 64)
            assert (a == b).all()
        maps[choice] = got["predictions"][0]
    assert (maps["p8"] != maps["p16"]).any()
    batch = inferencer.preprocess_images(images)
    assert inferencer.run_pinned(batch, "p8").shape == (2, 1, 64, 64)
