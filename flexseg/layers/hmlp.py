"""Hierarchical MLP (hMLP) patch stem from "Three things everyone should know about ViTs".

A patch of the stem's native size P (16 in the paper) is embedded in three stages (P/4 x P/4
-> 2x2 -> 2x2), each a convolution whose kernel equals its stride followed by a norm (and GELU
between stages). Kernels never straddle patch borders, so each patch is processed on its own
(with ``norm='bn'`` this holds in eval mode, where BatchNorm uses running statistics). That is
what makes the stem fit masked-patch pretraining: masking a token after the stem is masking its
patch, nothing of it leaks into the neighbours, as it would through a convolutional stem.

Flexible patch size: the stem is nonlinear, so its kernels cannot be PI-resized. Instead the
kernels stay at P and every patch of size p is mapped to P x P by ``pinv(B)``, where B is the
bilinear resize P -> p (``layers.pi_resize``), one patch at a time (separable: rows, then
columns). This is the input-side form of PI-resize: a linear stem with the PI-resized kernel
``w_p = pinv(B^T) w_P`` computes ``<y, w_p> = <pinv(B) y, w_P>``, the native kernel on the
mapped patch. So for p >= P a patch upsampled from P x P gets exactly its native token back,
and for p < P the mapped patch is the least-norm P x P patch that downsamples to the input.
Any patch size works, rectangular ones too, and patches stay independent.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn

from .norm import LayerNorm2d
from .pi_resize import bilinear_resize_matrix
from .size import Size2d

HMLP_PATCH = 16
_NORMS = {"bn": nn.BatchNorm2d, "ln": lambda channels: LayerNorm2d(channels, eps=1e-6)}


def check_hmlp_native_size(patch_hw: Size2d) -> None:
    """Raise ValueError unless both sides are positive multiples of 4 (three stages: P/4, 2,
    2)."""
    if any(side <= 0 or side % 4 for side in patch_hw):
        raise ValueError(f"the hMLP stem's native patch size must be a multiple of 4 per side "
                         f"(stages P/4, 2, 2), got {tuple(patch_hw)}")


@functools.lru_cache(maxsize=64)
def _patch_map_1d(native: int, size: int) -> torch.Tensor:
    """(native, size) float64: pinv of the bilinear resize native -> size along one axis."""
    return torch.linalg.pinv(bilinear_resize_matrix((native, 1), (size, 1)))


@functools.lru_cache(maxsize=64)
def patch_maps(native_hw: Size2d, patch_hw: Size2d, device: torch.device,
               dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(R_h, R_w) mapping every (p_h, p_w) patch y to ``R_h y R_w^T`` (P_h, P_w)."""
    return tuple(_patch_map_1d(n, p).to(device=device, dtype=dtype)
                 for n, p in zip(native_hw, patch_hw))


def map_patches(x: torch.Tensor, patch_hw: Size2d, native_hw: Size2d) -> torch.Tensor:
    """NCHW image of a whole number of ``patch_hw`` patches -> the same grid of
    ``native_hw`` patches, each mapped on its own (module doc)."""
    batch, channels, height, width = x.shape
    rows, cols = height // patch_hw[0], width // patch_hw[1]
    map_h, map_w = patch_maps(tuple(native_hw), tuple(patch_hw), x.device, x.dtype)
    patches = x.reshape(batch, channels, rows, patch_hw[0], cols, patch_hw[1])
    patches = torch.einsum("Hh,bcihjw->bciHjw", map_h, patches)
    patches = torch.einsum("Ww,bciHjw->bciHjW", map_w, patches)
    return patches.reshape(batch, channels, rows * native_hw[0], cols * native_hw[1])


class HMLPStem(nn.Module):
    """hMLP stem: NCHW image (a whole number of patches) -> NCHW token grid, at any patch
    size (``patch_size`` is the native one)."""

    def __init__(self, in_chans: int, embed_dim: int, norm: str = "bn",
                 patch_size: Size2d = (HMLP_PATCH, HMLP_PATCH)) -> None:
        super().__init__()
        if norm not in _NORMS:
            raise ValueError(f"hmlp_norm (the hMLP stem's norm) must be one of {sorted(_NORMS)}, "
                             f"got {norm!r}")
        if embed_dim % 4:
            raise ValueError(f"the hMLP stem needs embed_dim divisible by 4, got {embed_dim}")
        check_hmlp_native_size(patch_size)
        hidden = embed_dim // 4
        make_norm = _NORMS[norm]
        self.patch_size = tuple(patch_size)
        first = (patch_size[0] // 4, patch_size[1] // 4)
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, hidden, kernel_size=first, stride=first), make_norm(hidden),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, kernel_size=2, stride=2), make_norm(hidden), nn.GELU(),
            nn.Conv2d(hidden, embed_dim, kernel_size=2, stride=2), make_norm(embed_dim),
        )

    def forward(self, x: torch.Tensor, patch_hw: Size2d) -> torch.Tensor:
        if tuple(patch_hw) != self.patch_size:
            x = map_patches(x, tuple(patch_hw), self.patch_size)
        return self.proj(x)
