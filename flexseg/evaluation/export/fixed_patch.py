"""The weights FlexiViT actually uses at one patch size and image size.

At a fixed patch size p and token grid, FlexiViT is a plain ViT: its patch kernel is the
PI-resized kernel and its position embedding the stored grid resampled to the token grid.
Exporting computes both exactly as the forward pass does, so outputs match to float precision.
"""
from __future__ import annotations

import torch

from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice
from flexseg.models.flexivit import FlexiViT, PatchChoice


def check_plain_vit(backbone: object, choice: Choice, image_hw: Size2d, target: str) -> PatchChoice:
    """The choice as a patch size, if a plain ViT (``target``) can express the backbone there."""
    if not isinstance(backbone, FlexiViT):
        raise ValueError(f"--format {target} exports FlexiViT backbones, not "
                         f"{type(backbone).__name__}; use --format flexseg")
    choice = backbone.choice(choice)
    reasons = []
    if backbone.stem != "linear":
        reasons.append("the hMLP stem has no plain-ViT equivalent")
    if backbone.num_parallel != 1:
        reasons.append("parallel blocks have no plain-ViT equivalent")
    if choice.keep_rate != 1:
        reasons.append("token keeping has no plain-ViT equivalent")
    if backbone.window_size is not None:
        reasons.append("windowed attention has no plain-ViT equivalent")
    if image_hw[0] % choice.patch_hw[0] or image_hw[1] % choice.patch_hw[1]:
        reasons.append(f"the {image_hw[0]}x{image_hw[1]} image is not a whole number of "
                       f"{choice.id} patches")
    if reasons:
        raise ValueError(f"cannot export {choice.id} to {target}: {'; '.join(reasons)}; "
                         "use --format flexseg")
    return choice


def patch_kernel(backbone: FlexiViT, choice: PatchChoice) -> torch.Tensor:
    """The conv kernel FlexiViT applies at ``choice`` (PI-resized from the stored one)."""
    with torch.no_grad():
        return backbone.patch_embed.kernel(choice.patch_hw).detach().clone()


def grid_pos_embed(backbone: FlexiViT, choice: PatchChoice, image_hw: Size2d) -> torch.Tensor:
    """(1, grid_h * grid_w, D) position embeddings of the token grid of ``image_hw``."""
    grid_hw = (image_hw[0] // choice.patch_hw[0], image_hw[1] // choice.patch_hw[1])
    with torch.no_grad():
        return backbone.pos_embed_for(grid_hw).detach().clone()
