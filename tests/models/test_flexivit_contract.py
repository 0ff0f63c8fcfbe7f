"""FlexiViT implements the flexible-backbone contract and validates its inputs."""
import pytest
import torch

from flexseg.models import FlexiViT, PatchChoice, find_flexible


@pytest.fixture
def model(tiny_kwargs) -> FlexiViT:
    return FlexiViT(img_size=32, patch_size=8, **tiny_kwargs).eval()


def test_default_space_is_the_paper_sizes_that_fit(model):
    assert [c.id for c in model.space()] == ["p8", "p10", "p12", "p15", "p16", "p20", "p24", "p30"]
    assert model.active_choice == PatchChoice((16, 16))


def test_rectangular_sizes_have_height_by_width_ids(tiny_kwargs):
    model = FlexiViT(img_size=64, patch_size=8, patch_sizes=[(12, 16), 8, (16, 12)], **tiny_kwargs)
    assert [c.id for c in model.space()] == ["p8", "p12x16", "p16x12"]
    model.activate("p12x16")
    assert model.active_choice.patch_hw == (12, 16)


def test_activate_accepts_choices_and_ids(model):
    model.activate(PatchChoice((10, 10)))
    assert model.active_choice.id == "p10"
    model.activate("p24")
    assert model.active_choice == PatchChoice((24, 24))
    assert str(model.active_choice) == "p24"
    assert len({c for c in model.space()}) == len(model.space())  # hashable, distinct


def test_patch_size_outside_the_space_names_the_allowed_ones(model):
    for bad in ("p13", PatchChoice((32, 32))):
        with pytest.raises(ValueError, match="p8, p10, p12, p15, p16, p20, p24, p30"):
            model.activate(bad)
    with pytest.raises(ValueError, match="p8"):
        model.flops("p7", (32, 32))


def test_patch_larger_than_the_image_names_the_sizes_that_fit(model):
    model.activate("p24")
    with pytest.raises(ValueError, match=r"larger than the 20x40 input; sizes that fit: "
                                         r"p8, p10, p12, p15, p16, p20$"):
        model(torch.randn(1, 3, 20, 40))


def test_registered_in_both_registries(tiny_kwargs):
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS

    cfg = dict(type="FlexiViT", img_size=32, patch_size=8, **tiny_kwargs)
    for registry in (MMSEG_MODELS, MMDET_MODELS):
        assert isinstance(registry.build(cfg), FlexiViT)


def test_find_flexible_returns_the_backbone(model):
    holder = torch.nn.Module()
    holder.backbone = model
    assert find_flexible(holder) is model


def test_hmlp_stem_space(tiny_kwargs):
    """The hMLP stem runs at every patch size (``layers.hmlp``), as the linear stem does."""
    model = FlexiViT(img_size=48, stem="hmlp", **tiny_kwargs)
    assert [c.id for c in model.space()] == [c.id for c in FlexiViT(img_size=48,
                                                                    **tiny_kwargs).space()]
    assert model.patch_embed.patch_size == (16, 16)
