"""Hierarchical MLP (hMLP) patch stem from "Three things everyone should know about ViTs".

A 16x16 patch is embedded in three stages (4x4 -> 2x2 -> 2x2), each a convolution whose kernel
equals its stride followed by a norm (and GELU between stages). Kernels never straddle patch
borders, so each patch is processed on its own (with ``norm='bn'`` this holds in eval mode,
where BatchNorm uses running statistics).

Flexible patch size: the stem is nonlinear, so PI-resize does not apply. Patch sizes that are
multiples of the native 16 (per side, rectangular allowed: (16 k_h, 16 k_w)) are supported by
average-pooling every (16 k_h x 16 k_w) patch down to 16x16 first: ``k_h x k_w`` pooling
windows never cross patch borders, so patches stay independent. Any other size raises
ValueError.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .norm import LayerNorm2d
from .size import Size2d

HMLP_PATCH = 16
_NORMS = {"bn": nn.BatchNorm2d, "ln": lambda channels: LayerNorm2d(channels, eps=1e-6)}


def check_hmlp_patch_size(patch_hw: Size2d) -> None:
    """Raise ValueError unless both sides are positive multiples of 16."""
    if any(side <= 0 or side % HMLP_PATCH for side in patch_hw):
        raise ValueError(f"the hMLP stem supports patch sizes that are multiples of "
                         f"{HMLP_PATCH} per side (16, 32, 48, (16, 32), ...), got {patch_hw}")


class HMLPStem(nn.Module):
    """hMLP stem: NCHW image (a whole number of patches) -> NCHW token grid."""

    def __init__(self, in_chans: int, embed_dim: int, norm: str = "bn") -> None:
        super().__init__()
        if norm not in _NORMS:
            raise ValueError(f"hmlp_norm (the hMLP stem's norm) must be one of {sorted(_NORMS)}, "
                             f"got {norm!r}")
        if embed_dim % 4:
            raise ValueError(f"the hMLP stem needs embed_dim divisible by 4, got {embed_dim}")
        hidden = embed_dim // 4
        make_norm = _NORMS[norm]
        self.patch_size = (HMLP_PATCH, HMLP_PATCH)
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, hidden, kernel_size=4, stride=4), make_norm(hidden), nn.GELU(),
            nn.Conv2d(hidden, hidden, kernel_size=2, stride=2), make_norm(hidden), nn.GELU(),
            nn.Conv2d(hidden, embed_dim, kernel_size=2, stride=2), make_norm(embed_dim),
        )

    def forward(self, x: torch.Tensor, patch_hw: Size2d) -> torch.Tensor:
        check_hmlp_patch_size(patch_hw)
        pool = (patch_hw[0] // HMLP_PATCH, patch_hw[1] // HMLP_PATCH)
        if pool != (1, 1):
            x = F.avg_pool2d(x, kernel_size=pool, stride=pool)
        return self.proj(x)
