"""Layer-wise learning-rate decay (ViTDet, BEiT) for flexseg backbones.

A parameter at depth ``l`` of an ``L``-block backbone trains at ``lr * rate ** (L + 1 - l)``:
embeddings (patch kernel, position embedding, prefix tokens) are layer 0, block ``i`` is layer
``i + 1``, and everything after the blocks (final norm, neck, heads) is layer ``L + 1`` (full lr).
In a stitched ViT depths are counted in large-anchor blocks: small block ``i`` sits at the depth
of large block ``ratio * (i + 1) - 1``, and stitching layers and level maps, which are new, get
the full rate. Norms, biases, position embeddings and prefix tokens get no weight decay.
"""
from __future__ import annotations

import re

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS

from flexseg.models.contract import find_flexible
from flexseg.models.flexivit import FlexiViT
from flexseg.models.stitched_vit import StitchedViT

EMBEDDINGS = ("patch_embed", "pos_embed", "cls_token", "reg_token")
NO_DECAY = ("pos_embed", "cls_token", "reg_token")
_BLOCK = re.compile(r"^(?:(small|large)\.)?blocks\.(\d+)\.")


def _depth(backbone: nn.Module) -> int:
    return backbone.large.depth if isinstance(backbone, StitchedViT) else backbone.depth


def decay_layer(name: str, backbone: FlexiViT | StitchedViT) -> int:
    """The layer (0 .. depth + 1) of backbone parameter ``name`` (module doc)."""
    match = _BLOCK.match(name)
    if match:
        anchor, index = match.group(1), int(match.group(2))
        if anchor == "small":
            return backbone.ratio * (index + 1)
        return index + 1
    leaf = name.split(".", 1)[1] if name.startswith(("small.", "large.")) else name
    return 0 if leaf.startswith(EMBEDDINGS) else _depth(backbone) + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg=dict(decay_rate=0.7)``: layer-wise lr decay over the model's flexible
    backbone (module doc); one parameter group per (lr scale, weight decay) pair."""

    def add_params(self, params: list[dict], module: nn.Module, prefix: str = "",
                   is_dcn_module: int | float | None = None) -> None:
        rate = self.paramwise_cfg.get("decay_rate")
        if rate is None or not 0 < rate <= 1:
            raise ValueError(f"paramwise_cfg.decay_rate must lie in (0, 1], got {rate!r}")
        backbone = find_flexible(module)
        top = _depth(backbone) + 1
        groups: dict[tuple[int, bool], list] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            inner = name[len("backbone."):] if name.startswith("backbone.") else None
            layer = decay_layer(inner, backbone) if inner is not None else top
            no_decay = param.ndim == 1 or (inner or "").split(".")[-1] in NO_DECAY
            groups.setdefault((layer, no_decay), []).append(param)
        for (layer, no_decay), members in sorted(groups.items()):
            params.append(dict(params=members, lr=self.base_lr * rate ** (top - layer),
                               weight_decay=0.0 if no_decay else self.base_wd))
