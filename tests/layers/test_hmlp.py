"""hMLP stem: patches processed independently; sizes 16k via pooling; others rejected."""
import pytest
import torch
import torch.nn.functional as F

from flexseg.layers import HMLPStem


@pytest.fixture(params=["bn", "ln"])
def stem(request) -> HMLPStem:
    torch.manual_seed(0)
    module = HMLPStem(3, 32, norm=request.param)
    module.train()
    module(torch.randn(4, 3, 64, 64), (16, 16))  # non-trivial BatchNorm running statistics
    return module.eval()


@pytest.mark.parametrize("patch", [(16, 16), (32, 32), (16, 32), (48, 16)])
def test_changing_one_patch_changes_only_its_token(stem, patch):
    x = torch.randn(1, 3, 96, 96)
    changed = x.clone()
    row, col = 1, 1
    changed[..., row * patch[0]:(row + 1) * patch[0], col * patch[1]:(col + 1) * patch[1]] += 1.0
    with torch.no_grad():
        before, after = stem(x, patch), stem(changed, patch)
    assert before.shape == (1, 32, 96 // patch[0], 96 // patch[1])
    differs = (before - after).abs().amax(dim=1)[0] > 1e-6
    expected = torch.zeros_like(differs)
    expected[row, col] = True
    assert torch.equal(differs, expected)


@pytest.mark.parametrize("patch,pool", [((32, 32), (2, 2)), ((16, 48), (1, 3))])
def test_multiples_of_16_run_the_native_stem_on_pooled_patches(stem, patch, pool):
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(stem(x, patch), stem(F.avg_pool2d(x, pool), (16, 16)))


@pytest.mark.parametrize("patch", [(8, 8), (24, 24), (16, 20)])
def test_other_patch_sizes_are_rejected(stem, patch):
    with pytest.raises(ValueError, match="multiples of 16"):
        stem(torch.randn(1, 3, 48, 48), patch)


def test_rejects_unknown_norm_and_indivisible_width():
    with pytest.raises(ValueError, match="norm"):
        HMLPStem(3, 32, norm="gn")
    with pytest.raises(ValueError, match="divisible by 4"):
        HMLPStem(3, 30)
