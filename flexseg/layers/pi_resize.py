"""PI-resize (FlexiViT): re-express a patch-embedding kernel for another patch size.

Resizing a patch ``x`` (P_h x P_w) to p_h x p_w is linear: ``resize(x) = B x`` on vectorised
patches. A kernel ``w_P`` trained at size P gives the same token on the resized patch when
``<x, w_P> = <B x, w_p>`` for all x, i.e. ``B^T w_p = w_P``; the least-squares solution is
``w_p = pinv(B^T) w_P``. It is exact whenever p >= P (B is injective) and the best L2
approximation when p < P.

The resize function is ``bilinear_resize``: ``F.interpolate(mode='bilinear',
align_corners=False, antialias=False)``. It samples at half-pixel centres without an
anti-aliasing filter, like ``tf.image.resize(method='bilinear')`` used by big_vision FlexiViT,
so kernels trained there are resized consistently. That resize is separable,
``B = kron(B_h, B_w)``, hence ``pinv(B^T) = kron(pinv(B_h^T), pinv(B_w^T))``: the kernel is
resized with two small matrix products instead of one (p_h p_w x P_h P_w) product.

Not timm's ``resample_patch_embed``: with ``interpolation='bilinear', antialias=False`` it gives
the same kernel (within 4e-6 in float32), but it builds and pseudo-inverts the whole
(p_h p_w x P_h P_w) matrix on every call (34 s for a ViT-B kernel 32 -> 48, against 0.05 s
here), and the forward pass resizes the kernel at every training step.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from .precision import float32_island
from .size import Size2d


def bilinear_resize(x: torch.Tensor, size: Size2d) -> torch.Tensor:
    """The image/patch resize whose inverse PI-resize computes (NCHW input)."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)


@functools.lru_cache(maxsize=256)
def _resize_matrix_1d(old: int, new: int) -> torch.Tensor:
    """(new, old) float64 matrix of ``bilinear_resize`` along one axis, from one-hot rows."""
    basis = torch.eye(old, dtype=torch.float64).reshape(old, 1, old, 1)
    resized = bilinear_resize(basis, (new, 1))
    return resized.reshape(old, new).T.contiguous()


def bilinear_resize_matrix(old_hw: Size2d, new_hw: Size2d) -> torch.Tensor:
    """B: (new_h*new_w, old_h*old_w) float64 matrix with ``vec(resize(x)) = B vec(x)``.

    Vectorisation is row-major (``x.reshape(-1)``), matching ``Tensor.reshape``.
    """
    return torch.kron(_resize_matrix_1d(old_hw[0], new_hw[0]),
                      _resize_matrix_1d(old_hw[1], new_hw[1]))


@functools.lru_cache(maxsize=256)
def _pinv_transpose_1d(old: int, new: int) -> torch.Tensor:
    """pinv(B_1d^T): (new, old) float64, computed once per (old, new)."""
    return torch.linalg.pinv(_resize_matrix_1d(old, new).T)


@functools.lru_cache(maxsize=256)
def pi_resize_matrices(old_hw: Size2d, new_hw: Size2d, device: torch.device,
                       dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(M_h, M_w) with ``w_p = M_h w_P M_w^T``; cached per sizes, device and dtype."""
    m_h = _pinv_transpose_1d(old_hw[0], new_hw[0])
    m_w = _pinv_transpose_1d(old_hw[1], new_hw[1])
    return m_h.to(device=device, dtype=dtype), m_w.to(device=device, dtype=dtype)


def pi_resize_kernel(weight: torch.Tensor, new_hw: Size2d) -> torch.Tensor:
    """PI-resize the last two (spatial) dims of ``weight`` to ``new_hw``; differentiable.

    Half-precision weights are resized in float32 and cast back; under autocast the products
    stay in float32 too (an fp32 island: the pseudo-inverse's entries need its precision).
    """
    old_hw = (weight.shape[-2], weight.shape[-1])
    new_hw = (int(new_hw[0]), int(new_hw[1]))
    if old_hw == new_hw:
        return weight
    compute_dtype = torch.float64 if weight.dtype == torch.float64 else torch.float32
    m_h, m_w = pi_resize_matrices(old_hw, new_hw, weight.device, compute_dtype)
    with float32_island():
        resized = m_h @ weight.to(compute_dtype) @ m_w.T
    return resized.to(weight.dtype)
