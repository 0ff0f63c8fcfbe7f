# FlexiViT-B + simple feature pyramid + Mask R-CNN on COCO 2017 with large-scale jitter at 1024,
# ViTDet's 100-epoch schedule (16 GPUs x 4 images) and layer-wise lr decay 0.7; a patch size is
# drawn per iteration, and evaluation reports box and mask AP at every patch size in one pass.
# Windowed attention (14x14 tokens at every patch size) in all blocks but 2, 5, 8, 11.
# Weights: a local FlexiViT-B file (big_vision .npz or timm state dict), e.g.
#   model.backbone.init_cfg=dict(type='Pretrained', checkpoint='pretrain/flexivit_b.npz')
_base_ = [
    '../_base_/models/flexivit_maskrcnn_sfp.py',
    '../_base_/datasets/coco_instance_lsj_1024.py',
    '../_base_/default_runtime_det.py',
    '../_base_/schedules/vitdet_100e.py',
]
model = dict(
    backbone=dict(
        patch_sizes=[12, 16, 20, 24, 30, 40, 48],
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/flexivit_b.npz')))
default_hooks = dict(checkpoint=dict(interval=184375 // 8, max_keep_ckpts=3))
