_base_ = ['../../../../configs/depth/flexivit-ti6_dpt_1k_digitseg-nyu-64x64.py']
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))

