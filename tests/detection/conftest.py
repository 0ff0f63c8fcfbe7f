"""Tiny Mask R-CNN configs of both backbones, a small DigitSeg-COCO set and helpers to build,
feed and run them."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import flexseg  # noqa: F401  (registers models, datasets, loops)
from flexseg.datasets import ensure_digitseg

CONFIGS = Path(__file__).parent / "configs"
TINY_CONFIGS = {"flexivit": CONFIGS / "flexivit-tiny_maskrcnn_digitseg-coco.py",
                "snnet": CONFIGS / "snnet-tiny_maskrcnn_digitseg-coco.py"}


@pytest.fixture(scope="session")
def coco_digitseg(tmp_path_factory) -> Path:
    """16 training and 8 validation 64x64 DigitSeg images with their COCO instances."""
    root = tmp_path_factory.mktemp("digitseg_coco")
    ensure_digitseg(root, coco=True, num_train=16, num_val=8, seed=3)
    return root


def data_options(root: Path, batch_size: int = 4) -> dict:
    """Config keys that point a DigitSeg-COCO config at ``root`` and load in-process."""
    options = {"val_evaluator.ann_file": str(root / "coco/instances_val.json"),
               "test_evaluator.ann_file": str(root / "coco/instances_val.json")}
    for split in ("train", "val", "test"):
        options.update({f"{split}_dataloader.dataset.data_root": str(root),
                        f"{split}_dataloader.batch_size": batch_size,
                        f"{split}_dataloader.num_workers": 0,
                        f"{split}_dataloader.persistent_workers": False})
    return options


def load_cfg(path: Path, **overrides) -> Config:
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(overrides)
    return cfg


def build_detector(cfg: Config) -> torch.nn.Module:
    from mmdet.registry import MODELS

    init_default_scope("mmdet")
    return MODELS.build(cfg.model)


def first_batch(cfg: Config, split: str = "train") -> dict:
    """The first batch of a split's dataloader (the config's pipeline and collation)."""
    from mmengine.runner import Runner

    init_default_scope("mmdet")
    loader = Runner.build_dataloader(cfg[f"{split}_dataloader"])
    return next(iter(loader))
