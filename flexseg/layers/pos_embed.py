"""Position embeddings stored on a small grid and resampled to any token grid.

FlexiViT keeps a learned 7x7 grid and resizes it bilinearly to the token grid of the active
patch size, with timm's ``resample_abs_pos_embed`` (``interpolation='bilinear'``,
``antialias=True``): half-pixel centres, plain bilinear when enlarging, and an anti-aliasing
filter when shrinking (as ``jax.image.resize`` does by default in big_vision). timm computes in
float32 and returns the input's dtype; under autocast it stays in float32 (an fp32 island).
"""
from __future__ import annotations

import torch
from timm.layers import resample_abs_pos_embed

from .precision import float32_island
from .size import Size2d


def resample_pos_embed(pos_embed: torch.Tensor, old_hw: Size2d, new_hw: Size2d) -> torch.Tensor:
    """Resample (1, old_h*old_w, D) grid embeddings (row-major) to (1, new_h*new_w, D)."""
    if tuple(old_hw) == tuple(new_hw):
        return pos_embed
    if pos_embed.shape[1] != old_hw[0] * old_hw[1]:
        raise ValueError(f"position embedding has {pos_embed.shape[1]} entries, "
                         f"not a {old_hw[0]}x{old_hw[1]} grid")
    with float32_island():
        return resample_abs_pos_embed(pos_embed, list(new_hw), old_size=list(old_hw),
                                      num_prefix_tokens=0, interpolation="bilinear",
                                      antialias=True)
