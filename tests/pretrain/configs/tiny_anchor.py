# A second, wider and deeper tiny backbone at one patch size (a stitching anchor).
_base_ = ['./tiny_flexivit.py']
backbone = dict(patch_sizes=[8], embed_dim=48, depth=4, num_heads=2)
export = dict(name='tiny-anchor', formats=['timm'])
