# p4-crop32 in half the iterations.
_base_ = ['../p4-crop32/config.py']
iters = 650
train_cfg = dict(max_iters=iters, val_interval=iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=iters),
]
