# The small stitching anchor (64-d, 6 blocks, 4 heads, patch 8), pretrained on DigitTags 64x64
# at a fixed patch size, as DeiT-III's anchors are; written as a timm state dict.
_base_ = ['./flexivit-ti6_digittags-64x64.py']
backbone = dict(patch_sizes=[8], embed_dim=64, depth=6, num_heads=4)
schedule = dict(steps=2000)
export = dict(name='anchor-s_digittags-64x64', formats=['timm'])
