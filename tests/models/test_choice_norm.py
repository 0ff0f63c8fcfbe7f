"""ChoiceBatchNorm: each choice of the backbone keeps its own running statistics."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

from flexseg.compat.checkpoint_fit import check_checkpoint_fits
from flexseg.models import ChoiceBatchNorm, FlexiViT, find_flexible

CHANNELS = 3
SHIFT = {"p8": 5.0, "p16": -3.0}  # each choice's features, distributed differently


class Model(nn.Module):
    """A backbone and one norm after it, as a segmentor holds them."""

    def __init__(self, patch_sizes=(8, 16), momentum=None) -> None:
        super().__init__()
        self.backbone = FlexiViT(img_size=32, patch_size=8, patch_sizes=list(patch_sizes),
                                 embed_dim=16, depth=1, num_heads=2)
        self.norm = ChoiceBatchNorm(CHANNELS, momentum=momentum)


def features(choice: str, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    scale = torch.tensor([1.0, 2.0, 0.5]).view(1, -1, 1, 1)
    return SHIFT[choice] + scale * torch.randn(8, CHANNELS, 4, 4, generator=generator)


def train(model: Model, schedule: list[str]) -> list[torch.Tensor]:
    model.train()
    backbone = find_flexible(model)
    seen = []
    for step, choice in enumerate(schedule):
        backbone.activate(choice)
        seen.append(features(choice, step))
        model.norm(seen[-1])
    return seen


def statistics(batches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The cumulative averages BN keeps with ``momentum=None``."""
    means = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    variances = torch.stack([b.var((0, 2, 3), unbiased=True) for b in batches]).mean(0)
    return means, variances


def test_each_choice_is_normalised_with_the_statistics_of_its_own_batches():
    model = Model()
    schedule = ["p8", "p16", "p16", "p8", "p16", "p8"]
    seen = train(model, schedule)
    model.eval()
    probe = features("p8", 99)
    for choice in ("p8", "p16"):
        find_flexible(model).activate(choice)
        mean, var = statistics([b for b, c in zip(seen, schedule) if c == choice])
        expected = F.batch_norm(probe, mean, var, model.norm.weight, model.norm.bias, False,
                                0.0, model.norm.eps)
        torch.testing.assert_close(model.norm(probe), expected, rtol=1e-5, atol=1e-5)
    # stock BN normalises both with the mixture: p8's own batches come out shifted
    find_flexible(model).activate("p8")
    own = model.norm(features("p8", 100))
    mixed = F.batch_norm(features("p8", 100), model.norm.running_mean,
                         model.norm.running_var, model.norm.weight, model.norm.bias, False, 0.0)
    assert own.mean().abs() < 0.2 < mixed.mean().abs()


def test_one_choice_behaves_exactly_as_stock_batch_norm():
    model = Model(patch_sizes=(8,), momentum=0.1)
    stock = nn.BatchNorm2d(CHANNELS, momentum=0.1)
    stock.load_state_dict(model.norm.state_dict(), strict=False)
    seen = train(model, ["p8"] * 40)
    for batch in seen:
        stock.train()(batch)
    model.eval(), stock.eval()
    probe = features("p8", 7)
    torch.testing.assert_close(model.norm(probe), stock(probe), rtol=1e-4, atol=1e-4)


def test_a_choice_never_trained_uses_the_shared_statistics():
    model = Model()
    train(model, ["p8", "p8"])
    model.eval()
    find_flexible(model).activate("p16")
    probe = features("p16", 3)
    expected = F.batch_norm(probe, model.norm.running_mean, model.norm.running_var,
                            model.norm.weight, model.norm.bias, False, 0.0, model.norm.eps)
    torch.testing.assert_close(model.norm(probe), expected)


def test_without_a_linked_backbone_it_is_batch_norm():
    norm, stock = ChoiceBatchNorm(CHANNELS), nn.BatchNorm2d(CHANNELS)
    batch = features("p8", 0)
    torch.testing.assert_close(norm.train()(batch), stock.train()(batch))
    torch.testing.assert_close(norm.eval()(batch), stock.eval()(batch))


def test_statistics_travel_in_checkpoints(tmp_path):
    model = Model()
    train(model, ["p8", "p16", "p8"])
    path = tmp_path / "model.pth"
    torch.save(dict(state_dict=model.state_dict()), path)
    fresh = Model()  # unlinked: no rows until a checkpoint or the backbone gives them
    check_checkpoint_fits(fresh, path)
    load_checkpoint(fresh, str(path), strict=True)
    model.eval(), fresh.eval()
    probe = features("p16", 5)
    for choice in ("p8", "p16"):
        find_flexible(model).activate(choice)
        find_flexible(fresh).activate(choice)
        torch.testing.assert_close(fresh.norm(probe), model.norm(probe))


def test_rows_follow_choice_ids_between_spaces(tmp_path):
    """A checkpoint of other choices (a fixed p8 model run at every size) gives its rows to the
    same ids, linked before or after loading; the other choices use the shared statistics."""
    fixed = Model(patch_sizes=(8,))
    train(fixed, ["p8", "p8"])
    fixed.eval()
    probe = features("p8", 0)
    expected = fixed.norm(probe)
    for link_first in (True, False):
        wider = Model(patch_sizes=(8, 16))
        if link_first:
            find_flexible(wider)
        wider.load_state_dict(fixed.state_dict(), strict=False)
        backbone = find_flexible(wider.eval())
        backbone.activate("p8")
        torch.testing.assert_close(wider.norm(probe), expected)
        backbone.activate("p16")
        shared = F.batch_norm(probe, wider.norm.running_mean, wider.norm.running_var,
                              wider.norm.weight, wider.norm.bias, False, 0.0, wider.norm.eps)
        torch.testing.assert_close(wider.norm(probe), shared)
    path = tmp_path / "fixed.pth"
    torch.save(dict(state_dict=fixed.state_dict()), path)
    check_checkpoint_fits(Model(patch_sizes=(8, 16)), path)  # row counts may differ


def test_a_stock_batch_norm_checkpoint_normalises_every_choice_as_it_did(tmp_path):
    """A model trained with stock BN (e.g. a fixed model's checkpoint, a frozen teacher) loads
    its running statistics; rows kept before the load are not of these weights and are reset."""
    stock = Model()
    stock.norm = nn.BatchNorm2d(CHANNELS)
    for step in range(3):
        stock.norm.train()(features("p8", step))
    path = tmp_path / "stock.pth"
    torch.save(dict(state_dict=stock.state_dict()), path)
    model = Model()
    train(model, ["p16", "p8"])  # stale rows
    check_checkpoint_fits(model, path)
    load_checkpoint(model, str(path), strict=True)
    assert model.norm.choice_updates.tolist() == [0, 0]
    model.eval(), stock.eval()
    probe = features("p16", 4)
    for choice in ("p8", "p16"):
        find_flexible(model).activate(choice)
        torch.testing.assert_close(model.norm(probe), stock.norm(probe))


def test_the_main_config_keeps_statistics_per_patch_size():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    init_default_scope("mmseg")
    cfg = Config.fromfile("configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py")
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    norms = [m for m in model.decode_head.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(isinstance(m, ChoiceBatchNorm) for m in norms)
    backbone = find_flexible(model).train()
    model.train()
    images = torch.randn(2, 3, 64, 64)
    for choice in ("p4", "p16"):
        backbone.activate(choice)
        model._forward(images)
    rows = {c.id: row for row, c in enumerate(backbone.space())}
    updates = norms[0].choice_updates
    assert updates[rows["p4"]] == updates[rows["p16"]] == 1 and updates.sum() == 2
