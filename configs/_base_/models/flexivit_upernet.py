# FlexiViT backbone + MultiLevelNeck + UPerHead. The backbone's maps have a fixed stride
# (out_stride) whatever the patch size, so the neck and head are stock MMSegmentation.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
embed_dim = 768
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='FlexiViT',
        img_size=240,
        patch_size=32,
        embed_dim=embed_dim,
        depth=12,
        num_heads=12,
        mlp_ratio=4.0,
        pos_embed_grid=7,
        drop_path_rate=0.1,
        out_indices=(3, 5, 7, 11),
        out_stride=16),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[embed_dim] * 4,
        out_channels=embed_dim,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[embed_dim] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
