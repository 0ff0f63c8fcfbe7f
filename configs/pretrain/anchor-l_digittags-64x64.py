# The large stitching anchor (96-d, 12 blocks, 6 heads, patch 8), pretrained on DigitTags 64x64
# at a fixed patch size, as DeiT-III's anchors are; written as a timm state dict.
_base_ = ['./flexivit-ti6_digittags-64x64.py']
backbone = dict(patch_sizes=[8], embed_dim=96, depth=12, num_heads=6)
schedule = dict(steps=2000)
export = dict(name='anchor-l_digittags-64x64', formats=['timm'])
