"""Token-grid geometry: fitting images to a patch grid and resampling grids to a fixed stride.

Conventions (pixel (0, 0) is the top-left corner):

- ``fit='pad'`` (default, recommended for dense prediction): the image is zero-padded at the
  bottom/right to the next multiple of the patch size, so every pixel lands in a token; the grid
  is ``ceil(H / p_h) x ceil(W / p_w)``.
- ``fit='crop'``: the bottom/right remainder is dropped; the grid is ``floor(H / p_h) x
  floor(W / p_w)``.

Either way token ``(i, j)`` covers pixels ``[i p_h, (i + 1) p_h) x [j p_w, (j + 1) p_w)``, so
its centre is at ``((i + 0.5) p_h, (j + 0.5) p_w)``. A backbone running at input resolution
``r`` resizes the image to ``scaled_size`` first; a token then covers ``effective_patch``
pixels of the original image (a fractional size), and maps at a fixed stride are resampled
with that size, so they line up with the original image whatever ``r`` is.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import torch
import torch.nn.functional as F

from .size import Size2d

FIT_MODES = ("pad", "crop")


def to_2tuple(value: int | Size2d) -> Size2d:
    """``16 -> (16, 16)``; pairs pass through as ints."""
    if isinstance(value, int):
        return (value, value)
    height, width = value
    return (int(height), int(width))


def token_grid_size(image_hw: Size2d, patch_hw: Size2d, fit: str = "pad") -> Size2d:
    """Token grid (rows, cols) for an image under the ``fit`` convention."""
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}, got {fit!r}")
    rounding = math.ceil if fit == "pad" else math.floor
    return (rounding(image_hw[0] / patch_hw[0]), rounding(image_hw[1] / patch_hw[1]))


def fit_to_patch_grid(x: torch.Tensor, patch_hw: Size2d, fit: str = "pad") -> torch.Tensor:
    """Zero-pad (bottom/right) or crop an NCHW batch to a whole number of patches."""
    grid_h, grid_w = token_grid_size((x.shape[-2], x.shape[-1]), patch_hw, fit)
    target_h, target_w = grid_h * patch_hw[0], grid_w * patch_hw[1]
    if (target_h, target_w) == (x.shape[-2], x.shape[-1]):
        return x
    if fit == "crop":
        return x[..., :target_h, :target_w]
    return F.pad(x, (0, target_w - x.shape[-1], 0, target_h - x.shape[-2]))


def stride_grid_size(image_hw: Size2d, stride: int) -> Size2d:
    """Size of a stride-``stride`` output map: ``ceil(H / stride) x ceil(W / stride)``."""
    return (math.ceil(image_hw[0] / stride), math.ceil(image_hw[1] / stride))


def token_map(patch_tokens: torch.Tensor, grid_hw: Size2d) -> torch.Tensor:
    """(B, N, D) patch tokens in row-major grid order -> a contiguous (B, D, rows, cols) map.

    Contiguous NCHW, as MMSegmentation's ViT returns it: the plain transpose is a channels-last
    view, which would make every convolution of the neck and head run channels-last; on some
    backends their weight gradients then come out channels-last too, and DDP copies each of them
    into its buckets ("Grad strides do not match bucket view strides") at every step.
    """
    return patch_tokens.transpose(1, 2).reshape(patch_tokens.shape[0], -1, *grid_hw).contiguous()


@functools.lru_cache(maxsize=256)
def _stride_matrix(grid_len: int, out_len: int, patch: int, stride: int) -> torch.Tensor:
    """(out_len, grid_len) float64 interpolation weights along one axis (see resample_to_stride)."""
    ratio = stride / patch  # output cell size in tokens
    centres = (torch.arange(out_len, dtype=torch.float64)[:, None] + 0.5) * ratio - 0.5
    tokens = torch.arange(grid_len, dtype=torch.float64)[None, :]
    if ratio <= 1:
        weights = (1 - (tokens - centres).abs()).clamp(min=0)
    else:
        overlap_end = torch.minimum(centres + ratio / 2, tokens + 0.5)
        overlap_start = torch.maximum(centres - ratio / 2, tokens - 0.5)
        weights = (overlap_end - overlap_start).clamp(min=0)
    # Cells wholly past the last token (only with fit='crop') repeat the last token.
    weights[weights.sum(1) == 0, grid_len - 1] = 1
    return weights / weights.sum(1, keepdim=True)


def resample_to_stride(grid: torch.Tensor, patch_hw: Size2d, stride: int,
                       out_hw: Size2d) -> torch.Tensor:
    """Resample an NCHW token grid (stride ``patch_hw``) to a stride-``stride`` map.

    Output cell ``(i, j)`` covers pixels ``[i s, (i + 1) s)``; in token units its centre is
    ``(i + 0.5) s / p - 0.5``. The mapping is fixed by ``p / s`` and does not depend on how much
    padding the grid or the output carries. Per axis:

    - ``p >= s`` (tokens coarser than cells): bilinear interpolation at the cell centre; cells
      past the outer token centres repeat the edge tokens.
    - ``p < s`` (tokens finer than cells): the cell averages the tokens under its footprint,
      weighted by overlap (anti-aliased; exactly average pooling when ``p`` divides ``s``).

    Weights are normalised over the tokens that exist, so padding beyond the grid adds nothing.
    """
    grid_hw = (grid.shape[-2], grid.shape[-1])
    if tuple(patch_hw) == (stride, stride) and grid_hw == tuple(out_hw):
        return grid
    native = _resample_natively(grid, patch_hw, stride, out_hw)
    if native is not None:
        return native
    return _resample_by_matrix(grid, patch_hw, stride, out_hw)


def _native_kind(grid_hw: Size2d, patch_hw: Size2d, stride: int, out_hw: Size2d) -> str | None:
    """'upsample' or 'pool' where torch's own kernels compute ``resample_to_stride``."""
    if all(patch % stride == 0 and grid_len * (patch // stride) == out_len
           for patch, grid_len, out_len in zip(patch_hw, grid_hw, out_hw)):
        return "upsample"
    if all(stride % patch == 0 and out_len * (stride // patch) == grid_len
           for patch, grid_len, out_len in zip(patch_hw, grid_hw, out_hw)):
        return "pool"
    return None


def resample_flops(channels: int, grid_hw: Size2d, patch_hw: Size2d, stride: int | None,
                   out_hw: Size2d) -> int:
    """Multiply-adds of ``resample_to_stride`` for one map: 4 per output value for bilinear
    upsampling, one per input value for average pooling, the two matrix products otherwise
    (none when the grid already is the output)."""
    if stride is None or (tuple(patch_hw) == (stride, stride) and tuple(grid_hw) == tuple(out_hw)):
        return 0
    kind = _native_kind(grid_hw, patch_hw, stride, out_hw)
    if kind == "upsample":
        return 4 * channels * out_hw[0] * out_hw[1]
    if kind == "pool":
        return channels * grid_hw[0] * grid_hw[1]
    return channels * out_hw[0] * grid_hw[1] * (grid_hw[0] + out_hw[1])


def _resample_natively(grid: torch.Tensor, patch_hw: Size2d, stride: int,
                       out_hw: Size2d) -> torch.Tensor | None:
    """The same resampling through torch's own kernels, about twice as fast as the two matrix
    products (forward and backward), where they apply: every axis upsampled by a whole factor
    p / s onto exactly that many times the grid (bilinear, half-pixel centres, clamped edges:
    ``resample_to_stride``'s weights), or every axis pooled by a whole factor s / p from
    exactly that many times the output (average pooling). None elsewhere."""
    kind = _native_kind((grid.shape[-2], grid.shape[-1]), patch_hw, stride, out_hw)
    if kind == "upsample":
        return F.interpolate(grid, size=tuple(out_hw), mode="bilinear", align_corners=False)
    if kind == "pool":
        return F.avg_pool2d(grid, kernel_size=tuple(stride // patch for patch in patch_hw))
    return None


def _resample_by_matrix(grid: torch.Tensor, patch_hw: Size2d, stride: int,
                        out_hw: Size2d) -> torch.Tensor:
    """``resample_to_stride`` as one weight matrix per axis: every ratio and padding."""
    grid_hw = (grid.shape[-2], grid.shape[-1])
    dtype = grid.dtype if grid.dtype == torch.float64 else torch.float32
    rows = _stride_matrix(grid_hw[0], out_hw[0], patch_hw[0], stride).to(grid.device, dtype)
    cols = _stride_matrix(grid_hw[1], out_hw[1], patch_hw[1], stride).to(grid.device, dtype)
    return (rows @ grid.to(dtype) @ cols.T).to(grid.dtype)


def scaled_size(image_hw: Size2d, scale: float) -> Size2d:
    """The input size at resolution ``scale`` of ``image_hw``: each side rounded half up,
    at least one pixel."""
    return tuple(max(1, math.floor(side * scale + 0.5)) for side in image_hw)


RESIZE_MODES = ("antialias", "align_corners")


def check_resize_mode(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    return mode


def resize_input(x: torch.Tensor, scale: float, mode: str = "antialias") -> torch.Tensor:
    """An NCHW batch at resolution ``scale`` (``scaled_size``), computed in float32 (the image,
    not learnt features); unchanged at 1. 'antialias': bilinear at half-pixel centres,
    anti-aliased when shrinking; 'align_corners': bilinear with corner pixels aligned and no
    anti-aliasing, as SuperViT resizes (``F.interpolate(..., align_corners=True)``)."""
    if scale == 1:
        return x
    size = scaled_size((x.shape[-2], x.shape[-1]), scale)
    corners = mode == "align_corners"
    return F.interpolate(x.float(), size=size, mode="bilinear", align_corners=corners,
                         antialias=scale < 1 and not corners).to(x.dtype)


def effective_patch(patch_hw: Size2d, image_hw: Size2d, scale: float) -> tuple[float, float]:
    """The pixels of the original ``image_hw`` image a token covers per axis when the backbone
    runs on it at resolution ``scale``: ``p * H / H'`` (``patch_hw`` itself at scale 1)."""
    if scale == 1:
        return tuple(patch_hw)
    resized = scaled_size(image_hw, scale)
    return tuple(p * side / new for p, side, new in zip(patch_hw, image_hw, resized))


def maps_at_stride(grids: Sequence[torch.Tensor], patch_hw: Size2d, out_stride: int | None,
                   image_hw: Size2d) -> tuple[torch.Tensor, ...]:
    """Token-grid maps (stride ``patch_hw``) as a backbone returns them: resampled to
    ``out_stride`` (``resample_to_stride``), or unchanged when ``out_stride`` is None."""
    if out_stride is None:
        return tuple(grids)
    out_hw = stride_grid_size(image_hw, out_stride)
    return tuple(resample_to_stride(grid, patch_hw, out_stride, out_hw) for grid in grids)
