_base_ = ['../../../../configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']

train_cfg = dict(max_iters=1300, val_interval=1300, distill=dict(_delete_=True, mode='inplace', teacher_choice='p8', teacher_only_iters=500, choice_weights=dict(p6=0.0, p4=0.0)), sampler=dict(_delete_=True, strategy='weighted', weights=dict(p16=1, p12=1, p6=1, p4=2)))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=1300),
]
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))
log_processor = dict(window_size=50)

