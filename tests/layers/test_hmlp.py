"""hMLP stem: patches processed independently at every patch size; a patch upsampled from the
native size gets its native token back (the input-side form of PI-resize); a smaller patch is
mapped to a native one that downsamples to it."""
import pytest
import torch

from flexseg.layers import HMLPStem, bilinear_resize
from flexseg.layers.hmlp import map_patches

NATIVE = (8, 8)


@pytest.fixture(params=["bn", "ln"])
def stem(request) -> HMLPStem:
    torch.manual_seed(0)
    module = HMLPStem(3, 32, norm=request.param, patch_size=NATIVE).double()
    module.train()
    module(torch.randn(4, 3, 64, 64, dtype=torch.float64), NATIVE)  # BatchNorm statistics
    return module.eval()


def _per_patch(x: torch.Tensor, old_hw, new_hw, resize) -> torch.Tensor:
    """Apply ``resize`` to every ``old_hw`` patch of ``x`` on its own, giving ``new_hw``."""
    batch, channels, height, width = x.shape
    rows, cols = height // old_hw[0], width // old_hw[1]
    patches = (x.reshape(batch, channels, rows, old_hw[0], cols, old_hw[1])
               .permute(0, 2, 4, 1, 3, 5).reshape(-1, channels, *old_hw))
    resized = resize(patches, new_hw).reshape(batch, rows, cols, channels, *new_hw)
    return resized.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, rows * new_hw[0],
                                                     cols * new_hw[1])


@pytest.mark.parametrize("patch", [(8, 8), (16, 16), (12, 12), (6, 10), (4, 4), (16, 24)])
def test_changing_one_patch_changes_only_its_token(stem, patch):
    x = torch.randn(1, 3, 3 * patch[0], 3 * patch[1], dtype=torch.float64)
    changed = x.clone()
    changed[..., patch[0]:2 * patch[0], patch[1]:2 * patch[1]] += 1.0
    with torch.no_grad():
        before, after = stem(x, patch), stem(changed, patch)
    assert before.shape == (1, 32, 3, 3)
    differs = (before - after).abs().amax(dim=1)[0] > 1e-9
    expected = torch.zeros_like(differs)
    expected[1, 1] = True
    assert torch.equal(differs, expected)


@pytest.mark.parametrize("patch", [(8, 8), (12, 12), (16, 16), (24, 10), (48, 48)])
def test_a_patch_upsampled_from_the_native_size_keeps_its_token(stem, patch):
    x = torch.randn(2, 3, 2 * NATIVE[0], 3 * NATIVE[1], dtype=torch.float64)
    upsampled = _per_patch(x, NATIVE, patch, bilinear_resize)
    with torch.no_grad():
        torch.testing.assert_close(stem(upsampled, patch), stem(x, NATIVE), rtol=0, atol=1e-9)


@pytest.mark.parametrize("patch", [(4, 4), (6, 6), (4, 6)])
def test_a_smaller_patch_maps_to_a_native_patch_that_downsamples_to_it(patch):
    y = torch.randn(2, 3, 2 * patch[0], 3 * patch[1], dtype=torch.float64)
    mapped = map_patches(y, patch, NATIVE)
    assert mapped.shape == (2, 3, 2 * NATIVE[0], 3 * NATIVE[1])
    torch.testing.assert_close(_per_patch(mapped, NATIVE, patch, bilinear_resize), y,
                               rtol=0, atol=1e-9)


def test_the_paper_stem_has_4_2_2_stages():
    stem = HMLPStem(3, 32)
    assert stem.patch_size == (16, 16)
    assert [conv.kernel_size for conv in stem.proj if isinstance(conv, torch.nn.Conv2d)] == \
        [(4, 4), (2, 2), (2, 2)]


def test_rejects_unknown_norm_indivisible_width_and_native_size():
    with pytest.raises(ValueError, match="norm"):
        HMLPStem(3, 32, norm="gn")
    with pytest.raises(ValueError, match="divisible by 4"):
        HMLPStem(3, 30)
    with pytest.raises(ValueError, match="multiple of 4 per side"):
        HMLPStem(3, 32, patch_size=(8, 6))
