"""Stochastic depth: drop a residual branch for whole samples during training."""
from __future__ import annotations

import torch
import torch.nn as nn


class DropPath(nn.Module):
    """Zero the branch for a random subset of samples, rescaling the rest by 1/keep."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        return x * self.sample_scales(x).view((x.shape[0],) + (1,) * (x.ndim - 1))

    def sample_scales(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) factor of each sample's branch: 0 (dropped) or 1/keep in training, else 1."""
        if not self.training or self.drop_prob == 0.0:
            return x.new_ones(x.shape[0])
        keep = 1.0 - self.drop_prob
        return x.new_empty(x.shape[0]).bernoulli_(keep) / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"
