"""Flexible patch embedding: PI-resized kernels, cached in eval and never stale."""
import pytest
import torch
import torch.nn.functional as F

import flexseg.layers.patch_embed as patch_embed_module
from flexseg.layers import FlexiPatchEmbed, pi_resize_kernel


@pytest.fixture
def embed() -> FlexiPatchEmbed:
    torch.manual_seed(0)
    return FlexiPatchEmbed((8, 8), in_chans=3, embed_dim=16)


def test_native_size_is_the_plain_convolution(embed):
    x = torch.randn(2, 3, 32, 24)
    torch.testing.assert_close(embed(x, (8, 8)), embed.proj(x))


@pytest.mark.parametrize("patch", [(12, 12), (4, 4), (12, 16)])
def test_other_sizes_convolve_with_the_pi_resized_kernel(embed, patch):
    x = torch.randn(2, 3, 48, 48)
    expected = F.conv2d(x, pi_resize_kernel(embed.proj.weight, patch), embed.proj.bias,
                        stride=patch)
    out = embed(x, patch)
    assert out.shape == (2, 16, 48 // patch[0], 48 // patch[1])
    torch.testing.assert_close(out, expected)


def _count_resizes(monkeypatch) -> list:
    calls = []
    original = patch_embed_module.pi_resize_kernel

    def counting(weight, new_hw):
        calls.append(tuple(new_hw))
        return original(weight, new_hw)

    monkeypatch.setattr(patch_embed_module, "pi_resize_kernel", counting)
    return calls


def test_resizes_once_per_size_unless_the_kernel_needs_a_gradient(embed, monkeypatch):
    calls = _count_resizes(monkeypatch)
    x = torch.randn(1, 3, 24, 24)
    embed.eval()
    with torch.no_grad():
        for _ in range(3):
            embed(x, (12, 12))
        embed(x, (6, 6))
    assert calls == [(12, 12), (6, 6)]
    embed.train()  # clears the cache; gradients must reach the kernel: resized every call
    embed(x, (12, 12))
    embed(x, (12, 12))
    assert calls[2:] == [(12, 12), (12, 12)]
    embed.proj.weight.requires_grad_(False)  # a frozen stem is resized once, even in training
    embed(x, (12, 12))
    embed(x, (12, 12))
    assert calls[4:] == [(12, 12)]


def test_cache_follows_in_place_updates_and_load_state_dict(embed):
    x = torch.randn(1, 3, 24, 24)
    embed.eval()
    with torch.no_grad():
        embed(x, (12, 12))
        embed.proj.weight.mul_(2.0)  # what an optimiser step does
        fresh = F.conv2d(x, pi_resize_kernel(embed.proj.weight, (12, 12)), embed.proj.bias,
                         stride=12)
        torch.testing.assert_close(embed(x, (12, 12)), fresh)

        other = FlexiPatchEmbed((8, 8), in_chans=3, embed_dim=16).eval()
        embed.load_state_dict(other.state_dict())
        torch.testing.assert_close(embed(x, (12, 12)), other(x, (12, 12)))


def test_gradient_reaches_the_stored_kernel_in_train_and_eval(embed):
    x = torch.randn(2, 3, 24, 24)
    for mode in (True, False):
        embed.train(mode)
        embed.zero_grad()
        embed(x, (12, 12)).square().sum().backward()
        assert embed.proj.weight.grad is not None and embed.proj.weight.grad.abs().sum() > 0
