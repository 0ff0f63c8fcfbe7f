"""Input resolution as a factor of the joint space: a choice at resolution r is the backbone on
the input resized to r of its size, its maps still line up with the original image, and its
analytic FLOPs equal an explicit count (and those of the same backbone run on the smaller
image)."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from flexseg.layers import explicit_attention
from flexseg.layers.grid import resample_to_stride, resize_input, scaled_size
from flexseg.models import FlexiViT, StitchedViT

SMALL = dict(embed_dim=16, depth=3, num_heads=2, mlp_ratio=2.0)
LARGE = dict(embed_dim=24, depth=6, num_heads=2, mlp_ratio=2.0)


def _flexivit(**options) -> FlexiViT:
    torch.manual_seed(0)
    kwargs = dict(img_size=64, patch_size=8, patch_sizes=[8, 16], embed_dim=16, depth=2,
                  num_heads=2, out_indices=(0, 1), resolutions=(1.0, 0.75, 0.5))
    kwargs.update(options)
    return FlexiViT(**kwargs).eval()


def _stitched(**options) -> StitchedViT:
    torch.manual_seed(0)
    kwargs = dict(img_size=32, patch_size=8, lora_rank=2, out_indices=(0, 2),
                  resolutions=(1.0, 0.5), keep_points=(0,), keep_rates=(1.0, 0.5))
    kwargs.update(options)
    model = StitchedViT(dict(SMALL), dict(LARGE), **kwargs)
    model.fit_stitches([torch.randn(2, 3, 32, 32)])
    return model.eval()


def _counted(model, image_hw) -> float:
    """torch's count of one forward (explicit attention; 2 FLOPs per multiply-add); a first
    pass caches the derived weights, as at inference."""
    x = torch.randn(1, 3, *image_hw)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), explicit_attention(model):
        model(x)
        with counter:
            model(x)
    return counter.get_total_flops() / 2


def test_resolution_is_a_factor_of_the_joint_space_with_its_own_ids():
    assert [c.id for c in _flexivit(keep_points=(0,), keep_rates=(1.0, 0.5)).space()][:6] == [
        "p8", "p8-k0.5", "p8-r0.75", "p8-r0.75-k0.5", "p8-r0.5", "p8-r0.5-k0.5"]
    ids = [c.id for c in _stitched().space()]
    assert {"S", "S-r0.5", "s0-l2-r0.5-k0.5", "L-r0.5-k0.5"} <= set(ids)
    assert len(ids) == 4 * len(_stitched(resolutions=(1.0,), keep_rates=(1.0,)).space())
    assert scaled_size((33, 50), 0.75) == (25, 38)  # 24.75 and 37.5 rounded half up
    with pytest.raises(ValueError, match=r"resolutions must be a non-empty list of input "
                                         r"scales in \(0, 4\]"):
        _flexivit(resolutions=(0.0,))


def test_a_resolution_runs_the_backbone_on_the_resized_input():
    """Token-grid maps (no fixed stride) equal the full-resolution choice on the resized
    image; with a fixed stride they are resampled from a token size of p / r pixels of the
    original image, so they have the original image's map size."""
    model = _flexivit(out_stride=None)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        model.activate("p8-r0.5")
        small = model(x)
        model.activate("p8")
        reference = model(resize_input(x, 0.5))
    assert all(torch.equal(a, b) for a, b in zip(small, reference, strict=True))
    assert small[0].shape[-2:] == (4, 3)
    strided = _flexivit(out_stride=8)
    strided.load_state_dict(model.state_dict())
    with torch.no_grad():
        strided.activate("p8-r0.5")
        maps = strided(x)
    expected = resample_to_stride(reference[1], (16, 16), 8, (8, 6))
    torch.testing.assert_close(maps[1], expected)


@pytest.mark.parametrize("image_hw", [(64, 80), (50, 38)])
def test_flexivit_flops_at_every_resolution_equal_the_counter(image_hw):
    model = _flexivit(out_stride=None, keep_points=(0,), keep_rates=(1.0, 0.5))
    for choice in model.space():
        model.activate(choice)
        assert model.flops(choice, image_hw) == _counted(model, image_hw), choice.id
    resized = scaled_size(image_hw, 0.5)
    assert model.flops("p8-r0.5", image_hw) == model.flops("p8", resized)
    assert model.flops("p8-r0.5", image_hw) < model.flops("p8-r0.75", image_hw) < \
        model.flops("p8", image_hw)


def test_stitched_flops_at_every_resolution_equal_the_counter():
    model = _stitched(out_stride=None)
    for choice in model.space():
        model.activate(choice)
        assert model.flops(choice, (40, 32)) == _counted(model, (40, 32)), choice.id


def test_every_choice_of_both_backbones_shares_work_only_within_a_resolution():
    """The one-pass evaluation gives each resolution its own embedding: outputs equal each
    choice's own forward pass."""
    for model in (_flexivit(out_stride=8), _stitched(out_stride=8)):
        x = torch.randn(2, 3, 32, 40)
        with torch.no_grad():
            shared = dict(model.forward_choices(x, model.space()))
            for choice, outputs in shared.items():
                model.activate(choice)
                for a, b in zip(model(x), outputs, strict=True):
                    assert a.shape[-2:] == (4, 5)
                    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("backbone", ["flexivit", "stitched"])
def test_supervit_resize_mode_is_a_corner_aligned_bilinear_resize(backbone):
    """resize_mode='align_corners' runs a choice at r on SuperViT's resize of the input
    (F.interpolate, bilinear, align_corners=True, no anti-aliasing), not the default one."""
    build = _flexivit if backbone == "flexivit" else _stitched
    model = build(out_stride=None, resize_mode="align_corners")
    full, half = ("p8", "p8-r0.5") if backbone == "flexivit" else ("S", "S-r0.5")
    x = torch.randn(2, 3, 32, 32)
    supervit = torch.nn.functional.interpolate(x, size=(16, 16), mode="bilinear",
                                               align_corners=True)
    with torch.no_grad():
        model.activate(half)
        small = model(x)
        model.activate(full)
        reference = model(supervit)
        default = model(resize_input(x, 0.5))
    assert all(torch.equal(a, b) for a, b in zip(small, reference, strict=True))
    assert not torch.allclose(small[-1], default[-1])
    with pytest.raises(ValueError, match="resize_mode must be one of antialias, align_corners"):
        build(resize_mode="nearest")
