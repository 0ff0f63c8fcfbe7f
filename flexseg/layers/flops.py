"""Analytic ViT cost in multiply-adds (one per multiply-accumulate, as mmengine counts).

Counted: the patch embedding (linear conv or hMLP stem), per block the qkv projection, the
attention matmuls ``q k^T`` and ``attn v`` (global, or per window with its padded positions in
windowed blocks, ``layers.window``), the output projection and the two MLP layers.
Ignored (small, and not matmuls): norms, softmax, GELU, biases, residual and position-embedding
additions, the resampling of output maps to a fixed stride, and the PI-resize of the kernel (per
weight update in training, cached at inference).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .grid import token_grid_size
from .size import Size2d
from .token_keep import kept_patches
from .window import window_matmul_flops


def linear_patch_embed_flops(grid_hw: Size2d, patch_hw: Size2d, in_chans: int,
                             embed_dim: int) -> int:
    """One ``in_chans * p_h * p_w -> embed_dim`` projection per token."""
    return grid_hw[0] * grid_hw[1] * in_chans * patch_hw[0] * patch_hw[1] * embed_dim


def hmlp_stem_flops(grid_hw: Size2d, in_chans: int, embed_dim: int,
                    patch_hw: Size2d | None = None, native_hw: Size2d = (16, 16)) -> int:
    """hMLP stem per token at its native size P: 16 convs (P/4 x P/4, C -> D/4), 4 convs 2x2
    (D/4 -> D/4), 1 conv 2x2 (D/4 -> D); at another patch size p, first the map of the patch
    to P x P (``layers.hmlp``: rows then columns, C P_h p_w (p_h + P_w))."""
    hidden = embed_dim // 4
    first = (native_hw[0] // 4) * (native_hw[1] // 4)
    per_token = (16 * (in_chans * first * hidden) + 4 * (hidden * 4 * hidden)
                 + hidden * 4 * embed_dim)
    if patch_hw is not None and tuple(patch_hw) != tuple(native_hw):
        per_token += in_chans * native_hw[0] * patch_hw[1] * (patch_hw[0] + native_hw[1])
    return grid_hw[0] * grid_hw[1] * per_token


def attention_flops(tokens: int, dim: int) -> int:
    """qkv (3 D^2 per token) + q k^T and attn v (N^2 D each) + output projection (D^2)."""
    return tokens * dim * 3 * dim + 2 * tokens * tokens * dim + tokens * dim * dim


def mlp_flops(tokens: int, dim: int, hidden_dim: int) -> int:
    return 2 * tokens * dim * hidden_dim


def block_flops(tokens: int, dim: int, mlp_hidden_dim: int, num_parallel: int = 1) -> int:
    """One (possibly parallel) transformer block over ``tokens`` tokens."""
    return num_parallel * (attention_flops(tokens, dim) + mlp_flops(tokens, dim, mlp_hidden_dim))


def windowed_block_flops(grid_hw: Size2d, num_prefix_tokens: int, dim: int,
                         mlp_hidden_dim: int, window: int, num_parallel: int = 1) -> int:
    """One block with windowed attention over every patch token of the grid (plus the prefix):
    the global block's projections and MLP, the windowed matmuls."""
    tokens = grid_hw[0] * grid_hw[1] + num_prefix_tokens
    per_branch = (4 * tokens * dim * dim + mlp_flops(tokens, dim, mlp_hidden_dim)
                  + window_matmul_flops(grid_hw, num_prefix_tokens, dim, window))
    return num_parallel * per_branch


def importance_flops(tokens: int, dim: int, score: str) -> int:
    """Token-importance scores at a keep point: the class query against every key (T D), or
    every query against every key (T^2 D)."""
    return tokens * dim if score == "cls" else tokens * tokens * dim


@dataclass(frozen=True)
class BlockShape:
    """What one block's cost depends on: its width, MLP width, parallel branches, attention
    window (None: global) and whether tokens are pruned after it (a keep point)."""

    dim: int
    mlp_hidden_dim: int
    num_parallel: int = 1
    window_size: int | None = None
    keeps_after: bool = False


def blocks_flops(blocks: Sequence[BlockShape], grid_hw: Size2d, num_prefix_tokens: int,
                 keep_rate: float = 1.0, keep_score: str = "cls", keep_site: str = "attention",
                 keep_base: str = "tokens") -> int:
    """A sequence of blocks (one ViT's, or a stitched route's segments in turn) over the
    ``grid_hw`` patch tokens plus the prefix. When ``keep_rate < 1`` the patch tokens are
    pruned at each global block marked ``keeps_after`` (its scores counted), between its
    attention and MLP (``keep_site='attention'``) or after it ('block'), keeping
    ``token_keep.kept_patches``; windowed blocks process every token of the grid
    (``layers.window``)."""
    patches = grid_hw[0] * grid_hw[1]
    prefix = num_prefix_tokens
    total = 0
    for block in blocks:
        if block.window_size is not None:
            total += windowed_block_flops(grid_hw, prefix, block.dim, block.mlp_hidden_dim,
                                          block.window_size, block.num_parallel)
            continue
        tokens = patches + prefix
        if not (keep_rate < 1 and block.keeps_after):
            total += block_flops(tokens, block.dim, block.mlp_hidden_dim, block.num_parallel)
            continue
        kept = kept_patches(patches, keep_rate, prefix, keep_base)
        mlp_tokens = kept + prefix if keep_site == "attention" else tokens
        total += block.num_parallel * (attention_flops(tokens, block.dim)
                                       + importance_flops(tokens, block.dim, keep_score)
                                       + mlp_flops(mlp_tokens, block.dim, block.mlp_hidden_dim))
        patches = kept
    return total


def vit_flops(image_hw: Size2d, patch_hw: Size2d, *, embed_dim: int, depth: int,
              mlp_hidden_dim: int, in_chans: int = 3, num_prefix_tokens: int = 1,
              num_parallel: int = 1, stem: str = "linear", fit: str = "pad",
              keep_points: Sequence[int] = (), keep_rate: float = 1.0,
              keep_score: str = "cls", window_size: int | None = None,
              global_indices: Sequence[int] = (), hmlp_patch: Size2d = (16, 16),
              keep_site: str = "attention", keep_base: str = "tokens") -> int:
    """Multiply-adds of a ViT backbone for one image, on the (padded or cropped) token grid,
    with token keeping at ``keep_points`` at ``keep_rate`` (``token_keep``; ``keep_site``,
    ``keep_base``) and windowed
    attention outside ``global_indices`` when ``window_size`` is set (``layers.window``);
    ``hmlp_patch``: the hMLP stem's native patch size."""
    grid_hw = token_grid_size(image_hw, patch_hw, fit)
    if stem == "linear":
        embed = linear_patch_embed_flops(grid_hw, patch_hw, in_chans, embed_dim)
    elif stem == "hmlp":
        embed = hmlp_stem_flops(grid_hw, in_chans, embed_dim, patch_hw, hmlp_patch)
    else:
        raise ValueError(f"stem must be 'linear' or 'hmlp', got {stem!r}")
    blocks = [BlockShape(embed_dim, mlp_hidden_dim, num_parallel,
                         None if window_size is None or index in global_indices else window_size,
                         index in keep_points) for index in range(depth)]
    return embed + blocks_flops(blocks, grid_hw, num_prefix_tokens, keep_rate, keep_score,
                                keep_site, keep_base)
