"""The evaluation tests' tiny FlexiViT segmentor and its checkpoint, a latency profile made by
hand (so choosing by latency is tested against known numbers), and builders of pinned copies
(the reference a switching inferencer must equal)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from flexseg.deploy.latency import ChoiceLatency, LatencyProfile, current_fingerprint
from flexseg.evaluation.export import export_fixed_budget
from tests.evaluation.conftest import (CHOICES, TINY_CONFIG, build_segmentor,  # noqa: F401
                                       tiny_cfg, tiny_checkpoint)


def profile_of(latencies: dict[str, float], gflops: dict[str, float] | None = None,
               metric: dict[str, float] | None = None, **fingerprint) -> LatencyProfile:
    """A profile with the given median latencies (p95 = 1.5x median), measured 'here'."""
    gflops = gflops or {key: float(index + 1) for index, key in enumerate(latencies)}
    choices = {key: ChoiceLatency(ms, 1.5 * ms, 1000 / ms, 10.0, gflops[key])
               for key, ms in latencies.items()}
    merged = None if metric is None else dict(name="mIoU", higher_is_better=True,
                                              values=metric)
    here = {**current_fingerprint("torch"), **fingerprint}
    return LatencyProfile(here, 1, (64, 64), choices, merged)


def pinned_model(cfg: Config, checkpoint: Path, choice: str, directory: Path):
    """(config path, checkpoint path, model) of ``tools/export.py --format flexseg`` at
    ``choice``: the flexible weights with the backbone's space reduced to that choice."""
    flexible = build_segmentor(cfg)
    load_checkpoint(flexible, str(checkpoint), map_location="cpu", strict=True)
    out = directory / f"pinned_{choice}.pth"
    export_fixed_budget(cfg, flexible, choice, "flexseg", out, (64, 64))
    config = out.with_suffix(".py")
    model = build_segmentor(Config.fromfile(str(config)))
    load_checkpoint(model, str(out), map_location="cpu", strict=True)
    return config, out, model.eval()


@pytest.fixture
def images() -> list:
    """Two 64x64 BGR uint8 images as an inferencer takes them."""
    generator = torch.Generator().manual_seed(5)
    return [(torch.rand(64, 64, 3, generator=generator) * 255).to(torch.uint8).numpy()
            for _ in range(2)]
