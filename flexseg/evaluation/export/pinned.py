"""A flexible backbone's config restricted to one choice: the same weights, one sub-network.

This always reproduces the flexible model exactly (nothing is converted), whatever the choice.
"""
from __future__ import annotations

from flexseg.models.contract import Choice, FlexibleBackbone
from flexseg.models.flexivit import FlexiViT, PatchChoice
from flexseg.models.stitched_vit import StitchedViT


def pinned_backbone_config(backbone_cfg: dict, backbone: FlexibleBackbone,
                           choice: Choice) -> dict:
    """``backbone_cfg`` with its space reduced to ``choice`` (then also the active choice):
    a FlexiViT's patch size and token-keep rate, a stitched ViT's route id."""
    choice = backbone.choice(choice)
    if isinstance(backbone, StitchedViT):
        return dict(backbone_cfg, choices=[choice.id])
    if not isinstance(backbone, FlexiViT) or not isinstance(choice, PatchChoice):
        raise ValueError(f"pinning a {type(backbone).__name__} to one choice is not supported")
    height, width = choice.patch_hw
    return dict(backbone_cfg, patch_sizes=[height if height == width else [height, width]],
                keep_rates=[choice.keep_rate])
