"""FlexiViT at one patch size -> a state dict for timm's ``VisionTransformer``.

FlexiViT already uses timm's parameter names; only the patch kernel (PI-resized to p) and the
position embedding (resampled to the token grid, with zero rows for the prefix tokens, which
FlexiViT does not embed) change. ``timm_kwargs`` gives the constructor arguments that load it.
"""
from __future__ import annotations

import torch

from flexseg.evaluation.export.fixed_patch import check_plain_vit, grid_pos_embed, patch_kernel
from flexseg.layers import LayerScale
from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice
from flexseg.models.flexivit import FlexiViT

StateDict = dict[str, torch.Tensor]


def timm_kwargs(backbone: FlexiViT, choice: Choice, image_hw: Size2d) -> dict:
    """Arguments of ``timm.models.vision_transformer.VisionTransformer`` for the export."""
    choice = check_plain_vit(backbone, choice, image_hw, "timm")
    has_scale = isinstance(backbone.blocks[0].ls1, LayerScale)
    class_token = backbone.cls_token is not None
    return dict(
        img_size=list(image_hw), patch_size=list(choice.patch_hw), in_chans=backbone.in_chans,
        num_classes=0, embed_dim=backbone.embed_dim, depth=backbone.depth,
        num_heads=backbone.blocks[0].attn.num_heads,
        mlp_ratio=backbone.mlp_hidden_dim / backbone.embed_dim,
        qkv_bias=backbone.blocks[0].attn.qkv.bias is not None,
        # Only whether layer scale exists matters; the state dict holds its values.
        init_values=1.0 if has_scale else None,
        class_token=class_token, no_embed_class=False,
        reg_tokens=0 if backbone.reg_token is None else backbone.reg_token.shape[1],
        global_pool="token" if class_token else "avg", fc_norm=False)


def timm_state_dict(backbone: FlexiViT, choice: Choice, image_hw: Size2d) -> StateDict:
    choice = check_plain_vit(backbone, choice, image_hw, "timm")
    pos_embed = grid_pos_embed(backbone, choice, image_hw)
    prefix = torch.zeros(1, backbone.num_prefix_tokens, backbone.embed_dim)
    state = {key: value.detach().clone() for key, value in backbone.state_dict().items()}
    state["patch_embed.proj.weight"] = patch_kernel(backbone, choice)
    state["pos_embed"] = torch.cat([prefix, pos_embed], dim=1)
    return state
