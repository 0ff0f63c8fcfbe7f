"""Pre-norm transformer blocks: the sequential ViT block and the parallel variant.

Parameter names follow timm (``Block`` and ``ParallelThingsBlock``) so its checkpoints load
without renaming. With ``window_size`` the attention is windowed (``layers.window``) and the
block needs the token grid (``grid_hw``) when called.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from .attention import Attention
from .drop_path import DropPath
from .layer_scale import LayerScale
from .mlp import Mlp


def _scale(dim: int, init_value: float | None) -> nn.Module:
    return LayerScale(dim, init_value) if init_value is not None else nn.Identity()


def _drop(prob: float) -> nn.Module:
    return DropPath(prob) if prob > 0 else nn.Identity()


class Block(nn.Module):
    """``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``, with optional layer scale."""

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, qkv_bias: bool = True,
                 drop_path: float = 0.0, layer_scale_init: float | None = None,
                 window_size: int | None = None) -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, window_size)
        self.ls1 = _scale(dim, layer_scale_init)
        self.drop_path1 = _drop(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_hidden_dim)
        self.ls2 = _scale(dim, layer_scale_init)
        self.drop_path2 = _drop(drop_path)

    def forward(self, x: torch.Tensor, importance: str | None = None,
                grid_hw: tuple[int, int] | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``importance`` also returns the attention's token importance (``Attention``)."""
        attended = self.attn(self.norm1(x), importance, grid_hw)
        if importance is not None:
            attended, scores = attended
        x = x + self.drop_path1(self.ls1(attended))
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x if importance is None else (x, scores)


def _branch(dim: int, layer_name: str, layer: nn.Module, drop_path: float,
            layer_scale_init: float | None) -> nn.Sequential:
    """One parallel branch: norm -> layer (attention or MLP) -> layer scale -> drop path."""
    return nn.Sequential(OrderedDict([
        ("norm", nn.LayerNorm(dim, eps=1e-6)), (layer_name, layer),
        ("ls", _scale(dim, layer_scale_init)), ("drop_path", _drop(drop_path))]))


class ParallelBlock(nn.Module):
    """Parallel ViT block: ``x + sum_i attn_i(x)`` then ``x + sum_i mlp_i(x)``.

    The "three things" layout: ``num_parallel`` attention branches read the same input and are
    summed, then ``num_parallel`` MLP branches likewise; each branch has its own norm.
    """

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, num_parallel: int = 2,
                 qkv_bias: bool = True, drop_path: float = 0.0,
                 layer_scale_init: float | None = None, window_size: int | None = None) -> None:
        super().__init__()
        self.window_size = window_size
        self.attns = nn.ModuleList(
            _branch(dim, "attn", Attention(dim, num_heads, qkv_bias, window_size), drop_path,
                    layer_scale_init)
            for _ in range(num_parallel))
        self.ffns = nn.ModuleList(
            _branch(dim, "mlp", Mlp(dim, mlp_hidden_dim), drop_path, layer_scale_init)
            for _ in range(num_parallel))

    def forward(self, x: torch.Tensor, importance: str | None = None,
                grid_hw: tuple[int, int] | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``importance`` also returns the token importance averaged over the branches."""
        outputs, scores = [], []
        for branch in self.attns:
            out = branch.attn(branch.norm(x), importance, grid_hw)
            if importance is not None:
                out, score = out
                scores.append(score)
            outputs.append(branch.drop_path(branch.ls(out)))
        x = x + sum(outputs)
        x = x + sum(branch(x) for branch in self.ffns)
        return x if importance is None else (x, torch.stack(scores).mean(dim=0))
