# A tiny FlexiViT + UPerNet trained by the budget loop on DigitSeg, for the end-to-end tests:
# deterministic data (no random augmentation, fixed sampler seed) and no dropout, so a resumed
# run can be compared loss for loss with an uninterrupted one.
_base_ = ['../../configs/baseline/vit-t8_upernet_1k_digitseg-64x64.py']
custom_imports = dict(imports=['flexseg', 'flexseg.budget', 'tests.budget.recorder'],
                      allow_failed_imports=False)
embed_dim = 32
model = dict(
    backbone=dict(_delete_=True, type='FlexiViT', img_size=64, patch_size=8,
                  patch_sizes=[4, 8, 12, 16], embed_dim=embed_dim, depth=4, num_heads=2,
                  mlp_ratio=2.0, out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[embed_dim] * 4, out_channels=embed_dim),
    decode_head=dict(in_channels=[embed_dim] * 4, channels=16, dropout_ratio=0.0))
train_dataloader = dict(
    sampler=dict(seed=0),
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=False),
        dict(type='PackSegInputs'),
    ]))
train_cfg = dict(type='BudgetIterBasedTrainLoop', sampler=dict(strategy='uniform'))
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
custom_hooks = [dict(type='BudgetRecorderHook')]
randomness = dict(seed=0, deterministic=True)
