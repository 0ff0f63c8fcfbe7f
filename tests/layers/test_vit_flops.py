"""Analytic ViT multiply-adds on a configuration small enough to count by hand."""
import pytest

from flexseg.layers import block_flops, hmlp_stem_flops, vit_flops


def test_vit_flops_by_hand():
    # 32x32 image, patch 16 -> 2x2 grid + class token = 5 tokens; D = 8, MLP 16, 3 channels.
    embed = 4 * (3 * 16 * 16) * 8                        # 24576
    attention = 5 * 8 * 24 + 2 * 5 * 5 * 8 + 5 * 8 * 8  # qkv 960 + qk^T/av 400 + proj 320
    mlp = 2 * 5 * 8 * 16                                 # 1280
    assert vit_flops((32, 32), (16, 16), embed_dim=8, depth=1, mlp_hidden_dim=16) == \
        embed + attention + mlp
    assert vit_flops((32, 32), (16, 16), embed_dim=8, depth=3, mlp_hidden_dim=16,
                     num_parallel=2) == embed + 3 * 2 * (attention + mlp)


def test_padding_and_cropping_change_the_token_grid():
    kwargs = dict(embed_dim=8, depth=1, mlp_hidden_dim=16, num_prefix_tokens=0)
    padded = vit_flops((33, 33), (16, 16), fit="pad", **kwargs)
    assert padded == vit_flops((48, 48), (16, 16), **kwargs)
    assert vit_flops((33, 33), (16, 16), fit="crop", **kwargs) == vit_flops((32, 32), (16, 16),
                                                                           **kwargs)


def test_hmlp_stem_by_hand():
    # per token: 16 * (3*16*2) + 4 * (2*4*2) + 1 * (2*4*8) with D = 8 (hidden 2)
    assert hmlp_stem_flops((2, 3), 3, 8) == 6 * (16 * 96 + 4 * 16 + 64)


def test_attention_cost_is_quadratic_in_tokens():
    linear_part = block_flops(10, 8, 16) - 2 * 10 * 10 * 8
    assert block_flops(20, 8, 16) - 2 * 20 * 20 * 8 == 2 * linear_part


def test_unknown_stem_is_rejected():
    with pytest.raises(ValueError, match="stem"):
        vit_flops((32, 32), (16, 16), embed_dim=8, depth=1, mlp_hidden_dim=16, stem="conv")
