# FlexiViT-B backbone + DPT depth head (DPT-Base widths and hooks), SiLog loss, depth up to
# 10 m. The backbone's four maps have a fixed stride (out_stride) whatever the patch size; the
# head reassembles them at 4x, 2x, 1x and 0.5x that resolution.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=0)  # padded depth is 0: invalid, left out of the loss
embed_dim = 768
model = dict(
    type='FlexDepthEstimator',
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
        out_indices=(2, 5, 8, 11),
        out_stride=16),
    decode_head=dict(
        type='DPTDepthHead',
        in_channels=[embed_dim] * 4,
        channels=256,
        reassemble_channels=(96, 192, 384, 768),
        scales=(4, 2, 1, 0.5),
        head_channels=32,
        max_depth=10.0,
        loss_decode=dict(type='SiLogLoss')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
