# SN-Netv2: DeiT-III S and L stitched both ways (134 routes) + UPerNet on ADE20K 512x512, 160k
# iterations on 8 GPUs x 2 images (the FlexiViT-B recipe). Routes are drawn by
# resource-constrained sampling (ROS, 10-GFLOP groups); the stitching layers are fitted by least
# squares on training images before the first iteration, then train only their bias and a
# rank-16 update.
# Anchors: timm-format DeiT-III state dicts in local files, e.g. saved from timm with
#   torch.save(timm.create_model('deit3_small_patch16_224.fb_in22k_ft_in1k',
#                                pretrained=True).state_dict(), 'pretrain/deit3_s.pth')
# and likewise 'deit3_large_patch16_224.fb_in22k_ft_in1k' -> 'pretrain/deit3_l.pth'.
_base_ = ['../flexivit/flexivit-b_upernet_8xb2-160k_ade20k-512x512.py']
crop_size = (512, 512)
out_channels = 1024  # the large anchor's width: every route's maps have it
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
        img_size=crop_size,
        patch_size=16,
        lora_rank=16,
        out_indices=(3, 5, 7, 11),  # small-anchor blocks; large blocks 7, 11, 15, 23
        out_stride=16),
    neck=dict(in_channels=[out_channels] * 4))
custom_hooks = [dict(type='StitchInitHook', num_batches=16)]
train_cfg = dict(sampler=dict(_delete_=True, strategy='ros', gap_gflops=10.0))
# Validation on a spread of routes from S to L; the test evaluates all 134.
val_cfg = dict(type='MultiBudgetValLoop', choices=['S', 's8-l18', 's5-l12', 's2-l6', 'L'])
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
