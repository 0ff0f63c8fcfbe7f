"""Windowed attention: a window covering the grid is global attention, and padded positions never
change a real token (each window equals global attention over its own real tokens)."""
from contextlib import nullcontext

import pytest
import torch

from flexseg.layers import (Attention, Block, ParallelBlock, check_window_options,
                            explicit_attention)


def _pair(dim=16, heads=2, window=4, block=None):
    torch.manual_seed(0)
    if block is None:
        windowed, plain = Attention(dim, heads, window_size=window), Attention(dim, heads)
    else:
        windowed, plain = block(window), block(None)
    plain.load_state_dict(windowed.state_dict())
    return windowed.eval(), plain.eval()


@pytest.mark.parametrize("grid_hw,window", [((4, 4), 4), ((3, 5), 5), ((2, 3), 7)])
@pytest.mark.parametrize("prefix", [0, 1, 3])
@pytest.mark.parametrize("fused", [True, False])
def test_a_window_covering_the_grid_is_global_attention(grid_hw, window, prefix, fused):
    windowed, plain = _pair(window=window)
    x = torch.randn(2, prefix + grid_hw[0] * grid_hw[1], 16)
    with torch.no_grad():
        if fused:
            got, want = windowed(x, grid_hw=grid_hw), plain(x)
        else:
            with explicit_attention(windowed), explicit_attention(plain):
                got, want = windowed(x, grid_hw=grid_hw), plain(x)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("block", [
    lambda window: Block(16, 2, 32, window_size=window),
    lambda window: ParallelBlock(16, 2, 32, num_parallel=2, window_size=window)])
def test_blocks_with_a_whole_grid_window_are_global_blocks(block):
    windowed, plain = _pair(window=8, block=block)
    x = torch.randn(2, 1 + 5 * 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(windowed(x, None, (5, 7)), plain(x), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("prefix", [0, 2])
def test_padded_positions_never_change_a_real_token(fused, prefix):
    """A 5x6 grid in 4x4 windows: the 4x4, 4x2, 1x4 and 1x2 windows (three of them padded) each
    equal global attention over the prefix and that window's real tokens alone."""
    windowed, plain = _pair(window=4)
    grid_hw = (5, 6)
    x = torch.randn(2, prefix + 30, 16)
    grid = x[:, prefix:].reshape(2, 5, 6, 16)
    with torch.no_grad(), explicit_attention(windowed) if not fused else nullcontext():
        out = windowed(x, grid_hw=grid_hw)[:, prefix:].reshape(2, 5, 6, 16)
        for rows, cols in [(slice(0, 4), slice(0, 4)), (slice(0, 4), slice(4, 6)),
                           (slice(4, 5), slice(0, 4)), (slice(4, 5), slice(4, 6))]:
            tile = grid[:, rows, cols].reshape(2, -1, 16)
            alone = plain(torch.cat([x[:, :prefix], tile], dim=1))[:, prefix:]
            torch.testing.assert_close(out[:, rows, cols].reshape(2, -1, 16), alone,
                                       atol=1e-6, rtol=1e-5)


def test_windowed_attention_needs_the_grid():
    with pytest.raises(ValueError, match="grid_hw"):
        Attention(16, 2, window_size=4)(torch.randn(1, 9, 16))

def test_keep_points_on_global_blocks_are_accepted():
    assert check_window_options(4, (3, 2), 4, keep_points=(2,)) == (4, (2, 3))
