# FlexiViT (192-d, 6 blocks) + simple feature pyramid + Mask R-CNN on DigitSeg-COCO 64x64,
# fine-tuned from the pretrained flexible weights (pretrained/, made by tools/pretrain.py) with
# p8 and one drawn patch size per iteration (below), then evaluated at every patch size in one
# pass (box and mask AP per choice). Windowed attention (4x4 tokens) in blocks 0, 1, 3, 4;
# global in 2 and 5.
# The backbone's map has stride 4 at every patch size (at stride 8 the p4 grid was pooled before
# the pyramid and p4 scored below p8); the pyramid makes strides 4-64 from it.
# Figures: configs/detection/README.md.
_base_ = [
    '../_base_/models/flexivit_maskrcnn_sfp.py',
    '../_base_/datasets/digitseg_coco.py',
    '../_base_/default_runtime_det.py',
]
embed_dim = 192
neck_dim = 64
num_classes = 10
model = dict(
    backbone=dict(
        img_size=64,
        patch_size=8,
        patch_sizes=[4, 8, 16],
        embed_dim=embed_dim,
        depth=6,
        num_heads=3,
        pos_embed_grid=8,
        drop_path_rate=0.0,
        window_size=4,
        global_indices=(2, 5),
        out_indices=(5, ),
        out_stride=4,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/flexivit-ti6_digittags-64x64.pth')),
    neck=dict(in_channels=embed_dim, out_channels=neck_dim,
              scale_factors=(1.0, 0.5, 0.25, 0.125)),
    rpn_head=dict(in_channels=neck_dim, feat_channels=neck_dim,
                  anchor_generator=dict(scales=[6])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_dim),
        bbox_head=dict(in_channels=neck_dim, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=neck_dim),
        mask_head=dict(num_convs=2, in_channels=neck_dim, conv_out_channels=neck_dim,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=200, max_per_img=50),
        rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50), rcnn=dict(max_per_img=10)))
max_iters = 1200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters,
    # As the DigitSeg main job: p8 (the pretraining's middle size) trains alone for the first
    # 400 iterations, then every iteration trains p8 and one drawn size, p4 drawn twice as often
    # as p16; every choice learns from the labels alone (weight 0: no distillation term).
    sampler=dict(strategy='weighted', weights=dict(p16=1, p4=2)),
    distill=dict(mode='inplace', module='neck', distance='mse', weight=0.0,
                 teacher_choice='p8', teacher_only_iters=400))
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
val_cfg = dict(type='MultiBudgetValLoop', choices='all')
test_cfg = dict(type='MultiBudgetTestLoop', choices='all')
randomness = dict(seed=0)
