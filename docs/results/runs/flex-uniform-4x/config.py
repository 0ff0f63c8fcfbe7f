_base_ = ['../../../../configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']

train_cfg = dict(max_iters=5200, val_interval=5200, distill=None, sampler=dict(_delete_=True, strategy='uniform'))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=5200),
]
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))
log_processor = dict(window_size=50)

