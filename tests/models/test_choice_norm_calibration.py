"""Recalibrated per-choice BN rows are the statistics of the final weights' features."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import CheckpointHook
from mmengine.runner.priority import get_priority

from flexseg.models import ChoiceBatchNorm, ChoiceNormCalibrationHook, FlexiViT, find_flexible
from flexseg.models.choice_norm_calibration import recalibrate_choice_norms

CHANNELS = 4


class Segmentor(nn.Module):
    """A flexible backbone, a convolution and a ChoiceBatchNorm after it, with the calls the
    calibration makes of an OpenMMLab model."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = FlexiViT(img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=16,
                                 depth=1, num_heads=2, out_indices=(0,))
        self.conv = nn.Conv2d(16, CHANNELS, 1)
        self.dropout = nn.Dropout(0.5)  # must stay off while calibrating
        self.norm = ChoiceBatchNorm(CHANNELS)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.conv(self.backbone(inputs)[-1]))

    def forward(self, inputs, data_samples=None, mode="tensor"):
        return self.norm(self.features(inputs))

    def data_preprocessor(self, batch: torch.Tensor, training: bool) -> dict:
        return {"inputs": batch - 0.5}


def images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(count, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def train_rows(model: Segmentor) -> None:
    """Rows from a few training steps, then weights that moved on: the rows are stale."""
    backbone = find_flexible(model.train())
    for step, choice in enumerate(["p8", "p16", "p8"]):
        backbone.activate(choice)
        model(images(4, step) - 0.5)
    with torch.no_grad():
        model.conv.weight.mul_(3.0)


@torch.no_grad()
def expected_rows(model: Segmentor, batches: list[torch.Tensor]) -> dict[str, tuple]:
    """Each choice's average of per-batch mean and unbiased variance of the norm's input,
    computed with the model in evaluation mode."""
    model.eval()
    backbone = find_flexible(model)
    rows = {}
    for choice in ("p8", "p16"):
        backbone.activate(choice)
        feats = [model.features(b) for b in batches]
        rows[choice] = (torch.stack([f.mean((0, 2, 3)) for f in feats]).mean(0),
                        torch.stack([f.var((0, 2, 3)) for f in feats]).mean(0))
    return rows


def row_of(model: Segmentor, choice: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    index = [c.id for c in find_flexible(model).space()].index(choice)
    norm = model.norm
    return norm.choice_mean[index], norm.choice_var[index], int(norm.choice_updates[index])


def test_rows_become_the_final_weights_statistics_and_nothing_else_changes():
    torch.manual_seed(0)
    model = Segmentor()
    train_rows(model)
    batches = [images(4, 10 + i) for i in range(3)]
    expected = expected_rows(model, [b - 0.5 for b in batches])
    stale_mean = row_of(model, "p8")[0].clone()
    assert not torch.allclose(stale_mean, expected["p8"][0], atol=1e-3)
    model.train()
    find_flexible(model).activate("p16")
    shared = (model.norm.running_mean.clone(), model.norm.running_var.clone())

    read = recalibrate_choice_norms(model, ({"inputs": b - 0.5} for b in batches))

    assert read == 3
    for choice, (mean, var) in expected.items():
        got_mean, got_var, updates = row_of(model, choice)
        torch.testing.assert_close(got_mean, mean, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got_var, var, rtol=1e-4, atol=1e-5)
        assert updates == 3
    torch.testing.assert_close(model.norm.running_mean, shared[0])
    torch.testing.assert_close(model.norm.running_var, shared[1])
    assert model.training and model.dropout.training and model.norm.momentum == 0.1
    assert find_flexible(model).active_choice.id == "p16"


def test_a_model_without_choice_norms_is_refused():
    model = Segmentor()
    model.norm = nn.BatchNorm2d(CHANNELS)
    with pytest.raises(ValueError, match="needs ChoiceBatchNorm layers"):
        recalibrate_choice_norms(model, [{"inputs": images(2)}])


def _runner(model: Segmentor, iteration: int, max_iters: int):
    loader = SimpleNamespace(dataset=list(images(8, 3)), batch_size=4, collate_fn=torch.stack,
                             batch_sampler=None)
    return SimpleNamespace(model=model, seed=0, train_dataloader=loader, iter=iteration,
                           max_iters=max_iters)


def test_the_hook_recalibrates_after_the_last_iteration_only():
    torch.manual_seed(0)
    model = Segmentor()
    train_rows(model)
    before = model.norm.choice_mean.clone()
    hook = ChoiceNormCalibrationHook(num_batches=2)
    hook.after_train_iter(_runner(model, 3, 10), 3)
    torch.testing.assert_close(model.norm.choice_mean, before)
    hook.after_train_iter(_runner(model, 9, 10), 9)
    assert model.norm.choice_updates.tolist() == [2, 2]
    assert not torch.allclose(model.norm.choice_mean, before)
    # runs before CheckpointHook writes the last iteration's checkpoint
    assert get_priority(hook.priority) < get_priority(CheckpointHook.priority)


def test_the_hook_recalibrates_before_testing_only_when_asked(monkeypatch):
    """tools/test.py --recalibrate-bn: the rows of a loaded checkpoint, from the config's
    training data, before the test loop runs."""
    from flexseg.models import choice_norm_calibration

    torch.manual_seed(0)
    model = Segmentor()
    train_rows(model)
    runner = _runner(model, 0, 1)
    runner.cfg = SimpleNamespace(train_dataloader="the config's training loader")
    built = []
    monkeypatch.setattr(choice_norm_calibration.Runner, "build_dataloader",
                        lambda cfg, seed: built.append(cfg) or runner.train_dataloader)
    before = model.norm.choice_mean.clone()
    ChoiceNormCalibrationHook(num_batches=2).before_test(runner)
    torch.testing.assert_close(model.norm.choice_mean, before)
    ChoiceNormCalibrationHook(num_batches=2, at_test=True).before_test(runner)
    assert built == ["the config's training loader"]
    assert model.norm.choice_updates.tolist() == [2, 2]
    assert not torch.allclose(model.norm.choice_mean, before)


@pytest.mark.parametrize("num_batches", [0, -1, 2.5, True])
def test_the_hook_refuses_a_batch_count_that_is_not_a_positive_integer(num_batches):
    with pytest.raises(ValueError, match="num_batches must be a positive integer"):
        ChoiceNormCalibrationHook(num_batches=num_batches)
