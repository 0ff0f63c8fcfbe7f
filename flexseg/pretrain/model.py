"""A backbone with a linear tagging head on its class token (or mean token), as timm's
classifiers are built: the head's weights are named ``head.*`` so backbone loaders drop them."""
from __future__ import annotations

import torch
import torch.nn as nn


class TaggingModel(nn.Module):
    """``backbone.forward_features`` -> pooled token -> ``head`` logits (one per digit)."""

    def __init__(self, backbone: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.embed_dim, num_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone.forward_features(images)
        prefix = self.backbone.num_prefix_tokens
        pooled = tokens[:, 0] if self.backbone.cls_token is not None else tokens[:, prefix:].mean(1)
        return self.head(pooled)

    def timm_state_dict(self) -> dict[str, torch.Tensor]:
        """Backbone and head tensors under timm's names (``blocks.0.attn.qkv.weight``,
        ``head.weight``...), detached and contiguous."""
        state = {name: value.detach().contiguous()
                 for name, value in self.backbone.state_dict().items()}
        state.update({f"head.{name}": value.detach().contiguous()
                      for name, value in self.head.state_dict().items()})
        return state
