# Tiny FlexiViT (patch 4/8/16, output stride 8) + UPerHead on DigitSeg 64x64: the evaluation
# tests' model. Small enough that several test passes take seconds on the CPU.
_base_ = [
    '../../../configs/_base_/models/flexivit_upernet.py',
    '../../../configs/_base_/datasets/digitseg.py',
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/schedules/digitseg_1k.py',
]
embed_dim = 32
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(
        img_size=64,
        patch_size=8,
        patch_sizes=[4, 8, 16],
        embed_dim=embed_dim,
        depth=2,
        num_heads=2,
        mlp_ratio=2.0,
        pos_embed_grid=None,
        drop_path_rate=0.0,
        out_indices=(0, 1),
        out_stride=8),
    neck=dict(in_channels=[embed_dim] * 2, out_channels=embed_dim, scales=[2, 0.5]),
    decode_head=dict(
        in_channels=[embed_dim] * 2,
        in_index=[0, 1],
        channels=16,
        num_classes=11,
        norm_cfg=dict(type='BN', requires_grad=True)))
randomness = dict(seed=0)
