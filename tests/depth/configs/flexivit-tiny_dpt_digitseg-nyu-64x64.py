# Tiny FlexiViT (patch 8/16, output stride 8) + DPT depth head on DigitSeg-NYU 64x64: the depth
# tests' model, small enough that a test pass takes a second on the CPU.
_base_ = ['../../../configs/depth/flexivit-ti6_dpt_1k_digitseg-nyu-64x64.py']
embed_dim = 32
model = dict(
    backbone=dict(
        patch_sizes=[8, 16],
        embed_dim=embed_dim,
        depth=2,
        num_heads=2,
        mlp_ratio=2.0,
        out_indices=(0, 0, 1, 1),
        init_cfg=None),  # random: the pretrained weights are of another size
    decode_head=dict(
        in_channels=[embed_dim] * 4,
        channels=16,
        reassemble_channels=(8, 8, 16, 16),
        head_channels=8))
# The recipe's sampler over the students this space has (p8 teaches).
train_cfg = dict(sampler=dict(weights=dict(_delete_=True, p16=1)))
