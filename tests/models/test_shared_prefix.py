"""Shared-prefix evaluation: every choice's outputs equal its own forward pass, and each block
runs once per distinct prefix of work, not once per choice."""
import pytest
import torch

from flexseg.models import FlexiViT, StitchedViT
from flexseg.models.prefix_tree import TreeStats


def _perturbed(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return model.eval()


def _count_block_calls(model) -> list[int]:
    """Attention calls: one per block run, whole or its attention half (a keep point inside a
    block splits it around the keep step)."""
    calls = [0]
    for module in model.modules():
        if type(module).__name__ == "Attention":
            module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def _distinct_block_prefixes(sequences) -> int:
    return len({tuple(ops[:i + 1]) for ops in sequences for i, op in enumerate(ops)
                if op[0] in ("block", "attn")})


def _check(model, choices, sequences):
    x = torch.randn(2, 3, 32, 40)
    expected = {}
    with torch.no_grad():
        for choice in choices:
            model.activate(choice)
            expected[choice.id] = model(x)
        calls = _count_block_calls(model)
        stats = TreeStats()
        shared = {c.id: out for c, out in model.forward_choices(x, choices, stats)}
    assert shared.keys() == expected.keys()
    for choice_id, outputs in expected.items():
        for a, b in zip(outputs, shared[choice_id], strict=True):
            assert torch.equal(a, b), choice_id
    assert calls[0] == _distinct_block_prefixes(sequences)
    assert calls[0] < sum(op[0] in ("block", "attn") for ops in sequences for op in ops)
    assert stats.peak_states == max(len(ops) for ops in sequences)
    return calls[0], stats


@pytest.mark.parametrize("keep", [{}, dict(keep_points=(0, 2), keep_rates=(1.0, 0.6))],
                         ids=["routes", "routes x keep rates"])
def test_every_route_of_a_stitched_model_equals_its_own_pass(keep):
    torch.manual_seed(0)
    model = _perturbed(StitchedViT(dict(embed_dim=16, depth=4, num_heads=2),
                                   dict(embed_dim=32, depth=8, num_heads=2), img_size=32,
                                   patch_size=8, lora_rank=2, out_stride=8, out_indices=(1, 3),
                                   **keep))
    routes = model.space()
    calls, stats = _check(model, routes, [model._route_ops(r) for r in routes])
    # The small anchor's first block is shared by every route that starts in it, and so on.
    assert stats.ops_run < 0.6 * stats.ops_separately


@pytest.mark.parametrize("site", ["attention", "block"])
def test_keep_rates_of_a_patch_size_share_the_blocks_before_the_first_keep_point(site):
    torch.manual_seed(0)
    model = _perturbed(FlexiViT(img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=16,
                                depth=4, num_heads=2, out_indices=(1, 3), out_stride=8,
                                keep_points=(1, 2), keep_rates=(1.0, 0.7, 0.5), keep_site=site))
    choices = model.space()
    calls, _ = _check(model, choices, [model._choice_ops(c, 3) for c in choices])
    # Per patch size: the attention of blocks 0-1 once (pruning inside block 1 happens after
    # its attention), then blocks 2-3 for each of the three rates.
    assert calls == 2 * (2 + 3 * 2)
