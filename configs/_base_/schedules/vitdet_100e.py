# ViTDet's schedule: 184,375 iterations at 64 images per step (100 COCO epochs), AdamW lr 1e-4,
# weight decay 0.1, layer-wise lr decay, 250 warm-up iterations, lr x0.1 at 88.9% and 96.3%.
max_iters = 184375
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.7),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[163889, 177546], gamma=0.1),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters // 8,
    sampler=dict(strategy='uniform'))
val_cfg = dict(type='MultiBudgetValLoop', choices='all')
test_cfg = dict(type='MultiBudgetTestLoop', choices='all')
auto_scale_lr = dict(base_batch_size=64)
