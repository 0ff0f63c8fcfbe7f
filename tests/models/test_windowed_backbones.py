"""Windowed attention in both backbones: whole-grid windows are global attention, padded
positions never change a real token, analytic FLOPs equal an explicit count, and shared-prefix
evaluation equals separate passes, for every choice (patch sizes, keep rates, routes)."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from flexseg.layers import explicit_attention
from flexseg.models import FlexiViT, StitchedViT

TINY = dict(embed_dim=32, depth=4, num_heads=2, mlp_ratio=2.0)


def _flexivit(**options) -> FlexiViT:
    torch.manual_seed(0)
    return FlexiViT(img_size=64, patch_size=8, patch_sizes=[8, 12, 16], **TINY, **options).eval()


def _stitched(small=None, large=None, **options) -> StitchedViT:
    torch.manual_seed(0)
    model = StitchedViT(small=dict(embed_dim=16, depth=3, num_heads=2, **(small or {})),
                        large=dict(embed_dim=32, depth=6, num_heads=2, **(large or {})),
                        img_size=32, patch_size=8, out_indices=(0, 2), out_stride=8,
                        lora_rank=2, **options)
    model.fit_stitches([torch.randn(2, 3, 40, 56)])
    return model.eval()


def _same_outputs(a, b):
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=2e-5, rtol=1e-4)


def test_flexivit_whole_grid_windows_equal_global_attention_at_every_patch_size():
    plain = _flexivit(num_reg_tokens=2)
    windowed = _flexivit(num_reg_tokens=2, window_size=9, global_indices=(1,))
    windowed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 70)  # p8: an 8x9 grid, padded to 9x9 windows
    for choice in plain.space():
        plain.activate(choice)
        windowed.activate(choice)
        with torch.no_grad():
            _same_outputs(windowed(x), plain(x))


def test_stitched_whole_grid_windows_equal_global_attention_on_every_route():
    plain = _stitched()
    windowed = _stitched(small=dict(window_size=7), large=dict(window_size=8, global_indices=(0,)))
    windowed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 40, 56)  # a 5x7 grid
    for route in plain.space():
        plain.activate(route)
        windowed.activate(route)
        with torch.no_grad():
            _same_outputs(windowed(x), plain(x))


def test_padded_positions_never_change_a_real_token_through_the_backbone():
    """Every block windowed, no prefix tokens, no position embedding: a 40x56 image (a 5x7 grid
    at p8, padded to 6x8 for 2x2 windows) gives, on its top-left 4x6 tokens, exactly what the
    32x48 crop that tiles exactly gives, and on its corner token what that 8x8 patch alone
    gives."""
    model = _flexivit(class_token=False, window_size=2)
    with torch.no_grad():
        model.pos_embed.zero_()
    image = torch.randn(1, 3, 40, 56)
    model.activate("p8")
    with torch.no_grad():
        full = model.forward_intermediates(image, [3], intermediates_only=True)[0]
        tiled = model.forward_intermediates(image[..., :32, :48], [3], intermediates_only=True)[0]
        corner = model.forward_intermediates(image[..., 32:, 48:], [3], intermediates_only=True)[0]
    assert full.shape[-2:] == (5, 7)
    torch.testing.assert_close(full[..., :4, :6], tiled, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full[..., 4:, 6:], corner, atol=1e-5, rtol=1e-5)


def _counted(model, x, run) -> float:
    """Multiply-adds torch counts (2 FLOPs each) in ``run(x)`` with explicit attention; FlexiViT
    is counted on ``forward_features`` (built without ``out_stride``: no maps to resample) and
    the stitched model at ``out_stride`` = patch size."""
    with torch.no_grad(), explicit_attention(model):
        run(x)  # one-off caches (PI-resized kernel, position embeddings) before counting
        counter = FlopCounterMode(display=False)
        with counter:
            run(x)
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("image_hw", [(64, 64), (50, 70)])
def test_flexivit_windowed_flops_equal_an_explicit_count(image_hw):
    model = _flexivit(window_size=3, global_indices=(1, 3), keep_points=(1,),
                      keep_rates=(1.0, 0.5), num_parallel=2, out_stride=None)
    x = torch.randn(1, 3, *image_hw)
    assert len(model.space()) == 6
    for choice in model.space():
        model.activate(choice)
        assert model.flops(choice, image_hw) == _counted(model, x, model.forward_features), \
            choice.id


def test_stitched_windowed_flops_equal_an_explicit_count():
    model = _stitched(small=dict(window_size=2, global_indices=(0,)),
                      large=dict(window_size=3, global_indices=(1, 3)),
                      keep_points=(0,), keep_rates=(1.0, 0.5))
    x = torch.randn(1, 3, 40, 56)
    for route in model.space():
        model.activate(route)
        assert model.flops(route, (40, 56)) == _counted(model, x, model), route.id


def test_windows_cost_less_than_global_attention_on_large_grids():
    plain, windowed = _flexivit(), _flexivit(window_size=4, global_indices=(3,))
    assert windowed.flops("p8", (256, 256)) < plain.flops("p8", (256, 256))


@pytest.mark.parametrize("build", [
    lambda: _flexivit(window_size=3, global_indices=(1, 3), keep_points=(1,),
                      keep_rates=(1.0, 0.5)),
    lambda: _stitched(small=dict(window_size=2, global_indices=(0,)),
                      large=dict(window_size=3, global_indices=(1, 3)),
                      keep_points=(0,), keep_rates=(1.0, 0.5))])
def test_shared_prefix_pass_equals_separate_passes_with_windows_and_keeping(build):
    model = build()
    x = torch.randn(2, 3, 40, 56)
    with torch.no_grad():
        shared = dict(model.forward_choices(x, model.space()))
        for choice in model.space():
            model.activate(choice)
            _same_outputs(shared[choice], model(x))


def test_windowed_blocks_process_dropped_tokens_and_global_blocks_skip_them():
    """Keeping after global block 1 of [w, g, w, g]: the windowed block 2 still updates every
    token, so dropped tokens in the output differ from their value at the keep point; a token
    dropped from global block 3 is not touched by it."""
    model = _flexivit(window_size=2, global_indices=(1, 3), keep_points=(1,),
                      keep_rates=(1.0, 0.25), keep_site="block", keep_base="patches")
    model.activate("p8-k0.25")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        after_keep, after_window, last = model.forward_intermediates(
            x, [1, 2, 3], intermediates_only=True)
    dropped = (after_keep - after_window).abs().sum(0) > 0
    assert dropped.all()  # every token changed in the windowed block
    unchanged = ((last - after_window).abs().sum(1) == 0)[0]
    assert unchanged.sum() == 16 - 4  # the 12 dropped tokens skip the global block


@pytest.mark.parametrize("small,large,message", [
    (dict(window_size=0), None, "small anchor: window_size must be an integer >= 1"),
    (None, dict(window_size=2, global_indices=(6,)),
     r"large anchor: global_indices \[6\] are outside the 6 blocks; allowed: block indices "
     r"0 to 5"),
])
def test_bad_window_options_of_an_anchor_name_the_anchor_and_the_key(small, large, message):
    with pytest.raises(ValueError, match=message):
        _stitched(small=small, large=large)
