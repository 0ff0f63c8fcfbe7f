# SN-Netv2: DeiT-III S and L stitched both ways (134 routes) + UPerNet on ADE20K 512x512, 160k
# iterations on 8 GPUs x 2 images. Routes are drawn by resource-constrained sampling (ROS,
# 10-GFLOP groups); the stitching layers are fitted by least squares on training images before
# the first iteration, then train only their bias and a rank-16 update.
# Anchors: timm-format DeiT-III state dicts in local files, e.g. saved from timm with
#   torch.save(timm.create_model('deit3_small_patch16_224.fb_in22k_ft_in1k',
#                                pretrained=True).state_dict(), 'pretrain/deit3_s.pth')
# and likewise 'deit3_large_patch16_224.fb_in22k_ft_in1k' -> 'pretrain/deit3_l.pth'.
_base_ = [
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['flexseg', 'flexseg.budget', 'flexseg.evaluation'],
                      allow_failed_imports=False)
crop_size = (512, 512)
norm_cfg = dict(type='SyncBN', requires_grad=True)
out_channels = 1024  # the large anchor's width: every route's maps have it
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        size=crop_size,
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
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
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[out_channels] * 4,
        out_channels=out_channels,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(
        type='UPerHead',
        in_channels=[out_channels] * 4,
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=512,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=out_channels,
        in_index=3,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
custom_hooks = [dict(type='StitchInitHook', num_batches=16)]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=160000,
    val_interval=16000,
    sampler=dict(strategy='ros', gap_gflops=10.0))
# Validation on a spread of routes from S to L; the test evaluates all 134.
val_cfg = dict(type='MultiBudgetValLoop', choices=['S', 's8-l18', 's5-l12', 's2-l6', 'L'])
test_cfg = dict(type='MultiBudgetTestLoop', choices='all')
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
# Routes use different parameters, so DDP must look for unused ones.
find_unused_parameters = True
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
