# SN-Netv2 on DigitSeg 64x64: a small (64-d, 6 blocks) and a large (128-d, 12 blocks) ViT anchor
# stitched both ways (32 routes), trained with resource-constrained sampling (ROS) and evaluated
# at every route in one pass. The stitching layers are fitted by least squares on training
# images before the first iteration (StitchInitHook). Anchors start from scratch here; give
# each an init_cfg=dict(type='Pretrained', checkpoint=...) to start from timm-format weights.
_base_ = [
    '../_base_/datasets/digitseg.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/digitseg_1k.py',
]
custom_imports = dict(imports=['flexseg', 'flexseg.budget', 'flexseg.evaluation'],
                      allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
out_channels = 128  # the large anchor's width: every route's maps have it
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
        type='StitchedViT',
        small=dict(embed_dim=64, depth=6, num_heads=2, mlp_ratio=4.0, pos_embed_grid=8),
        large=dict(embed_dim=out_channels, depth=12, num_heads=4, mlp_ratio=4.0,
                   pos_embed_grid=8),
        img_size=64,
        patch_size=8,
        routes=('S', 'L', 'S-L', 'L-S', 'S-L-S', 'L-S-L'),
        lora_rank=4,
        out_indices=(1, 2, 4, 5),
        out_stride=8),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[out_channels] * 4,
        out_channels=out_channels,
        scales=[2, 1, 0.5, 0.25]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[out_channels] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=64,
        dropout_ratio=0.1,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
custom_hooks = [dict(type='StitchInitHook', num_batches=4)]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    sampler=dict(strategy='ros', gap_gflops=0.02))
val_cfg = dict(type='MultiBudgetValLoop', choices='all')
test_cfg = dict(type='MultiBudgetTestLoop', choices='all')
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
randomness = dict(seed=0)
