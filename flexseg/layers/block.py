"""Pre-norm transformer blocks: the sequential ViT block and the parallel variant.

Parameter names follow timm (``Block`` and ``ParallelThingsBlock``) so its checkpoints load
without renaming. With ``window_size`` the attention is windowed (``layers.window``) and the
block needs the token grid (``grid_hw``) when called.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import Attention
from .branch_fusion import FusedBranches, fuse_branches
from .drop_path import DropPath
from .eval_cache import EvalCache
from .layer_scale import LayerScale
from .mlp import Mlp
from .token_keep import attention_importance


def _scale(dim: int, init_value: float | None) -> nn.Module:
    return LayerScale(dim, init_value) if init_value is not None else nn.Identity()


def _drop(prob: float) -> nn.Module:
    return DropPath(prob) if prob > 0 else nn.Identity()


def _both_halves(block: nn.Module, x: torch.Tensor, importance: str | None,
                 grid_hw: tuple[int, int] | None
                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """A whole block: ``attend`` then ``feed_forward`` (with the scores, if asked)."""
    attended = block.attend(x, importance, grid_hw)
    if importance is None:
        return block.feed_forward(attended)
    return block.feed_forward(attended[0]), attended[1]


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

    def attend(self, x: torch.Tensor, importance: str | None = None,
               grid_hw: tuple[int, int] | None = None
               ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The attention half, ``x + attn(norm1(x))`` (a keep point may prune after it);
        ``importance`` also returns the attention's token importance (``Attention``)."""
        attended = self.attn(self.norm1(x), importance, grid_hw)
        if importance is not None:
            attended, scores = attended
        x = x + self.drop_path1(self.ls1(attended))
        return x if importance is None else (x, scores)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The MLP half, ``x + mlp(norm2(x))``."""
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))

    def forward(self, x: torch.Tensor, importance: str | None = None,
                grid_hw: tuple[int, int] | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Both halves; ``importance`` also returns the attention's token importance."""
        return _both_halves(self, x, importance, grid_hw)


def _branch(dim: int, layer_name: str, layer: nn.Module, drop_path: float,
            layer_scale_init: float | None) -> nn.Sequential:
    """One parallel branch: norm -> layer (attention or MLP) -> layer scale -> drop path."""
    return nn.Sequential(OrderedDict([
        ("norm", nn.LayerNorm(dim, eps=1e-6)), (layer_name, layer),
        ("ls", _scale(dim, layer_scale_init)), ("drop_path", _drop(drop_path))]))


class ParallelBlock(nn.Module):
    """Parallel ViT block: ``x + sum_i attn_i(x)`` then ``x + sum_i mlp_i(x)``.

    The "three things" layout: ``num_parallel`` attention branches read the same input and are
    summed, then ``num_parallel`` MLP branches likewise; each branch has its own norm. The
    parameters stay per branch (timm's names), but the branches run as parallel work
    (``layers.branch_fusion``): one norm, one qkv matmul ``n`` times as wide, one attention
    call over ``n x num_heads`` heads, one output matmul summing the branches; the MLPs as one
    wide ``fc1`` and one ``fc2`` over the concatenated hidden units. In eval (or without
    gradients to the weights) the folded weights are computed once and cached.
    """

    def __init__(self, dim: int, num_heads: int, mlp_hidden_dim: int, num_parallel: int = 2,
                 qkv_bias: bool = True, drop_path: float = 0.0,
                 layer_scale_init: float | None = None, window_size: int | None = None) -> None:
        super().__init__()
        self.window_size = window_size
        self.num_parallel = num_parallel
        self.attns = nn.ModuleList(
            _branch(dim, "attn", Attention(dim, num_heads, qkv_bias, window_size), drop_path,
                    layer_scale_init)
            for _ in range(num_parallel))
        self.ffns = nn.ModuleList(
            _branch(dim, "mlp", Mlp(dim, mlp_hidden_dim), drop_path, layer_scale_init)
            for _ in range(num_parallel))
        self._fused = EvalCache()

    def _fused_weights(self, kind: str) -> FusedBranches:
        branches = self.attns if kind == "attn" else self.ffns
        layers = [getattr(branch, kind) for branch in branches]
        first, last, parts = ("qkv", "proj", 3) if kind == "attn" else ("fc1", "fc2", 1)
        return self._fused.get(kind, list(branches.parameters()), lambda: fuse_branches(
            [branch.norm for branch in branches], [getattr(layer, first) for layer in layers],
            [getattr(layer, last) for layer in layers], [branch.ls for branch in branches],
            parts))

    def _summed(self, parts: torch.Tensor, fused: FusedBranches,
                branches: nn.ModuleList) -> torch.Tensor:
        """``sum_i ls_i(out_i(part_i))`` from the branches' activations (B, T, n, width), each
        branch dropped or kept per sample (stochastic depth)."""
        if not self.training or isinstance(branches[0].drop_path, nn.Identity):
            return F.linear(parts.flatten(2), fused.out_weight, fused.out_bias)
        scales = torch.stack([branch.drop_path.sample_scales(parts) for branch in branches], 1)
        parts = parts * scales[:, None, :, None].to(parts.dtype)
        return F.linear(parts.flatten(2), fused.out_weight) + (scales @ fused.out_biases)[:, None]

    def forward(self, x: torch.Tensor, importance: str | None = None,
                grid_hw: tuple[int, int] | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Both halves; ``importance`` also returns the token importance averaged over the
        branches."""
        return _both_halves(self, x, importance, grid_hw)

    def attend(self, x: torch.Tensor, importance: str | None = None,
               grid_hw: tuple[int, int] | None = None
               ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The attention branches summed into ``x`` (a keep point may prune after them)."""
        batch, tokens, dim = x.shape
        branches = self.num_parallel
        attention = self.attns[0].attn
        eps = self.attns[0].norm.eps
        fused = self._fused_weights("attn")
        qkv = F.linear(F.layer_norm(x, (dim,), eps=eps), fused.in_weight, fused.in_bias)
        heads = branches * attention.num_heads  # q, k, v each: every branch's heads in turn
        q, k, v = (qkv.reshape(batch, tokens, 3, heads, attention.head_dim)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        mixed = attention.attend(q, k, v, grid_hw)  # (B, n * heads, T, d)
        x = x + self._summed(mixed.transpose(1, 2).reshape(batch, tokens, branches, dim),
                             fused, self.attns)
        if importance is None:
            return x
        return x, attention_importance(q, k, importance)  # the mean over every branch's heads

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The MLP branches summed into ``x``."""
        batch, tokens, dim = x.shape
        fused = self._fused_weights("mlp")
        hidden = F.gelu(F.linear(F.layer_norm(x, (dim,), eps=self.ffns[0].norm.eps),
                                 fused.in_weight, fused.in_bias))
        return x + self._summed(hidden.reshape(batch, tokens, self.num_parallel, -1), fused,
                                self.ffns)
