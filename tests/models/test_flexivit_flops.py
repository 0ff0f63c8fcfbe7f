"""Analytic FLOPs agree with torch's FLOP counter on explicit softmax(QK^T)V attention.

torch's counter sees fused scaled_dot_product_attention as free on the CPU, hence the
explicit mode; it counts 2 FLOPs per multiply-add, hence the halving.
"""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from flexseg.layers import explicit_attention
from flexseg.models import FlexiViT

CASES = [
    ("p8", (48, 64), dict()),
    ("p12", (50, 70), dict()),
    ("p12x16", (48, 64), dict()),
    ("p20", (50, 70), dict(fit="crop")),
    ("p16", (64, 48), dict(num_parallel=2, num_reg_tokens=2)),
    ("p32", (64, 80), dict(stem="hmlp", hmlp_norm="ln")),
    ("p12", (50, 70), dict(stem="hmlp", hmlp_patch_size=8)),
]


def _counted_multiply_adds(model: FlexiViT, image_hw) -> float:
    """Steady-state eval cost: the one-off kernel PI-resize (then cached) runs before counting."""
    x = torch.randn(1, 3, *image_hw)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), explicit_attention(model):
        model.forward_features(x)
        with counter:
            model.forward_features(x)
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("choice,image_hw,options", CASES)
def test_analytic_flops_match_the_counter(tiny_kwargs, choice, image_hw, options):
    model = FlexiViT(img_size=64, patch_size=8, patch_sizes=[8, 12, (12, 16), 16, 20, 32]
                     if options.get("stem") != "hmlp" else [12, 16, 32], **tiny_kwargs,
                     **options, out_stride=None).eval()  # forward_features: maps not resampled
    model.activate(choice)
    counted = _counted_multiply_adds(model, image_hw)
    assert abs(model.flops(choice, image_hw) - counted) <= 0.01 * counted


def test_flops_count_only_the_blocks_that_run(tiny_kwargs):
    full = FlexiViT(img_size=64, patch_size=8, **tiny_kwargs)
    early = FlexiViT(img_size=64, patch_size=8, out_indices=(0,), **tiny_kwargs)
    assert early.flops("p16", (64, 64)) < full.flops("p16", (64, 64))


def test_smaller_patches_cost_more(tiny_kwargs):
    model = FlexiViT(img_size=240, patch_size=8, **tiny_kwargs)  # 240 = a multiple of each size
    costs = [model.flops(choice, (240, 240)) for choice in model.space()]
    assert costs == sorted(costs, reverse=True)


@pytest.mark.parametrize("patch, stride, image", [(6, 8, (64, 64)), (12, 8, (60, 64)),
                                                  (16, 4, (64, 64))])
def test_resampling_flops_are_what_the_counters_find(patch, stride, image):
    """The maps' resampling to ``out_stride``: the two matrix products where no torch kernel
    applies (counted by torch), bilinear upsampling by a whole factor as 4 multiply-adds per
    output value (mmengine's counter's convention)."""
    from mmengine.analysis import FlopAnalyzer

    from flexseg.layers.grid import resample_flops, resample_to_stride
    grid_hw = (-(-image[0] // patch), -(-image[1] // patch))
    out_hw = (-(-image[0] // stride), -(-image[1] // stride))
    grid = torch.randn(1, 5, *grid_hw)
    expected = resample_flops(5, grid_hw, (patch, patch), stride, out_hw)

    class Resample(torch.nn.Module):
        def forward(self, x):
            return resample_to_stride(x, (patch, patch), stride, out_hw)

    if patch % stride:
        counter = FlopCounterMode(display=False)
        with counter:
            Resample()(grid)
        assert expected == counter.get_total_flops() / 2
    else:
        assert expected == FlopAnalyzer(Resample(), (grid,)).total() == 4 * 5 * 16 * 16
