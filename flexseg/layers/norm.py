"""LayerNorm over the channels of NCHW maps (each position normalised on its own)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    """``nn.LayerNorm`` applied per pixel of an NCHW tensor.

    The result is contiguous NCHW: normalising channels-last and permuting back leaves a
    channels-last view, which would make the convolutions after it run channels-last (and
    return channels-last weight gradients, which DDP copies into its buckets at every step).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2).contiguous()
