_base_ = ['../../../../configs/detection/flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py']
default_hooks = dict(checkpoint=dict(interval=100, max_keep_ckpts=1), logger=dict(interval=50))

