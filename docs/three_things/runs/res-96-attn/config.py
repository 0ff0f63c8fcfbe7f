_base_ = ['../../../../configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
model = {'backbone': {'patch_size': 8, 'patch_sizes': [8], 'init_cfg': None, 'attn_only': True}, 'data_preprocessor': {'size': (96, 96)}}
train_cfg = {'sampler': {'_delete_': True, 'strategy': 'uniform'}, 'distill': None, 'max_iters': 400, 'val_interval': 400}
crop_size = (96, 96)
train_dataloader = {'dataset': {'pipeline': [{'type': 'LoadImageFromFile'}, {'type': 'LoadAnnotations', 'reduce_zero_label': False}, {'type': 'Resize', 'scale': (96, 96), 'keep_ratio': False}, {'type': 'PhotoMetricDistortion'}, {'type': 'PackSegInputs'}]}}
val_dataloader = {'dataset': {'pipeline': [{'type': 'LoadImageFromFile'}, {'type': 'Resize', 'scale': (96, 96), 'keep_ratio': False}, {'type': 'LoadAnnotations', 'reduce_zero_label': False}, {'type': 'PackSegInputs'}]}}
test_dataloader = {'dataset': {'pipeline': [{'type': 'LoadImageFromFile'}, {'type': 'Resize', 'scale': (96, 96), 'keep_ratio': False}, {'type': 'LoadAnnotations', 'reduce_zero_label': False}, {'type': 'PackSegInputs'}]}}
param_scheduler = [{'type': 'LinearLR', 'start_factor': 0.01, 'by_epoch': False, 'begin': 0, 'end': 100}, {'type': 'CosineAnnealingLR', 'eta_min': 1e-05, 'by_epoch': False, 'begin': 100, 'end': 400}]
default_hooks = {'checkpoint': {'interval': 100, 'max_keep_ckpts': 1}, 'logger': {'interval': 50}}
log_processor = {'window_size': 50}
optim_wrapper = {'optimizer': {'lr': 0.0005}}
load_from = '/root/.cache/flexseg/study-three-things/res-base/final.pth'

