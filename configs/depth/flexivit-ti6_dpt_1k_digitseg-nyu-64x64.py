# FlexiViT (192-d, 6 blocks) + DPT depth head on DigitSeg-NYU 64x64: the pretrained flexible
# weights (pretrained/, made by tools/pretrain.py) fine-tuned with p8 and one drawn patch size
# per iteration (below), then evaluated at every patch size in one pass (d1, d2, d3, AbsRel,
# RMSE, log10 per choice). Digits stand nearer the larger they are, in front of a tilted plane.
_base_ = [
    '../_base_/models/flexivit_dpt.py',
    '../_base_/datasets/digitseg_nyu.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/digitseg_1k.py',
]
embed_dim = 192
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
        # Stride 4 (as the DigitSeg main config): at stride 8 the p4 and p6 grids were pooled
        # before the head and both scored below p8.
        out_stride=4,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/flexivit-ti6_digittags-64x64.pth')),
    # Strides 4, 8, 16, 32 of the image, as DPT on a stride-16 ViT.
    decode_head=dict(
        in_channels=[embed_dim] * 4,
        channels=64,
        reassemble_channels=(24, 48, 96, 192),
        scales=(1, 0.5, 0.25, 0.125),
        head_channels=16))
max_iters = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters // 2,
    # As the DigitSeg main job: p8 trains alone for the first 400 iterations, then every
    # iteration trains p8 and one drawn size, p6 and p4 drawn twice as often; every choice
    # learns from the labels alone (weight 0: no distillation term).
    sampler=dict(strategy='weighted', weights=dict(p16=1, p12=1, p6=2, p4=2)),
    distill=dict(mode='inplace', distance='mse', weight=0.0, teacher_choice='p8',
                 teacher_only_iters=400))
default_hooks = dict(
    checkpoint=dict(interval=max_iters // 2),
    visualization=dict(_delete_=True, type='BudgetVisualizationHook'))
# Ranked, plotted and selected by RMSE (lower is better); every depth metric is reported.
val_cfg = dict(type='MultiBudgetValLoop', choices='all', metric='rmse')
test_cfg = dict(type='MultiBudgetTestLoop', choices='all', metric='rmse',
                plot_metrics=['rmse', 'd1'])
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
randomness = dict(seed=0)
