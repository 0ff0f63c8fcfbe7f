"""Analytic FLOPs of every route agree with torch's FLOP counter; params count what a route uses.

The counter runs on explicit softmax(QK^T)V attention (it sees fused attention as free) and
counts 2 FLOPs per multiply-add, hence the halving. The merged stitching maps are cached after
a first evaluation pass, as at inference. With the output stride equal to the patch size
nothing uncounted runs, so the two agree exactly; the required agreement is 1%, but a stitching
layer is under 1% of these tiny routes, so only exact agreement proves it is counted.
"""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from flexseg.layers import explicit_attention
from flexseg.models import StitchedViT

PAIRS = {
    "4/8, widths 16/32": (dict(embed_dim=16, depth=4, num_heads=2, mlp_ratio=2.0),
                          dict(embed_dim=32, depth=8, num_heads=2, mlp_ratio=3.0),
                          dict(out_indices=(1, 3))),
    "4/4, widths 32/16, parallel large": (dict(embed_dim=32, depth=4, num_heads=2),
                                          dict(embed_dim=16, depth=4, num_heads=2,
                                               num_parallel=2), dict()),
}


def _counted_multiply_adds(model: StitchedViT, image_hw) -> float:
    x = torch.randn(1, 3, *image_hw)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), explicit_attention(model):
        model(x)
        with counter:
            model(x)
    return counter.get_total_flops() / 2



@pytest.mark.parametrize("pair", list(PAIRS))
def test_analytic_flops_of_every_route_match_the_counter(pair):
    small, large, options = PAIRS[pair]
    image_hw = (36, 30)  # padded to a 5 x 4 token grid
    torch.manual_seed(0)
    model = StitchedViT(small, large, img_size=32, patch_size=8, lora_rank=2, out_stride=8,
                        **options).eval()
    costs = set()
    for route in model.space():
        model.activate(route)
        counted = _counted_multiply_adds(model, image_hw)
        analytic = model.flops(route, image_hw)
        assert analytic == counted, route.id
        costs.add(analytic)
    assert len(costs) > len(model.space()) // 3  # routes really differ in cost


def _model() -> StitchedViT:
    torch.manual_seed(0)
    return StitchedViT(dict(embed_dim=16, depth=3, num_heads=2), dict(embed_dim=32, depth=6,
                       num_heads=2), img_size=32, patch_size=8, lora_rank=2, out_indices=(0, 2))


def _numel(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_anchor_routes_use_their_anchor_and_what_maps_it():
    model = _model()
    large_without_norm = _numel(model.large) - _numel(model.large.norm)
    assert model.params("L") == large_without_norm
    small_without_norm = _numel(model.small) - _numel(model.small.norm)
    level_maps = 2 * (16 + 1) * 32  # two small-anchor levels, deployed 16 -> 32 maps
    assert model.params("S") == small_without_norm + level_maps


def test_stitched_route_params_count_its_blocks_and_stitching_layers():
    model = _model()
    route = model.choice("s0-l2")  # small block 0, large blocks 2-5; levels after s0 and l5
    small, large = model.small, model.large
    expected = (_numel(small.patch_embed) + small.pos_embed.numel() + small.cls_token.numel()
                + _numel(small.blocks[0]) + _numel(large.blocks[2:6])
                + (16 + 1) * 32  # the s0-l2 stitch
                + (16 + 1) * 32)  # level 0 comes from the small anchor
    assert model.params(route) == expected
    assert model.params("S") < model.params(route) < model.params("L")
