"""tools/export.py: the exported fixed-budget model computes what the flexible one computes at
that choice (stock mmseg ViT, timm ViT, pinned flexseg config)."""
import json
import runpy
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from tests.conftest import REPO
from tests.evaluation.conftest import build_segmentor, tiny_cfg

# A stored patch size (16) other than the exported ones, so kernels and position embeddings
# are resampled; layer scale and the final norm exercise the parts mmseg's ViT lacks or names
# differently.
OVERRIDES = {"model.backbone.patch_size": 16, "model.backbone.layer_scale_init": 0.1,
             "model.backbone.final_norm": True}


@pytest.fixture(scope="module")
def flexible(tmp_path_factory):
    """(config path, checkpoint path, model in eval mode) with non-trivial weights."""
    directory = tmp_path_factory.mktemp("export")
    cfg = tiny_cfg(**OVERRIDES)
    config = directory / "flexible.py"
    cfg.dump(str(config))
    torch.manual_seed(1)
    model = build_segmentor(cfg)
    model.init_weights()
    with torch.no_grad():
        for param in model.backbone.parameters():
            param.add_(0.05 * torch.randn_like(param))
    checkpoint = directory / "flexible.pth"
    torch.save({"meta": {}, "state_dict": model.state_dict()}, checkpoint)
    return config, checkpoint, model.eval()


def export(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["export.py", *map(str, args)])
    runpy.run_path(str(REPO / "tools/export.py"), run_name="__main__")


def logits(model, choice: str | None, images: torch.Tensor) -> torch.Tensor:
    if choice is not None:
        model.backbone.activate(choice)
    with torch.no_grad():
        return model(images, mode="tensor")


def build_exported(config, checkpoint):
    model = build_segmentor(Config.fromfile(str(config)))
    load_checkpoint(model, str(checkpoint), map_location="cpu", strict=True)
    return model.eval()


def test_stock_mmseg_vit_matches_at_the_output_stride(monkeypatch, tmp_path, flexible):
    config, checkpoint, model = flexible
    out = tmp_path / "vit_p8.pth"
    export(monkeypatch, config, checkpoint, "--choice", "p8", "--format", "mmseg-vit",
           "--out", out)
    stock = build_exported(out.with_suffix(".py"), out)
    assert type(stock.backbone).__name__ == "VisionTransformer"
    assert stock.backbone.patch_size == 8
    images = torch.rand(2, 3, 64, 64)
    expected, actual = logits(model, "p8", images), logits(stock, None, images)
    assert expected.shape == actual.shape == (2, 11, 16, 16)
    assert (expected - actual).abs().max() <= 1e-4


def test_stock_mmseg_vit_refuses_another_stride(monkeypatch, tmp_path, flexible, capsys):
    config, checkpoint, _ = flexible
    with pytest.raises(SystemExit):
        export(monkeypatch, config, checkpoint, "--choice", "p16", "--format", "mmseg-vit",
               "--out", tmp_path / "x.pth")
    error = capsys.readouterr().err
    assert "out_stride 8" in error and "--format flexseg" in error
    assert not (tmp_path / "x.pth").exists()


def test_timm_backbone_matches(monkeypatch, tmp_path, flexible):
    from timm.models.vision_transformer import VisionTransformer

    config, checkpoint, model = flexible
    out = tmp_path / "timm_p4.pth"
    export(monkeypatch, config, checkpoint, "--choice", "p4", "--format", "timm", "--out", out)
    timm_vit = VisionTransformer(**json.loads(out.with_suffix(".json").read_text())).eval()
    timm_vit.load_state_dict(torch.load(out, weights_only=True))
    images = torch.rand(2, 3, 64, 64)
    model.backbone.activate("p4")
    with torch.no_grad():
        expected = model.backbone.forward_features(images)
        actual = timm_vit.forward_features(images)
    assert actual.shape == (2, 1 + 16 * 16, 32)
    assert (expected - actual).abs().max() <= 1e-5


def test_pinned_checkpoint_at_a_budget(monkeypatch, tmp_path, flexible):
    """--budget without results: the most expensive choice that fits (p4 here)."""
    config, checkpoint, model = flexible
    out = tmp_path / "pinned.pth"
    export(monkeypatch, config, checkpoint, "--budget", 1000, "--out", out)
    pinned = build_exported(out.with_suffix(".py"), out)
    assert [c.id for c in pinned.backbone.space()] == ["p4"]
    images = torch.rand(2, 3, 64, 64)
    assert torch.equal(logits(model, "p4", images), logits(pinned, None, images))


@pytest.fixture(scope="module")
def keeping(tmp_path_factory):
    """A FlexiViT with token keeping: (config path, checkpoint path, model in eval mode)."""
    directory = tmp_path_factory.mktemp("export-keep")
    cfg = tiny_cfg(**{"model.backbone.keep_points": (1,), "model.backbone.keep_rates": (1.0, 0.5)})
    config = directory / "keeping.py"
    cfg.dump(str(config))
    torch.manual_seed(2)
    model = build_segmentor(cfg)
    with torch.no_grad():
        for param in model.backbone.parameters():
            param.add_(0.05 * torch.randn_like(param))
    checkpoint = directory / "keeping.pth"
    torch.save({"meta": {}, "state_dict": model.state_dict()}, checkpoint)
    return config, checkpoint, model.eval()


def test_a_token_keeping_choice_exports_pinned_and_exactly(monkeypatch, tmp_path, keeping):
    config, checkpoint, model = keeping
    out = tmp_path / "pinned.pth"
    export(monkeypatch, config, checkpoint, "--choice", "p8-k0.5", "--out", out)
    pinned = build_exported(out.with_suffix(".py"), out)
    assert [c.id for c in pinned.backbone.space()] == ["p8-k0.5"]
    images = torch.rand(2, 3, 64, 64)
    assert torch.equal(logits(model, "p8-k0.5", images), logits(pinned, None, images))


def test_plain_vit_formats_refuse_token_keeping(monkeypatch, tmp_path, keeping, capsys):
    config, checkpoint, _ = keeping
    with pytest.raises(SystemExit):
        export(monkeypatch, config, checkpoint, "--choice", "p8-k0.5", "--format", "timm",
               "--out", tmp_path / "vit.pth")
    assert "token keeping has no plain-ViT equivalent" in capsys.readouterr().err


def test_stock_mmseg_vit_matches_at_any_size_when_maps_keep_the_grid_stride(monkeypatch,
                                                                             tmp_path):
    """With ``out_stride=None`` FlexiViT returns stride-p maps at every p, as mmseg's ViT."""
    cfg = tiny_cfg(**OVERRIDES, **{"model.backbone.out_stride": None})
    config = tmp_path / "grid.py"
    cfg.dump(str(config))
    torch.manual_seed(3)
    model = build_segmentor(cfg).eval()
    checkpoint = tmp_path / "grid.pth"
    torch.save({"meta": {}, "state_dict": model.state_dict()}, checkpoint)
    out = tmp_path / "vit_p16.pth"
    export(monkeypatch, config, checkpoint, "--choice", "p16", "--format", "mmseg-vit",
           "--out", out)
    stock = build_exported(out.with_suffix(".py"), out)
    images = torch.rand(2, 3, 64, 64)
    expected, actual = logits(model, "p16", images), logits(stock, None, images)
    assert expected.shape == actual.shape
    assert (expected - actual).abs().max() <= 1e-4
