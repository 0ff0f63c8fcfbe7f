"""A backbone with a linear tagging head, as timm's classifiers are built: the head's weights
are named ``head.*`` so backbone loaders drop them.

Pooling: ``'token'`` classifies the class token (timm's default), ``'avg'`` the mean patch
token, ``'patches'`` tags every patch token with the digits its patch shows, ``'lse'`` scores every patch token with the head and pools the scores with a smooth
maximum (log-mean-exp), so "digit d is somewhere in the image" is learnt as "this token shows
d": gradients reach the tokens where the evidence is, which a small ViT trained from scratch
learns from far sooner than from a pooled token.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

POOLS = ("token", "avg", "lse", "patches")


class TaggingModel(nn.Module):
    """``backbone.forward_features`` -> pooled logits, one per tag."""

    def __init__(self, backbone: nn.Module, num_classes: int, pool: str = "token",
                 lse_sharpness: float = 5.0) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"head pool must be one of {', '.join(POOLS)}, got {pool!r}")
        if pool == "token" and backbone.cls_token is None:
            raise ValueError("head pool 'token' needs a backbone with a class token")
        self.backbone = backbone
        self.pool = pool
        self.lse_sharpness = lse_sharpness
        self.head = nn.Linear(backbone.embed_dim, num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone.forward_features(images)
        patches = tokens[:, self.backbone.num_prefix_tokens:]
        if self.pool == "token":
            return self.head(tokens[:, 0])
        if self.pool == "avg":
            return self.head(patches.mean(1))
        if self.pool == "patches":  # (B, N, classes): what each patch shows
            return self.head(patches)
        scores = self.head(patches) * self.lse_sharpness  # (B, N, classes)
        return (torch.logsumexp(scores, dim=1) - math.log(patches.shape[1])) / self.lse_sharpness

    def timm_state_dict(self) -> dict[str, torch.Tensor]:
        """Backbone and head tensors under timm's names (``blocks.0.attn.qkv.weight``,
        ``head.weight``...), detached and contiguous."""
        state = {name: value.detach().contiguous()
                 for name, value in self.backbone.state_dict().items()}
        state.update({f"head.{name}": value.detach().contiguous()
                      for name, value in self.head.state_dict().items()})
        return state
