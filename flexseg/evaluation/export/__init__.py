"""Export one sub-network of a flexible model as a fixed-budget checkpoint.

Formats:

- ``flexseg``: the same weights with the backbone's space pinned to the choice (config +
  checkpoint); exact for every choice and backbone kind that supports pinning.
- ``mmseg-vit``: MMSegmentation's stock ``VisionTransformer`` (config + checkpoint); FlexiViT
  only, at the patch size equal to its ``out_stride`` (see ``mmseg_vit``).
- ``timm``: the backbone alone as a timm ``VisionTransformer`` state dict, plus a JSON file with
  the constructor arguments; FlexiViT only.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
import torch.nn as nn
from mmengine.config import Config

from flexseg.evaluation.export.mmseg_vit import mmseg_vit_config, mmseg_vit_state_dict
from flexseg.evaluation.export.pinned import pinned_backbone_config
from flexseg.evaluation.export.timm_vit import timm_kwargs, timm_state_dict
from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice, find_flexible, unwrap

FORMATS = ("flexseg", "mmseg-vit", "timm")


def _replace_backbone(cfg: Config, backbone_cfg: dict) -> Config:
    exported = copy.deepcopy(cfg)
    exported.model.backbone = backbone_cfg
    exported.load_from = None
    return exported


def export_fixed_budget(cfg: Config, model: nn.Module, choice: Choice | str, fmt: str,
                        out: str | Path, image_hw: Size2d) -> list[Path]:
    """Write the export of ``model`` (built from ``cfg``, weights loaded) at ``choice``.

    ``out`` is the checkpoint path; the config (``.py``) or timm arguments (``.json``) go next
    to it. ``image_hw`` fixes the position-embedding grid of the plain-ViT formats. Returns the
    written paths.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    model = unwrap(model)
    backbone = find_flexible(model)
    choice = backbone.choice(choice)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(exported_choice=choice.id, export_format=fmt)
    if fmt == "timm":
        state = timm_state_dict(backbone, choice, image_hw)
        sidecar = out.with_suffix(".json")
        sidecar.write_text(json.dumps(timm_kwargs(backbone, choice, image_hw), indent=2))
        torch.save(state, out)
        return [out, sidecar]
    if fmt == "mmseg-vit":
        backbone_cfg = mmseg_vit_config(backbone, choice, image_hw,
                                        cfg.model.backbone.get("drop_path_rate", 0.0))
        backbone_state = mmseg_vit_state_dict(backbone, choice, image_hw)
    else:
        backbone_cfg = pinned_backbone_config(cfg.model.backbone, backbone, choice)
        backbone_state = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    state = {key: value.detach().clone() for key, value in model.state_dict().items()
             if not key.startswith("backbone.")}
    state.update({f"backbone.{key}": value for key, value in backbone_state.items()})
    config_path = out.with_suffix(".py")
    _replace_backbone(cfg, backbone_cfg).dump(str(config_path))
    torch.save({"meta": meta, "state_dict": state}, out)
    return [out, config_path]
