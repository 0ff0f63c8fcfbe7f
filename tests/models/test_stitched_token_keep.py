"""Token keeping in the stitched ViT: exact at keep rate 1, the same pruning as FlexiViT inside
an anchor, exact FLOPs for every route x rate, and a 134-route x 3-rate space priced with one
count of the neck and head."""
import pytest
import torch

from flexseg.budget import build_budget_space
from flexseg.budget import space as space_module
from flexseg.models import FlexiViT, StitchedViT

from .test_stitched_flops import _counted_multiply_adds

SMALL = dict(embed_dim=16, depth=4, num_heads=2, mlp_ratio=2.0)
LARGE = dict(embed_dim=32, depth=8, num_heads=2, mlp_ratio=3.0)
KEEP = dict(keep_points=(0, 2), keep_rates=(1.0, 0.6))


def _model(**options) -> StitchedViT:
    torch.manual_seed(0)
    model = StitchedViT(SMALL, LARGE, img_size=32, patch_size=8, lora_rank=2, out_stride=8,
                        out_indices=(1, 3), **options).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return model


def test_every_route_comes_at_every_rate_and_rate_one_is_the_plain_route():
    plain, keeping = _model(), _model(**KEEP)
    keeping.load_state_dict(plain.state_dict())
    assert len(keeping.space()) == 2 * len(plain.space())
    assert {"s1-l4", "s1-l4-k0.6", "L", "L-k0.6"} <= {c.id for c in keeping.space()}
    x = torch.randn(2, 3, 32, 40)
    for route in plain.space():
        plain.activate(route.id)
        keeping.activate(route.id)
        for a, b in zip(plain(x), keeping(x), strict=True):
            assert torch.equal(a, b), route.id


def test_inside_one_anchor_the_route_prunes_as_flexivit_does():
    model = _model(**KEEP)
    alone = FlexiViT(img_size=32, patch_size=8, patch_sizes=[8], out_indices=(1, 3),
                     **SMALL, **KEEP).eval()
    alone.load_state_dict(model.small.state_dict())
    alone.activate("p8-k0.6")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        levels = model._run(x, model.choice("S-k0.6")).levels
        maps = alone.forward_intermediates(x, indices=[1, 3], intermediates_only=True)
    for level, grid in enumerate(maps):
        tokens = levels[level]
        torch.testing.assert_close(tokens[:, 1:], grid.flatten(2).transpose(1, 2))


def test_analytic_flops_equal_the_counter_for_every_route_and_rate():
    model = _model(keep_points=(0, 2), keep_rates=(1.0, 0.6, 0.3))
    for route in model.space():
        model.activate(route)
        assert model.flops(route, (36, 30)) == _counted_multiply_adds(model, (36, 30)), route.id
    assert model.flops("s1-l4-k0.3", (32, 32)) < model.flops("s1-l4", (32, 32))


def test_a_large_joint_space_prices_the_neck_and_head_once(monkeypatch):
    """12/24 blocks: 134 routes x 3 rates = 402 choices, one count outside the backbone."""
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    register_all_modules()
    small, large = dict(embed_dim=8, depth=12, num_heads=1), dict(embed_dim=16, depth=24,
                                                                 num_heads=1)
    segmentor = MODELS.build(dict(
        type="EncoderDecoder",
        data_preprocessor=dict(type="SegDataPreProcessor", size=(32, 32)),
        backbone=dict(type="StitchedViT", small=small, large=large, img_size=32, patch_size=16,
                      lora_rank=0, out_indices=(2, 5, 8, 11), out_stride=16,
                      keep_points=(3, 6, 9), keep_rates=(1.0, 0.7, 0.5)),
        decode_head=dict(type="FCNHead", in_channels=16, in_index=3, channels=8, num_convs=1,
                         num_classes=3, norm_cfg=dict(type="BN")),
        train_cfg=dict(), test_cfg=dict(mode="whole")))
    calls = []
    count = space_module.count_flops_outside_backbone
    monkeypatch.setattr(space_module, "count_flops_outside_backbone",
                        lambda *args: calls.append(args) or count(*args))
    space = build_budget_space(segmentor, (32, 32))
    assert len(space) == 134 * 3 and len(calls) == 1
    head = space[0].gflops - space[0].backbone_gflops
    assert head > 0 and all(e.gflops - e.backbone_gflops == pytest.approx(head) for e in space)
