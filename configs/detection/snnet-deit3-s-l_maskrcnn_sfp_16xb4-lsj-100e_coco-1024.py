# SN-Netv2: DeiT-III S and L stitched both ways (134 routes) + simple feature pyramid + Mask
# R-CNN on COCO 2017 with large-scale jitter at 1024, ViTDet's schedule with layer-wise lr decay
# 0.8 (counted in large-anchor blocks), routes drawn by resource-constrained sampling.
# Windowed attention (14x14 tokens) in every block but the small anchor's 2, 5, 8, 11 and the
# large anchor's 5, 11, 17, 23 (ViTDet-B/L). The stitching layers are fitted by least squares
# on training images before the first iteration.
# Anchors: timm-format DeiT-III state dicts in local files (see the ADE20K stitch config).
_base_ = ['./flexivit-b_maskrcnn_sfp_16xb4-lsj-100e_coco-1024.py']
out_channels = 1024  # the large anchor's width: every route's map has it
model = dict(
    backbone=dict(
        _delete_=True,
        type='StitchedViT',
        small=dict(
            embed_dim=384, depth=12, num_heads=6, layer_scale_init=1e-6, drop_path_rate=0.1,
            window_size=14, global_indices=(2, 5, 8, 11),
            init_cfg=dict(type='Pretrained', checkpoint='pretrain/deit3_s.pth')),
        large=dict(
            embed_dim=out_channels, depth=24, num_heads=16, layer_scale_init=1e-6,
            drop_path_rate=0.4, window_size=14, global_indices=(5, 11, 17, 23),
            init_cfg=dict(type='Pretrained', checkpoint='pretrain/deit3_l.pth')),
        img_size=1024,
        patch_size=16,
        lora_rank=16,
        out_indices=(11, ),
        out_stride=16),
    neck=dict(in_channels=out_channels))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.8))
custom_hooks = [dict(type='StitchInitHook', num_batches=16)]
train_cfg = dict(sampler=dict(_delete_=True, strategy='ros', gap_gflops=10.0))
find_unused_parameters = True
