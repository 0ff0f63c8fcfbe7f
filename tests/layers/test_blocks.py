"""Attention and blocks: fused vs explicit attention, parallel blocks, drop path, layer scale."""
import math

import pytest
import torch
import torch.nn.functional as F

from flexseg.layers import Attention, Block, DropPath, ParallelBlock, explicit_attention


def test_explicit_attention_equals_fused():
    torch.manual_seed(0)
    attention = Attention(32, num_heads=4)
    x = torch.randn(2, 9, 32)
    fused = attention(x)
    with explicit_attention(attention):
        assert not attention.fused
        explicit = attention(x)
    assert attention.fused
    torch.testing.assert_close(explicit, fused, rtol=1e-5, atol=1e-6)


def _reference_attention(x, attn, num_heads):
    """softmax(q k^T / sqrt(d)) v per head, written out from the module's weights."""
    batch, tokens, dim = x.shape
    head_dim = dim // num_heads
    q, k, v = (x @ attn.qkv.weight.T + attn.qkv.bias).split(dim, dim=-1)
    split = lambda t: t.reshape(batch, tokens, num_heads, head_dim).transpose(1, 2)
    q, k, v = split(q), split(k), split(v)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(head_dim), dim=-1)
    merged = (weights @ v).transpose(1, 2).reshape(batch, tokens, dim)
    return merged @ attn.proj.weight.T + attn.proj.bias


def _reference_mlp(x, mlp):
    hidden = F.gelu(x @ mlp.fc1.weight.T + mlp.fc1.bias)
    return hidden @ mlp.fc2.weight.T + mlp.fc2.bias


def _norm(x, norm):
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


@pytest.mark.parametrize("num_parallel", [2, 3])
def test_parallel_block_matches_a_hand_written_reference(num_parallel):
    torch.manual_seed(0)
    block = ParallelBlock(24, num_heads=3, mlp_hidden_dim=40, num_parallel=num_parallel,
                          layer_scale_init=0.5).eval()
    for param in block.parameters():  # non-trivial norms and layer scales
        param.data.add_(0.1 * torch.randn_like(param))
    x = torch.randn(2, 7, 24)
    with torch.no_grad():
        y = x + sum(_reference_attention(_norm(x, b.norm), b.attn, 3) * b.ls.gamma
                    for b in block.attns)
        expected = y + sum(_reference_mlp(_norm(y, b.norm), b.mlp) * b.ls.gamma
                           for b in block.ffns)
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


def test_blocks_load_timm_weights_and_agree():
    from timm.models.vision_transformer import Block as TimmBlock
    from timm.models.vision_transformer import ParallelThingsBlock

    torch.manual_seed(0)
    x = torch.randn(2, 7, 24)
    pairs = [(TimmBlock(24, 3, mlp_ratio=2.0, qkv_bias=True, init_values=0.1),
              Block(24, 3, 48, layer_scale_init=0.1)),
             (ParallelThingsBlock(24, 3, num_parallel=2, mlp_ratio=2.0, qkv_bias=True,
                                  init_values=0.1),
              ParallelBlock(24, 3, 48, num_parallel=2, layer_scale_init=0.1))]
    for theirs, ours in pairs:
        ours.load_state_dict(theirs.state_dict(), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=1e-5, atol=1e-5)


def test_drop_path_drops_whole_samples_only_in_training():
    torch.manual_seed(0)
    drop = DropPath(0.5)
    x = torch.ones(4000, 3, 2)
    assert drop.eval()(x) is x
    y = drop.train()(x)
    per_sample = y.reshape(4000, -1)
    kept = per_sample[:, 0] != 0
    assert torch.all(per_sample[kept] == 2.0) and torch.all(per_sample[~kept] == 0.0)
    assert 0.45 < kept.float().mean() < 0.55


def test_layer_scale_starts_at_its_init_value_and_is_optional():
    assert torch.all(Block(8, 2, 16, layer_scale_init=1e-4).ls1.gamma == 1e-4)
    assert isinstance(Block(8, 2, 16).ls1, torch.nn.Identity)
