# SN-Netv2 as released, for reproducing the paper's NYUv2 depth numbers: DeiT-III S and L
# stitched both ways (134 routes) + DPT head, 24 epochs on 8 GPUs x 2 images (36,336
# iterations), AdamW under a one-cycle schedule, random 416x544 crops inside Eigen's region.
# Every setting follows the release's depth_estimation/configs/snnet/snnetv2_dpt_deit3_s_l_nyu.py
# and the files it builds on (tests/configs/test_repro_configs.py checks each one, naming the
# file); docs/reproducing_papers.md compares it with flexseg's own recipe
# (snnet-deit3-s-l_dpt_8xb2-25k_nyu-480x640.py).
# Deviation (flexseg has no such piece yet): the head does not read the class token (the
# release's DPT readout 'project').
_base_ = ['./snnet-deit3-s-l_dpt_8xb2-25k_nyu-480x640.py']
crop_size = (416, 544)
epochs, iters_per_epoch = 24, 1514  # 24x schedule; 1514 iterations per epoch at 8 x 2 images
max_iters = epochs * iters_per_epoch
max_lr = 2e-5
model = dict(
    # The release normalises with mean = std = 127.5 (to [-1, 1]), not ImageNet's statistics.
    data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3, size=crop_size),
    backbone=dict(
        small=dict(drop_path_rate=0.0),
        large=dict(drop_path_rate=0.0),
        routes=('S', 'L', 'S-L', 'L-S', 'S-L-S', 'L-S-L'),
        out_indices=(2, 5, 8, 11),
        large_out_indices=(4, 11, 17, 23),
        lora_rank=16,
        lora_alpha=1,
        level_maps='stitch'),
    decode_head=dict(
        channels=256, reassemble_channels=(96, 192, 384, 768), max_depth=10.0,
        # The release's scale-invariant loss: over the batch, var + 0.15 mean^2, 100 warm-up
        # iterations on the mean term alone (flexseg.models.depth.sig_loss).
        loss_decode=dict(_delete_=True, type='SigLoss', loss_weight=1.0, warm_up=True,
                         warm_iter=100)),
    # The release tests on the whole 480x640 frame and averages the prediction with that of
    # the mirrored frame (flipped back): one window of the frame's size, with flip.
    test_cfg=dict(mode='slide_flip', crop_size=(480, 640), stride=(480, 640)))
# As it runs: the one-cycle schedule sets every parameter group's learning rate from max_lr,
# so the backbone's lr_mult 0.1 has no effect (mmcv's OneCycle hook and mmengine's OneCycleLR
# alike); the decay multipliers do apply. Adam's beta1 cycles 0.95 -> 0.85 -> 0.95.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=max_lr, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'backbone': dict(lr_mult=0.1),
    }))
param_scheduler = [
    dict(type='OneCycleLR', eta_max=max_lr, total_steps=max_iters, pct_start=0.3,
         anneal_strategy='cos', div_factor=25, final_div_factor=100, by_epoch=False),
    dict(type='OneCycleMomentum', total_steps=max_iters, base_momentum=0.85,
         max_momentum=0.95, pct_start=0.3),
]
train_cfg = dict(
    max_iters=max_iters,
    val_interval=iters_per_epoch,
    image_hw=(480, 640),  # routes priced on the whole frame, as the release's get_flops.py
    sampler=dict(_delete_=True, strategy='ros', gap_gflops=10.0, ros_grouping='greedy'))
default_hooks = dict(checkpoint=dict(interval=iters_per_epoch, max_keep_ckpts=2))
# The release fits the stitching layers on 10 training images (5 batches of 2).
custom_hooks = [dict(type='StitchInitHook', num_batches=5)]
meta_keys = ('img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'category_id')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthMap', depth_rescale_factor=1e-3),
    dict(type='NYUEigenCrop'),
    dict(type='RandomRotate', prob=0.5, degree=2.5, pad_val=0, seg_pad_val=0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='DepthColorAug', prob=0.5, gamma_range=(0.9, 1.1),
         brightness_range=(0.75, 1.25), color_range=(0.9, 1.1)),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
