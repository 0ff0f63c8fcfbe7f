"""A backbone with a linear head, as timm's classifiers are built: the head's weights are named
``head.*`` so backbone loaders drop them.

Pooling: ``'token'`` classifies the class token (timm's default, image-level tags);
``'pixels'`` classifies every pixel from its patch token's scores, upsampled bilinearly (a
linear decoder): the densest signal, and the one small ViTs trained from scratch learn digits
from soonest (image-level tags left them at the label prior for 400-1,300 steps).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

POOLS = ("token", "pixels")


class TaggingModel(nn.Module):
    """``backbone.forward_features`` -> logits (B, classes) or (B, classes, H, W)."""

    def __init__(self, backbone: nn.Module, num_classes: int, pool: str = "token") -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"head pool must be one of {', '.join(POOLS)}, got {pool!r}")
        if pool == "token" and backbone.cls_token is None:
            raise ValueError("head pool 'token' needs a backbone with a class token")
        self.backbone = backbone
        self.pool = pool
        self.head = nn.Linear(backbone.embed_dim, num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone.forward_features(images)
        if self.pool == "token":
            return self.head(tokens[:, 0])
        scores = self.head(tokens[:, self.backbone.num_prefix_tokens:])  # (B, N, classes)
        return self._pixel_scores(scores, images.shape[-2:])

    def _pixel_scores(self, scores: torch.Tensor, image_hw: torch.Size) -> torch.Tensor:
        """Token scores on the padded patch grid, upsampled and cropped to the image."""
        patch_h, patch_w = self.backbone.active_choice.patch_hw
        rows, cols = -(-image_hw[0] // patch_h), -(-image_hw[1] // patch_w)
        grid = scores.transpose(1, 2).reshape(scores.shape[0], -1, rows, cols)
        full = F.interpolate(grid, size=(rows * patch_h, cols * patch_w), mode="bilinear",
                             align_corners=False)
        return full[..., :image_hw[0], :image_hw[1]]

    def timm_state_dict(self) -> dict[str, torch.Tensor]:
        """Backbone and head tensors under timm's names (``blocks.0.attn.qkv.weight``,
        ``head.weight``...), detached and contiguous."""
        state = {name: value.detach().contiguous()
                 for name, value in self.backbone.state_dict().items()}
        state.update({f"head.{name}": value.detach().contiguous()
                      for name, value in self.head.state_dict().items()})
        return state
