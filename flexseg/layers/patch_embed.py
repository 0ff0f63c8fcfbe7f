"""Linear patch embedding whose kernel is PI-resized to the requested patch size."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .eval_cache import EvalCache
from .pi_resize import pi_resize_kernel
from .size import Size2d


class FlexiPatchEmbed(nn.Module):
    """Conv patchifier with one kernel stored at ``patch_size`` and used at any size.

    ``proj`` is a regular ``nn.Conv2d`` (timm's ``patch_embed.proj`` names) holding the
    underlying kernel; ``forward`` convolves with its PI-resized version. Whenever no gradient
    has to reach the kernel (eval/no-grad, or a frozen stem) the resized kernel is cached per
    patch size, so a forward costs one plain convolution. ``train()`` and ``load_state_dict``
    clear the cache; in-place weight updates make entries stale (see ``EvalCache``).
    """

    def __init__(self, patch_size: Size2d, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size,
                              stride=self.patch_size)
        self._kernels = EvalCache()
        self.register_load_state_dict_post_hook(lambda module, _: module.clear_cache())

    def clear_cache(self) -> None:
        self._kernels.clear()

    def train(self, mode: bool = True) -> FlexiPatchEmbed:
        self.clear_cache()
        return super().train(mode)

    def kernel(self, patch_hw: Size2d) -> torch.Tensor:
        """The kernel for ``patch_hw`` (the stored one, or its PI-resized version)."""
        weight = self.proj.weight
        if tuple(patch_hw) == self.patch_size:
            return weight
        return self._kernels.get(tuple(patch_hw), [weight],
                                 lambda: pi_resize_kernel(weight, patch_hw))

    def forward(self, x: torch.Tensor, patch_hw: Size2d) -> torch.Tensor:
        """NCHW image (a whole number of patches) -> NCHW token grid (stride ``patch_hw``)."""
        return F.conv2d(x, self.kernel(patch_hw), self.proj.bias, stride=tuple(patch_hw))
