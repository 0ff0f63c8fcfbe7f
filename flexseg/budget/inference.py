"""The inference path of an OpenMMLab model on synthetic images: what FLOPs are counted on and
latency is timed on. Counting runs in float32 under autocast too (an fp32 island): a price must
not depend on the precision of the pass that asks for it.

Segmentors and detectors expose it as ``_forward(inputs, data_samples)`` (the ``tensor`` mode:
backbone, neck and heads, without pre- or post-processing). mmengine's counter traces a module
called with tensors only, so ``InferenceForward`` binds the data samples a detector needs.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.structures import BaseDataElement

from flexseg.budget.compile import eager_forwards
from flexseg.layers import explicit_attention, float32_island
from flexseg.layers.size import Size2d
from flexseg.models.contract import unwrap

BACKBONE_SCOPE = "model.backbone"  # the backbone's name inside InferenceForward


class InferenceForward(nn.Module):
    """``model._forward(images, data_samples)`` for a batch of ``image_hw`` images."""

    def __init__(self, model: nn.Module, image_hw: Size2d, batch_size: int = 1) -> None:
        super().__init__()
        self.model = unwrap(model)
        if not hasattr(self.model, "_forward"):
            raise TypeError(f"{type(self.model).__name__} has no tensor-mode ``_forward``; "
                            "expected an MMSegmentation segmentor or an MMDetection detector")
        height, width = image_hw
        meta = dict(img_shape=(height, width), ori_shape=(height, width),
                    pad_shape=(height, width), batch_input_shape=(height, width),
                    scale_factor=(1.0, 1.0))
        self.data_samples = [BaseDataElement(metainfo=meta) for _ in range(batch_size)]

    def forward(self, images: torch.Tensor):
        return self.model._forward(images, self.data_samples)

    def synthetic_images(self) -> torch.Tensor:
        """Normalised-looking images on the model's device, the same for every call (a
        detector's cost depends on the values through its proposals)."""
        height, width = self.data_samples[0].img_shape
        generator = torch.Generator().manual_seed(0)
        images = torch.randn(len(self.data_samples), 3, height, width, generator=generator)
        return images.to(next(self.model.parameters()).device)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Evaluation mode inside the block; every module's own mode is restored after it."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _analyzer(forward: InferenceForward) -> FlopAnalyzer:
    analyzer = FlopAnalyzer(forward, (forward.synthetic_images(),))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


def count_flops_outside_backbone(model: nn.Module, image_hw: Size2d) -> int:
    """mmengine's multiply-add count of one ``image_hw`` image through the inference path,
    minus what it attributes to the backbone (whose count misses fused attention and includes
    one-off derived weights, so the backbone is costed analytically instead)."""
    forward = InferenceForward(model, image_hw)
    with torch.no_grad(), eval_mode(forward), float32_island(), eager_forwards(model):
        analyzer = _analyzer(forward)
        return int(analyzer.total() - analyzer.total(BACKBONE_SCOPE))


def count_flops_explicitly(model: nn.Module, image_hw: Size2d) -> tuple[int, int]:
    """(whole model, backbone) multiply-adds of one ``image_hw`` image as mmengine's counter
    finds them with attention as explicit matmuls, after a warm-up pass that caches what the
    backbone derives from its weights (resized kernels, merged stitching maps): the
    independent count the analytic backbone FLOPs are checked against."""
    forward = InferenceForward(model, image_hw)
    with torch.no_grad(), eval_mode(forward), explicit_attention(forward), float32_island(), \
            eager_forwards(model):
        forward(forward.synthetic_images())
        analyzer = _analyzer(forward)
        return int(analyzer.total()), int(analyzer.total(BACKBONE_SCOPE))
