# FlexiViT-B + DPT depth head on NYUv2 480x640, 25k iterations on 8 GPUs x 2 images (the
# iteration count of mmseg's NYU schedule; AdamW and layer settings of the FlexiViT-B ADE20K
# recipe). One patch size drawn per iteration from the FlexiViT paper's set that fits 480 px;
# evaluated with Eigen's crop at every patch size, ranked by RMSE (lower is better).
# Pretrained weights from a local file: big_vision's FlexiViT .npz or a timm state dict.
_base_ = [
    '../_base_/models/flexivit_dpt.py',
    '../_base_/datasets/nyu_480x640.py',
    '../_base_/default_runtime.py',
]
crop_size = (480, 640)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='pretrain/flexivit_b_i1k.npz')))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'decode_head': dict(lr_mult=10.),
    }))
max_iters = 25000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=max_iters, by_epoch=False),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=2500,
    sampler=dict(strategy='uniform'))
val_cfg = dict(type='MultiBudgetValLoop', choices=['p8', 'p12', 'p16', 'p24', 'p32', 'p48'],
               metric='rmse')
test_cfg = dict(type='MultiBudgetTestLoop', choices='all', metric='rmse',
                plot_metrics=['rmse', 'd1', 'abs_rel'])
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2500, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='BudgetVisualizationHook'))
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
