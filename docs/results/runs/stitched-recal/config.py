_base_ = ['../../../../configs/snnet/snnet-tiny_upernet_digitseg-64x64.py']

train_cfg = dict(max_iters=1300, val_interval=1300, distill=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=1300),
]
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))
log_processor = dict(window_size=50)

