"""Multi-head self-attention on ``F.scaled_dot_product_attention``, global or windowed.

FLOP counters see the fused kernel as zero work, so each module can switch to an explicit
``softmax(q k^T / sqrt(d)) v`` (same result, counted matmuls) through ``explicit_attention``.
Windowed attention (``window_size``, see ``layers.window``) needs the token grid at call time.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .size import Size2d
from .token_keep import attention_importance
from .window import merge_windows, partition_windows, window_counts, window_key_mask


class Attention(nn.Module):
    """Self-attention with timm's parameter names (``qkv``, ``proj``); windowed within
    ``window_size``-token squares of the grid when it is set (``layers.window``)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 window_size: int | None = None) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.window_size = window_size
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.fused = True

    def forward(self, x: torch.Tensor, importance: str | None = None,
                grid_hw: Size2d | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``importance`` ('cls' or 'received', see ``token_keep``) also returns a (B, T)
        importance score of every token, computed from this attention's queries and keys.
        ``grid_hw``: the patch grid, required when windowed (the prefix is what precedes it)."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = self.attend(q, k, v, grid_hw)
        out = self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))
        if importance is None:
            return out
        return out, attention_importance(q, k, importance)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               grid_hw: Size2d | None = None) -> torch.Tensor:
        """Heads' outputs (B, heads, T, d) from their queries, keys and values, globally or
        within windows. Any number of heads of this head size: a parallel block runs all its
        branches' heads in one call (``block.ParallelBlock``)."""
        if self.window_size is None:
            return self._attend(q, k, v)
        if grid_hw is None:
            raise ValueError("windowed attention needs the token grid (grid_hw)")
        return self._windowed(q, k, v, tuple(grid_hw))

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """softmax(q k^T / sqrt(d)) v over the keys ``mask`` allows (True = take part)."""
        if self.fused:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        scores = (q * self.head_dim ** -0.5) @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return scores.softmax(dim=-1) @ v

    def _windowed(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                  grid_hw: Size2d) -> torch.Tensor:
        """Patch queries attend to the prefix keys and their window; prefix queries to all."""
        batch, _, tokens, _ = q.shape
        prefix = tokens - grid_hw[0] * grid_hw[1]
        if prefix < 0:
            raise ValueError(f"{tokens} tokens cannot hold a {grid_hw[0]}x{grid_hw[1]} grid")
        window = self.window_size
        rows, cols = window_counts(grid_hw, window)

        def windows_of(t: torch.Tensor, with_prefix: bool) -> torch.Tensor:
            parts = partition_windows(t[:, :, prefix:], grid_hw, window)
            if not (with_prefix and prefix):
                return parts
            shared = t[:, :, :prefix].unsqueeze(1).expand(-1, rows * cols, -1, -1, -1)
            return torch.cat([shared.flatten(0, 1), parts], dim=2)

        mask = window_key_mask(grid_hw, window, prefix, batch, q.device)
        patches = merge_windows(self._attend(windows_of(q, False), windows_of(k, True),
                                             windows_of(v, True), mask), grid_hw, window)
        if not prefix:
            return patches
        return torch.cat([self._attend(q[:, :, :prefix], k, v), patches], dim=2)


@contextlib.contextmanager
def explicit_attention(model: nn.Module) -> Iterator[nn.Module]:
    """Run every ``Attention`` in ``model`` with explicit matmuls inside the block."""
    modules = [m for m in model.modules() if isinstance(m, Attention)]
    previous = [m.fused for m in modules]
    for module in modules:
        module.fused = False
    try:
        yield model
    finally:
        for module, fused in zip(modules, previous):
            module.fused = fused
