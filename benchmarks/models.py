"""Models and inputs the figures share: config models, synthetic batches, stock-ViT twins."""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from flexseg.cli import build_model_for_analysis, load_config
from flexseg.evaluation.export.mmseg_vit import mmseg_vit_config, mmseg_vit_state_dict
from flexseg.layers.size import Size2d
from flexseg.models import FlexiViT, PatchChoice

StateDict = dict[str, torch.Tensor]


def build_config_model(config: Path, options: dict | None = None,
                       device: str = "cpu") -> tuple[Config, nn.Module]:
    """The config (with ``options`` merged, e.g. ``{'model.backbone.out_stride': None}``) and
    its model, randomly initialised, on ``device``."""
    args = argparse.Namespace(config=str(config), cfg_options=options)
    cfg, model = build_model_for_analysis(args)
    return cfg, model.to(device)


def build_config_backbone(config: Path, options: dict | None = None,
                          device: str = "cpu") -> nn.Module:
    """The backbone of ``config`` alone (the neck and heads are not built)."""
    args = argparse.Namespace(config=str(config), cfg_options=options, launcher="none",
                              local_rank=0, work_dir=None)
    cfg = load_config(args)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    return MODELS.build(cfg.model.backbone).to(device)


_built: dict[str, tuple[Config, nn.Module]] = {}


def process_config_model(config: Path, options: dict) -> tuple[Config, nn.Module]:
    """``build_config_model`` once per process and arguments: probes that run in a forked
    copy of this process (quick runs) find the model built before the fork."""
    key = json.dumps([str(config), options], sort_keys=True, default=str)
    if key not in _built:
        _built[key] = build_config_model(config, options)
    return _built[key]


def optim_wrapper(cfg: Config, model: nn.Module) -> OptimWrapper:
    """The config's optimizer (and gradient clipping) for ``model``."""
    return build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def synthetic_batch(batch_size: int, image_hw: Size2d, num_classes: int,
                    seed: int = 0) -> dict:
    """A segmentation batch as a data loader yields it: uint8 images and label maps."""
    generator = torch.Generator().manual_seed(seed)
    meta = dict(img_shape=tuple(image_hw), ori_shape=tuple(image_hw))
    samples = []
    for _ in range(batch_size):
        sample = SegDataSample(metainfo=meta)
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, *image_hw),
                                                         generator=generator))
        samples.append(sample)
    images = [torch.randint(0, 256, (3, *image_hw), generator=generator, dtype=torch.uint8)
              for _ in range(batch_size)]
    return dict(inputs=images, data_samples=samples)


def stock_vit(backbone: FlexiViT, patch: int, image_hw: Size2d,
              out_indices: list[int] | None = None) -> tuple[dict, StateDict]:
    """MMSegmentation ``VisionTransformer`` config and weights computing what ``backbone``
    computes at patch size ``patch`` with maps at the token grid's stride (``out_stride``
    None); ``out_indices`` replaces the backbone's own (a stitched anchor's levels)."""
    at_grid = copy.copy(backbone)  # a shallow copy: only the stride differs
    at_grid.out_stride = None
    choice = PatchChoice((patch, patch))
    config = mmseg_vit_config(at_grid, choice, image_hw)
    if out_indices is not None:
        config["out_indices"] = list(out_indices)
    return config, mmseg_vit_state_dict(at_grid, choice, image_hw)


def with_backbone_weights(model: nn.Module, backbone_state: StateDict) -> StateDict:
    """``model``'s state with the backbone's entries replaced by ``backbone_state``."""
    state = {key: value for key, value in model.state_dict().items()
             if not key.startswith("backbone.")}
    state.update({f"backbone.{key}": value for key, value in backbone_state.items()})
    return state


def eval_loss(model: nn.Module, batch: dict) -> float:
    """The model's total training loss on ``batch`` in eval mode (no dropout, BN statistics
    fixed), so two models computing the same function give the same number."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            data = model.data_preprocessor(batch, True)
            loss, _ = model.parse_losses(model(**data, mode="loss"))
    finally:
        model.train(was_training)
    return loss.item()
