"""Budget tests: a tiny FlexiViT segmentor, hand-made spaces, one torch thread (shared cores)."""
import pytest
import torch

from flexseg.budget import BudgetEntry, BudgetSpace
from flexseg.models import PatchChoice

PATCH_SIZES = [4, 8, 12, 16]



def build_segmentor(embed_dim: int = 32, depth: int = 4, head_norm: str = "BN",
                    patch_sizes: list[int] = PATCH_SIZES, **backbone_options):
    """FlexiViT + MultiLevelNeck + UPerHead (+ an auxiliary FCN head), all small, no dropout;
    ``head_norm``: the UPerHead's norm layer type."""
    from mmengine.config import ConfigDict
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    register_all_modules()
    torch.manual_seed(0)
    cfg = dict(
        type="EncoderDecoder",
        data_preprocessor=dict(type="SegDataPreProcessor", mean=[0.0] * 3, std=[255.0] * 3,
                               size=(64, 64)),
        backbone=dict(type="FlexiViT", img_size=64, patch_size=8, patch_sizes=patch_sizes,
                      embed_dim=embed_dim, depth=depth, num_heads=2, mlp_ratio=2.0,
                      out_indices=tuple(range(depth - 4, depth)), **backbone_options),
        neck=dict(type="MultiLevelNeck", in_channels=[embed_dim] * 4, out_channels=embed_dim,
                  scales=[4, 2, 1, 0.5]),
        decode_head=dict(type="UPerHead", in_channels=[embed_dim] * 4, in_index=[0, 1, 2, 3],
                         pool_scales=(1, 2, 3, 6), channels=16, dropout_ratio=0.0,
                         num_classes=3, norm_cfg=dict(type=head_norm), align_corners=False,
                         loss_decode=dict(type="CrossEntropyLoss", loss_weight=1.0)),
        auxiliary_head=dict(type="FCNHead", in_channels=embed_dim, in_index=2, channels=8,
                            num_convs=1, num_classes=3, dropout_ratio=0.0,
                            norm_cfg=dict(type="BN"),
                            loss_decode=dict(type="CrossEntropyLoss", loss_weight=0.4)),
        train_cfg=dict(), test_cfg=dict(mode="whole"))
    return MODELS.build(ConfigDict(cfg))


@pytest.fixture
def tiny_segmentor():
    return build_segmentor()


def make_space(gflops: dict[int, float], image_hw=(64, 64)) -> BudgetSpace:
    """A space of patch-size choices ``p{size}`` with the given GFLOPs (params = size)."""
    return BudgetSpace([BudgetEntry(PatchChoice((size, size)), gflops=value,
                                    backbone_gflops=value / 2, params=size)
                        for size, value in gflops.items()], image_hw)
