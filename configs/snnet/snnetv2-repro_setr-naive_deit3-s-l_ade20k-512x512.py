# SN-Netv2 as released, for reproducing the paper's ADE20K numbers: DeiT-III S and L stitched
# both ways (134 routes), SETR-Naive head with three auxiliary SETR-Up heads, SGD, 160k
# iterations on 8 GPUs x 2 images, sliding-window evaluation. Every setting follows the
# release's segmentation/configs/snnet/setr_naive_512x512_160k_b16_ade20k_deit_3_s_l_224_snnetv2.py
# and the files it builds on (tests/configs/test_repro_configs.py checks each one, naming the
# file); docs/reproducing_papers.md compares it with flexseg's own recipe
# (snnet-deit3-s-l_upernet_ade20k-512x512.py) and says why that one differs.
# Anchors: timm-format DeiT-III (ImageNet-21k) state dicts in local files, as in the base config.
_base_ = ['./snnet-deit3-s-l_upernet_ade20k-512x512.py']
crop_size = (512, 512)
num_classes = 150
max_iters = 160000
width = 1024  # the large anchor's width: every route's maps have it
norm_cfg = dict(type='SyncBN', requires_grad=True)


# SETR-Naive: one 1x1 conv over the last level, upsampled x4; the auxiliary SETR-Up heads: two.
setr_head = dict(
    type='SETRUPHead', in_channels=width, channels=256, in_index=3, num_classes=num_classes,
    dropout_ratio=0, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'), num_convs=1, up_scale=4,
    kernel_size=1, align_corners=False,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
aux_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)
model = dict(
    backbone=dict(
        small=dict(drop_path_rate=0.1),
        large=dict(drop_path_rate=0.1),
        routes=('S', 'L', 'S-L', 'L-S', 'S-L-S', 'L-S-L'),
        out_indices=(4, 7, 9, 11),
        large_out_indices=(9, 14, 19, 23),
        lora_rank=16,
        lora_alpha=1,
        level_maps='stitch',
        out_stride=16),
    neck=None,
    decode_head=dict(_delete_=True, **setr_head),
    auxiliary_head=[dict(setr_head, in_index=level, num_convs=2, loss_decode=aux_loss)
                    for level in (0, 1, 2)],
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))
# What runs in the release: the schedule file's SGD (its config's own `optimizer` dict, with
# lr_mult 10 for the head, is not read by mmseg 1.x, whose runner builds `optim_wrapper`).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(
    max_iters=max_iters,
    val_interval=max_iters // 10,
    sampler=dict(_delete_=True, strategy='ros', gap_gflops=10.0, ros_grouping='greedy'))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters // 10))
# The release fits the stitching layers on 50 training images (25 batches of 2).
custom_hooks = [dict(type='StitchInitHook', num_batches=25)]
train_dataloader = dict(batch_size=2)
