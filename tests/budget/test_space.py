"""The budget space: analytic + counted costs per choice, ordering, lookup, limits, export."""
import json

import pytest
import torch

from flexseg.budget import BudgetSpace, build_budget_space, default_image_hw
from flexseg.budget.inference import count_flops_explicitly
from flexseg.models import FlexiViT

from .conftest import build_segmentor, make_space


def test_gflops_agree_with_explicit_attention_counts():
    # ViT-Ti width: the norms and stride resampling the analytic count ignores stay below 1%.
    # 56x72 is not a multiple of 12 or 16, so padded token grids are covered too.
    segmentor = build_segmentor(embed_dim=192)
    image_hw = (56, 72)
    space = build_budget_space(segmentor, image_hw)
    assert sorted(space.ids()) == sorted(c.id for c in segmentor.backbone.space())
    for entry in space:
        segmentor.backbone.activate(entry.choice)
        whole, backbone = count_flops_explicitly(segmentor, image_hw)
        assert entry.backbone_gflops * 1e9 == pytest.approx(backbone, rel=0.01), entry.id
        assert entry.gflops * 1e9 == pytest.approx(whole, rel=0.01), entry.id


@pytest.fixture(scope="module")
def measured():
    """The tiny segmentor, measured at 64x64 while p12 was active."""
    segmentor = build_segmentor()
    segmentor.backbone.activate("p12")
    return segmentor, build_budget_space(segmentor, (64, 64))


def test_space_is_sorted_by_gflops_and_the_active_choice_is_restored(measured):
    segmentor, space = measured
    assert segmentor.backbone.active_choice.id == "p12"
    assert space.ids() == ["p16", "p12", "p8", "p4"]
    assert [e.gflops for e in space] == sorted(e.gflops for e in space)
    assert all(e.gflops > e.backbone_gflops for e in space)  # neck and heads cost something


def test_params_cover_the_inference_path_but_not_the_auxiliary_head(measured):
    segmentor, space = measured
    used = sum(p.numel() for name in ("backbone", "neck", "decode_head")
               for p in getattr(segmentor, name).parameters())
    assert sum(p.numel() for p in segmentor.auxiliary_head.parameters()) > 0
    assert {entry.params for entry in space} == {used}


def test_a_two_stage_detector_is_costed_through_its_rpn_and_roi_heads():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict

    from tests.models.test_simple_feature_pyramid import _faster_rcnn

    register_all_modules()
    detector = MODELS.build(ConfigDict(_faster_rcnn(embed_dim=32)))
    space = build_budget_space(detector, (64, 96))
    assert space.ids() == ["p24", "p16", "p8"]
    heads = sum(p.numel() for name in ("neck", "rpn_head", "roi_head")
                for p in getattr(detector, name).parameters())
    for entry in space:
        # Neck, RPN and RoI heads (a few MFLOPs here) come on top of the backbone.
        assert entry.gflops - entry.backbone_gflops > 0.004
        assert entry.params == sum(p.numel() for p in detector.backbone.parameters()) + heads


def test_a_bare_backbone_costs_its_analytic_flops():
    backbone = FlexiViT(img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=16, depth=1,
                        num_heads=2)
    space = build_budget_space(backbone, (32, 48))
    for entry in space:
        assert entry.gflops == entry.backbone_gflops == backbone.flops(entry.choice,
                                                                        (32, 48)) / 1e9
        assert entry.params == sum(p.numel() for p in backbone.parameters())


def test_a_model_without_a_flexible_backbone_is_refused():
    with pytest.raises(TypeError, match="not a flexible backbone"):
        build_budget_space(torch.nn.Conv2d(3, 3, 1), (32, 32))


def test_lookup_and_limits():
    space = make_space({16: 1.0, 12: 2.0, 8: 4.0, 4: 16.0})
    assert space.get("p8").gflops == 4.0
    with pytest.raises(ValueError, match="unknown choice 'p5'; available: p16, p12, p8, p4"):
        space.get("p5")
    assert space.restrict(min_gflops=2.0, max_gflops=4.0).ids() == ["p12", "p8"]  # inclusive
    assert space.restrict(max_gflops=1.5).ids() == ["p16"]
    assert space.restrict().ids() == space.ids()
    with pytest.raises(ValueError, match=r"min_gflops=5.0, max_gflops=8.0.*spans 1 \(p16\) "
                                         r"to 16 \(p4\) GFLOPs"):
        space.restrict(min_gflops=5.0, max_gflops=8.0)


def test_entries_are_sorted_by_gflops_then_id_and_ids_must_be_unique():
    space = make_space({8: 3.0, 16: 1.0, 12: 1.0})
    assert space.ids() == ["p12", "p16", "p8"]
    with pytest.raises(ValueError, match="repeated: p8"):
        BudgetSpace([space[2], space[2]], (64, 64))
    with pytest.raises(ValueError, match="at least one"):
        BudgetSpace([], (64, 64))


def test_json_export(tmp_path):
    space = make_space({16: 1.0, 8: 4.0}, image_hw=(48, 64))
    space.to_json(tmp_path / "space.json")
    document = json.loads((tmp_path / "space.json").read_text())
    assert document["image_hw"] == [48, 64]
    assert document["choices"] == space.to_rows()
    assert [row["id"] for row in document["choices"]] == ["p16", "p8"]
    assert set(document["choices"][0]) == {"id", "gflops", "backbone_gflops", "params"}


def test_default_image_size_comes_from_the_preprocessor_then_the_crop():
    assert default_image_hw(dict(model=dict(data_preprocessor=dict(size=(48, 64))),
                                 crop_size=(32, 32))) == (48, 64)
    assert default_image_hw(dict(model=dict(data_preprocessor=dict(size=None)),
                                 crop_size=(32, 40))) == (32, 40)
    with pytest.raises(ValueError, match="image_hw"):
        default_image_hw(dict(model=dict(type="X")))
