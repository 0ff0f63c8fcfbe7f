"""Stitching layers: map one ViT's tokens into another's feature space (SN-Net, SN-Netv2).

A stitching layer is an affine map fitted once by least squares on real features of both
networks, then frozen; what trains is its bias and a low-rank (LoRA) update ``B A`` of the
map, scaled by ``lora_alpha / lora_rank`` as in LoRA (SN-Netv2 keeps LoRA's default
``lora_alpha=1``: the update of a rank-16 layer counts 1/16). ``B`` starts at zero, so right
after the fit the layer is exactly the least-squares map.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import is_int, is_number
from .eval_cache import EvalCache


class AffineLeastSquares:
    """Least-squares fit of ``y ~ x W^T + b`` from batches of paired features.

    Only the normal equations are kept (in float64), so memory does not grow with the number
    of tokens. The solve is the minimum-norm solution, defined even with fewer tokens than
    input channels.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.gram = torch.zeros(in_dim + 1, in_dim + 1, dtype=torch.float64)
        self.cross = torch.zeros(in_dim + 1, out_dim, dtype=torch.float64)
        self.count = 0

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add paired features ``(..., in_dim)`` and ``(..., out_dim)`` (same leading shape)."""
        x = x.reshape(-1, self.in_dim).double()
        y = y.reshape(-1, self.out_dim).double()
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} feature vectors but y has {y.shape[0]}")
        augmented = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
        self.gram = self.gram.to(x.device) + augmented.T @ augmented
        self.cross = self.cross.to(x.device) + augmented.T @ y
        self.count += x.shape[0]

    def solve(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fitted ``(weight (out_dim, in_dim), bias (out_dim,))`` in float64 on the CPU."""
        if self.count == 0:
            raise ValueError("no features were added to the least-squares fit")
        solution = torch.linalg.lstsq(self.gram.cpu(), self.cross.cpu(), driver="gelsd").solution
        return solution[:-1].T.contiguous(), solution[-1].clone()


class StitchingLayer(nn.Module):
    """``x -> x (W + s B A)^T + b``: a frozen fitted ``W`` (buffer); ``b``, ``A``, ``B`` train;
    ``s = lora_alpha / lora_rank``.

    ``fitted`` (a buffer, so it travels with checkpoints) records whether ``W`` and ``b`` hold a
    least-squares fit; until then ``W`` is zero. ``lora_rank=0`` trains the bias only. Whenever
    no gradient has to reach ``A``/``B`` the merged map is cached, so inference costs one
    matrix multiplication per token.
    """

    def __init__(self, in_dim: int, out_dim: int, lora_rank: int,
                 lora_alpha: float = 1.0) -> None:
        super().__init__()
        limit = min(in_dim, out_dim)
        if not is_int(lora_rank) or not 0 <= lora_rank <= limit:
            raise ValueError(f"lora_rank must be an integer from 0 to {limit} (the narrower width "
                             f"of a {in_dim} -> {out_dim} stitching layer), got {lora_rank!r}")
        self.in_dim = in_dim
        self.out_dim = out_dim
        if not is_number(lora_alpha) or lora_alpha <= 0:
            raise ValueError(f"lora_alpha must be a positive number (the update is scaled by "
                             f"lora_alpha / lora_rank), got {lora_alpha!r}")
        self.lora_rank = lora_rank
        self.lora_alpha = float(lora_alpha)
        self.lora_scaling = self.lora_alpha / lora_rank if lora_rank else 0.0
        self.register_buffer("weight", torch.zeros(out_dim, in_dim))
        self.register_buffer("fitted", torch.tensor(False))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        if lora_rank:
            self.lora_a = nn.Parameter(torch.empty(lora_rank, in_dim))
            self.lora_b = nn.Parameter(torch.zeros(out_dim, lora_rank))
            nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        else:
            self.lora_a = self.lora_b = None
        self._merged = EvalCache()

    @property
    def deployed_size(self) -> int:
        """Weights of the layer once the low-rank update is merged into the map."""
        return self.out_dim * (self.in_dim + 1)

    @torch.no_grad()
    def set_map(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Install a fitted map: ``W`` and ``b`` from the fit, ``B`` back to zero, ``fitted``."""
        self.weight.copy_(weight)
        self.bias.copy_(bias)
        if self.lora_b is not None:
            self.lora_b.zero_()
        self.fitted.fill_(True)
        self._merged.clear()

    def merged_weight(self) -> torch.Tensor:
        if self.lora_a is None:
            return self.weight
        return self._merged.get("weight", [self.weight, self.lora_a, self.lora_b],
                                lambda: self.weight + self.lora_scaling * (self.lora_b @ self.lora_a))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.merged_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_dim} -> {self.out_dim}, lora_rank={self.lora_rank}, "
                f"lora_alpha={self.lora_alpha:g}")
