"""Masked-patch pretraining: a masked patch's pixels reach no prediction (hMLP and linear
stems, at every patch size), targets are the patches, masks are a function of (seed, step), a
resumed run equals the uninterrupted one, the weights load as a backbone, and the loss learns."""
import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from flexseg.models import FlexiViT
from flexseg.pretrain.masked import (MaskedPatchModel, MaskedPretrainer, pretrainer_class,
                                     step_generator)
from flexseg.pretrain.trainer import Pretrainer

CONFIGS = Path(__file__).parent / "configs"


def _masked_cfg(**changes) -> Config:
    cfg = Config.fromfile(str(CONFIGS / "tiny_flexivit.py"))
    cfg.merge_from_dict({"objective": "masked",
                         "masked": dict(mask_ratio=0.5, target_size=4), **changes})
    return cfg


@pytest.mark.parametrize("stem, patch", [("hmlp", 4), ("hmlp", 6), ("hmlp", 8), ("hmlp", 12),
                                         ("linear", 6), ("linear", 12)])
def test_a_masked_patch_reaches_no_prediction(stem, patch):
    torch.manual_seed(0)
    backbone = FlexiViT(img_size=48, patch_size=8, patch_sizes=[4, 6, 8, 12], embed_dim=32,
                        depth=2, num_heads=2, stem=stem, hmlp_norm="ln", hmlp_patch_size=8)
    model = MaskedPatchModel(backbone, mask_ratio=0.5, target_size=4).eval()
    backbone.activate(f"p{patch}")
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        predictions, mask, grid_hw = model(images, step_generator(0, 7))
        changed = images.clone()
        for b, index in mask.nonzero().tolist():  # new pixels in every masked patch
            row, col = divmod(index, grid_hw[1])
            changed[b, :, row * patch:(row + 1) * patch, col * patch:(col + 1) * patch] = \
                torch.randn(3, patch, patch)
        again, same_mask, _ = model(changed, step_generator(0, 7))
        assert torch.equal(mask, same_mask)
        torch.testing.assert_close(again, predictions, rtol=0, atol=1e-5)
        # ...while a visible patch does reach them
        visible = (~mask[0]).nonzero()[0, 0].item()
        row, col = divmod(visible, grid_hw[1])
        changed[0, :, row * patch:(row + 1) * patch, col * patch:(col + 1) * patch] += 1.0
        assert (model(changed, step_generator(0, 7))[0] - predictions).abs().max() > 1e-3


def test_masks_hold_the_share_and_follow_seed_and_step():
    model = MaskedPatchModel(FlexiViT(img_size=32, patch_size=8, embed_dim=32, depth=1,
                                      num_heads=2), mask_ratio=0.6)
    first = model.draw_masks(4, 16, step_generator(0, 3))
    assert torch.equal(first.sum(dim=1), torch.full((4,), 10))
    assert torch.equal(first, model.draw_masks(4, 16, step_generator(0, 3)))
    assert not torch.equal(first, model.draw_masks(4, 16, step_generator(0, 4)))


def test_targets_are_the_patches_at_the_target_size():
    backbone = FlexiViT(img_size=32, patch_size=8, patch_sizes=[8], embed_dim=32, depth=1,
                        num_heads=2)
    model = MaskedPatchModel(backbone, target_size=8)
    images = torch.randn(1, 3, 32, 32)
    targets = model.targets(images)
    assert targets.shape == (1, 16, 3 * 64)
    torch.testing.assert_close(targets[0, 5].reshape(3, 8, 8), images[0, :, 8:16, 8:16])


def test_the_config_chooses_the_objective():
    assert pretrainer_class(Config(dict())) is Pretrainer
    assert pretrainer_class(_masked_cfg()) is MaskedPretrainer
    with pytest.raises(ValueError, match="objective must be one of"):
        pretrainer_class(Config(dict(objective="contrastive")))
    with pytest.raises(ValueError, match="mask_ratio"):
        MaskedPretrainer(_masked_cfg(masked=dict(mask_ratio=1.0)), Path("/nonexistent"),
                         Path("/nonexistent"))


def test_resumed_masked_run_equals_the_uninterrupted_one(tmp_path):
    cfg = _masked_cfg()
    straight = MaskedPretrainer(cfg, tmp_path / "a", tmp_path / "out-a", say=lambda _: None)
    straight.train()
    interrupted = MaskedPretrainer(cfg, tmp_path / "b", tmp_path / "out-b", say=lambda _: None)
    original_step = interrupted.step

    def stop_at_three(step):
        if step == 3:
            raise KeyboardInterrupt
        return original_step(step)

    interrupted.step = stop_at_three
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    resumed = MaskedPretrainer(cfg, tmp_path / "b", tmp_path / "out-b", say=lambda _: None)
    resumed.train()
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_masked_weights_load_as_a_backbone_and_the_loss_learns(tmp_path):
    cfg = _masked_cfg(schedule=dict(steps=30, batch_size=8, lr=2e-3, warmup_steps=2,
                                    log_interval=10, checkpoint_interval=100))
    trainer = MaskedPretrainer(cfg, tmp_path / "work", tmp_path / "out", say=lambda _: None)
    before = trainer.evaluate()
    seconds = trainer.train()
    after = trainer.evaluate()
    assert all(after[c] < 0.9 * before[c] for c in before), (before, after)
    meta = trainer.export(seconds, after)
    weights = tmp_path / "out" / meta["files"]["timm"]["path"]
    backbone = FlexiViT(**{k: v for k, v in cfg.backbone.items() if k != "type"},
                        init_cfg=dict(type="Pretrained", checkpoint=str(weights)))
    backbone.init_weights()
    for name, value in trainer.model.backbone.state_dict().items():
        torch.testing.assert_close(backbone.state_dict()[name], value, msg=name)


def test_the_tool_runs_the_objective_its_config_names(tmp_path):
    from tests.pretrain.test_pretrain import pretrain

    result = pretrain("tiny_masked.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[pretrain] validation masked-patch L1 error: {" in result.stdout
    record = json.loads((tmp_path / "tiny-masked.json").read_text())
    assert record["objective"] == "masked"
