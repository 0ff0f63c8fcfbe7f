"""PI-resize preserves every token when upsampling and is least squares when downsampling."""
import pytest
import torch

from flexseg.layers import bilinear_resize, bilinear_resize_matrix, pi_resize_kernel
from flexseg.layers.pi_resize import pi_resize_matrices

SQUARE_UP = [(4, 4), (4, 5), (4, 8), (8, 10), (8, 12), (8, 15), (10, 16), (16, 20), (16, 24),
             (16, 30), (16, 40), (16, 48), (32, 40), (32, 48)]
RECT_UP = [((4, 4), (5, 9)), ((6, 4), (6, 7)), ((3, 5), (7, 6)), ((8, 8), (12, 16)),
           ((4, 6), (10, 6)), ((5, 3), (11, 13))]
UPSAMPLING = [((P, P), (p, p)) for P, p in SQUARE_UP] + RECT_UP
DOWNSAMPLING = [((8, 8), (4, 4)), ((16, 16), (10, 10)), ((12, 8), (7, 5)), ((6, 6), (4, 6))]


def _tokens(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """<patch, kernel> for every (patch, output channel) pair."""
    return torch.einsum("nchw,dchw->nd", x, w)


def _one_hot_resize_matrix(old, new):
    """B built literally: resize each one-hot old-size patch and stack the results as columns."""
    count = old[0] * old[1]
    basis = torch.eye(count, dtype=torch.float64).reshape(count, 1, *old)
    return bilinear_resize(basis, new).reshape(count, -1).T


def test_resize_is_half_pixel_bilinear_without_antialiasing():
    """Weights by hand (pixel centres at i + 0.5, edge clamped, no anti-aliasing filter), as
    tf.image.resize(method='bilinear') used by big_vision."""
    up = torch.tensor([[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], dtype=torch.float64)
    down = torch.tensor([[5 / 6, 1 / 6, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 1 / 6, 5 / 6]],
                        dtype=torch.float64)
    torch.testing.assert_close(bilinear_resize_matrix((1, 2), (1, 4)), up)
    torch.testing.assert_close(bilinear_resize_matrix((4, 1), (3, 1)), down)


@pytest.mark.parametrize("old,new", UPSAMPLING[:6] + DOWNSAMPLING)
def test_resize_matrix_is_the_one_hot_basis_resize(old, new):
    matrix = bilinear_resize_matrix(old, new)
    torch.testing.assert_close(matrix, _one_hot_resize_matrix(old, new), rtol=0, atol=1e-12)
    x = torch.randn(old, dtype=torch.float64)
    resized = bilinear_resize(x[None, None], new)[0, 0]
    torch.testing.assert_close(matrix @ x.reshape(-1), resized.reshape(-1))


@pytest.mark.parametrize("old,new", UPSAMPLING)
def test_upsampling_preserves_every_token(old, new):
    generator = torch.Generator().manual_seed(0)
    kernel = torch.randn(6, 3, *old, dtype=torch.float64, generator=generator)
    patches = torch.randn(11, 3, *old, dtype=torch.float64, generator=generator)
    resized_tokens = _tokens(bilinear_resize(patches, new), pi_resize_kernel(kernel, new))
    torch.testing.assert_close(resized_tokens, _tokens(patches, kernel), rtol=0, atol=1e-9)


def test_upsampling_preserves_tokens_in_float32():
    kernel, patches = torch.randn(8, 3, 16, 16), torch.randn(5, 3, 16, 16)
    resized_tokens = _tokens(bilinear_resize(patches, (24, 30)), pi_resize_kernel(kernel, (24, 30)))
    torch.testing.assert_close(resized_tokens, _tokens(patches, kernel), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("old,new", UPSAMPLING[:8] + DOWNSAMPLING)
def test_equals_pinv_of_the_full_resize_matrix(old, new):
    """w_p = pinv(B^T) vec(w_P) with the full (non-separable) one-hot matrix B."""
    kernel = torch.randn(4, 2, *old, dtype=torch.float64)
    expected = kernel.reshape(8, -1) @ torch.linalg.pinv(_one_hot_resize_matrix(old, new).T).T
    torch.testing.assert_close(pi_resize_kernel(kernel, new).reshape(8, -1), expected,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("old,new", DOWNSAMPLING)
def test_downsampling_is_the_least_squares_solution(old, new):
    """Not exact for p < P, but B^T w_p is the closest reachable kernel: B (B^T w_p - w_P) = 0."""
    kernel = torch.randn(old, dtype=torch.float64)
    matrix = bilinear_resize_matrix(old, new)
    residual = matrix.T @ pi_resize_kernel(kernel, new).reshape(-1) - kernel.reshape(-1)
    assert residual.norm() > 1e-3
    torch.testing.assert_close(matrix @ residual, torch.zeros(matrix.shape[0], dtype=torch.float64),
                               rtol=0, atol=1e-10)


def test_same_size_returns_the_kernel_itself():
    kernel = torch.randn(2, 3, 8, 8)
    assert pi_resize_kernel(kernel, (8, 8)) is kernel


@pytest.mark.parametrize("old,new", [((8, 8), (12, 12)), ((16, 16), (10, 10)), ((8, 8), (6, 10))])
def test_matches_timm_resample_patch_embed(old, new):
    from timm.layers import resample_patch_embed

    kernel = torch.randn(16, 3, *old)
    expected = resample_patch_embed(kernel, list(new), interpolation="bilinear", antialias=False)
    torch.testing.assert_close(pi_resize_kernel(kernel, new), expected, rtol=1e-4, atol=1e-5)


def test_resize_matrices_are_cached_per_sizes_device_and_dtype():
    pi_resize_matrices.cache_clear()
    first = pi_resize_matrices((8, 8), (12, 12), torch.device("cpu"), torch.float32)
    again = pi_resize_matrices((8, 8), (12, 12), torch.device("cpu"), torch.float32)
    other_dtype = pi_resize_matrices((8, 8), (12, 12), torch.device("cpu"), torch.float64)
    assert first[0] is again[0] and first[1] is again[1]
    assert other_dtype[0].dtype == torch.float64
    assert pi_resize_matrices.cache_info().hits == 1


def test_gradient_reaches_the_stored_kernel():
    kernel = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    (pi_resize_kernel(kernel, (12, 12)) * weights).sum().backward()
    pinv_t = torch.linalg.pinv(bilinear_resize_matrix((8, 8), (12, 12)).T)
    expected = weights.reshape(6, -1) @ pinv_t
    torch.testing.assert_close(kernel.grad.reshape(6, -1), expected)
