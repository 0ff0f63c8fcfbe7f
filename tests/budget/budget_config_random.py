# The budget test config with the main job's randomness on: photometric augmentation in two
# persistent data-loader workers, dropout in the head, drop path in the backbone.
_base_ = ['./budget_config.py']
model = dict(backbone=dict(drop_path_rate=0.2), decode_head=dict(dropout_ratio=0.1))
train_dataloader = dict(
    num_workers=2,
    persistent_workers=True,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=False),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]))
randomness = dict(seed=0, deterministic=False)
