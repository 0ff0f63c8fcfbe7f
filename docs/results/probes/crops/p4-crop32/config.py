# The main job's model at p4 alone (as the study's fixed-p4 job), trained on random 32x32 crops.
_base_ = ['../../../../../configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
iters = 1300
train_cfg = dict(max_iters=iters, val_interval=iters, distill=None,
                 sampler=dict(_delete_=True, strategy='uniform'))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=iters),
]
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))
log_processor = dict(window_size=50)
model = dict(data_preprocessor=dict(size=(32, 32)),
             backbone=dict(patch_size=4, patch_sizes=[4]))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomCrop', crop_size=(32, 32)),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
