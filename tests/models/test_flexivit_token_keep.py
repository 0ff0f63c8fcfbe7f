"""Token keeping in FlexiViT: exact at keep rate 1, the top-k of the class token's attention
otherwise, pruned where SuperViT prunes (between a keep block's attention and MLP, keeping
ceil(r (n + 1)) patch tokens) or after the block, dropped tokens back in place with the value
they had, exact analytic FLOPs."""
import itertools

import numpy as np
import pytest
import torch
from flexseg.layers import KeptTokens
from flexseg.layers.token_keep import keep_count, kept_patches, top_k_positions
from flexseg.models import FlexiViT

from .test_flexivit_flops import _counted_multiply_adds

KEEP = dict(keep_points=(0, 2), keep_rates=(1.0, 0.7, 0.5))


def _model(tiny_kwargs, **options):
    torch.manual_seed(0)
    kwargs = dict(tiny_kwargs, depth=4, out_stride=8)
    kwargs.update(options)
    model = FlexiViT(img_size=64, patch_size=8, patch_sizes=[8, 16], out_indices=(1, 2, 3),
                     **kwargs).eval()
    with torch.no_grad():  # break the symmetry of zero-initialised tokens and embeddings
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return model


def test_the_space_is_every_patch_size_times_every_rate(tiny_kwargs):
    model = _model(tiny_kwargs, **KEEP)
    assert [c.id for c in model.space()] == ["p8", "p8-k0.7", "p8-k0.5", "p16", "p16-k0.7",
                                             "p16-k0.5"]


def test_keep_rate_one_is_the_plain_backbone_exactly(tiny_kwargs):
    plain, keeping = _model(tiny_kwargs), _model(tiny_kwargs, **KEEP)
    keeping.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 48)
    for size in ("p8", "p16"):
        plain.activate(size)
        keeping.activate(size)
        for a, b in zip(plain(x), keeping(x), strict=True):
            assert torch.equal(a, b)


def test_ties_go_to_the_lower_position_and_rates_compound():
    scores = torch.tensor([[0.1, 0.5, 0.5, 0.2, 0.5]])
    assert top_k_positions(scores, 2).tolist() == [[1, 2]]
    assert top_k_positions(scores, 4).tolist() == [[1, 2, 3, 4]]
    assert keep_count(10, 0.7) == 7 and keep_count(3, 0.1) == 1
    assert kept_patches(64, 0.5, 1, "patches") == 32
    # SuperViT's count: ceil(0.7 * 197) = 138 of DeiT-S's 196 patches (139 tokens with the
    # class token, as its code notes); never more than there are
    assert kept_patches(196, 0.7, 1, "tokens") == 138
    assert kept_patches(4, 0.9, 1, "tokens") == 4


def test_kept_tokens_restore_each_token_with_its_last_value():
    kept = KeptTokens(num_prefix_tokens=1, base="patches")  # rates count patch tokens
    tokens = torch.arange(6.0).reshape(1, 6, 1)             # prefix 0, patches 1..5
    scores = torch.tensor([[9.0, 0.1, 0.9, 0.3, 0.8, 0.2]])  # the prefix score is ignored
    pruned = kept.prune(tokens, scores, 0.6)                # 3 of 5 patches: positions 1, 2, 3
    assert pruned.flatten().tolist() == [0, 2, 3, 4]
    later = pruned * 10                                     # the blocks change what they process
    assert kept.restore(later).flatten().tolist() == [0, 1, 20, 30, 40, 5]
    again = kept.prune(later, torch.tensor([[0.0, 0.2, 0.1, 0.7]]), 0.5)  # 2 of 3: 1 and 3
    assert again.flatten().tolist() == [0, 20, 40]
    assert kept.restore(again + 1).flatten().tolist() == [1, 1, 21, 30, 41, 5]


def _reference_maps(model, x, rate, site, base):
    """The pruned forward written out independently: explicit class-token attention, NumPy
    top-k, hand-made bookkeeping of every token's last value; pruning inside the keep blocks
    (between the attention and the MLP, ``site='attention'``) or after them."""
    tokens, grid_hw = model.embed(x)
    batch, patches = x.shape[0], grid_hw[0] * grid_hw[1]
    last = tokens[:, 1:].clone()           # every patch token's latest value
    alive = [list(range(patches)) for _ in range(batch)]
    maps = {}
    for index, block in enumerate(model.blocks):
        if index in model.keep_points:
            attn = block.attn
            qkv = attn.qkv(block.norm1(tokens)).reshape(batch, tokens.shape[1], 3,
                                                        attn.num_heads, attn.head_dim)
            q, k = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2)
            cls_row = torch.softmax((q[:, :, :1] @ k.transpose(-2, -1)) / attn.head_dim ** 0.5,
                                    dim=-1).mean(dim=1)[:, 0, 1:]
        inside = index in model.keep_points and site == "attention"
        if inside:
            tokens = tokens + block.ls1(block.attn(block.norm1(tokens)))
        else:
            tokens = block(tokens)
        for b in range(batch):
            last[b, alive[b]] = tokens[b, 1:]
        if index in model.keep_points:
            counted = tokens.shape[1] if base == "tokens" else tokens.shape[1] - 1
            count = min(tokens.shape[1] - 1, int(np.ceil(round(rate * counted, 9))))
            rows = []
            for b in range(batch):
                order = np.argsort(-cls_row[b].numpy(), kind="stable")[:count]
                chosen = sorted(order.tolist())
                alive[b] = [alive[b][i] for i in chosen]
                rows.append(torch.cat([tokens[b, :1], tokens[b, 1:][chosen]]))
            tokens = torch.stack(rows)
        if inside:
            tokens = tokens + block.ls2(block.mlp(block.norm2(tokens)))
            for b in range(batch):
                last[b, alive[b]] = tokens[b, 1:]
        if index in model.out_indices:
            maps[index] = last.clone()
    return maps, alive


@pytest.mark.parametrize("rate, site, base, survivors", [
    (0.7, "attention", "tokens", 33),   # SuperViT: ceil(0.7 * 65) = 46, then ceil(0.7 * 47)
    (0.5, "attention", "tokens", 17),   # ceil(0.5 * 65) = 33, then ceil(0.5 * 34)
    (0.7, "block", "patches", 32),      # after whole blocks: ceil(0.7 * 64) = 45, then 32
    (0.5, "attention", "patches", 16)])
def test_pruned_maps_hold_final_values_of_kept_and_drop_time_values_of_dropped(
        tiny_kwargs, rate, site, base, survivors):
    model = _model(tiny_kwargs, keep_points=(0, 2), keep_rates=(1.0, rate), keep_site=site,
                   keep_base=base)
    model.activate(f"p8-k{rate:g}")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        maps = model.forward_intermediates(x, indices=list(model.out_indices),
                                           intermediates_only=True)
        expected, alive = _reference_maps(model, x, rate, site, base)
    assert len(alive[0]) == survivors
    assert alive[0] != alive[1]  # each image keeps its own tokens
    for index, grid in zip(model.out_indices, maps, strict=True):
        torch.testing.assert_close(grid.flatten(2).transpose(1, 2), expected[index])


def test_the_received_attention_score_runs_without_a_class_token(tiny_kwargs):
    model = _model(tiny_kwargs, class_token=False, keep_points=(1,), keep_rates=(1.0, 0.5),
                   keep_score="received")
    model.activate("p8-k0.5")
    outputs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outputs] == [(1, 32, 8, 8)] * 3


@pytest.mark.parametrize("score, parallel, site, base", [
    ("cls", 1, "attention", "tokens"), ("received", 2, "attention", "tokens"),
    ("cls", 1, "block", "patches"), ("received", 2, "block", "tokens")])
def test_analytic_flops_equal_the_counter_for_every_joint_choice(tiny_kwargs, score, parallel,
                                                                site, base):
    model = _model(tiny_kwargs, keep_points=(0, 2), keep_rates=(1.0, 0.7, 0.3),
                   keep_score=score, num_parallel=parallel, keep_site=site, keep_base=base,
                   out_stride=None)  # counted on forward_features: no maps to resample
    for choice, image_hw in itertools.product(model.space(), [(64, 64), (40, 56)]):
        model.activate(choice)
        assert model.flops(choice, image_hw) == _counted_multiply_adds(model, image_hw), \
            choice.id
