"""ViTDet-style simple feature pyramid: a multi-scale pyramid from one single-stride ViT map.

A plain ViT has one stride (16 here); detectors with FPN-style heads want strides 4-32 (and
often 64). ViTDet showed that deconvolutions, identity and max pooling from the last map,
each followed by 1x1 and 3x3 convolutions, are enough.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from flexseg.layers import LayerNorm2d
from flexseg.registry import register_model

SUPPORTED_SCALES = (4.0, 2.0, 1.0, 0.5, 0.25, 0.125)
VITDET_SCALES = (4.0, 2.0, 1.0, 0.5)


def _rescale(scale: float, channels: int) -> tuple[nn.Module, int]:
    """The resampling stage for ``scale`` and its output channels."""
    if scale == 4.0:
        half = channels // 2
        return nn.Sequential(
            nn.ConvTranspose2d(channels, half, kernel_size=2, stride=2), LayerNorm2d(half),
            nn.GELU(), nn.ConvTranspose2d(half, half // 2, kernel_size=2, stride=2)), half // 2
    if scale == 2.0:
        return nn.ConvTranspose2d(channels, channels // 2, kernel_size=2, stride=2), channels // 2
    if scale == 1.0:
        return nn.Identity(), channels
    if scale in (0.5, 0.25, 0.125):
        factor = int(1 / scale)
        return nn.MaxPool2d(kernel_size=factor, stride=factor), channels
    raise ValueError(f"scale factors must be among {SUPPORTED_SCALES}, got {scale}")


def _project(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), LayerNorm2d(out_channels),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        LayerNorm2d(out_channels))


@register_model
class SimpleFeaturePyramid(BaseModule):
    """One input map (``inputs[in_index]``, stride s) -> maps at strides s / scale.

    With the default scales and a stride-16 input the outputs have strides 4, 8, 16, 32 (from
    a stride-8 input, scales 2, 1, 0.5, 0.25 give the same strides, from a stride-4 one 1, 0.5,
    0.25, 0.125); levels
    beyond ``len(scale_factors)`` (``num_outs``) are max-pooled (kernel 1, stride 2) from the
    last one, like mmdet's FPN without extra convs (stride 64 for RPN anchors).
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 scale_factors: Sequence[float] = VITDET_SCALES, num_outs: int = 5,
                 in_index: int = -1, init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(scale_factors):
            raise ValueError(f"num_outs ({num_outs}) < number of scale factors "
                             f"({len(scale_factors)})")
        self.in_index = in_index
        self.num_outs = num_outs
        self.rescales = nn.ModuleList()
        self.projections = nn.ModuleList()
        for scale in scale_factors:
            rescale, channels = _rescale(float(scale), in_channels)
            self.rescales.append(rescale)
            self.projections.append(_project(channels, out_channels))

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        feature = inputs[self.in_index]
        # mmcv's RoIAlign reads its input's memory as contiguous NCHW, which the projections'
        # last LayerNorm2d returns (a channels-last view would scramble every RoI feature).
        outputs = [project(rescale(feature))
                   for rescale, project in zip(self.rescales, self.projections)]
        while len(outputs) < self.num_outs:
            outputs.append(F.max_pool2d(outputs[-1], kernel_size=1, stride=2))
        return tuple(outputs)
