"""Tiny depth models (FlexiViT and stitched ViT with the DPT head), a small DigitSeg-NYU set and
batches of it as the models receive them."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import flexseg  # noqa: F401  (registers the depth modules)
from flexseg.datasets import ensure_digitseg

CONFIGS = Path(__file__).parent / "configs"
FLEXIVIT_CONFIG = CONFIGS / "flexivit-tiny_dpt_digitseg-nyu-64x64.py"
SNNET_CONFIG = CONFIGS / "snnet-tiny_dpt_digitseg-nyu-64x64.py"


@pytest.fixture(scope="session")
def small_digitseg_nyu(tmp_path_factory) -> Path:
    """8 training and 4 test 64x64 images in mmseg's NYUv2 layout (depth in millimetres)."""
    root = tmp_path_factory.mktemp("digitseg_depth")
    ensure_digitseg(root / "rgb", coco=False, nyu_root=root / "nyu", num_train=8, num_val=4,
                    seed=3)
    return root / "nyu"


def load_cfg(path: Path, **overrides) -> Config:
    cfg = Config.fromfile(str(path))
    cfg.merge_from_dict(overrides)
    return cfg


def build_model(cfg: Config, seed: int = 0) -> torch.nn.Module:
    """The config's model with fixed random weights, in eval mode."""
    init_default_scope("mmseg")
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def load_batch(cfg: Config, data_root: Path, split: str = "test", count: int = 2) -> dict:
    """The first ``count`` samples of a split, collated and preprocessed."""
    init_default_scope("mmseg")
    loader = cfg[f"{split}_dataloader"]
    dataset = DATASETS.build(dict(loader["dataset"], data_root=str(data_root)))
    return pseudo_collate([dataset[i] for i in range(count)])
