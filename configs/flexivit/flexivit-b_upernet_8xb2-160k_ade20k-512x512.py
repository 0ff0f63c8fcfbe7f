# FlexiViT-B + UPerNet on ADE20K 512x512, 160k iterations on 8 GPUs x 2 images (mmseg's ViT
# recipe); one patch size drawn per iteration from the FlexiViT paper's set, evaluated at several.
# Pretrained weights from a local file: big_vision's FlexiViT .npz or a timm state dict.
_base_ = [
    '../_base_/models/flexivit_upernet.py',
    'mmseg::_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
crop_size = (512, 512)
embed_dim = 768
# Neck and head narrower than the backbone (256 channels, not 768): at full width they cost
# ~240 GFLOPs at every patch size, so the cheapest patch size would still cost half of the
# dearest. At 256 they cost ~68, and the space spans more than 4x in whole-model GFLOPs.
head_dim = 256
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=240,
        patch_size=32,
        embed_dim=embed_dim,
        depth=12,
        num_heads=12,
        pos_embed_grid=7,
        drop_path_rate=0.1,
        out_indices=(3, 5, 7, 11),
        out_stride=16,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/flexivit_b_i1k.npz')),
    neck=dict(in_channels=[embed_dim] * 4, out_channels=head_dim),
    decode_head=dict(in_channels=[head_dim] * 4, channels=head_dim, num_classes=150),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=head_dim,
        in_index=3,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_embed': dict(decay_mult=0.),
        'cls_token': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_cfg = dict(
    type='BudgetIterBasedTrainLoop',
    max_iters=160000,
    val_interval=16000,
    sampler=dict(strategy='uniform'))
val_cfg = dict(type='MultiBudgetValLoop', choices=['p8', 'p12', 'p16', 'p24', 'p32', 'p48'])
test_cfg = dict(type='MultiBudgetTestLoop', choices='all')
log_processor = dict(type='BudgetLogProcessor', by_epoch=False)
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
