"""FlexiViT at one patch size -> MMSegmentation's stock ``VisionTransformer``.

Why only when the patch size equals ``out_stride``: mmseg's ViT returns maps at stride p,
whereas FlexiViT always returns them at ``out_stride`` (resampled when p differs). At p equal
to ``out_stride`` both return the raw token grid, so the neck and head see exactly what they
were trained on and their weights carry over unchanged. Other patch sizes would need a
resampling stage that stock mmseg does not have: export those with ``--format flexseg``.

Other facts the mapping relies on (mmseg 1.2 ``vit.py``): ``patch_pad='corner'`` pads
bottom/right like FlexiViT; its position embedding has a class-token row (zero here, since
FlexiViT adds none to prefix tokens); attention is ``torch.nn.MultiheadAttention`` whose
``in_proj`` stacks q, k, v as timm's ``qkv`` does; layer scale, absent in mmseg, is folded
into the output projections. The position embedding is stored for the exported image size;
at other sizes mmseg resamples it itself (plain bilinear, FlexiViT anti-aliases when
shrinking), so outputs are exact at that size and close elsewhere.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from flexseg.evaluation.export.fixed_patch import check_plain_vit, grid_pos_embed, patch_kernel
from flexseg.layers import LayerScale
from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice
from flexseg.models.flexivit import FlexiViT

StateDict = dict[str, torch.Tensor]


def _run_depth(backbone: FlexiViT) -> int:
    return max(backbone.out_indices) + 1


def _check(backbone: FlexiViT, choice: Choice, image_hw: Size2d):
    choice = check_plain_vit(backbone, choice, image_hw, "mmseg-vit")
    reasons = []
    stride = backbone.out_stride
    if stride is not None and choice.patch_hw != (stride, stride):
        reasons.append(f"mmseg's ViT outputs at stride p, this FlexiViT at out_stride "
                       f"{backbone.out_stride}, so only p{backbone.out_stride} keeps the head's "
                       "input unchanged")
    if backbone.reg_token is not None:
        reasons.append("mmseg's ViT has no register tokens")
    if backbone.blocks[0].attn.qkv.bias is None:
        reasons.append("mmseg's ViT ties qkv_bias=False to an output projection without bias")
    if backbone.mlp_hidden_dim % backbone.embed_dim:
        reasons.append("mmseg's ViT needs an integer mlp_ratio")
    if reasons:
        raise ValueError(f"cannot export {choice.id} to mmseg-vit: {'; '.join(reasons)}; "
                         "use --format flexseg")
    return choice


def mmseg_vit_config(backbone: FlexiViT, choice: Choice, image_hw: Size2d,
                     drop_path_rate: float = 0.0) -> dict:
    """The ``VisionTransformer`` backbone config equivalent to ``backbone`` at ``choice``."""
    choice = _check(backbone, choice, image_hw)
    depth = _run_depth(backbone)
    return dict(
        type="VisionTransformer", img_size=tuple(image_hw), patch_size=choice.patch_hw[0],
        patch_pad="corner", in_channels=backbone.in_chans, embed_dims=backbone.embed_dim,
        num_layers=depth, num_heads=backbone.blocks[0].attn.num_heads,
        mlp_ratio=backbone.mlp_hidden_dim // backbone.embed_dim,
        out_indices=list(backbone.out_indices), qkv_bias=True, drop_path_rate=drop_path_rate,
        with_cls_token=backbone.cls_token is not None, output_cls_token=False,
        norm_cfg=dict(type="LN", eps=1e-6), act_cfg=dict(type="GELU"), patch_norm=False,
        patch_bias=True, pre_norm=False,
        final_norm=backbone.final_norm and depth == backbone.depth,
        interpolate_mode="bilinear")


def _gamma(scale: nn.Module, dim: int) -> torch.Tensor:
    return scale.gamma.detach() if isinstance(scale, LayerScale) else torch.ones(dim)


def mmseg_vit_state_dict(backbone: FlexiViT, choice: Choice, image_hw: Size2d) -> StateDict:
    """Backbone weights under mmseg ``VisionTransformer`` names (no ``backbone.`` prefix)."""
    choice = _check(backbone, choice, image_hw)
    dim = backbone.embed_dim
    pos_embed = grid_pos_embed(backbone, choice, image_hw)
    cls_token = (backbone.cls_token.detach() if backbone.cls_token is not None
                 else torch.zeros(1, 1, dim))
    state = {
        "patch_embed.projection.weight": patch_kernel(backbone, choice),
        "patch_embed.projection.bias": backbone.patch_embed.proj.bias.detach(),
        "cls_token": cls_token,
        "pos_embed": torch.cat([torch.zeros(1, 1, dim), pos_embed], dim=1),
    }
    for index in range(_run_depth(backbone)):
        block, name = backbone.blocks[index], f"layers.{index}"
        attn_scale, mlp_scale = _gamma(block.ls1, dim), _gamma(block.ls2, dim)
        state.update({
            f"{name}.ln1.weight": block.norm1.weight, f"{name}.ln1.bias": block.norm1.bias,
            f"{name}.attn.attn.in_proj_weight": block.attn.qkv.weight,
            f"{name}.attn.attn.in_proj_bias": block.attn.qkv.bias,
            f"{name}.attn.attn.out_proj.weight": attn_scale[:, None] * block.attn.proj.weight,
            f"{name}.attn.attn.out_proj.bias": attn_scale * block.attn.proj.bias,
            f"{name}.ln2.weight": block.norm2.weight, f"{name}.ln2.bias": block.norm2.bias,
            f"{name}.ffn.layers.0.0.weight": block.mlp.fc1.weight,
            f"{name}.ffn.layers.0.0.bias": block.mlp.fc1.bias,
            f"{name}.ffn.layers.1.weight": mlp_scale[:, None] * block.mlp.fc2.weight,
            f"{name}.ffn.layers.1.bias": mlp_scale * block.mlp.fc2.bias,
        })
    if backbone.final_norm and _run_depth(backbone) == backbone.depth:
        state.update({"ln1.weight": backbone.norm.weight, "ln1.bias": backbone.norm.bias})
    return {key: value.detach().clone().contiguous() for key, value in state.items()}
