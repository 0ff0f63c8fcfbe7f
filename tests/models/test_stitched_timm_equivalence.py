"""An anchor-only route is exactly that anchor: same tokens as timm's ViT on the same weights.

Both anchors are untrained timm ViTs saved to files and loaded through the anchors'
``init_cfg``, as a config would; the stitched model is initialised with ``init_weights``.
"""
import pytest
import torch

from flexseg.models import StitchedViT

SMALL = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0)
LARGE = dict(embed_dim=48, depth=4, num_heads=3, mlp_ratio=2.0)
VARIANTS = {  # timm options, matching anchor options
    "deit": (dict(), dict()),
    "deit3 (no_embed_class, layer scale)": (dict(no_embed_class=True, init_values=0.1),
                                            dict(layer_scale_init=0.1)),
}


def _stitched(tmp_path, timm_vit, variant: str):
    timm_kwargs, anchor_kwargs = VARIANTS[variant]
    references, anchors = {}, {}
    for seed, (name, dims) in enumerate([("small", SMALL), ("large", LARGE)]):
        references[name] = timm_vit(seed=seed, **dims, **timm_kwargs)
        path = tmp_path / f"{name}.pth"
        torch.save(references[name].state_dict(), path)
        anchors[name] = dict(**dims, **anchor_kwargs,
                             init_cfg=dict(type="Pretrained", checkpoint=str(path), strict=True))
    model = StitchedViT(**anchors, img_size=32, patch_size=8, routes=("S", "L", "S-L", "L-S"),
                        lora_rank=2, out_indices=(0, 1), out_stride=8)
    model.init_weights()
    return model.eval(), references


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_anchor_routes_give_the_anchors_tokens(tmp_path, timm_vit, variant):
    model, references = _stitched(tmp_path, timm_vit, variant)
    x = torch.randn(2, 3, 32, 32)
    for route, name in [("S", "small"), ("L", "large")]:
        model.activate(route)
        with torch.no_grad():
            ours, theirs = model.forward_features(x), references[name].forward_features(x)
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max() <= 1e-5, route


def test_anchor_routes_give_the_anchors_maps(tmp_path, timm_vit):
    """Levels 0, 1 are after small blocks 0, 1 = after large blocks 1, 3. The large anchor's
    maps are its own; the small anchor's go through the level maps into the large width."""
    model, references = _stitched(tmp_path, timm_vit, "deit")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.activate("L")
        large_maps = model(x)
        model.activate("S")
        small_maps = model(x)
        expected_large = references["large"].forward_intermediates(
            x, indices=[1, 3], intermediates_only=True)
        small_grids = references["small"].forward_intermediates(
            x, indices=[0, 1], intermediates_only=True)
        expected_small = [layer(grid.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
                          for layer, grid in zip(model.level_maps, small_grids)]
    for ours, theirs in zip(large_maps + small_maps, expected_large + expected_small):
        assert ours.shape == theirs.shape == (2, 48, 4, 4)
        assert (ours - theirs).abs().max() <= 1e-5
