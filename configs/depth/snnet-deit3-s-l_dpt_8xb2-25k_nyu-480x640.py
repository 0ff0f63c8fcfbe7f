# SN-Netv2 depth: DeiT-III S and L stitched both ways (134 routes) + DPT depth head on NYUv2
# 480x640, 25k iterations on 8 GPUs x 2 images (the FlexiViT-B depth recipe). Routes are drawn
# by resource-constrained sampling (ROS, 10-GFLOP groups); the stitching layers are fitted by
# least squares on training images before the first iteration, then train only their bias and
# a rank-16 update. Every route hands the head the large anchor's width (1024) at stride 16.
# The head keeps DPT-Base's reassemble widths: with DPT-Large's (256, 512, 1024, 1024) it costs
# ~100 GFLOPs on every route and S would cost 0.26x of L; with these, 0.24x.
# Anchors: timm-format DeiT-III state dicts in local files (see the SN-Net ADE20K config).
_base_ = ['./flexivit-b_dpt_8xb2-25k_nyu-480x640.py']
out_channels = 1024
model = dict(
    backbone=dict(
        _delete_=True,
        type='StitchedViT',
        small=dict(
            embed_dim=384,
            depth=12,
            num_heads=6,
            layer_scale_init=1e-6,
            drop_path_rate=0.1,
            init_cfg=dict(type='Pretrained', checkpoint='pretrain/deit3_s.pth')),
        large=dict(
            embed_dim=out_channels,
            depth=24,
            num_heads=16,
            layer_scale_init=1e-6,
            drop_path_rate=0.1,
            init_cfg=dict(type='Pretrained', checkpoint='pretrain/deit3_l.pth')),
        img_size=(480, 640),
        patch_size=16,
        lora_rank=16,
        out_indices=(2, 5, 8, 11),  # small-anchor blocks; large blocks 5, 11, 17, 23 (DPT-L)
        out_stride=16),
    decode_head=dict(in_channels=[out_channels] * 4))
custom_hooks = [dict(type='StitchInitHook', num_batches=16)]
train_cfg = dict(sampler=dict(_delete_=True, strategy='ros', gap_gflops=10.0))
# Validation on a spread of routes from S to L; the test evaluates all 134.
val_cfg = dict(choices=['S', 's8-l18', 's5-l12', 's2-l6', 'L'])
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
