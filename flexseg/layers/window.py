"""Windowed self-attention geometry (ViTDet): non-overlapping windows over the token grid.

Conventions, so that windows hold at every patch size and every image size:

- ``window_size`` is counted in tokens. The patch grid is split into ``window_size`` squares
  from its top-left corner; when it is not a whole number of windows, the last row/column of
  windows is completed with padded positions. Padded positions exist only inside the attention
  call: they are masked out as keys (so they never change a real token), their own outputs are
  discarded, and they never enter the token sequence (token keeping never sees them).
- Prefix tokens (class, registers) are shared by every window: each patch token attends to the
  prefix tokens and to its window; a prefix token attends to every token. A window covering the
  whole grid is therefore exactly global attention.
- Cost of the two attention matmuls (multiply-adds): ``2 d (n_w w^2 (P + w^2) + P (P + N))``
  with ``n_w`` windows of ``w^2`` positions (padding included: it is computed), ``P`` prefix and
  ``N`` patch tokens (``window_matmul_flops``).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from .checks import check_list
from .size import Size2d


def check_window_options(window_size: int | None, global_indices: Sequence[int], depth: int,
                         keep_points: Sequence[int] = ()) -> tuple[int | None, tuple[int, ...]]:
    """Validated ``window_size`` and sorted ``global_indices``, with errors naming the key.

    Token keeping drops tokens from global blocks only (windowed blocks process every token,
    so their cost does not depend on which tokens are kept), hence keep points, whose scores
    come from their block's attention, must be global blocks.
    """
    indices = tuple(sorted(set(check_list("global_indices", global_indices,
                                          f"block indices 0 to {depth - 1}"))))
    if window_size is None:
        if indices:
            raise ValueError(f"global_indices {list(indices)} need window_size (every block "
                             "is global without windows)")
        return None, ()
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
        raise ValueError(f"window_size must be an integer >= 1 (tokens), got {window_size!r}")
    outside = [i for i in indices if not isinstance(i, int) or not 0 <= i < depth]
    if outside:
        raise ValueError(f"global_indices {outside} are outside the {depth} blocks; allowed: "
                         f"block indices 0 to {depth - 1}")
    windowed_keeps = sorted(set(keep_points) - set(indices))
    if windowed_keeps:
        raise ValueError(f"keep_points {windowed_keeps} are windowed blocks; with window_size, "
                         f"keep points must be global blocks (global_indices {list(indices)})")
    return window_size, indices


def window_counts(grid_hw: Size2d, window: int) -> Size2d:
    """Windows per column and per row of a token grid."""
    return (math.ceil(grid_hw[0] / window), math.ceil(grid_hw[1] / window))


def partition_windows(patches: torch.Tensor, grid_hw: Size2d, window: int) -> torch.Tensor:
    """(B, H, N, d) patch tokens in row-major grid order -> (B * n_w, H, w*w, d) windows,
    padded with zeros; windows are ordered row-major per image."""
    batch, heads, _, dim = patches.shape
    rows, cols = window_counts(grid_hw, window)
    grid = patches.reshape(batch, heads, grid_hw[0], grid_hw[1], dim)
    grid = F.pad(grid, (0, 0, 0, cols * window - grid_hw[1], 0, rows * window - grid_hw[0]))
    grid = grid.reshape(batch, heads, rows, window, cols, window, dim)
    return grid.permute(0, 2, 4, 1, 3, 5, 6).reshape(batch * rows * cols, heads,
                                                     window * window, dim)


def merge_windows(windows: torch.Tensor, grid_hw: Size2d, window: int) -> torch.Tensor:
    """Inverse of ``partition_windows``: (B * n_w, H, w*w, d) -> (B, H, N, d), padding cut."""
    rows, cols = window_counts(grid_hw, window)
    _, heads, _, dim = windows.shape
    grid = windows.reshape(-1, rows, cols, heads, window, window, dim)
    grid = grid.permute(0, 3, 1, 4, 2, 5, 6).reshape(-1, heads, rows * window, cols * window,
                                                     dim)
    return grid[:, :, :grid_hw[0], :grid_hw[1]].reshape(-1, heads, grid_hw[0] * grid_hw[1], dim)


def window_key_mask(grid_hw: Size2d, window: int, num_prefix: int, batch: int,
                    device: torch.device) -> torch.Tensor | None:
    """(B * n_w, 1, 1, P + w*w) boolean mask of the keys a window's queries may use (prefix
    tokens and real positions), or None when the grid is a whole number of windows."""
    rows, cols = window_counts(grid_hw, window)
    if (rows * window, cols * window) == tuple(grid_hw):
        return None
    real = torch.ones(1, 1, *grid_hw, 1, dtype=torch.bool, device=device)
    real = partition_windows(real.flatten(2, 3), grid_hw, window)[..., 0]  # (n_w, 1, w*w)
    prefix = torch.ones(rows * cols, 1, num_prefix, dtype=torch.bool, device=device)
    mask = torch.cat([prefix, real], dim=-1).unsqueeze(1)
    return mask.repeat(batch, 1, 1, 1)


def window_matmul_flops(grid_hw: Size2d, num_prefix: int, dim: int, window: int) -> int:
    """Multiply-adds of ``q k^T`` and ``attn v`` in windowed attention (module doc)."""
    rows, cols = window_counts(grid_hw, window)
    area = window * window
    patches = grid_hw[0] * grid_hw[1]
    return 2 * dim * (rows * cols * area * (num_prefix + area)
                      + num_prefix * (num_prefix + patches))
