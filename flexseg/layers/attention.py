"""Multi-head self-attention on ``F.scaled_dot_product_attention``.

FLOP counters see the fused kernel as zero work, so each module can switch to an explicit
``softmax(q k^T / sqrt(d)) v`` (same result, counted matmuls) through ``explicit_attention``.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from .token_keep import attention_importance


class Attention(nn.Module):
    """Self-attention with timm's parameter names (``qkv``, ``proj``)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.fused = True

    def forward(self, x: torch.Tensor, importance: str | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``importance`` ('cls' or 'received', see ``token_keep``) also returns a (B, T)
        importance score of every token, computed from this attention's queries and keys."""
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = (q * self.head_dim ** -0.5) @ k.transpose(-2, -1)
            x = scores.softmax(dim=-1) @ v
        out = self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))
        if importance is None:
            return out
        return out, attention_importance(q, k, importance)


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
