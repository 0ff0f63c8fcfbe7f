# FlexiViT-S + UPerNet on ADE20K 512x512 (same recipe as the -B config).
_base_ = ['./flexivit-b_upernet_8xb2-160k_ade20k-512x512.py']
embed_dim = 384
model = dict(
    backbone=dict(
        embed_dim=embed_dim,
        num_heads=6,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/flexivit_s_i1k.npz')),
    neck=dict(in_channels=[embed_dim] * 4))
