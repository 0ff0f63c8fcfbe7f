"""Stitching layers: the least-squares fit recovers affine maps; after the fit only the bias and
the low-rank update train, and the layer starts as exactly the fitted map."""
import pytest
import torch
import torch.nn.functional as F

from flexseg.layers.stitching import AffineLeastSquares, StitchingLayer


def _known_map(in_dim: int = 12, out_dim: int = 20, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(out_dim, in_dim, generator=generator, dtype=torch.float64)
    bias = torch.randn(out_dim, generator=generator, dtype=torch.float64)
    return weight, bias, generator


def test_fit_recovers_a_known_affine_map_from_batches():
    weight, bias, generator = _known_map()
    fit = AffineLeastSquares(12, 20)
    for _ in range(3):  # (batch, tokens, channels) like ViT features, far from zero mean
        x = 5 + 3 * torch.randn(4, 9, 12, generator=generator, dtype=torch.float64)
        fit.add(x, x @ weight.T + bias)
    fitted_weight, fitted_bias = fit.solve()
    assert fit.count == 3 * 4 * 9
    torch.testing.assert_close(fitted_weight, weight, rtol=0, atol=1e-9)
    torch.testing.assert_close(fitted_bias, bias, rtol=0, atol=1e-9)


def test_fit_from_float32_features_is_exact_to_float32_precision():
    weight, bias, generator = _known_map(seed=1)
    x = torch.randn(200, 12, generator=generator)
    y = (x.double() @ weight.T + bias).float()
    fit = AffineLeastSquares(12, 20)
    fit.add(x, y)
    fitted_weight, fitted_bias = fit.solve()
    torch.testing.assert_close(fitted_weight, weight, rtol=0, atol=1e-5)
    torch.testing.assert_close(fitted_bias, bias, rtol=0, atol=1e-5)


def test_fit_with_noise_is_the_least_squares_optimum():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(300, 6, generator=generator, dtype=torch.float64)
    y = torch.randn(300, 5, generator=generator, dtype=torch.float64)  # no exact map exists
    fit = AffineLeastSquares(6, 5)
    fit.add(x[:100], y[:100])
    fit.add(x[100:], y[100:])
    weight, bias = fit.solve()
    augmented = torch.cat([x, torch.ones(300, 1, dtype=torch.float64)], dim=1)
    reference = torch.linalg.lstsq(augmented, y).solution
    torch.testing.assert_close(weight, reference[:-1].T, rtol=0, atol=1e-10)
    torch.testing.assert_close(bias, reference[-1], rtol=0, atol=1e-10)


def test_fit_needs_features_and_matching_counts():
    fit = AffineLeastSquares(3, 2)
    with pytest.raises(ValueError, match="no features"):
        fit.solve()
    with pytest.raises(ValueError, match="4 feature vectors but y has 5"):
        fit.add(torch.zeros(4, 3), torch.zeros(5, 2))


def _fitted_layer(in_dim: int = 12, out_dim: int = 20, rank: int = 4) -> StitchingLayer:
    weight, bias, _ = _known_map(in_dim, out_dim)
    layer = StitchingLayer(in_dim, out_dim, rank)
    layer.set_map(weight, bias)
    return layer


def test_fitted_layer_is_exactly_the_fitted_map():
    layer = _fitted_layer()
    assert bool(layer.fitted)
    assert layer.lora_a.abs().sum() > 0  # A is random: the zero B alone keeps the map exact
    x = torch.randn(2, 7, 12)
    expected = F.linear(x, layer.weight, layer.bias)
    assert torch.equal(layer(x), expected)
    with torch.no_grad():
        assert torch.equal(layer.eval()(x), expected)


def test_only_bias_and_low_rank_update_train():
    layer = _fitted_layer()
    trainable = {name for name, param in layer.named_parameters() if param.requires_grad}
    assert trainable == {"bias", "lora_a", "lora_b"}
    assert "weight" in dict(layer.named_buffers())
    fitted_map = layer.weight.clone()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(2):  # the second step moves A too (its gradient is B^T ..., zero at first)
        optimizer.zero_grad()
        layer(torch.randn(3, 12)).pow(2).sum().backward()
        optimizer.step()
    assert torch.equal(layer.weight, fitted_map)
    assert layer.lora_b.abs().sum() > 0
    x = torch.randn(5, 12)
    merged = layer.weight + layer.lora_b @ layer.lora_a / 4  # lora_alpha 1, rank 4
    torch.testing.assert_close(layer(x), F.linear(x, merged, layer.bias))
    layer.set_map(fitted_map, torch.zeros(20))  # a new fit starts again from the exact map
    assert torch.equal(layer(x), F.linear(x, fitted_map, torch.zeros(20)))


def test_eval_output_follows_updates_of_the_low_rank_factors():
    """The merged map is cached in eval mode; an update must not leave a stale map."""
    layer = _fitted_layer().eval()
    x = torch.randn(5, 12)
    with torch.no_grad():
        before = layer(x)
        layer.lora_b.add_(0.5)
        after = layer(x)
    assert not torch.allclose(before, after)
    merged = layer.weight + layer.lora_b @ layer.lora_a / 4
    torch.testing.assert_close(after, F.linear(x, merged, layer.bias))


def test_rank_zero_trains_the_bias_only():
    layer = _fitted_layer(rank=0)
    assert [name for name, _ in layer.named_parameters()] == ["bias"]
    x = torch.randn(4, 12)
    assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


@pytest.mark.parametrize("rank", [9, -1])
def test_rank_outside_the_widths_is_refused(rank):
    with pytest.raises(ValueError, match=r"from 0 to 8 .*8 -> 16"):
        StitchingLayer(8, 16, rank)


def test_fit_travels_in_the_state_dict():
    layer = _fitted_layer()
    fresh = StitchingLayer(12, 20, 4)
    assert not bool(fresh.fitted)
    fresh.load_state_dict(layer.state_dict())
    assert bool(fresh.fitted)
    x = torch.randn(3, 12)
    assert torch.equal(fresh(x), layer(x))


@pytest.mark.parametrize("alpha, divisor", [(1, 16), (16, 1), (8, 2)])
def test_low_rank_update_is_scaled_by_alpha_over_rank(alpha, divisor):
    """LoRA's scaling (SN-Netv2 keeps loralib's lora_alpha=1: a rank-16 update counts 1/16)."""
    weight, bias, generator = _known_map(20, 24)
    layer = StitchingLayer(20, 24, 16, lora_alpha=alpha)
    layer.set_map(weight, bias)
    with torch.no_grad():
        layer.lora_b.copy_(torch.randn(24, 16, generator=generator))
    x = torch.randn(3, 20, dtype=torch.float64)
    update = layer.lora_b.double() @ layer.lora_a.double()
    expected = x @ (weight + update / divisor).T + bias
    torch.testing.assert_close(layer(x.float()).double(), expected, rtol=1e-5, atol=1e-4)
    with torch.no_grad():  # the merged map cached for inference holds the same scaling
        torch.testing.assert_close(layer.eval()(x.float()).double(), expected, rtol=1e-5,
                                   atol=1e-4)


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), "1"])
def test_lora_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError, match="lora_alpha must be a positive number"):
        StitchingLayer(8, 16, 4, lora_alpha=alpha)
