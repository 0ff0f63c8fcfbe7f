"""Building blocks of the DPT depth head (Ranftl et al., "Vision Transformers for Dense
Prediction"): reassembling a single-stride token map at another stride, and fusing a coarser
fused map into a finer one with residual convolution units."""
from __future__ import annotations

from fractions import Fraction

import torch
import torch.nn as nn
import torch.nn.functional as F


def _resampler(channels: int, scale: Fraction) -> nn.Module:
    """Upsample by an integer factor (transposed conv), keep, or downsample by one (strided
    3x3 conv), as DPT's Resample stage does."""
    if scale == 1:
        return nn.Identity()
    if scale > 1 and scale.denominator == 1:
        factor = int(scale)
        return nn.ConvTranspose2d(channels, channels, kernel_size=factor, stride=factor)
    if scale < 1 and scale.numerator == 1:
        return nn.Conv2d(channels, channels, kernel_size=3, stride=scale.denominator, padding=1)
    raise ValueError(f"a reassemble scale must be an integer or 1/integer, got {float(scale):g}")


class Reassemble(nn.Module):
    """Token map (B, C_in, h, w) -> (B, C_out, h * scale, w * scale): 1x1 projection, then
    resampling."""

    def __init__(self, in_channels: int, out_channels: int, scale: float) -> None:
        super().__init__()
        self.project = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.resample = _resampler(out_channels, Fraction(scale).limit_denominator(64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resample(self.project(x))


class ResidualConvUnit(nn.Module):
    """x + conv(relu(conv(relu(x)))), 3x3 convolutions, channels kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """Fuse one reassembled level with the fused result of the coarser levels.

    The coarser result is resized to this level's size (DPT upsamples by 2; resizing to the
    exact size also covers maps whose sides were rounded up), added to the level after a
    residual unit, refined by a second one and projected (1x1)."""

    def __init__(self, channels: int, align_corners: bool = False) -> None:
        super().__init__()
        self.skip_unit = ResidualConvUnit(channels)
        self.unit = ResidualConvUnit(channels)
        self.project = nn.Conv2d(channels, channels, kernel_size=1)
        self.align_corners = align_corners

    def forward(self, level: torch.Tensor, coarser: torch.Tensor | None = None) -> torch.Tensor:
        x = self.skip_unit(level)
        if coarser is not None:
            x = x + F.interpolate(coarser, size=level.shape[-2:], mode="bilinear",
                                  align_corners=self.align_corners)
        return self.project(self.unit(x))
