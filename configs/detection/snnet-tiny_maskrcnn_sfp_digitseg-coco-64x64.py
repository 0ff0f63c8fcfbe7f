# SN-Netv2 on DigitSeg-COCO 64x64: the pretrained small (64-d, 6 blocks) and large (96-d,
# 12 blocks) ViT anchors (pretrained/, as in the segmentation config) stitched both ways, with
# the FlexiViT DigitSeg detector's simple feature pyramid and Mask R-CNN heads, trained with
# resource-constrained sampling (ROS) and evaluated at every route in one pass. Windowed
# attention (4x4 tokens) everywhere but the small anchor's blocks 2, 5 and the large anchor's
# 5, 11 (the same depths). The stitching layers are fitted by least squares on training images
# before the first iteration (StitchInitHook). Figures: configs/detection/README.md.
_base_ = ['./flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py']
out_channels = 96  # the large anchor's width: every route's map has it
model = dict(
    backbone=dict(
        _delete_=True,
        type='StitchedViT',
        small=dict(embed_dim=64, depth=6, num_heads=4, mlp_ratio=4.0, pos_embed_grid=8,
                   window_size=4, global_indices=(2, 5),
                   init_cfg=dict(type='Pretrained', checkpoint='pretrained/anchor-s_digittags-64x64.pth')),
        large=dict(embed_dim=out_channels, depth=12, num_heads=6, mlp_ratio=4.0,
                   pos_embed_grid=8, window_size=4, global_indices=(5, 11),
                   init_cfg=dict(type='Pretrained', checkpoint='pretrained/anchor-l_digittags-64x64.pth')),
        img_size=64,
        patch_size=8,
        routes=('S', 'L', 'S-L', 'L-S'),
        lora_rank=4,
        out_indices=(5, ),
        out_stride=8),
    neck=dict(in_channels=out_channels, scale_factors=(2.0, 1.0, 0.5, 0.25)))
custom_hooks = [dict(type='StitchInitHook', num_batches=4)]
train_cfg = dict(sampler=dict(_delete_=True, strategy='ros', gap_gflops=0.02), distill=None)
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
