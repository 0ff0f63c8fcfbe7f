"""A trained model from its config and checkpoint, ready for inference on one device."""
from __future__ import annotations

from pathlib import Path

import torch.nn as nn
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint

from flexseg.compat import allow_mmengine_checkpoints
from flexseg.compat.checkpoint_fit import check_checkpoint_fits


def load_config(config: str | Path, cfg_options: dict | None = None) -> Config:
    if not Path(config).is_file():
        raise FileNotFoundError(f"config file not found: {config}")
    cfg = Config.fromfile(str(config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_trained_model(cfg: Config, checkpoint: str | Path, device: str = "cpu") -> nn.Module:
    """The config's model with the checkpoint's weights (refused in one line if they do not
    fit), SyncBN as plain BN, in eval mode on ``device``."""
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    init_default_scope(cfg.get("default_scope", "mmseg"))
    allow_mmengine_checkpoints()
    model = MODELS.build(cfg.model)
    check_checkpoint_fits(model, checkpoint)
    load_checkpoint(model, str(checkpoint), map_location="cpu", strict=True)
    return revert_sync_batchnorm(model).to(device).eval()
