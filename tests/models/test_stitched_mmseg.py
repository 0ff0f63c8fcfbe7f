"""StitchedViT in OpenMMLab: both registries build it, and the DigitSeg config trains with ROS,
fits the stitching layers once, keeps them in checkpoints and does not refit on resume."""
import importlib
import re

import pytest
import torch

from flexseg.models import StitchedViT
from tests.conftest import REPO, quick_run_options, run_tool_here

CONFIG = REPO / "configs/snnet/snnet-tiny_upernet_digitseg-64x64.py"
BACKBONE = dict(type="StitchedViT", small=dict(embed_dim=16, depth=2, num_heads=2),
                large=dict(embed_dim=32, depth=4, num_heads=2), routes=("S", "L", "S-L", "L-S"),
                img_size=32, patch_size=8, lora_rank=2, out_stride=8)


@pytest.mark.parametrize("library", ["mmseg", "mmdet"])
def test_registered_for_segmentation_and_detection(library):
    registry = importlib.import_module(f"{library}.registry").MODELS
    backbone = registry.build(dict(BACKBONE))
    assert isinstance(backbone, StitchedViT)
    outputs = backbone.eval()(torch.randn(1, 3, 32, 48))
    assert [tuple(out.shape) for out in outputs] == [(1, 32, 4, 6)] * 2


def _train(work_dir, data_root, max_iters: int, *extra) -> str:
    # Four of the config's 32 routes: each route's BN statistics are recomputed after training.
    options = quick_run_options(data_root, max_iters=max_iters) + [
        "val_cfg.choices=[S,L]", "model.backbone.routes=[S,L,S-L,L-S]"]
    result = run_tool_here("tools/train.py", str(CONFIG), "--work-dir", str(work_dir), *extra,
                           "--cfg-options", *options)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _stitching_state(path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    return {name: value for name, value in state.items()
            if name.startswith(("backbone.stitches.", "backbone.level_maps."))}


def test_config_trains_fits_once_and_resumes_without_refitting(tmp_path, small_digitseg):
    work_dir = tmp_path / "run"
    first = _train(work_dir, small_digitseg, 2)
    assert re.search(r"StitchInitHook: fitted \d+ stitching layers by least squares on 8 "
                     r"training images", first)  # 4 batches of 2
    assert "ROS groups:" in first
    chosen = re.findall(r"Iter\(train\) \[\s*\d+/2\].*choice: (\S+)", first)
    assert len(chosen) == 2

    second = _train(work_dir, small_digitseg, 3, "--resume", str(work_dir / "iter_2.pth"))
    assert "resumed" in second.lower()
    assert "stitching layers already fitted" in second
    assert "StitchInitHook: fitted" not in second

    saved = _stitching_state(work_dir / "iter_2.pth")
    resumed = _stitching_state(work_dir / "iter_3.pth")
    flags = [name for name in saved if name.endswith(".fitted")]
    assert flags and all(bool(saved[name]) for name in flags)
    fitted_maps = [name for name in saved if name.endswith(".weight")]
    assert fitted_maps and all(saved[name].abs().sum() > 0 for name in fitted_maps)
    assert all(torch.equal(saved[name], resumed[name]) for name in fitted_maps)
