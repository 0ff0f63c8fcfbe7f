# FlexiViT-Ti6 (192-d, 6 blocks) + UPerNet on DigitSeg 64x64, fine-tuned from the flexible
# pretrained weights (configs/pretrain/flexivit-ti6_digittags-64x64.py) at every patch size by
# in-place distillation from p8, then evaluated at every patch size in one pass.
_base_ = [
    '../_base_/models/flexivit_upernet.py',
    '../_base_/datasets/digitseg.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/digitseg_1k.py',
]
embed_dim = 192
neck_dim = 96
pretrained = 'pretrained/flexivit-ti6_digittags-64x64.pth'
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(
        img_size=64,
        patch_size=8,
        patch_sizes=[4, 6, 8, 12, 16],
        embed_dim=embed_dim,
        depth=6,
        num_heads=3,
        pos_embed_grid=8,
        drop_path_rate=0.0,
        out_indices=(1, 2, 4, 5),
        # Stride 4, not 8: at stride 8 the p4 and p6 grids were pooled before the head, so
        # their finer tokens bought nothing (docs/results.md, "The benchmark").
        out_stride=4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[embed_dim] * 4, out_channels=neck_dim,
              scales=[1, 0.5, 0.25, 0.125]),
    # Each patch size keeps its own BN statistics in the head: shared ones, a mixture over
    # the sizes, cost p4 13 mIoU (flexseg/models/choice_norm.py).
    # Background (class 0, ~88% of the pixels) weighs 0.2 in the loss: unweighted, every model
    # sat at the label prior for ~500 of the 1,300 iterations (fixed p8 after 400: 9.8 mIoU
    # unweighted, 46.1 weighted; docs/results.md, "The benchmark").
    decode_head=dict(in_channels=[neck_dim] * 4, channels=64, num_classes=11,
                     norm_cfg=dict(type='ChoiceBatchNorm', requires_grad=True),
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0, class_weight=[0.2] + [1.0] * 10)))
max_iters = 1300
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters // 2,
    # In-place distillation from p8 (docs/results.md, recipe ip-p8-p4): p8 trains alone for
    # the first 500 iterations, then every iteration trains p8 on the task loss and one drawn
    # size, p4 drawn twice as often as each other. The cheaper sizes (p16, p12) are also
    # pulled toward p8's predictions; the dearer ones (p6, p4), which can beat their p8
    # teacher, learn from the labels alone (pulled toward p8 too they scored 2.1 mIoU lower).
    # With p6 drawn 2x as well, p4 tied p6 (off the Pareto front). A uniformly drawn size per
    # iteration (FlexiViT's transfer recipe) scored 5-18 mIoU lower at every size.
    sampler=dict(strategy='weighted', weights=dict(p16=1, p12=1, p6=1, p4=2)),
    distill=dict(mode='inplace', teacher_choice='p8', teacher_only_iters=500,
                 choice_weights=dict(p6=0.0, p4=0.0)))
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
val_cfg = dict(type='MultiBudgetValLoop', choices='all')
test_cfg = dict(type='MultiBudgetTestLoop', choices='all')
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
randomness = dict(seed=0)
