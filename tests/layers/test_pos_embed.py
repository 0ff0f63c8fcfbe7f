"""Position-embedding resampling to any (non-square) token grid."""
import pytest
import torch

from flexseg.layers import resample_pos_embed


def test_same_grid_returns_the_embedding_itself():
    pos = torch.randn(1, 12, 8)
    assert resample_pos_embed(pos, (3, 4), (3, 4)) is pos


@pytest.mark.parametrize("new", [(5, 11), (9, 4), (2, 3), (7, 7)])
def test_matches_timm_resample_abs_pos_embed(new):
    from timm.layers import resample_abs_pos_embed

    pos = torch.randn(1, 7 * 6, 16)
    expected = resample_abs_pos_embed(pos, list(new), old_size=[7, 6], num_prefix_tokens=0,
                                      interpolation="bilinear", antialias=True)
    torch.testing.assert_close(resample_pos_embed(pos, (7, 6), new), expected)


def test_upsampling_keeps_linear_functions_of_position():
    """Entries that are a linear function of the (normalised) cell centre stay so after resizing,
    away from the border cells where bilinear interpolation clamps."""
    old, new = (4, 5), (10, 13)
    slope_y, slope_x, offset = torch.randn(3, 6, dtype=torch.float64)

    def linear_grid(hw):
        ys = (torch.arange(hw[0], dtype=torch.float64) + 0.5) / hw[0]
        xs = (torch.arange(hw[1], dtype=torch.float64) + 0.5) / hw[1]
        grid = ys[:, None, None] * slope_y + xs[None, :, None] * slope_x + offset
        return grid.reshape(1, hw[0] * hw[1], 6)

    resampled = resample_pos_embed(linear_grid(old), old, new).reshape(1, *new, 6)
    expected = linear_grid(new).reshape(1, *new, 6)
    # interior cells: centres inside the hull of the old cell centres (computed in float32)
    torch.testing.assert_close(resampled[:, 2:-2, 2:-2], expected[:, 2:-2, 2:-2], rtol=1e-5,
                               atol=1e-5)


def test_rejects_an_embedding_that_is_not_the_stated_grid():
    with pytest.raises(ValueError, match="3x3"):
        resample_pos_embed(torch.randn(1, 10, 4), (3, 3), (4, 4))
