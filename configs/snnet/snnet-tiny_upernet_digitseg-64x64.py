# SN-Netv2 on DigitSeg 64x64: a small (64-d, 6 blocks) and a large (96-d, 12 blocks) ViT anchor,
# each pretrained alone (configs/pretrain/anchor-{s,l}_digittags-64x64.py, as DeiT-III S and L
# are), stitched both ways (32 routes), fine-tuned with resource-constrained sampling (ROS) and
# evaluated at every route in one pass. The stitching layers are fitted by least squares on
# training images before the first iteration (StitchInitHook).
# Data, schedule, head and evaluation are those of the FlexiViT DigitSeg config.
_base_ = ['../flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
out_channels = 96  # the large anchor's width: every route's maps have it
model = dict(
    backbone=dict(
        _delete_=True,
        type='StitchedViT',
        small=dict(embed_dim=64, depth=6, num_heads=4, mlp_ratio=4.0, pos_embed_grid=8,
                   init_cfg=dict(type='Pretrained',
                                 checkpoint='pretrained/anchor-s_digittags-64x64.pth')),
        large=dict(embed_dim=out_channels, depth=12, num_heads=6, mlp_ratio=4.0,
                   pos_embed_grid=8,
                   init_cfg=dict(type='Pretrained',
                                 checkpoint='pretrained/anchor-l_digittags-64x64.pth')),
        img_size=64,
        patch_size=8,
        routes=('S', 'L', 'S-L', 'L-S', 'S-L-S', 'L-S-L'),
        lora_rank=4,
        out_indices=(1, 2, 4, 5),
        out_stride=4),
    neck=dict(in_channels=[out_channels] * 4, out_channels=out_channels),
    decode_head=dict(in_channels=[out_channels] * 4))
# Each route's BN statistics in the head (ChoiceBatchNorm, from the base config) are recomputed
# with the final weights after the last iteration: kept while training, each of the 32 routes'
# statistics, drawn about 40 times in 1,300 iterations, averaged batches of old weights and
# scored lower than one shared set at most routes (docs/results.md, st-cbn vs st vs st-recal).
custom_hooks = [dict(type='StitchInitHook', num_batches=4),
                dict(type='ChoiceNormCalibrationHook', num_batches=20)]
# The anchors at 0.1x the head's learning rate: at the full rate the routes that start in L
# lost what pretraining gave them (route L 37.2 mIoU vs 60.2, docs/results.md, jobs
# stitched-fulllr and stitched).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.1)}))
train_cfg = dict(sampler=dict(_delete_=True, strategy='ros', gap_gflops=0.02), distill=None)
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
