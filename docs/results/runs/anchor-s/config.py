_base_ = ['../../../../configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']

train_cfg = dict(max_iters=1300, val_interval=1300, distill=None, sampler=dict(_delete_=True, strategy='uniform'))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=1300),
]
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))
log_processor = dict(window_size=50)

model = dict(
    backbone=dict(patch_size=8, patch_sizes=[8], embed_dim=64, depth=6,
                  num_heads=4, out_indices=(1, 2, 4, 5),
                  init_cfg=dict(type='Pretrained', checkpoint='pretrained/anchor-s_digittags-64x64.pth')),
    neck=dict(in_channels=[64] * 4, out_channels=96),
    decode_head=dict(in_channels=[96] * 4))

