"""``out_stride=None``: maps at the token grid's own stride, so the neck and head shrink with
the patch size; the budget space prices them per patch size."""
import torch

from flexseg.budget import build_budget_space
from flexseg.budget import space as space_module
from flexseg.models import FlexiViT, StitchedViT
from tests.budget.conftest import build_segmentor


def test_flexivit_maps_are_the_token_grids(tiny_kwargs):
    model = FlexiViT(img_size=64, patch_size=8, patch_sizes=[8, 16], out_indices=(0, 1),
                     out_stride=None, **tiny_kwargs).eval()
    x = torch.randn(1, 3, 64, 48)
    for choice, grid in (("p8", (8, 6)), ("p16", (4, 3))):
        model.activate(choice)
        maps = model(x)
        expected = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
        assert [tuple(m.shape[-2:]) for m in maps] == [grid, grid]
        for a, b in zip(maps, expected, strict=True):
            assert torch.equal(a, b)


def test_stitched_maps_are_the_token_grids():
    model = StitchedViT(dict(embed_dim=16, depth=2, num_heads=2),
                        dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8,
                        lora_rank=0, routes=("S", "L"), out_indices=(0, 1),
                        out_stride=None).eval()
    assert [tuple(m.shape) for m in model(torch.randn(1, 3, 32, 40))] == [(1, 32, 4, 5)] * 2


def test_neck_and_head_cost_less_at_larger_patches_and_are_priced_per_size(monkeypatch):
    calls = []
    count = space_module.count_flops_outside_backbone
    monkeypatch.setattr(space_module, "count_flops_outside_backbone",
                        lambda *args: calls.append(1) or count(*args))
    fixed = build_budget_space(build_segmentor(out_stride=8), (64, 64))
    assert len(calls) == 1  # one map shape for every patch size
    grid = build_budget_space(build_segmentor(out_stride=None), (64, 64))
    assert len(calls) == 1 + 4  # one per patch size
    rest = {e.id: e.gflops - e.backbone_gflops for e in grid}
    assert rest["p16"] < rest["p8"] < rest["p4"]
    assert grid.get("p16").gflops < fixed.get("p16").gflops
