"""Dense outputs: fixed-stride maps whatever the patch size, padding/cropping, eval caching."""
import pytest
import torch

import flexseg.models.flexivit as flexivit_module
from flexseg.models import FlexiViT


@pytest.fixture
def model(tiny_kwargs) -> FlexiViT:
    torch.manual_seed(0)
    return FlexiViT(img_size=64, patch_size=8, patch_sizes=[8, 12, 16, 20, (12, 16), 32],
                    out_indices=(0, 1), pos_embed_grid=(3, 5), **tiny_kwargs).eval()


@pytest.mark.parametrize("patch", ["p8", "p12", "p16", "p20", "p12x16", "p32"])
@pytest.mark.parametrize("image_hw", [(64, 64), (50, 70), (33, 47)])
def test_maps_have_the_fixed_output_stride(model, patch, image_hw):
    model.activate(patch)
    with torch.no_grad():
        outputs = model(torch.randn(2, 3, *image_hw))
    expected = (2, 32, -(-image_hw[0] // 16), -(-image_hw[1] // 16))
    assert [tuple(o.shape) for o in outputs] == [expected, expected]


def test_at_patch_16_the_maps_are_the_token_grids(model):
    model.activate("p16")
    x = torch.randn(2, 3, 50, 70)
    with torch.no_grad():
        maps = model(x)
        grids = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
    for out, grid in zip(maps, grids):
        torch.testing.assert_close(out, grid)


@pytest.mark.parametrize("patch", ["p12", "p20", "p12x16"])
def test_padding_is_zero_padding_at_the_bottom_and_right(model, patch):
    model.activate(patch)
    patch_h, patch_w = model.active_choice.patch_hw
    x = torch.randn(1, 3, 50, 70)
    padded = torch.zeros(1, 3, -(-50 // patch_h) * patch_h, -(-70 // patch_w) * patch_w)
    padded[..., :50, :70] = x
    with torch.no_grad():
        small = model.forward_intermediates(x, intermediates_only=True)
        large = model.forward_intermediates(padded, intermediates_only=True)
    for a, b in zip(small, large):
        torch.testing.assert_close(a, b)


def test_crop_mode_ignores_the_remainder(tiny_kwargs):
    model = FlexiViT(img_size=64, patch_size=8, fit="crop", **tiny_kwargs).eval()
    model.activate("p12")
    x = torch.randn(1, 3, 50, 70)
    changed = x.clone()
    changed[..., 48:, :] = 5.0
    changed[..., :, 60:] = -5.0
    with torch.no_grad():
        grid = model.forward_intermediates(x, intermediates_only=True)[-1]
        torch.testing.assert_close(model(x)[0], model(changed)[0])
    assert grid.shape[-2:] == (4, 5)


def test_forward_intermediates_and_features(model):
    model.activate("p12")
    x = torch.randn(2, 3, 48, 60)
    with torch.no_grad():
        final, maps = model.forward_intermediates(x, indices=1)
        normed = model.forward_intermediates(x, indices=[-1], norm=True, intermediates_only=True)
        features = model.forward_features(x)
    assert [tuple(m.shape) for m in maps] == [(2, 32, 4, 5)]
    torch.testing.assert_close(final, features)
    assert features.shape == (2, 1 + 20, 32)
    torch.testing.assert_close(normed[0].flatten(2).transpose(1, 2), features[:, 1:])


def test_final_norm_normalises_the_last_map(tiny_kwargs):
    torch.manual_seed(0)
    plain = FlexiViT(img_size=32, patch_size=16, patch_sizes=[16], out_indices=(0, 1),
                     **tiny_kwargs).eval()
    normed = FlexiViT(img_size=32, patch_size=16, patch_sizes=[16], out_indices=(0, 1),
                      final_norm=True, **tiny_kwargs).eval()
    normed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        (first, last), (first_n, last_n) = plain(x), normed(x)
        torch.testing.assert_close(first, first_n)
        expected = normed.norm(last.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(last.shape)
        torch.testing.assert_close(last_n, expected)


def test_blocks_after_the_last_output_are_not_run(tiny_kwargs):
    model = FlexiViT(img_size=32, patch_size=8, out_indices=(0,), **tiny_kwargs).eval()
    calls = []
    model.blocks[1].register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert calls == []


def test_eval_forward_reuses_the_resampled_position_embedding(model, monkeypatch):
    calls = []
    original = flexivit_module.resample_pos_embed
    monkeypatch.setattr(flexivit_module, "resample_pos_embed",
                        lambda *args: calls.append(args[2]) or original(*args))
    model.activate("p12")
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        first = model(x)
        second = model(x)
        model.pos_embed.add_(1.0)
        third = model(x)
    assert calls == [(4, 4), (4, 4)]
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first[0], third[0])
    model.train()
    model(x)
    model(x)
    assert len(calls) == 4
