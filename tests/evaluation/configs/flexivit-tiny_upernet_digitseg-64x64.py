# Tiny FlexiViT (patch 4/8/16, output stride 8) + UPerHead on DigitSeg 64x64: the evaluation
# tests' model. Small enough that several test passes take seconds on the CPU.
_base_ = [
    '../../../configs/_base_/datasets/digitseg.py',
    '../../../configs/_base_/default_runtime.py',
    '../../../configs/_base_/schedules/digitseg_1k.py',
]
norm_cfg = dict(type='BN', requires_grad=True)
embed_dim = 32
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        size=(64, 64),
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='FlexiViT',
        img_size=64,
        patch_size=8,
        patch_sizes=[4, 8, 16],
        embed_dim=embed_dim,
        depth=2,
        num_heads=2,
        mlp_ratio=2.0,
        out_indices=(0, 1),
        out_stride=8),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[embed_dim] * 2,
        out_channels=embed_dim,
        scales=[2, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[embed_dim] * 2,
        in_index=[0, 1],
        pool_scales=(1, 2, 3, 6),
        channels=16,
        dropout_ratio=0.1,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
randomness = dict(seed=0)
