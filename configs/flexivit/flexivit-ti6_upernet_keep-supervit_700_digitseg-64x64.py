# FlexiViT-Ti6 + UPerNet on DigitSeg 64x64 with one joint budget space: every patch size times
# every token-keep rate (ids p8, p8-k0.7, p8-k0.5, ...). Tokens are dropped after blocks 1 and
# 3 (rates compound) and put back in place for the head. SuperViT's recipe: each iteration the
# largest choice trains on the task loss and one sampled cheaper choice on the task loss plus
# the KL divergence to the largest choice's detached prediction, in one optimizer step. An
# iteration costs about three of the patch-size-only job's, hence 700 iterations.
_base_ = ['./flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
max_iters = 700
model = dict(backbone=dict(keep_points=(1, 3), keep_rates=(1.0, 0.7, 0.5)))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(
    max_iters=max_iters,
    val_interval=max_iters // 2,
    sampler=dict(strategy='uniform', num_choices=1),
    distill=dict(mode='inplace'))
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
