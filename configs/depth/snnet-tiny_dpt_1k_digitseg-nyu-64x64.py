# SN-Netv2 on DigitSeg-NYU 64x64 with a DPT depth head: the pretrained small (64-d, 6 blocks)
# and large (96-d, 12 blocks) ViT anchors (pretrained/, as in the segmentation config)
# stitched both ways (32 routes), trained with resource-constrained sampling (ROS) and
# evaluated at every route in one pass. The stitching layers are fitted by least squares on
# training images before the first iteration. Data, schedule, head and evaluation are those of
# the FlexiViT DigitSeg-NYU config.
_base_ = ['./flexivit-ti6_dpt_1k_digitseg-nyu-64x64.py']
out_channels = 96  # the large anchor's width: every route's maps have it
model = dict(
    backbone=dict(
        _delete_=True,
        type='StitchedViT',
        small=dict(embed_dim=64, depth=6, num_heads=4, mlp_ratio=4.0, pos_embed_grid=8,
                   init_cfg=dict(type='Pretrained', checkpoint='pretrained/anchor-s_digittags-64x64.pth')),
        large=dict(embed_dim=out_channels, depth=12, num_heads=6, mlp_ratio=4.0,
                   pos_embed_grid=8, init_cfg=dict(type='Pretrained', checkpoint='pretrained/anchor-l_digittags-64x64.pth')),
        img_size=64,
        patch_size=8,
        routes=('S', 'L', 'S-L', 'L-S', 'S-L-S', 'L-S-L'),
        lora_rank=4,
        out_indices=(1, 2, 4, 5),
        out_stride=8),
    # Stride 8 (one patch size): scales 2 ... 1/4 give the head strides 4-32.
    decode_head=dict(in_channels=[out_channels] * 4, reassemble_channels=(12, 24, 48, 96),
                     scales=(2, 1, 0.5, 0.25)))
custom_hooks = [dict(type='StitchInitHook', num_batches=4)]
train_cfg = dict(sampler=dict(_delete_=True, strategy='ros', gap_gflops=0.02), distill=None)
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
