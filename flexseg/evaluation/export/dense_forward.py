"""A segmentor or depth estimator as one tensor function: the graph that is exported and timed.

A preprocessed batch (N, 3, H, W) -> per-pixel outputs at the input size: segmentation logits
(N, classes, H, W) or depth (N, 1, H, W). It is the model's own ``encode_decode`` (backbone,
neck, head, resize to the input) with the image metas a test batch of that size carries, so it
computes exactly what the test path computes before post-processing (cropping padding, resizing
to the original image). ONNX export traces it, ``FlexInferencer.run_pinned`` runs it and latency
profiles time it, so all three measure one thing.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from mmseg.models.segmentors import DepthEstimator

from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice, find_flexible, unwrap

OUTPUT_NAMES = {"segmentation": "seg_logits", "depth": "depth"}


def task_of(model: nn.Module) -> str:
    """'segmentation' or 'depth'; other models (detectors) are refused in one line."""
    model = unwrap(model)
    if isinstance(model, DepthEstimator):
        return "depth"
    if hasattr(model, "encode_decode"):
        return "segmentation"
    raise TypeError(f"{type(model).__name__} has no per-pixel output (encode_decode): the "
                    "tensor path covers MMSegmentation segmentors and depth estimators, not "
                    "detectors")


class DenseForward(nn.Module):
    """``model.encode_decode(inputs, metas of an unpadded batch of inputs' size)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.task = task_of(model)
        self.model = unwrap(model)
        mode = (self.model.test_cfg or {}).get("mode", "whole")
        if mode != "whole":
            raise ValueError(f"the config tests with mode={mode!r}; the tensor path (export, "
                             "profiling) runs whole-image inference: set "
                             "model.test_cfg.mode='whole' and the shape to the crop size")

    @property
    def output_name(self) -> str:
        return OUTPUT_NAMES[self.task]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        height, width = inputs.shape[-2:]
        shape = (int(height), int(width))
        metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                      batch_input_shape=shape)]
        return self.model.encode_decode(inputs, metas)


def run_at_shape(model: nn.Module, choice: Choice | str, image_hw: Size2d,
                 batch: int = 1) -> torch.Tensor:
    """``DenseForward`` of a zero batch at ``choice`` (restored afterwards), under no_grad, in
    the model's current mode: whether the shape fits the choice (one line naming both if not),
    and, in eval mode, the eager pass that derives what the choice needs at that size (resized
    kernels, position embeddings) for later calls and for export."""
    backbone = find_flexible(model)
    choice = backbone.choice(choice)
    forward = DenseForward(model)
    original = backbone.active_choice
    images = torch.zeros(batch, 3, *image_hw, device=next(forward.parameters()).device)
    backbone.activate(choice)
    try:
        with torch.no_grad():
            return forward(images)
    except (RuntimeError, ValueError, IndexError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else \
            type(error).__name__
        raise ValueError(f"shape {image_hw[0]}x{image_hw[1]} does not fit {choice.id}: "
                         f"{reason}") from None
    finally:
        backbone.activate(original)
