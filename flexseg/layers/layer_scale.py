"""Per-channel learned residual scaling (CaiT/DeiT III layer scale; timm name ``gamma``)."""
from __future__ import annotations

import torch
import torch.nn as nn


class LayerScale(nn.Module):
    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma
