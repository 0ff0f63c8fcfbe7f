"""The parallel block runs its branches as one wide layer: same function (float64, within
1e-6) and gradients as the per-branch reference, same multiply-adds, and a fixed number of
matmuls and attention calls whatever the number of branches."""
from collections import Counter

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from flexseg.layers import ParallelBlock, block_flops, explicit_attention, windowed_block_flops

ATOL = 1e-6


def _block(num_parallel: int, **options) -> ParallelBlock:
    """A float64 block with non-trivial norms, biases and layer scales."""
    torch.manual_seed(0)
    block = ParallelBlock(24, num_heads=3, mlp_hidden_dim=40, num_parallel=num_parallel,
                          layer_scale_init=0.5, **options).double()
    with torch.no_grad():
        for param in block.parameters():
            param.add_(0.2 * torch.randn_like(param))
    return block


def _reference(block: ParallelBlock, x: torch.Tensor, grid_hw=None, scales=None):
    """Each branch on its own, as the layout defines it: every attention branch (its own
    norm, ``Attention.forward``, layer scale) on the same input, summed; then every MLP branch
    likewise. ``scales[i]`` (B,) multiplies branch i's output per sample (stochastic depth)."""
    def scale(i, out):
        return out if scales is None else out * scales[i][:, None, None]
    y = x + sum(scale(i, b.ls(b.attn(b.norm(x), None, grid_hw)))
                for i, b in enumerate(block.attns))
    return y + sum(scale(i, b.ls(b.mlp(b.norm(y)))) for i, b in enumerate(block.ffns))


@pytest.mark.parametrize("num_parallel", [2, 3])
@pytest.mark.parametrize("window", [None, 2])
def test_fused_pair_equals_the_branches_in_float64(num_parallel, window):
    block = _block(num_parallel, window_size=window).eval()
    x = torch.randn(2, 1 + 9, 24, dtype=torch.float64)
    grid = (3, 3)
    with torch.no_grad():
        torch.testing.assert_close(block(x, None, grid), _reference(block, x, grid),
                                   rtol=0, atol=ATOL)
        again = block(x, None, grid)  # from the cached fused weights
        torch.testing.assert_close(again, _reference(block, x, grid), rtol=0, atol=ATOL)


def test_gradients_reach_every_branch_as_in_the_reference():
    block = _block(2).train()
    x = torch.randn(2, 7, 24, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 7, 24, dtype=torch.float64)
    grads = []
    for forward in (block, lambda t: _reference(block, t)):
        block.zero_grad(set_to_none=True)
        x.grad = None
        (forward(x) * target).sum().backward()
        grads.append({"x": x.grad.clone(), **{n: p.grad.clone()
                                              for n, p in block.named_parameters()}})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=0, atol=ATOL,
                                   msg=name)


def test_stochastic_depth_drops_each_branch_per_sample(monkeypatch):
    """Each branch's own per-sample factor scales that branch only (including its bias)."""
    block = _block(2, drop_path=0.5).train()
    draws = iter([torch.tensor([0.0, 2.0]), torch.tensor([2.0, 2.0]),
                  torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0])])
    factors = []

    def fixed(self, x):
        factors.append(next(draws).to(x.dtype))
        return factors[-1]

    monkeypatch.setattr(type(block.attns[0].drop_path), "sample_scales", fixed)
    x = torch.randn(2, 7, 24, dtype=torch.float64)
    out = block(x)
    attention_factors, mlp_factors = factors[:2], factors[2:]
    y = x + sum(s[:, None, None] * b.ls(b.attn(b.norm(x)))
                for s, b in zip(attention_factors, block.attns))
    expected = y + sum(s[:, None, None] * b.ls(b.mlp(b.norm(y)))
                       for s, b in zip(mlp_factors, block.ffns))
    torch.testing.assert_close(out, expected, rtol=0, atol=ATOL)


def test_importance_is_the_mean_over_every_branch_head():
    block = _block(2).eval()
    x = torch.randn(2, 7, 24, dtype=torch.float64)
    with torch.no_grad():
        out, scores = block(x, "cls")
        expected = torch.stack([b.attn(b.norm(x), "cls")[1] for b in block.attns]).mean(0)
    torch.testing.assert_close(out, _reference(block, x), rtol=0, atol=ATOL)
    torch.testing.assert_close(scores, expected, rtol=0, atol=ATOL)


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


MATMULS = ("mm", "addmm", "bmm", "matmul", "linear")


@pytest.mark.parametrize("num_parallel", [1, 2, 4])
def test_branches_run_as_one_matmul_per_layer_and_one_attention_call(num_parallel):
    """Four matmuls (qkv, proj, fc1, fc2) and one attention call, however many branches."""
    block = ParallelBlock(24, num_heads=3, mlp_hidden_dim=40, num_parallel=num_parallel).eval()
    x = torch.randn(2, 7, 24)
    with torch.no_grad():
        block(x)  # fold the weights once
        with _OpCounter() as counter:
            block(x)
    matmuls = sum(count for name, count in counter.ops.items() if name in MATMULS)
    attention = sum(count for name, count in counter.ops.items() if "attention" in name)
    assert (matmuls, attention) == (4, 1), counter.ops


@pytest.mark.parametrize("num_parallel", [2, 3])
@pytest.mark.parametrize("window", [None, 2])
def test_counted_multiply_adds_equal_the_analytic_count(num_parallel, window):
    block = ParallelBlock(24, num_heads=3, mlp_hidden_dim=40, num_parallel=num_parallel,
                          window_size=window).eval()
    x = torch.randn(1, 1 + 16, 24)
    with torch.no_grad(), explicit_attention(block):
        block(x, None, (4, 4))  # fold the weights once (the fold is per weight update)
        counter = FlopCounterMode(display=False)
        with counter:
            block(x, None, (4, 4))
    expected = (block_flops(17, 24, 40, num_parallel) if window is None else
                windowed_block_flops((4, 4), 1, 24, 40, window, num_parallel))
    assert counter.get_total_flops() == 2 * expected  # torch counts a multiply-add as 2
