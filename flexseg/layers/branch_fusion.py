"""Parallel residual branches as one wide layer: the weights of ``sum_i ls_i(out_i(act(in_i(
norm_i(x)))))`` folded so that the branches run as two matmuls instead of ``2 n``.

Every branch normalises the same ``x``: ``norm_i(x) = x_hat * w_i + b_i`` with one shared
``x_hat = layer_norm(x)`` (no affine). So ``in_i(norm_i(x)) = x_hat (W_i diag(w_i))^T +
(W_i b_i + c_i)``, and the branches' input layers stack into one ``(n * width, dim)`` matrix.
The layer scales ``gamma_i`` fold into the output layers' rows, and the sum over branches is
the matmul of the concatenated branch activations ``(..., n * width)`` with the output
matrices side by side ``(dim, n * width)``. The output biases are kept per branch, so stochastic
depth (one factor per sample and branch) can scale each branch's slice and its bias.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn as nn


class FusedBranches(NamedTuple):
    """``in_weight`` (n * width, dim), ``in_bias`` (n * width,), ``out_weight`` (dim,
    n * width), ``out_biases`` (n, dim): branch i's scaled output bias in row i, and
    ``out_bias`` (dim,), their sum."""

    in_weight: torch.Tensor
    in_bias: torch.Tensor
    out_weight: torch.Tensor
    out_biases: torch.Tensor
    out_bias: torch.Tensor


def _gamma(scale: nn.Module, like: torch.Tensor) -> torch.Tensor:
    """The layer scale's per-channel factors (ones when the branch has none)."""
    gamma = getattr(scale, "gamma", None)
    return gamma if gamma is not None else like.new_ones(like.shape[0])


def _part_major(rows: torch.Tensor, branches: int, parts: int) -> torch.Tensor:
    """Rows ordered (branch, part, ...) -> (part, branch, ...): e.g. every branch's q rows,
    then every branch's k rows, then v, so the wide qkv output splits as one layer's does."""
    return rows.reshape(branches, parts, -1, *rows.shape[1:]).transpose(0, 1).flatten(0, 2)


def fuse_branches(norms: Sequence[nn.LayerNorm], inputs: Sequence[nn.Linear],
                  outputs: Sequence[nn.Linear], scales: Sequence[nn.Module],
                  parts: int = 1) -> FusedBranches:
    """Fold each branch's norm affine into its input layer and its layer scale into its
    output layer, and stack the branches (module doc); with ``parts`` > 1 the input rows are
    grouped part-major (``_part_major``). Differentiable: gradients reach every branch's own
    parameters."""
    in_weights, in_biases, out_weights, out_biases = [], [], [], []
    for norm, first, last, scale in zip(norms, inputs, outputs, scales, strict=True):
        in_weights.append(first.weight * norm.weight)
        bias = first.weight @ norm.bias
        in_biases.append(bias if first.bias is None else bias + first.bias)
        gamma = _gamma(scale, last.weight)
        out_weights.append(last.weight * gamma[:, None])
        out_biases.append(last.bias * gamma if last.bias is not None
                          else last.weight.new_zeros(last.weight.shape[0]))
    branches = len(in_weights)
    out_biases = torch.stack(out_biases)
    return FusedBranches(_part_major(torch.cat(in_weights), branches, parts),
                         _part_major(torch.cat(in_biases), branches, parts),
                         torch.cat(out_weights, dim=1), out_biases, out_biases.sum(0))
