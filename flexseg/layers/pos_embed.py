"""Position embeddings stored on a small grid and resampled to any token grid.

FlexiViT keeps a learned 7x7 grid and resizes it bilinearly to the token grid of the active
patch size. Resampling uses ``F.interpolate(mode='bilinear', align_corners=False,
antialias=True)``: half-pixel centres, plain bilinear when enlarging, and an anti-aliasing
filter when shrinking (as ``jax.image.resize`` does by default in big_vision).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .size import Size2d


def resample_pos_embed(pos_embed: torch.Tensor, old_hw: Size2d, new_hw: Size2d) -> torch.Tensor:
    """Resample (1, old_h*old_w, D) grid embeddings (row-major) to (1, new_h*new_w, D)."""
    if tuple(old_hw) == tuple(new_hw):
        return pos_embed
    if pos_embed.shape[1] != old_hw[0] * old_hw[1]:
        raise ValueError(f"position embedding has {pos_embed.shape[1]} entries, "
                         f"not a {old_hw[0]}x{old_hw[1]} grid")
    dim = pos_embed.shape[-1]
    grid = pos_embed.reshape(1, old_hw[0], old_hw[1], dim).permute(0, 3, 1, 2)
    compute_dtype = torch.float64 if grid.dtype == torch.float64 else torch.float32
    grid = F.interpolate(grid.to(compute_dtype), size=tuple(new_hw), mode="bilinear",
                         align_corners=False, antialias=True)
    return grid.to(pos_embed.dtype).permute(0, 2, 3, 1).reshape(1, new_hw[0] * new_hw[1], dim)
