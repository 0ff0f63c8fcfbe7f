"""Every choice of both flexible backbones runs the depth estimator on DigitSeg-NYU: the loss
is finite and reaches the backbone, predictions are positive, bounded and at the image size."""
import pytest
import torch

from tests.conftest import REPO
from tests.depth.conftest import FLEXIVIT_CONFIG, SNNET_CONFIG, build_model, load_batch, load_cfg


@pytest.mark.parametrize("config", [FLEXIVIT_CONFIG, SNNET_CONFIG], ids=["flexivit", "snnet"])
def test_loss_and_predict_at_every_choice(config, small_digitseg_nyu):
    cfg = load_cfg(config)
    model = build_model(cfg)
    train = model.data_preprocessor(load_batch(cfg, small_digitseg_nyu, "train"), True)
    test = model.data_preprocessor(load_batch(cfg, small_digitseg_nyu, "test"), False)
    backbone = model.backbone
    if hasattr(backbone, "fit_stitches"):
        backbone.fit_stitches([train["inputs"]])
    space = backbone.space()
    assert len(space) > 1
    for choice in space:
        backbone.activate(choice)
        model.train()
        model.zero_grad()
        losses = model.loss(train["inputs"], train["data_samples"])
        loss = sum(losses.values())
        assert torch.isfinite(loss) and loss > 0, choice.id
        loss.backward()
        grads = [p.grad for p in backbone.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), choice.id
        model.eval()
        with torch.no_grad():
            samples = model.predict(test["inputs"], test["data_samples"])
        for sample in samples:
            depth = sample.pred_depth_map.data
            assert depth.shape == sample.gt_depth_map.data.shape == (1, 64, 64), choice.id
            assert (depth > 0).all() and (depth <= cfg.model.decode_head.max_depth).all()


@pytest.mark.parametrize("config", sorted((REPO / "configs/depth").glob("*digitseg-nyu*.py")),
                         ids=lambda p: p.name)
def test_shipped_digitseg_configs_predict_depth_at_every_choice(config):
    cfg = load_cfg(config)
    model = build_model(cfg)
    images = torch.rand(1, 3, 64, 64)
    for choice in model.backbone.space():
        model.backbone.activate(choice)
        with torch.no_grad():
            depth = model(images, mode="tensor")
        assert depth.shape[:2] == (1, 1), choice.id
        assert (depth > 0).all() and (depth <= cfg.model.decode_head.max_depth).all()
