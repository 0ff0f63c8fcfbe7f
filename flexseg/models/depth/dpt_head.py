"""A DPT-style depth head for flexible ViTs.

DPT (Ranftl et al., 2021) reassembles the token maps of four transformer blocks into a pyramid
(strides 4, 8, 16, 32 for a stride-16 ViT), fuses it coarse to fine with residual convolution
units and regresses depth at full resolution. flexseg's backbones hand every level over at one
fixed ``out_stride`` whatever the active patch size or route, so the head is the same module for
every choice: ``scales`` say how each level is resampled from that stride.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from flexseg.layers.precision import float32_island

from .dpt_blocks import FusionBlock, Reassemble


@MODELS.register_module()
class DPTDepthHead(BaseDecodeHead):
    """Reassemble, fuse, regress a positive depth below ``max_depth`` (sigmoid x max_depth).

    Args:
        in_channels: channels of the selected backbone levels (one per level, fine to coarse).
        channels: width of the fused maps (DPT: 256).
        reassemble_channels: width of each level after its 1x1 projection (DPT-Base:
            96, 192, 384, 768).
        scales: resampling factor of each level relative to the backbone's stride (DPT on a
            stride-16 ViT: 4, 2, 1, 0.5); integers or 1/integers.
        head_channels: width of the last hidden layer (DPT: 32).
        max_depth: the largest depth the head can predict, in the ground truth's unit.
        in_index: which backbone outputs are the levels.
        loss_decode: loss config(s) comparing the predicted and ground-truth depth maps
            (SiLog by default); each needs a ``loss_name``.
        align_corners: of the bilinear resizes.

    The ``out_channels``/``num_classes`` attributes (1) are what mmseg's estimator reads.
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 256,
                 reassemble_channels: Sequence[int] = (96, 192, 384, 768),
                 scales: Sequence[float] = (4, 2, 1, 0.5), head_channels: int = 32,
                 max_depth: float = 10.0, in_index: Sequence[int] = (0, 1, 2, 3),
                 loss_decode: dict | Sequence[dict] = dict(type="SiLogLoss"),
                 align_corners: bool = False, init_cfg: dict | list | None = None) -> None:
        # BaseDecodeHead.__init__ builds a classifier for num_classes; a depth head has none
        # (mmseg's own depth head skips it the same way).
        super(BaseDecodeHead, self).__init__(init_cfg=init_cfg)
        if not max_depth > 0:
            raise ValueError(f"max_depth must be a positive depth, got {max_depth}")
        counts = {len(in_channels), len(reassemble_channels), len(scales), len(in_index)}
        if len(counts) != 1:
            raise ValueError(f"in_channels ({len(in_channels)}), reassemble_channels "
                             f"({len(reassemble_channels)}), scales ({len(scales)}) and "
                             f"in_index ({len(in_index)}) must have one entry per level")
        self.in_channels = list(in_channels)
        self.in_index = list(in_index)
        self.input_transform = "multiple_select"
        self.channels = channels
        self.max_depth = float(max_depth)
        self.align_corners = align_corners
        self.num_classes = self.out_channels = 1
        self.reassemble = nn.ModuleList(
            nn.Sequential(Reassemble(c_in, c_mid, scale),
                          nn.Conv2d(c_mid, channels, kernel_size=3, padding=1, bias=False))
            for c_in, c_mid, scale in zip(in_channels, reassemble_channels, scales))
        self.fusion = nn.ModuleList(FusionBlock(channels, align_corners) for _ in in_channels)
        self.regress = nn.Sequential(
            nn.Conv2d(channels, channels // 2, kernel_size=3, padding=1),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=align_corners),
            nn.Conv2d(channels // 2, head_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(head_channels, 1, kernel_size=1))
        losses = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        self.loss_decode = nn.ModuleList(MODELS.build(cfg) for cfg in losses)

    def extra_repr(self) -> str:
        """``BaseDecodeHead``'s names ``ignore_index``, which a depth head has not: printing
        the model (as torch's ONNX exporter does) failed."""
        return (f"in_index={self.in_index}, max_depth={self.max_depth}, "
                f"align_corners={self.align_corners}")

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Backbone levels -> (B, 1, H', W') depth in (0, max_depth) at twice the resolution
        of the finest reassembled level."""
        levels = [stage(inputs[i]) for stage, i in zip(self.reassemble, self.in_index)]
        fused = None
        for block, level in zip(reversed(self.fusion), reversed(levels)):
            fused = block(level, fused)
        return torch.sigmoid(self.regress(fused)) * self.max_depth

    def loss_by_feat(self, pred_depth: torch.Tensor,
                     batch_data_samples: Sequence[SegDataSample]) -> dict[str, torch.Tensor]:
        """Each loss between the prediction (resized to the ground truth) and the ground truth;
        pixels without depth (0) are left out by the losses themselves. The losses run in
        float32 under autocast too (an fp32 island: SiLog's logarithms of half-precision depths
        are too coarse)."""
        gt_depth = torch.stack([sample.gt_depth_map.data for sample in batch_data_samples])
        losses: dict[str, torch.Tensor] = {}
        with float32_island():
            pred_depth = resize(pred_depth.float(), size=gt_depth.shape[2:], mode="bilinear",
                                align_corners=self.align_corners)
            for loss in self.loss_decode:
                value = loss(pred_depth, gt_depth.float())
                losses[loss.loss_name] = losses.get(loss.loss_name, 0) + value
        return losses
