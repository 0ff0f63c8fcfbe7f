"""Same weights, same tokens as timm's VisionTransformer (an independent implementation).

The timm model is built untrained, its state dict saved to a file and loaded through
``init_cfg=dict(type='Pretrained', ...)``, exactly as a user would.
"""
import pytest
import torch

from flexseg.models import FlexiViT, PatchChoice

VARIANTS = {
    "vit (pos embed covers cls)": (dict(), dict()),
    "deit3/flexivit (no_embed_class, layer scale)": (dict(no_embed_class=True, init_values=0.1),
                                                     dict(layer_scale_init=0.1)),
    "no class token": (dict(class_token=False, global_pool="avg", fc_norm=False),
                       dict(class_token=False)),
    "register tokens": (dict(reg_tokens=2), dict(num_reg_tokens=2)),
}


def _load(tmp_path, reference, tiny_kwargs, **kwargs) -> FlexiViT:
    path = tmp_path / "timm_vit.pth"
    torch.save(reference.state_dict(), path)
    model = FlexiViT(init_cfg=dict(type="Pretrained", checkpoint=str(path), strict=True),
                     **tiny_kwargs, **kwargs)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tokens_equal_timm_at_the_native_patch_size(tmp_path, timm_vit, tiny_kwargs, variant):
    timm_kwargs, our_kwargs = VARIANTS[variant]
    reference = timm_vit(**timm_kwargs)
    model = _load(tmp_path, reference, tiny_kwargs, img_size=32, patch_size=8,
                  pos_embed_grid=4, **our_kwargs)
    model.activate("p8")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours, theirs = model.forward_features(x), reference.forward_features(x)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() <= 1e-5


def test_parallel_blocks_equal_timm(tmp_path, timm_vit, tiny_kwargs):
    from timm.models.vision_transformer import ParallelThingsBlock

    reference = timm_vit(block_fn=ParallelThingsBlock)
    model = _load(tmp_path, reference, tiny_kwargs, img_size=32, patch_size=8,
                  pos_embed_grid=4, num_parallel=2)
    model.activate("p8")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model.forward_features(x) - reference.forward_features(x)).abs().max() <= 1e-5


@pytest.mark.parametrize("patch,image_hw", [((12, 12), (48, 48)), ((16, 16), (48, 64)),
                                            ((12, 16), (48, 64)), ((6, 6), (36, 36))])
def test_tokens_equal_timm_built_for_another_patch_size(tmp_path, timm_vit, tiny_kwargs, patch,
                                                        image_hw):
    """Reference: timm at ``patch`` with the kernel resampled by timm's own PI-resize and the
    position embedding by timm's resampler (both bilinear)."""
    from timm.layers import resample_abs_pos_embed, resample_patch_embed

    native = timm_vit(img_size=48, no_embed_class=True)  # 6x6 position grid
    model = _load(tmp_path, native, tiny_kwargs, img_size=48, patch_size=8,
                  patch_sizes=[8, patch])
    model.activate(PatchChoice(patch))

    grid = (image_hw[0] // patch[0], image_hw[1] // patch[1])
    state = native.state_dict()
    state["patch_embed.proj.weight"] = resample_patch_embed(
        state["patch_embed.proj.weight"], list(patch), interpolation="bilinear", antialias=False)
    state["pos_embed"] = resample_abs_pos_embed(
        state["pos_embed"], list(grid), old_size=[6, 6], num_prefix_tokens=0,
        interpolation="bilinear", antialias=True)
    reference = timm_vit(img_size=image_hw, patch_size=patch, no_embed_class=True)
    reference.load_state_dict(state)

    x = torch.randn(2, 3, *image_hw)
    with torch.no_grad():
        ours, theirs = model.forward_features(x), reference.forward_features(x)
    assert ours.shape == theirs.shape == (2, 1 + grid[0] * grid[1], 32)
    assert (ours - theirs).abs().max() <= 1e-5


def test_original_deit3_release_names_load(tmp_path, timm_vit, tiny_kwargs):
    """DeiT III's own files wrap the weights in ``model`` and name layer scale ``gamma_1/2``."""
    reference = timm_vit(no_embed_class=True, init_values=0.1)
    renamed = {k.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2"): v
               for k, v in reference.state_dict().items()}
    assert any(k.endswith(".gamma_1") for k in renamed)
    path = tmp_path / "deit3_release.pth"
    torch.save({"model": renamed}, path)
    model = FlexiViT(init_cfg=dict(type="Pretrained", checkpoint=str(path), strict=True),
                     img_size=32, patch_size=8, pos_embed_grid=4, layer_scale_init=1.0,
                     **tiny_kwargs)
    model.init_weights()
    model.eval().activate("p8")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model.forward_features(x) - reference.forward_features(x)).abs().max() <= 1e-5
