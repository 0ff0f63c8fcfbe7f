"""Backbone maps and every feature map after them are contiguous NCHW, for every choice of
segmentors, detectors and depth estimators of both backbones.

Why it matters: a channels-last map makes each convolution after it run channels-last, and on
some backends (the CPU at batch 16, cuDNN) the weight gradients then come out channels-last.
DDP copies such a gradient into its bucket at every step and warns "Grad strides do not match
bucket view strides" (the 2-rank run in tests/compat/test_ddp.py checks the warning itself)."""
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from flexseg.budget.inference import InferenceForward
from flexseg.compat import adapt_config_to_device
from tests.conftest import REPO

CONFIGS = {
    "flexivit-seg": "tests/evaluation/configs/flexivit-tiny_upernet_digitseg-64x64.py",
    "stitched-seg": "configs/snnet/snnet-tiny_upernet_digitseg-64x64.py",
    "flexivit-det": "tests/detection/configs/flexivit-tiny_maskrcnn_digitseg-coco.py",
    "stitched-det": "tests/detection/configs/snnet-tiny_maskrcnn_digitseg-coco.py",
    "flexivit-depth": "tests/depth/configs/flexivit-tiny_dpt_digitseg-nyu-64x64.py",
    "stitched-depth": "tests/depth/configs/snnet-tiny_dpt_digitseg-nyu-64x64.py",
}
# Token keeping restores dropped tokens before the maps are made: one config keeps them.
KEEP = {"model.backbone.keep_points": [1], "model.backbone.keep_rates": [1.0, 0.5]}


def _build(name: str, options: dict) -> nn.Module:
    cfg = Config.fromfile(str(REPO / CONFIGS[name]))
    cfg.merge_from_dict(options)
    adapt_config_to_device(cfg)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    cfg.model.backbone.pop("init_cfg", None)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


@pytest.mark.parametrize("name, options", [*[(name, {}) for name in CONFIGS],
                                           ("flexivit-seg", KEEP)],
                         ids=[*CONFIGS, "flexivit-seg-keep"])
def test_every_convolution_sees_contiguous_nchw_inputs(name, options):
    model = _build(name, options)
    seen: list[str] = []

    def check(module_name: str, inputs: tuple) -> None:
        x = inputs[0]
        if isinstance(x, torch.Tensor) and x.dim() == 4 and not x.is_contiguous():
            seen.append(f"{module_name} {tuple(x.shape)} strides {x.stride()}")

    convs = [(n, m) for n, m in model.named_modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    for module_name, module in convs:
        module.register_forward_pre_hook(lambda _, args, n=module_name: check(n, args))
    forward = InferenceForward(model, (64, 64), batch_size=2)
    backbone = model.backbone
    space = backbone.space()
    with torch.no_grad():
        for choice in space:
            backbone.activate(choice)
            maps = backbone(forward.synthetic_images())
            assert all(level.is_contiguous() for level in maps), choice.id
            forward(forward.synthetic_images())
    assert len(space) > 1 and len(convs) > 3
    assert not seen, "\n".join(sorted(set(seen)))
