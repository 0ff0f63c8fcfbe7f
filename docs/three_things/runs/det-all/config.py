_base_ = ['../../../../configs/detection/flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py']
model = {'backbone': {'patch_size': 8, 'patch_sizes': [8], 'init_cfg': {'type': 'Pretrained', 'checkpoint': 'pretrained/flexivit-ti6_digittags-64x64.pth'}, 'attn_only': False}}
train_cfg = {'sampler': {'_delete_': True, 'strategy': 'uniform'}, 'distill': None, 'max_iters': 1200, 'val_interval': 1200}
param_scheduler = [{'type': 'LinearLR', 'start_factor': 0.01, 'by_epoch': False, 'begin': 0, 'end': 100}, {'type': 'CosineAnnealingLR', 'eta_min': 1e-05, 'by_epoch': False, 'begin': 100, 'end': 1200}]
default_hooks = {'checkpoint': {'interval': 100, 'max_keep_ckpts': 1}, 'logger': {'interval': 50}}
log_processor = {'window_size': 50}

