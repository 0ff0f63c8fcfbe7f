"""Token-grid geometry: padding/cropping to whole patches and fixed-stride resampling."""
import pytest
import torch
import torch.nn.functional as F

from flexseg.layers import fit_to_patch_grid, resample_to_stride, stride_grid_size, token_grid_size


def test_grid_size_pads_up_or_crops_down():
    assert token_grid_size((33, 50), (16, 16), "pad") == (3, 4)
    assert token_grid_size((33, 50), (16, 16), "crop") == (2, 3)
    assert token_grid_size((48, 64), (12, 16), "pad") == (4, 4)
    assert stride_grid_size((33, 50), 16) == (3, 4)
    with pytest.raises(ValueError, match="fit"):
        token_grid_size((32, 32), (16, 16), "reflect")


def test_pad_adds_zeros_at_the_bottom_and_right():
    x = torch.randn(2, 3, 33, 50) + 10
    padded = fit_to_patch_grid(x, (16, 12), "pad")
    assert padded.shape == (2, 3, 48, 60)
    torch.testing.assert_close(padded[..., :33, :50], x)
    assert padded[..., 33:, :].abs().sum() == 0 and padded[..., :, 50:].abs().sum() == 0


def test_crop_drops_the_bottom_and_right_remainder():
    x = torch.randn(1, 3, 33, 50)
    cropped = fit_to_patch_grid(x, (16, 12), "crop")
    torch.testing.assert_close(cropped, x[..., :32, :48])


def test_whole_patch_images_are_untouched():
    x = torch.randn(1, 3, 32, 48)
    assert fit_to_patch_grid(x, (16, 16)) is x


def test_patch_equal_to_stride_is_the_identity():
    grid = torch.randn(2, 4, 3, 5)
    assert resample_to_stride(grid, (16, 16), 16, (3, 5)) is grid


def _centre_function(grid_hw, cell, batch_dims=(1, 2)):
    """A map whose value at each cell is 2 y - 3 x of the cell's pixel centre."""
    ys = (torch.arange(grid_hw[0], dtype=torch.float64) + 0.5) * cell[0]
    xs = (torch.arange(grid_hw[1], dtype=torch.float64) + 0.5) * cell[1]
    return (2 * ys[:, None] - 3 * xs[None, :]).expand(*batch_dims, *grid_hw)


@pytest.mark.parametrize("patch,image", [((20, 24), (70, 90)), ((32, 16), (64, 50)),
                                         ((48, 30), (100, 60))])
def test_coarse_tokens_are_interpolated_at_each_cell_centre(patch, image):
    """Tokens hold a linear function of their pixel centre; every output cell strictly inside
    the token centres gets that function at its own pixel centre, whatever the padding."""
    grid_hw, out_hw = token_grid_size(image, patch), stride_grid_size(image, 16)
    out = resample_to_stride(_centre_function(grid_hw, patch), patch, 16, out_hw)
    expected = _centre_function(out_hw, (16, 16))
    inside_y = [(i + 0.5) * 16 >= patch[0] / 2 and (i + 0.5) * 16 <= (grid_hw[0] - 0.5) * patch[0]
                for i in range(out_hw[0])]
    inside_x = [(j + 0.5) * 16 >= patch[1] / 2 and (j + 0.5) * 16 <= (grid_hw[1] - 0.5) * patch[1]
                for j in range(out_hw[1])]
    rows, cols = torch.tensor(inside_y), torch.tensor(inside_x)
    assert rows.sum() >= 2 and cols.sum() >= 2
    torch.testing.assert_close(out[..., rows, :][..., cols], expected[..., rows, :][..., cols])


def test_cells_past_the_last_token_centre_repeat_the_edge():
    grid = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    out = resample_to_stride(grid, (32, 32), 16, (6, 6))
    torch.testing.assert_close(out[..., -1, -1], grid[..., -1, -1])
    torch.testing.assert_close(out[..., 0, 0], grid[..., 0, 0])


def test_cells_past_a_cropped_grid_repeat_the_last_token():
    """fit='crop', H = 70, p = 12: 5 tokens cover 60 px; the 5th stride-16 cell (64-80 px)
    overlaps no token and takes the last one."""
    assert token_grid_size((70, 16), (12, 16), "crop") == (5, 1)
    grid = torch.randn(1, 2, 5, 1, dtype=torch.float64)
    out = resample_to_stride(grid, (12, 16), 16, stride_grid_size((70, 16), 16))
    torch.testing.assert_close(out[..., 4, :], grid[..., 4, :])


@pytest.mark.parametrize("patch,pool", [((8, 8), (2, 2)), ((4, 8), (4, 2)), ((16, 4), (1, 4))])
def test_fine_tokens_are_average_pooled_when_the_patch_divides_the_stride(patch, pool):
    grid = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    out_hw = (8 * patch[0] // 16, 8 * patch[1] // 16)
    torch.testing.assert_close(resample_to_stride(grid, patch, 16, out_hw),
                               F.avg_pool2d(grid, pool))


def test_fine_tokens_are_weighted_by_overlap_otherwise():
    """p = 12, s = 16: cell 1 (pixels 16-32) is half token 1 (12-24), half token 2 (24-36)."""
    grid = torch.randn(1, 1, 4, 1, dtype=torch.float64)
    out = resample_to_stride(grid, (12, 16), 16, (3, 1))
    torch.testing.assert_close(out[0, 0, 1, 0], (grid[0, 0, 1, 0] + grid[0, 0, 2, 0]) / 2)
    torch.testing.assert_close(out[0, 0, 0, 0], 0.75 * grid[0, 0, 0, 0] + 0.25 * grid[0, 0, 1, 0])
    constant = torch.full((1, 1, 5, 7), 3.0, dtype=torch.float64)
    torch.testing.assert_close(resample_to_stride(constant, (12, 10), 16, (4, 5)),
                               torch.full((1, 1, 4, 5), 3.0, dtype=torch.float64))


@pytest.mark.parametrize("patch,grid_hw,out_hw", [
    ((16, 16), (4, 4), (8, 8)), ((32, 16), (3, 5), (12, 10)), ((24, 24), (2, 3), (6, 9)),
    ((16, 8), (4, 5), (8, 5)), ((4, 4), (8, 6), (4, 3)), ((4, 2), (8, 8), (4, 2)),
    ((2, 2), (12, 8), (3, 2))])
def test_native_kernels_apply_the_same_weights_as_the_matrices(patch, grid_hw, out_hw):
    """Whole-factor ratios take torch's interpolate / pooling kernels; values and gradients
    equal the per-axis weight matrices that every other ratio uses."""
    from flexseg.layers.grid import _resample_by_matrix, _resample_natively
    grid = torch.randn(2, 3, *grid_hw, dtype=torch.float64, requires_grad=True)
    native = _resample_natively(grid, patch, 8, out_hw)
    assert native is not None
    weights = torch.randn(2, 3, *out_hw, dtype=torch.float64)
    (native_grad,) = torch.autograd.grad((native * weights).sum(), grid)
    by_matrix = _resample_by_matrix(grid, patch, 8, out_hw)
    (matrix_grad,) = torch.autograd.grad((by_matrix * weights).sum(), grid)
    torch.testing.assert_close(native, by_matrix)
    torch.testing.assert_close(native_grad, matrix_grad)


def test_other_ratios_keep_the_matrices():
    """p = 12, s = 8 and a padded output (7 cells for 4 tokens of 16) have no whole factor."""
    from flexseg.layers.grid import _resample_natively
    assert _resample_natively(torch.zeros(1, 1, 4, 4), (12, 12), 8, (6, 6)) is None
    assert _resample_natively(torch.zeros(1, 1, 4, 4), (16, 16), 8, (7, 7)) is None
