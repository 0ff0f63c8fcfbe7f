"""Fitting a StitchedViT's stitching layers: what each layer is fitted to, the state after the
fit (exact least-squares maps, only bias and low-rank update trainable), persistence, and the
errors users see."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from flexseg.models import StitchedViT, StitchInitHook

SMALL = dict(embed_dim=16, depth=3, num_heads=2, mlp_ratio=2.0)
LARGE = dict(embed_dim=24, depth=6, num_heads=2, mlp_ratio=2.0)


def _model(seed: int = 0, **kwargs) -> StitchedViT:
    torch.manual_seed(seed)
    options = dict(img_size=32, patch_size=8, lora_rank=4, out_indices=(0, 2), out_stride=8)
    options.update(kwargs)
    return StitchedViT(dict(SMALL), dict(LARGE), **options)


def _batches(count: int = 3, seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 3, 32, 32, generator=generator) for _ in range(count)]


def _block_outputs(anchor, images: list[torch.Tensor]) -> list[torch.Tensor]:
    """Tokens (prefix included) leaving each block of a timm-style anchor, over all images."""
    outputs = [[] for _ in anchor.blocks]
    handles = [block.register_forward_hook(lambda _m, _i, out, k=k: outputs[k].append(out))
               for k, block in enumerate(anchor.blocks)]
    with torch.no_grad():
        for batch in images:
            anchor.forward_features(batch)
    for handle in handles:
        handle.remove()
    return [torch.cat(out) for out in outputs]


def _least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.reshape(-1, x.shape[-1]).double()
    augmented = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(augmented, y.reshape(-1, y.shape[-1]).double()).solution
    return solution[:-1].T.float(), solution[-1].float()


def test_each_layer_is_the_least_squares_map_between_the_anchors_features():
    """``s1-l4`` maps tokens leaving small block 1 onto tokens entering large block 4 (leaving
    large block 3); ``l3-s2`` the reverse; level map i maps the small anchor's patch tokens
    after small block ``out_indices[i]`` onto the large anchor's after large block
    ``2 (out_indices[i] + 1) - 1``."""
    model = _model(level_maps="separate").eval()
    images = _batches()
    assert model.fit_stitches(images) == 12
    small, large = _block_outputs(model.small, images), _block_outputs(model.large, images)
    expected = {"s1-l4": (small[1], large[3]), "l3-s2": (large[3], small[1]),
                "s0-l2": (small[0], large[1]), "l1-s1": (large[1], small[0])}
    for key, (x, y) in expected.items():
        weight, bias = _least_squares(x, y)
        torch.testing.assert_close(model.stitches[key].weight, weight, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(model.stitches[key].bias, bias, rtol=1e-4, atol=1e-4)
    for level, (small_block, large_block) in enumerate([(0, 1), (2, 5)]):
        weight, bias = _least_squares(small[small_block][:, 1:], large[large_block][:, 1:])
        torch.testing.assert_close(model.level_maps[level].weight, weight, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(model.level_maps[level].bias, bias, rtol=1e-4, atol=1e-4)
    assert model.stitches_fitted


def test_small_anchor_levels_reuse_the_small_to_large_stitch_by_default():
    """SN-Netv2's level maps: level i of the small anchor goes through the stitch leaving small
    block ``out_indices[i]`` for large block ``2 (out_indices[i] + 1)`` (the same module the
    routes use); the last block gets its own, fitted onto the large anchor's output."""
    model = _model().eval()
    assert len(model.level_maps) == 0
    assert model.level_map(0) is model.stitches["s0-l2"]
    assert model.level_map(1) is model.stitches["s2-l6"]
    model.fit_stitches(_batches())
    small, large = _block_outputs(model.small, _batches()), _block_outputs(model.large,
                                                                           _batches())
    weight, bias = _least_squares(small[2], large[5])  # every token, prefix included
    torch.testing.assert_close(model.stitches["s2-l6"].weight, weight, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(model.stitches["s2-l6"].bias, bias, rtol=1e-4, atol=1e-4)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        model.activate("S")
        level = model(x)[1]
        after = _block_outputs(model.small, [x])[2][:, 1:]
    expected = model.stitches["s2-l6"](after).transpose(1, 2).reshape(1, 24, 4, 4)
    torch.testing.assert_close(level, expected, rtol=1e-5, atol=1e-5)


def test_large_out_indices_choose_the_large_block_of_each_level():
    """SN-Netv2's DeiT-III S/L levels (L 9, 14, 19, 23 beside S 4, 7, 9, 11) in miniature: a
    level may take any block of its large-anchor group, and a route reaches each level once."""
    model = _model(large_out_indices=(0, 5))
    assert model.large_out_indices == [0, 5]
    x = torch.randn(1, 3, 32, 32)
    model.fit_stitches(_batches(1))
    with torch.no_grad():
        model.eval().activate("L")
        first = model(x)[0]
        after = _block_outputs(model.large, [x])[0][:, 1:]
    torch.testing.assert_close(first, after.transpose(1, 2).reshape(1, 24, 4, 4), rtol=1e-5,
                               atol=1e-5)
    for bad in [(2, 5), (0,), (1, 3)]:
        with pytest.raises(ValueError, match="within its level's group"):
            _model(large_out_indices=bad)


def test_after_the_fit_routes_do_not_depend_on_the_low_rank_factor_a():
    """B starts at zero: whatever A holds, every route computes the fitted maps exactly."""
    model = _model().eval()
    model.fit_stitches(_batches())
    x = torch.randn(2, 3, 32, 32)
    routes = [route.id for route in model.space()]
    with torch.no_grad():
        before = {}
        for route in routes:
            model.activate(route)
            before[route] = model(x)
        for layer in model.stitching_layers():
            layer.lora_a.normal_()
        for route in routes:
            model.activate(route)
            assert all(torch.equal(a, b) for a, b in zip(model(x), before[route])), route


def test_only_bias_and_low_rank_update_of_stitching_layers_train():
    model = _model()
    model.fit_stitches(_batches())
    stitching = {name: param for name, param in model.named_parameters()
                 if name.startswith(("stitches.", "level_maps."))}
    assert {name.rsplit(".", 1)[1] for name in stitching} == {"bias", "lora_a", "lora_b"}
    assert all(param.requires_grad for param in stitching.values())
    maps = {name: buffer.clone() for name, buffer in model.named_buffers()
            if name.endswith(".weight")}
    assert len(maps) == len(model.stitching_layers())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    model.activate("s0-l2-s2")
    sum(level.pow(2).mean() for level in model(torch.randn(2, 3, 32, 32))).backward()
    optimizer.step()
    assert all(torch.equal(buffer, maps[name]) for name, buffer in model.named_buffers()
               if name in maps)
    assert model.stitches["s0-l2"].lora_b.abs().sum() > 0
    assert model.stitches["l3-s2"].lora_b.abs().sum() > 0


def test_training_a_route_needs_its_layers_fitted():
    model = _model().train()
    x = torch.randn(1, 3, 32, 32)
    model.activate("L")  # uses no stitching layer
    model(x)
    model.activate("s1-l4")
    with pytest.raises(RuntimeError, match="StitchInitHook"):
        model(x)
    with torch.no_grad():
        model.eval()(x)  # evaluating (e.g. counting FLOPs) before the fit is allowed
    model.fit_stitches(_batches(1))
    model.train()(x)


class _RunnerWithoutData:
    def __init__(self, model):
        self.model = model
        self.seed = 0

    @property
    def train_dataloader(self):
        raise AssertionError("the training data was read")


def test_fit_survives_save_and_load_and_is_not_recomputed(tmp_path):
    fitted = _model().eval()
    fitted.fit_stitches(_batches())
    torch.save(fitted.state_dict(), tmp_path / "model.pth")

    restored = _model(seed=5).eval()  # different random initialisation
    assert not restored.stitches_fitted
    restored.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    assert restored.stitches_fitted
    StitchInitHook().before_train(_RunnerWithoutData(restored))  # skips: nothing read

    x = torch.randn(2, 3, 32, 32)
    for route in ("s0-l2-s2", "l1-s1-l4"):
        fitted.activate(route)
        restored.activate(route)
        with torch.no_grad():
            assert all(torch.equal(a, b) for a, b in zip(fitted(x), restored(x)))
    with pytest.raises(AssertionError, match="training data was read"):
        StitchInitHook().before_train(_RunnerWithoutData(_model()))


class _Segmentor(nn.Module):
    def __init__(self, backbone: StitchedViT) -> None:
        super().__init__()
        self.backbone = backbone

    def data_preprocessor(self, batch: torch.Tensor, training: bool) -> dict:
        return {"inputs": 2 * batch}


def _runner_with_data(model: StitchedViT, images: torch.Tensor, batch_size: int):
    """What the hook reads: the training dataset, its collate function and the model's data
    preprocessor (here: scale by 2, so the test can tell preprocessed images apart)."""
    segmentor = _Segmentor(model)
    loader = SimpleNamespace(dataset=images, batch_size=batch_size, collate_fn=torch.stack)
    return SimpleNamespace(model=segmentor, seed=0, train_dataloader=loader)


def test_hook_fits_on_preprocessed_training_images():
    images = torch.cat(_batches(2))  # 8 images
    reference = _model()
    reference.fit_stitches([2 * images])
    model = _model()
    StitchInitHook(num_batches=2).before_train(_runner_with_data(model, images, batch_size=4))
    assert model.stitches_fitted
    for ours, theirs in zip(model.stitching_layers(), reference.stitching_layers()):
        torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(ours.bias, theirs.bias, rtol=1e-4, atol=1e-4)

    fewer = _model()  # one batch of 4: a different fit
    StitchInitHook(num_batches=1).before_train(_runner_with_data(fewer, images, batch_size=4))
    assert not torch.allclose(fewer.stitches["s1-l4"].weight, model.stitches["s1-l4"].weight)
