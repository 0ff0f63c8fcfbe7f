"""A tiny FlexiViT segmentor (patch 4/8/16, output stride 8), an untrained checkpoint of it and
a helper that builds an in-process Runner for it on the small DigitSeg set."""
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import Runner

import flexseg.evaluation  # noqa: F401  (registers the loops)

TINY_CONFIG = Path(__file__).parent / "configs/flexivit-tiny_upernet_digitseg-64x64.py"
CHOICES = ("p16", "p8", "p4")  # by increasing GFLOPs


def tiny_cfg(**overrides) -> Config:
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.merge_from_dict(overrides)
    return cfg


def build_segmentor(cfg: Config) -> torch.nn.Module:
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Random weights, perturbed so that every choice predicts a different label map."""
    torch.manual_seed(0)
    model = build_segmentor(tiny_cfg())
    # init_weights logs to the newest logger: a new one of its own (a name used before would
    # return that older logger), not a finished test's, whose file handler may be closed
    MMLogger.get_instance(f"tiny_checkpoint_{time.time_ns()}")
    model.init_weights()
    with torch.no_grad():
        for param in model.backbone.parameters():
            param.add_(0.05 * torch.randn_like(param))
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.pth"
    torch.save({"meta": {}, "state_dict": model.state_dict()}, path)
    return path


def make_runner(work_dir: Path, data_root: Path, checkpoint: Path, test_cfg: dict,
                batch_size: int = 3, **overrides) -> Runner:
    """A test Runner over the 8 validation images in batches of ``batch_size``."""
    options = {"work_dir": str(work_dir), "load_from": str(checkpoint), "test_cfg": test_cfg,
               "test_dataloader.dataset.data_root": str(data_root),
               "test_dataloader.batch_size": batch_size, "test_dataloader.num_workers": 0,
               "test_dataloader.persistent_workers": False,
               "default_hooks.visualization.draw": False, **overrides}
    cfg = tiny_cfg(**options)
    cfg.test_cfg = test_cfg  # replace, not merge, the loop config
    return Runner.from_cfg(cfg)
